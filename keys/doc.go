// Package keys manages API keys in Postgres: creation (the key is shown once; only its
// SHA-256 hash is stored), revocation, and authentication for the API.
//
// Authentication answers from an in-memory copy of the active keys' hashes, refreshed
// every RefreshInterval (250ms) by each serving process, so a revocation takes
// effect on every replica within a second and requests keep being authenticated while
// Postgres is briefly down. A key not in the copy (created since the last refresh) is
// looked up in Postgres directly.
package keys
