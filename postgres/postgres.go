package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fusionrank/fusionrank"
	fsql "github.com/fusionrank/fusionrank/sql"
)

// DB is a pool of connections to one Postgres database.
type DB struct {
	Pool *pgxpool.Pool
}

// Open connects to the database at url and checks that it answers.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fusionrank.Wrap(fusionrank.Invalid, err, "database url")
	}
	// pgxpool's default (max(4, the number of CPUs) connections) queues requests that
	// each need one short query; profile rebuilds and event batches want more.
	// pool_max_conns in the URL still wins.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, 32)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, Translate(err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, Translate(err)
	}
	return &DB{Pool: pool}, nil
}

// Close closes every connection of the pool.
func (db *DB) Close() { db.Pool.Close() }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return Translate(db.Pool.Ping(ctx)) }

// Transact runs fn in a transaction. It commits when fn returns nil, and rolls back
// when fn returns an error or panics (the panic is then re-raised).
func (db *DB) Transact(ctx context.Context, fn func(pgx.Tx) error) (err error) {
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		return Translate(err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			err = Translate(err)
			return
		}
		err = Translate(tx.Commit(ctx))
	}()
	return fn(tx)
}

// Translate maps driver errors to domain errors: no rows → NotFound, unique violation →
// Conflict, connection failures → Unavailable. Other errors pass through unchanged
// (they carry no code and count as internal). nil stays nil.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var fe *fusionrank.Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fusionrank.Wrap(fusionrank.NotFound, err, "not found")
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fusionrank.Wrap(fusionrank.Unavailable, err, "database: deadline exceeded")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return fusionrank.Wrap(fusionrank.Conflict, err, "already exists")
		case strings.HasPrefix(pe.Code, "08"), pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "53300":
			return fusionrank.Wrap(fusionrank.Unavailable, err, "database unavailable")
		}
		return err
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	// A connection the server (or the network) closed mid-query surfaces as a bare
	// io.EOF or io.ErrUnexpectedEOF from the reader: the database is away, not a bug.
	if errors.As(err, &ne) || errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "conn closed") {
		return fusionrank.Wrap(fusionrank.Unavailable, err, "database unavailable")
	}
	return err
}

// migrationLock is the advisory lock key that serialises concurrent migrate runs.
const migrationLock = 0x66726d67 // "frmg"

// Migrate applies the embedded migrations that the database lacks, in order, each in a
// transaction, under an advisory lock. It returns the names of the files it applied;
// running it again applies nothing.
func (db *DB) Migrate(ctx context.Context) ([]string, error) { return db.MigrateTo(ctx, math.MaxInt) }

// MigrateTo is Migrate for the migrations numbered up to last only: tests of a
// migration that changes existing data start from the schema before it.
func (db *DB) MigrateTo(ctx context.Context, last int) ([]string, error) {
	files, err := migrationFiles()
	if err != nil {
		return nil, err
	}
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, Translate(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return nil, Translate(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, Translate(err)
	}
	done := map[int]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, Translate(err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, Translate(err)
		}
		done[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, Translate(err)
	}
	var applied []string
	for _, f := range files {
		if done[f.version] || f.version > last {
			continue
		}
		body, err := fs.ReadFile(fsql.Migrations, f.name)
		if err != nil {
			return applied, err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", f.name, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, f.version, f.name)
			return err
		})
		if err != nil {
			return applied, Translate(err)
		}
		applied = append(applied, f.name)
	}
	return applied, nil
}

type migrationFile struct {
	version int
	name    string
}

func migrationFiles() ([]migrationFile, error) {
	entries, err := fs.ReadDir(fsql.Migrations, ".")
	if err != nil {
		return nil, err
	}
	var files []migrationFile
	seen := map[int]string{}
	for _, e := range entries {
		n := e.Name()
		num, _, ok := strings.Cut(n, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("postgres: migration %q is not named NNN_name.sql", n)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("postgres: migrations %q and %q share number %d", prev, n, v)
		}
		seen[v] = n
		files = append(files, migrationFile{v, n})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].version < files[j].version })
	return files, nil
}
