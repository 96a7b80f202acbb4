-- Search logs: every search the service answered (POST /v1/rerank, POST /v1/search),
-- every search a shop's own engine reports (POST /v1/searches) and every imported
-- relevance judgement set, with what was shown and what followed. Both tables are
-- partitioned by day on created_at, so retention (FUSIONRANK_QUERY_RETENTION) drops whole
-- partitions; features.SearchLog creates a day's partition before its first write.

-- One search. search_id is the answer's request_id (so clicks, carts and purchases that
-- carry it are attributed to the search) or the shop's own id. query_vectors holds the
-- caller's query vectors as {"modality": [numbers]}; photo_sha256 names a query photo
-- (its bytes are not kept). judged marks a judgement set: every impression was examined
-- and carries a grade. holdout marks searches kept out of training for evaluation.
CREATE TABLE searches (
    search_id     text NOT NULL,
    created_at    timestamptz NOT NULL,
    source        text NOT NULL CHECK (source IN ('rerank', 'search', 'engine', 'import')),
    user_id       text NOT NULL DEFAULT '',
    query_text    text NOT NULL DEFAULT '',
    query_vectors jsonb NOT NULL DEFAULT '{}',
    photo_sha256  text NOT NULL DEFAULT '',
    model_version text NOT NULL DEFAULT '',
    judged        boolean NOT NULL DEFAULT false,
    holdout       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (search_id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX searches_id ON searches (search_id);

-- What a search showed: the item at each position (0 first), the engine's score when one
-- was given, and for judged searches the grade (the outcome; live searches take their
-- outcome from the events that carry the search's request_id).
CREATE TABLE search_impressions (
    search_id    text NOT NULL,
    created_at   timestamptz NOT NULL,
    position     integer NOT NULL CHECK (position >= 0),
    item_id      text NOT NULL,
    engine_score double precision,
    grade        double precision,
    PRIMARY KEY (search_id, created_at, position)
) PARTITION BY RANGE (created_at);
