-- A model's retrieval graph over its learned recent-item vectors (the HNSW's links,
-- retrieval.HNSW.AppendGraph), built once when the model is registered so that serving
-- processes load it instead of building it. Node i of the graph is item_ids[i]. A model
-- without a row here (at most recommend.ExactLimit such vectors) is indexed when it
-- loads.
CREATE TABLE model_graphs (
    model_version text NOT NULL REFERENCES models (version) ON DELETE CASCADE,
    modality      text NOT NULL,
    item_ids      text[] NOT NULL,
    graph         bytea NOT NULL,
    PRIMARY KEY (model_version, modality)
);
