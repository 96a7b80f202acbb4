// Package recommend holds fusionrank's ranking use cases: rerank a search engine's
// candidates, homepage recommendations, similar items and multimodal search. Each one
// gathers candidates, computes their scalar features from the feature store, and ranks
// them with the fusion scorer (package ranking) — or, while no model is active, with
// the documented fallback — and answers with the request id and the model version.
//
// Candidates for recommendations come from several sources, merged in this order and
// deduplicated (an item keeps the first source that found it): the request's own query
// ("context"), the CovisK (20) most frequent followers of each of the shopper's five
// most recent items ("covisitation"), the RetrievalK (50) nearest items to the
// shopper's profile in each modality
// ("retrieval:text", "retrieval:image", …), nearest items to the recent items' learned
// vectors ("retrieval:collab"), and the TrendingK (50) trending items of the last day
// ("trending"); a shop
// without events falls back to its catalogue. Bought, excluded and inactive items never
// appear; filters restrict category and price; at most MaxPerCategory items of one
// category lead the list while others are available.
//
// The fallback score (model_version "none") is
//
//	1.0·cos(query, item) + 0.5·Σ_m cos(profile_m, item_m) + 0.3·covis + 0.1·log(1+pop_7d) + 1.0·z(engine score)
//
// so a new deployment answers sensibly from its first minute: with only the engine's
// scores it keeps the engine's order.
//
// LiveModel holds the active model: its weights, the vectors it learned
// per item (collab, attr, and the sequence encoder's rows), and every item's precomputed
// keys and values. When the model has a sequence encoder (Spec.Seq), each candidate's
// seq feature is its score over the shopper's distinct recent items
// (ranking.SeqEncoder), computed per request from those rows. A model registered
// before a scalar feature was appended loads with that feature weighted 0. A newly
// activated model is loaded beside the old one and swapped in with one atomic store; a
// request takes the pointer once, so in-flight requests finish on the model they began
// with. Registry is the model registry in Postgres; it stores with a model the retrieval
// graph of its learned recent-item vectors (model_graphs), which the load reads instead
// of building the index (LiveModel.RecentIndex says which it did).
//
// Retrieval indexes (package recommend/retrieval) hold the active items' vectors per
// modality: an exact scan up to ExactLimit items, an HNSW graph above, searched for
// candidates with effort RetrievalEf (64; the index default of 250 is for stand-alone
// recall): the candidates of several sources are rescored, so each needs less recall.
// A process that builds a catalogue modality's graph stores it (CatalogGraphs, table
// catalog_graphs); the next one to start loads it and re-inserts only the items changed
// since (and stores the caught-up graph again), or builds afresh when more than a
// tenth changed (Service.CatalogIndexes says which it did).
// Exclusions (bought items, the request's exclude list) are resolved to catalogue slots
// once per request, so the filter the index calls on every visited item is an integer
// lookup.
//
// Attribution records which model answered each request, so that events carrying the
// request id give click-through and conversion per model version.
package recommend
