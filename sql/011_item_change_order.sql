-- Serving processes follow the catalogue by items.seq: each reads the items whose seq
-- is above the highest it has read. A writer takes its seq when it writes and commits
-- later, so a reader could see a later seq committed first, read past the earlier one
-- and never load it. Every statement that writes items first takes a shared advisory
-- lock (key 7310414) held to the end of its transaction: writers do not wait for one
-- another, and a reader that takes the lock exclusively (features.Catalog.Refresh)
-- waits for the writers in flight; holding it, every seq up to max(seq) is committed.
CREATE FUNCTION items_change_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7310414);
    RETURN NULL;
END
$$;

CREATE TRIGGER items_change_lock BEFORE INSERT OR UPDATE ON items
    FOR EACH STATEMENT EXECUTE FUNCTION items_change_lock();
