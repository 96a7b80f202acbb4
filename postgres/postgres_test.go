package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/testenv"
	"github.com/fusionrank/fusionrank/postgres"
)

func open(t *testing.T) *postgres.DB {
	t.Helper()
	u := testenv.FreshDatabase(t, "postgres")
	ctx := context.Background()
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	errs := make(chan error, 3)
	applied := make(chan int, 3)
	for range 3 {
		go func() {
			a, err := db.Migrate(ctx)
			applied <- len(a)
			errs <- err
		}()
	}
	total := 0
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
		total += <-applied
	}
	if total == 0 {
		t.Fatal("no migration applied on an empty database")
	}
	again, err := db.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate applied %v, err %v; want nothing", again, err)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != total {
		t.Fatalf("schema_migrations has %d rows (err %v), applied %d", n, err, total)
	}
	for _, table := range []string{"items", "item_vectors", "users", "events", "models", "api_keys"} {
		if _, err := db.Pool.Exec(ctx, `SELECT 1 FROM `+table+` LIMIT 1`); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
}

func TestTransact(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	count := func(id string) int {
		var n int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	insert := func(tx pgx.Tx, id string) error {
		_, err := tx.Exec(ctx, `INSERT INTO users (id) VALUES ($1)`, id)
		return err
	}
	t.Run("commit", func(t *testing.T) {
		if err := db.Transact(ctx, func(tx pgx.Tx) error { return insert(tx, "u-commit") }); err != nil {
			t.Fatal(err)
		}
		if count("u-commit") != 1 {
			t.Fatal("committed row missing")
		}
	})
	t.Run("rollback on error", func(t *testing.T) {
		boom := errors.New("boom")
		err := db.Transact(ctx, func(tx pgx.Tx) error {
			if err := insert(tx, "u-error"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		if count("u-error") != 0 {
			t.Fatal("row of a failed transaction was committed")
		}
	})
	t.Run("rollback on panic", func(t *testing.T) {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("panic was swallowed")
				}
			}()
			_ = db.Transact(ctx, func(tx pgx.Tx) error {
				if err := insert(tx, "u-panic"); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		if count("u-panic") != 0 {
			t.Fatal("row of a panicking transaction was committed")
		}
		// The pool must still be usable: the connection was returned.
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("errors are translated", func(t *testing.T) {
		err := db.Transact(ctx, func(tx pgx.Tx) error { return insert(tx, "u-commit") })
		if fusionrank.ErrorCode(err) != fusionrank.Conflict {
			t.Errorf("duplicate key: code %q, want conflict (%v)", fusionrank.ErrorCode(err), err)
		}
		var id string
		err = postgres.Translate(db.Pool.QueryRow(ctx, `SELECT id FROM users WHERE id = 'nobody'`).Scan(&id))
		if fusionrank.ErrorCode(err) != fusionrank.NotFound {
			t.Errorf("no rows: code %q, want not_found", fusionrank.ErrorCode(err))
		}
	})
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if fusionrank.ErrorCode(err) != fusionrank.Unavailable {
		t.Fatalf("code %q (%v), want unavailable", fusionrank.ErrorCode(err), err)
	}
}
