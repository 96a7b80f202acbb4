-- The catalogue. seq changes on every write to the item or its vectors, so serving
-- processes can poll for what changed since the last seq they saw.
CREATE SEQUENCE item_changes;

CREATE TABLE items (
    id          text PRIMARY KEY,
    title       text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    category    text NOT NULL DEFAULT '',
    brand       text NOT NULL DEFAULT '',
    price       double precision,
    attributes  jsonb NOT NULL DEFAULT '{}',
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    seq         bigint NOT NULL DEFAULT nextval('item_changes')
);
CREATE INDEX items_seq ON items (seq);

-- Per-modality item vectors, little-endian float32, L2-normalised. model_version is ''
-- for vectors that do not depend on a model (text from the encoder, caller-supplied
-- image vectors) and the model's version for vectors learned by training (collab, attr).
CREATE TABLE item_vectors (
    item_id       text NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    modality      text NOT NULL,
    model_version text NOT NULL DEFAULT '',
    dim           integer NOT NULL CHECK (dim > 0),
    data          bytea NOT NULL CHECK (length(data) = 4 * dim),
    PRIMARY KEY (item_id, modality, model_version)
);

CREATE TABLE users (
    id         text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Events are kept for items not yet in the catalogue, so item_id has no foreign key.
CREATE TABLE events (
    seq         bigserial PRIMARY KEY,
    event_id    text NOT NULL UNIQUE,
    user_id     text NOT NULL,
    item_id     text NOT NULL,
    type        text NOT NULL CHECK (type IN ('view', 'click', 'add_to_cart', 'purchase')),
    ts          timestamptz NOT NULL,
    request_id  text,
    session_id  text,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_user_ts ON events (user_id, ts, seq);
CREATE INDEX events_item ON events (item_id);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_request ON events (request_id) WHERE request_id IS NOT NULL;

-- The model registry. At most one model is active.
CREATE TABLE models (
    version      text PRIMARY KEY,
    config       jsonb NOT NULL,
    weights      bytea NOT NULL,
    metrics      jsonb NOT NULL DEFAULT '{}',
    data_sha256  text NOT NULL DEFAULT '',
    active       boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz
);
CREATE UNIQUE INDEX models_one_active ON models ((true)) WHERE active;

-- API keys are stored only as SHA-256 hashes.
CREATE TABLE api_keys (
    id         bigserial PRIMARY KEY,
    hash       bytea NOT NULL UNIQUE,
    prefix     text NOT NULL,
    scope      text NOT NULL CHECK (scope IN ('public', 'read', 'write', 'admin')),
    name       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- Ranked answers, for attribution of later events to the model that ranked them.
CREATE TABLE rank_requests (
    request_id    text PRIMARY KEY,
    kind          text NOT NULL,
    model_version text NOT NULL,
    user_id       text,
    n_items       integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
