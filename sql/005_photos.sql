-- Product photos and the image encoders that turn them into the "photo" modality.

-- One photo per item: the reference shown to shoppers (url, the address the shop gave;
-- empty when the shop sent the bytes), the bytes themselves (kept so that a change of
-- encoder can re-encode the catalogue without fetching again), and the state of a
-- fetch. revision grows on every replacement of the photo, so a fetch that finishes
-- after the item was given another photo does not overwrite it. A pending fetch is
-- leased by the process working on it until lease_until; after that (the process
-- stopped) any process takes it up again.
CREATE TABLE item_images (
    item_id      text PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
    url          text NOT NULL DEFAULT '',
    data         bytea,
    sha256       text NOT NULL DEFAULT '',
    content_type text NOT NULL DEFAULT '',
    width        integer NOT NULL DEFAULT 0,
    height       integer NOT NULL DEFAULT 0,
    status       text NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
    error        text NOT NULL DEFAULT '',
    attempts     integer NOT NULL DEFAULT 0,
    lease_until  timestamptz NOT NULL DEFAULT now(),
    revision     bigint NOT NULL DEFAULT 1,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'ready' OR data IS NOT NULL)
);
CREATE INDEX item_images_pending ON item_images (lease_until) WHERE status = 'pending';
CREATE INDEX item_images_sha256 ON item_images (sha256) WHERE sha256 <> '';

-- The image encoder registry. kind says how to build the encoder from the row:
-- 'descriptor' (the fixed descriptor, no weights), 'cnn' (a convolutional encoder
-- trained here; weights hold its safetensors file) or 'onnx' (a shop's model; config
-- holds its path and checksum). At most one version is active: item and query photos
-- are encoded with it. At most one is the target of a switch: the catalogue is being
-- re-encoded with it, and it becomes active, in one transaction, once every ready
-- photo has its vector.
CREATE TABLE image_encoders (
    version      text PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('descriptor', 'cnn', 'onnx')),
    dim          integer NOT NULL CHECK (dim > 0),
    weights      bytea,
    config       jsonb NOT NULL DEFAULT '{}',
    metrics      jsonb NOT NULL DEFAULT '{}',
    active       boolean NOT NULL DEFAULT false,
    target       boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    CHECK (NOT (active AND target))
);
CREATE UNIQUE INDEX image_encoders_one_active ON image_encoders ((true)) WHERE active;
CREATE UNIQUE INDEX image_encoders_one_target ON image_encoders ((true)) WHERE target;

-- Photo vectors, one per item and encoder version, little-endian float32, unit norm.
CREATE TABLE item_photo_vectors (
    item_id         text NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    encoder_version text NOT NULL REFERENCES image_encoders (version) ON DELETE CASCADE,
    dim             integer NOT NULL CHECK (dim > 0),
    data            bytea NOT NULL CHECK (length(data) = 4 * dim),
    PRIMARY KEY (encoder_version, item_id)
);
CREATE INDEX item_photo_vectors_item ON item_photo_vectors (item_id);
