-- Events become a table partitioned by month (007). This step prepares that without
-- holding up writers: it bounds today's table by a time limit past every stored event
-- (NOT VALID: only new rows are checked here, at once; 007 validates the old ones
-- under a lock that lets reads and writes go on), and creates the registry that keeps
-- event ids unique across partitions.
--
-- legacy_until: today's table becomes the partition events_legacy of every event
-- before this instant (the first of the month after both the latest stored event and
-- tomorrow), newer events go to monthly partitions events_pYYYYMM that the service
-- creates. On a database without events it is 1990-01-01 (no event is older), so every
-- event lands in a monthly partition.
CREATE TABLE event_partitioning (
    only_row     boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    legacy_until timestamptz NOT NULL
);

DO $$
DECLARE
    latest timestamptz;
    bound  timestamptz;
BEGIN
    SELECT max(ts) INTO latest FROM events;
    IF latest IS NULL THEN
        bound := timestamptz '1990-01-01 00:00:00+00';
    ELSE
        bound := (date_trunc('month', greatest(latest, now() + interval '1 day') AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
    END IF;
    INSERT INTO event_partitioning (legacy_until) VALUES (bound);
    EXECUTE format('ALTER TABLE events ADD CONSTRAINT events_legacy_range CHECK (ts < %L) NOT VALID', bound);
END $$;

-- Event ids are unique per id space (see 003). A partitioned table's unique indexes
-- must include the partition key, so the uniqueness of event_id moves here: an event is
-- stored only if its id was inserted here first, in the same transaction. The events of
-- events_legacy stored before this migration are not listed: their own unique index
-- answers for them (features.insertEvents checks both). user_id and ts find the event
-- again (index events_user_ts, in one partition).
CREATE TABLE event_ids (
    event_id text PRIMARY KEY,
    user_id  text NOT NULL,
    ts       timestamptz NOT NULL
);
