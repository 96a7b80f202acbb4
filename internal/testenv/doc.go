// Package testenv gives tests their own Postgres database and their own Redis key
// namespace on the real servers on loopback. A test that needs a store and cannot reach
// it fails: it never skips.
//
// The servers come from FUSIONRANK_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable, used to create and drop
// databases) and FUSIONRANK_TEST_REDIS_URL (default redis://127.0.0.1:6379/0).
// `make test` starts both through scripts/services.sh. Several checkouts can test on the
// same servers at once when each sets its own FUSIONRANK_TEST_DB_SUFFIX (appended to
// every test database's name) and FUSIONRANK_TEST_DEMO_REDIS_DB (the Redis database
// the demo script's test uses, 3 by default).
//
// FUSIONRANK_TEST_REDIS_URL may name a Redis Cluster (redis+cluster://…), and
// FUSIONRANK_TEST_REDIS_CLUSTER=1 makes the test process start a Redis Cluster of its
// own (3 masters, one replica each, on free loopback ports; StartRedisCluster) and
// point every test at it. StartRedisCluster also serves tests that break a cluster.
//
// StartPostgresReplica starts a streaming replica (a hot standby) of the test server
// for a test: pg_basebackup -R into a temporary data directory, run by the server's own
// binaries (Debian's /usr/lib/postgresql/<major>/bin; as the postgres user when the
// test runs as root) on a free loopback port, streaming through a replication slot of
// its own (dropped at Stop). The base backup copies every database of the server, so
// it takes as long as the server is large. The server must allow replication
// connections from 127.0.0.1, which scripts/services.sh sets up (a reload).
package testenv
