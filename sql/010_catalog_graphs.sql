-- The catalogue's retrieval graphs: one HNSW per modality whose vectors do not depend on
-- a model (text, image vectors given with items, photos), without its vectors
-- (retrieval.HNSW.AppendGraph). A serving process that builds one stores it here; the
-- next process to start loads it and re-inserts only the items changed since (items.seq
-- above this row's seq) instead of building it again. Node i of the graph is
-- item_ids[i]. version is the vectors' encoder version ('' but for photos).
CREATE TABLE catalog_graphs (
    modality  text PRIMARY KEY,
    version   text NOT NULL,
    dim       integer NOT NULL CHECK (dim > 0),
    seq       bigint NOT NULL,
    item_ids  text[] NOT NULL,
    graph     bytea NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
);
