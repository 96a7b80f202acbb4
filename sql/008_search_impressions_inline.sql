-- A search's impressions live in its row: item_ids, engine_scores and grades are
-- arrays in position order (0 first), one element per item shown; engine_scores and
-- grades hold NULL where none was given. Logging an answer writes one row and one
-- index entry, whatever the depth logged.
--
-- This migration copies the impressions of search_impressions into their searches,
-- then drops that table and its day partitions; it rewrites every logged search once.
-- It drops the index searches_id: the primary key (search_id, created_at) finds a
-- search by its id.
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
