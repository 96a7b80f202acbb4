-- A search's impressions move into its row: item_ids, engine_scores and grades are
-- arrays in position order (0 first), one element per item shown; engine_scores and
-- grades hold NULL where none was given. One row per search, where there was one per
-- item shown, is what a log of every answer costs Postgres: the rows and index entries
-- written per search drop from 1 + the depth logged (21 by default) to one.
--
-- The impressions already logged are copied into their searches, then the old table
-- and its day partitions are dropped. The copy rewrites every logged search once.
--
-- The index searches_id goes too: the primary key (search_id, created_at) already finds
-- a search by its id, and every logged search paid for a second index entry.
ALTER TABLE searches
    ADD COLUMN item_ids      text[] NOT NULL DEFAULT '{}',
    ADD COLUMN engine_scores double precision[] NOT NULL DEFAULT '{}',
    ADD COLUMN grades        double precision[] NOT NULL DEFAULT '{}';

UPDATE searches s
SET item_ids = i.item_ids, engine_scores = i.engine_scores, grades = i.grades
FROM (
    SELECT search_id, created_at,
        array_agg(item_id ORDER BY position) AS item_ids,
        array_agg(engine_score ORDER BY position) AS engine_scores,
        array_agg(grade ORDER BY position) AS grades
    FROM search_impressions
    GROUP BY search_id, created_at
) i
WHERE s.search_id = i.search_id AND s.created_at = i.created_at;

DROP TABLE search_impressions;

ALTER TABLE searches ADD CONSTRAINT searches_impressions_aligned
    CHECK (cardinality(engine_scores) = cardinality(item_ids) AND cardinality(grades) = cardinality(item_ids));

DROP INDEX searches_id;
