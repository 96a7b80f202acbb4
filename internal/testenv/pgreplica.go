//go:build linux

package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fusionrank/fusionrank/postgres"
)

// PostgresReplica is a hot standby of the test Postgres server (AdminURL) of the test's
// own: a pg_basebackup -R of the whole server into a temporary data directory, run by
// the server's own binaries on a free loopback port and streaming from the server over
// 127.0.0.1. Every database of the server, including those created after the replica
// started, is on it. scripts/services.sh allows the replication connection.
type PostgresReplica struct {
	Port int
	slot string // the replication slot on the server
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartPostgresReplica starts a streaming replica of the test server and stops it
// (and removes its data directory) when the test ends. It fails the test when the
// server refuses the base backup or the replica does not come up.
func StartPostgresReplica(t testing.TB) *PostgresReplica {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := startPostgresReplica(ctx)
	if err != nil {
		t.Fatalf("testenv: start a Postgres replica: %v", err)
	}
	t.Cleanup(r.Stop)
	return r
}

func startPostgresReplica(ctx context.Context) (*PostgresReplica, error) {
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return nil, fmt.Errorf("Postgres at %s is not reachable (run scripts/services.sh): %w", AdminURL(), err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	// A hot standby needs these at least as high as on its primary.
	settings := map[string]string{}
	rows, err := admin.Query(ctx, `SELECT name, setting FROM pg_settings WHERE name IN
		('server_version_num', 'max_connections', 'max_worker_processes', 'max_wal_senders',
		 'max_prepared_transactions', 'max_locks_per_transaction', 'wal_level')`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		settings[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if settings["wal_level"] == "minimal" {
		return nil, errors.New("the server runs with wal_level=minimal; a replica needs wal_level=replica")
	}
	vnum, _ := strconv.Atoi(settings["server_version_num"])
	bin, err := postgresBinDir(vnum / 10000)
	if err != nil {
		return nil, err
	}

	// Postgres refuses to run as root: as root, the replica runs as the postgres user.
	var cred *syscall.Credential
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user to run the replica as: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "fusionrank-pgreplica-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	r := &PostgresReplica{dir: dir, done: make(chan struct{})}
	fail := func(err error) (*PostgresReplica, error) {
		r.Stop()
		return nil, err
	}
	if uid >= 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			return fail(err)
		}
	}
	run := func(name string, args ...string) error {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", name, err, out)
		}
		return nil
	}
	// A physical replication slot of the replica's own keeps the server's WAL from the
	// backup's start until the replica has it (a busy shared server otherwise recycles
	// segments the backup still needs); Stop drops it, and a start drops the inactive
	// slots of test processes that are gone.
	dropStaleSlots(ctx, admin)
	r.slot = fmt.Sprintf("%s%d_%d", slotPrefix, os.Getpid(), time.Now().UnixNano())
	// -R writes standby.signal, primary_conninfo and primary_slot_name; -C -S creates
	// the slot; -X stream takes the WAL of the backup's own span over a second
	// connection.
	if err := run("pg_basebackup", "-d", AdminURL(), "-D", data, "-R", "-C", "-S", r.slot, "-X", "stream", "-c", "fast", "--no-sync"); err != nil {
		return fail(fmt.Errorf("%w(scripts/services.sh allows replication connections from 127.0.0.1)", err))
	}
	ports, err := freePorts(1)
	if err != nil {
		return fail(err)
	}
	r.Port = ports[0]
	// Debian keeps the server's configuration outside the data directory: the replica
	// gets its own, with the limits a standby must share with its primary.
	conf := fmt.Sprintf(`listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = ''
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
shared_buffers = 32MB
fsync = off
logging_collector = off
`, r.Port)
	for _, k := range []string{"max_connections", "max_worker_processes", "max_wal_senders", "max_prepared_transactions", "max_locks_per_transaction"} {
		if v := settings[k]; v != "" {
			conf += k + " = " + v + "\n"
		}
	}
	files := map[string]string{
		"postgresql.conf": conf,
		"pg_hba.conf":     "host all all 127.0.0.1/32 trust\n",
		"pg_ident.conf":   "",
	}
	for name, text := range files {
		p := filepath.Join(data, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			return fail(err)
		}
		if uid >= 0 {
			if err := os.Chown(p, uid, gid); err != nil {
				return fail(err)
			}
		}
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data)
	// SIGQUIT is Postgres's immediate shutdown: it ends the postmaster's children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	log, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return fail(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	r.cmd = cmd
	go func() { _ = cmd.Wait(); close(r.done) }()
	for {
		conn, err := pgx.Connect(ctx, r.URL("postgres"))
		if err == nil {
			var recovering bool
			err = conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&recovering)
			conn.Close(ctx)
			if err == nil && recovering {
				break
			}
			if err == nil {
				return fail(errors.New("the replica is not in recovery"))
			}
		}
		select {
		case <-r.done:
			out, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			return fail(fmt.Errorf("the replica's postgres exited:\n%s", out))
		case <-ctx.Done():
			return fail(fmt.Errorf("the replica did not accept connections: %v", err))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return r, nil
}

// slotPrefix starts the name of every replication slot of a test replica; the test
// process's pid follows.
const slotPrefix = "fusionrank_test_"

// dropStaleSlots drops the inactive replication slots of test replicas whose test
// process no longer runs (killed before its Stop): they would hold WAL for ever.
func dropStaleSlots(ctx context.Context, admin *pgx.Conn) {
	rows, err := admin.Query(ctx, `SELECT slot_name FROM pg_replication_slots WHERE NOT active AND slot_name LIKE $1`, slotPrefix+"%")
	if err != nil {
		return
	}
	names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, name := range names {
		pid, _, _ := strings.Cut(strings.TrimPrefix(name, slotPrefix), "_")
		if _, err := os.Stat("/proc/" + pid); err == nil {
			continue
		}
		_, _ = admin.Exec(ctx, `SELECT pg_drop_replication_slot($1) WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND NOT active)`, name)
	}
}

// postgresBinDir is the directory of the server's binaries for major version major:
// Debian's /usr/lib/postgresql/<major>/bin, or the directory of pg_basebackup on PATH.
func postgresBinDir(major int) (string, error) {
	dir := fmt.Sprintf("/usr/lib/postgresql/%d/bin", major)
	if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
		return dir, nil
	}
	if p, err := exec.LookPath("pg_basebackup"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "postgres")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	return "", fmt.Errorf("no postgres %d binaries in %s or on PATH (run scripts/services.sh)", major, dir)
}

// URL is the replica's URL of database name.
func (r *PostgresReplica) URL(name string) string {
	return (&url.URL{Scheme: "postgres", User: url.User("postgres"), Host: "127.0.0.1:" + strconv.Itoa(r.Port),
		Path: "/" + name, RawQuery: "sslmode=disable"}).String()
}

// Open connects to primary's database on the replica, once the replica has replayed
// everything the primary had written when Open was called.
func (r *PostgresReplica) Open(t testing.TB, primary *postgres.DB) *postgres.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.CatchUp(ctx, primary); err != nil {
		t.Fatalf("testenv: replica catch-up: %v", err)
	}
	db, err := postgres.Open(ctx, r.URL(primary.Pool.Config().ConnConfig.Database))
	if err != nil {
		t.Fatalf("testenv: open the replica: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

// CatchUp waits until the replica has replayed the primary's WAL up to its position
// at the call.
func (r *PostgresReplica) CatchUp(ctx context.Context, primary *postgres.DB) error {
	var lsn string
	if err := primary.Pool.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, r.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)`, lsn).Scan(&ok); err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the replica did not replay up to %s: %w", lsn, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// PauseReplay stops the replica's replay of the WAL it receives (it stays readable, as
// of the moment it paused) until ResumeReplay.
func (r *PostgresReplica) PauseReplay(ctx context.Context) error {
	return r.exec(ctx, `SELECT pg_wal_replay_pause()`)
}

// ResumeReplay resumes the replay that PauseReplay stopped.
func (r *PostgresReplica) ResumeReplay(ctx context.Context) error {
	return r.exec(ctx, `SELECT pg_wal_replay_resume()`)
}

func (r *PostgresReplica) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, r.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop shuts the replica down at once and removes its data directory.
func (r *PostgresReplica) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	}
	if r.dir != "" && !strings.Contains(r.dir, "..") {
		_ = os.RemoveAll(r.dir)
	}
	if r.slot != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, AdminURL()); err == nil {
			// The walsender may take a moment to notice its replica is gone.
			for range 50 {
				if _, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, r.slot); err != nil {
					break
				}
				var left bool
				if conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, r.slot).Scan(&left) != nil || !left {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			conn.Close(ctx)
		}
	}
}
