-- Events partitioned by month (declarative range partitions on ts). Today's table
-- becomes the partition events_legacy of every event before
-- event_partitioning.legacy_until; the service creates the monthly partitions
-- events_pYYYYMM ahead of time and when an event needs one, each with a BRIN index on
-- ts (events arrive roughly in time order, so block ranges summarise them well, at a
-- fraction of a B-tree's size and insert cost), and drops whole partitions past
-- FUSIONRANK_EVENT_RETENTION.
--
-- Online on an existing database: the validation of the range constraint scans the old
-- table under a SHARE UPDATE EXCLUSIVE lock (reads and writes go on); the rest changes
-- only the catalogue: the rename, the new parent and the attachment, which reuses the
-- old table's indexes and, the constraint being valid, scans nothing. Writers wait only
-- for those catalogue changes.
ALTER TABLE events VALIDATE CONSTRAINT events_legacy_range;

LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
ALTER TABLE events RENAME TO events_legacy;
ALTER INDEX events_pkey RENAME TO events_legacy_pkey;
ALTER INDEX events_event_id_key RENAME TO events_legacy_event_id_key;
ALTER INDEX events_user_ts RENAME TO events_legacy_user_ts;
ALTER INDEX events_item RENAME TO events_legacy_item;
ALTER INDEX events_ts RENAME TO events_legacy_ts;
ALTER INDEX events_request RENAME TO events_legacy_request;

CREATE TABLE events (
    seq         bigint NOT NULL DEFAULT nextval('events_seq_seq'),
    event_id    text NOT NULL,
    user_id     text NOT NULL,
    item_id     text NOT NULL,
    type        text NOT NULL CONSTRAINT events_type_check CHECK (type IN ('view', 'click', 'add_to_cart', 'purchase')),
    ts          timestamptz NOT NULL,
    request_id  text,
    session_id  text,
    received_at timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (ts);
-- The sequence outlives events_legacy (retention may empty it).
ALTER SEQUENCE events_seq_seq OWNED BY events.seq;
ALTER TABLE events_legacy ALTER COLUMN seq SET DEFAULT nextval('events_seq_seq');

CREATE INDEX events_user_ts ON events (user_id, ts, seq);
CREATE INDEX events_item ON events (item_id);
CREATE INDEX events_request ON events (request_id) WHERE request_id IS NOT NULL;

DO $$
DECLARE
    bound timestamptz;
BEGIN
    SELECT legacy_until INTO bound FROM event_partitioning;
    EXECUTE format('ALTER TABLE events ATTACH PARTITION events_legacy FOR VALUES FROM (MINVALUE) TO (%L)', bound);
END $$;

COMMENT ON COLUMN events.event_id IS
    'idempotency key: the client''s event id for keys of scope write and admin; <space>/<id> for the public and read spaces; unique through event_ids';
