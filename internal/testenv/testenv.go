package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/fusionrank/fusionrank/internal/redisconn"
	"github.com/fusionrank/fusionrank/postgres"
)

// AdminURL is the URL of the maintenance database used to create test databases.
func AdminURL() string {
	if u := os.Getenv("FUSIONRANK_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisURL is the URL of the Redis server tests use. With
// FUSIONRANK_TEST_REDIS_CLUSTER=1 it is a 3-master Redis Cluster (one replica each)
// started once per test process (see StartRedisCluster); a test process that cannot
// start it panics.
func RedisURL() string {
	if os.Getenv("FUSIONRANK_TEST_REDIS_CLUSTER") == "1" {
		c, err := sharedRedisCluster()
		if err != nil {
			panic("testenv: start the Redis Cluster: " + err.Error())
		}
		return c.URL()
	}
	if u := os.Getenv("FUSIONRANK_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

var nameRE = regexp.MustCompile(`^[a-z0-9_]+$`)

// DatabaseURL returns the URL of database name on the test server.
func DatabaseURL(name string) string {
	u, err := url.Parse(AdminURL())
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// FreshDatabase drops and creates the database fusionrank_test_<name><suffix> and
// returns its URL, suffix being FUSIONRANK_TEST_DB_SUFFIX (empty by default). Each test
// package uses its own name, so packages run in parallel safely; the suffix keeps
// several checkouts of the project testing on one server apart.
func FreshDatabase(t testing.TB, name string) string {
	t.Helper()
	name += os.Getenv("FUSIONRANK_TEST_DB_SUFFIX")
	if !nameRE.MatchString(name) {
		t.Fatalf("testenv: database name %q (with FUSIONRANK_TEST_DB_SUFFIX) must match %s", name, nameRE)
	}
	db := "fusionrank_test_" + name
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("testenv: Postgres at %s is not reachable (run scripts/services.sh): %v", AdminURL(), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, db)); err != nil {
		t.Fatalf("testenv: drop %s: %v", db, err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s`, db)); err != nil {
		t.Fatalf("testenv: create %s: %v", db, err)
	}
	return DatabaseURL(db)
}

var (
	shared   = map[string]*postgres.DB{}
	sharedMu sync.Mutex
)

// DB returns a migrated database for the test package named name, created fresh on the
// first call in this process and shared by later calls with the same name. Tests that
// share it use distinct ids. The pool is closed when the process ends.
func DB(t testing.TB, name string) *postgres.DB {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if db, ok := shared[name]; ok {
		return db
	}
	u := FreshDatabase(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatalf("testenv: open %s: %v", u, err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("testenv: migrate: %v", err)
	}
	shared[name] = db
	return db
}

// Redis returns a client of the test Redis server and a key namespace of this test's own
// ("t<random>"); every key under it is deleted when the test ends.
func Redis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	rdb, err := redisconn.Open(RedisURL(), redisconn.Tuning{})
	if err != nil {
		t.Fatalf("testenv: redis url: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("testenv: Redis at %s is not reachable (run scripts/services.sh): %v", RedisURL(), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	ns := "t" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		DeleteNamespace(ctx, rdb, ns)
		rdb.Close()
	})
	return rdb, ns
}

// DeleteNamespace deletes every key that starts with ns + ":", on every master of a
// cluster (one key per DEL there: the keys of a batch live in different slots).
func DeleteNamespace(ctx context.Context, rdb redis.UniversalClient, ns string) {
	_ = redisconn.ForEachMaster(ctx, rdb, func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, strings.ReplaceAll(ns, "*", `\*`)+":*", 1000).Iterator()
		var keys []string
		flush := func() {
			pipe := node.Pipeline()
			for _, k := range keys {
				pipe.Unlink(ctx, k)
			}
			_, _ = pipe.Exec(ctx)
			keys = keys[:0]
		}
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				flush()
			}
		}
		flush()
		return nil
	})
}
