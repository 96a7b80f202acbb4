-- API keys may expire: a key is refused from expires_at on (NULL: never). Rotation
-- without downtime creates the new key and gives the old one an expiry (keys rotate).
-- Adding a nullable column without a default changes only the catalogue: no rewrite, no
-- long lock.
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;

-- The secrets user tokens are signed with (package usertoken). The newest secret
-- without an expiry signs; every secret verifies until its expires_at, which rotation
-- sets to the end of a grace period so that tokens signed just before it stay valid.
-- The secret itself must be stored: HMAC verification needs it.
CREATE TABLE user_token_secrets (
    id         bigserial PRIMARY KEY,
    secret     bytea NOT NULL CHECK (length(secret) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);

-- Event ids are idempotent per id space (fusionrank.EventIDSpace): the space of keys of
-- scope write and admin stores the client's id as it is, the others store
-- "<space>/<id>" ("public/…", "read/…"). Ids cannot contain "/", so the existing unique
-- index on event_id keeps the spaces apart, and no row has to change: events stored
-- before this migration are in the write space (the scope of the key that sent them
-- was never recorded).
COMMENT ON COLUMN events.event_id IS
    'idempotency key: the client''s event id for keys of scope write and admin; <space>/<id> for the public and read spaces';
