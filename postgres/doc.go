// Package postgres is fusionrank's Postgres plumbing: the connection pool, the
// transaction helper, the embedded migrations and the translation of driver errors into
// the domain's error codes. The stores that speak SQL (features, the model registry, the
// API keys) build on it; SQL lives inline next to its scan in those stores.
package postgres
