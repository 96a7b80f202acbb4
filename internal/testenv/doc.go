// Package testenv gives tests their own Postgres database and their own Redis key
// namespace on the real servers on loopback. A test that needs a store and cannot reach
// it fails: it never skips.
//
// The servers come from FUSIONRANK_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable, used to create and drop
// databases) and FUSIONRANK_TEST_REDIS_URL (default redis://127.0.0.1:6379/0).
// `make test` starts both through scripts/services.sh.
package testenv
