// Package keys manages API keys in Postgres: creation (the key is shown once; only its
// SHA-256 hash is stored), expiry, rotation without downtime (a new key, and the old
// one expiring after a grace period), revocation, and authentication for the API. It
// also keeps the secrets user tokens are signed with (package usertoken): rotation
// with a grace period during which the previous secrets still verify, signing, and
// verification for the API.
//
// Authentication answers from an in-memory copy of the active keys' hashes and
// expiries and of the secrets, refreshed every RefreshInterval (250ms) by each serving
// process, so a revocation or rotation takes effect on every replica within a second
// and requests keep being authenticated while Postgres is briefly down; an expiry takes
// effect at its instant. A key not in the copy (created since the last refresh) is
// looked up in Postgres directly, at most MaxLookupsPerSecond times a second.
package keys
