// Package fusionrank holds the domain of the fusionrank service: the types every other
// package speaks (items, events, users, models) and the error type that carries a code.
//
// It imports nothing of the project. The adapters depend on it:
//
//	cmd/fusionrank  wires everything together and reads configuration
//	api             HTTP transport (Gin); maps error codes to status codes
//	recommend       the use cases: rerank, recommendations, similar items, search
//	ranking         the fusion scorer: pure computation
//	features        the feature store: Postgres (offline, source of truth) and Redis (online cache)
//	postgres        the Postgres pool, the transaction helper and migrations
package fusionrank
