package features

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fusionrank/fusionrank/postgres"
)

// Events are partitioned by month (sql/007_events_partitioned.sql): events_legacy holds
// every event before event_partitioning.legacy_until (the table of a database that had
// events before partitioning; empty otherwise), and events_pYYYYMM the events of one
// month (UTC). The store creates a month's partition before it stores an event of that
// month, and RunPartitions creates the coming months' ahead of time and drops those past
// the retention.

// partitions remembers which monthly partitions exist, so that storing events costs
// no catalogue query once a month's partition is known.
type partitions struct {
	mu    sync.Mutex
	known map[int64]bool // month index (see monthIndex) → exists
	until time.Time      // legacy_until: months before it are in events_legacy
	read  bool           // until was read
}

// monthIndex numbers months: year*12 + month-1, of t in UTC.
func monthIndex(t time.Time) int64 {
	t = t.UTC()
	return int64(t.Year())*12 + int64(t.Month()) - 1
}

func monthStart(i int64) time.Time {
	return time.Date(int(i/12), time.Month(i%12+1), 1, 0, 0, 0, 0, time.UTC)
}

func partitionName(i int64) string {
	return fmt.Sprintf("events_p%04d%02d", i/12, i%12+1)
}

// partitionLock is the advisory lock key that serialises partition changes across
// processes.
const partitionLock = 0x66727074 // "frpt"

// ensurePartitions makes sure a partition holds every month of ts.
func (s *Store) ensurePartitions(ctx context.Context, ts []time.Time) error {
	p := &s.parts
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.read {
		if err := s.db.Pool.QueryRow(ctx, `SELECT legacy_until FROM event_partitioning`).Scan(&p.until); err != nil {
			return postgres.Translate(err)
		}
		p.known, p.read = map[int64]bool{}, true
	}
	var missing []int64
	for _, t := range ts {
		if t.Before(p.until) {
			continue
		}
		if m := monthIndex(t); !p.known[m] && !containsInt(missing, m) {
			missing = append(missing, m)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := s.createPartitions(ctx, missing); err != nil {
		return err
	}
	for _, m := range missing {
		p.known[m] = true
	}
	return nil
}

func containsInt(xs []int64, x int64) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// createPartitions creates the monthly partitions that do not exist yet (see
// CreateEventPartitions).
func (s *Store) createPartitions(ctx context.Context, months []int64) error {
	return createPartitions(ctx, s.db, months)
}

// CreateEventPartitions makes sure partitions of events hold the months of ts: the
// store does so itself before it stores events; code that writes events with SQL of
// its own (tests) calls this first.
func CreateEventPartitions(ctx context.Context, db *postgres.DB, ts ...time.Time) error {
	var months []int64
	for _, t := range ts {
		if m := monthIndex(t); !containsInt(months, m) {
			months = append(months, m)
		}
	}
	return createPartitions(ctx, db, months)
}

// createPartitions creates the monthly partitions that do not exist yet, each with its
// BRIN index on ts, in one transaction under the partition lock (several processes may
// try at once). A month that lies wholly or partly before legacy_until is left to
// events_legacy.
func createPartitions(ctx context.Context, db *postgres.DB, months []int64) error {
	return postgres.Translate(db.Transact(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock); err != nil {
			return err
		}
		var until time.Time
		if err := tx.QueryRow(ctx, `SELECT legacy_until FROM event_partitioning`).Scan(&until); err != nil {
			return err
		}
		for _, m := range months {
			from, to := monthStart(m), monthStart(m+1)
			if from.Before(until) {
				if !to.After(until) {
					continue
				}
				from = until // the month legacy_until falls in starts at it
			}
			name := partitionName(m)
			if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF events FOR VALUES FROM ('%s') TO ('%s');
				CREATE INDEX IF NOT EXISTS %s_ts ON %s USING brin (ts)`,
				name, from.Format(time.RFC3339), to.Format(time.RFC3339), name, name)); err != nil {
				return err
			}
		}
		return nil
	}))
}

// PartitionStats reports what MaintainPartitions did.
type PartitionStats struct {
	Created []string // partitions created ahead
	Dropped []string // partitions dropped past the retention
	Events  int64    // events dropped with them
}

// MaintainPartitions creates the partitions of the current month and the next ahead
// months, and with retention > 0 drops every partition that ends before now -
// retention: a monthly one as a whole table, events_legacy by emptying it once all of
// it is that old. Each dropped partition's events are taken off their users' counts
// (users.events) and the users' cached profiles are deleted, in the same way as an
// import drops them, so that the counts keep versioning the profiles.
func (s *Store) MaintainPartitions(ctx context.Context, ahead int, retention time.Duration) (PartitionStats, error) {
	var st PartitionStats
	now := s.opt.Now()
	cur := monthIndex(now)
	var ts []time.Time
	for m := cur; m <= cur+int64(ahead); m++ {
		ts = append(ts, monthStart(m))
	}
	if err := s.ensurePartitions(ctx, ts); err != nil {
		return st, err
	}
	if retention <= 0 {
		return st, nil
	}
	cutoff := now.Add(-retention)
	rows, err := s.db.Pool.Query(ctx, `
		SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass AND c.relname LIKE 'events\_p%' ORDER BY c.relname`)
	if err != nil {
		return st, postgres.Translate(err)
	}
	var old []int64
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return st, postgres.Translate(err)
		}
		var y, mo int64
		if _, err := fmt.Sscanf(name, "events_p%4d%2d", &y, &mo); err == nil && !monthStart(y*12+mo).After(cutoff) {
			old = append(old, y*12+mo-1)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, postgres.Translate(err)
	}
	for _, m := range old {
		n, err := s.dropEvents(ctx, partitionName(m), false)
		if err != nil {
			return st, err
		}
		st.Dropped, st.Events = append(st.Dropped, partitionName(m)), st.Events+n
		s.parts.mu.Lock()
		delete(s.parts.known, m)
		s.parts.mu.Unlock()
	}
	var until time.Time
	if err := s.db.Pool.QueryRow(ctx, `SELECT legacy_until FROM event_partitioning`).Scan(&until); err != nil {
		return st, postgres.Translate(err)
	}
	if !until.After(cutoff) {
		var any bool
		if err := s.db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events_legacy)`).Scan(&any); err != nil {
			return st, postgres.Translate(err)
		}
		if any {
			n, err := s.dropEvents(ctx, "events_legacy", true)
			if err != nil {
				return st, err
			}
			st.Dropped, st.Events = append(st.Dropped, "events_legacy"), st.Events+n
		}
	}
	return st, nil
}

// dropEvents drops a partition (truncate: empty events_legacy instead, which the
// store's queries name), its events' ids and their users' counts, in one transaction,
// then deletes the users' cached profiles.
func (s *Store) dropEvents(ctx context.Context, table string, truncate bool) (int64, error) {
	counts := map[string]int64{}
	var total int64
	err := s.db.Transact(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock); err != nil {
			return err
		}
		// Lock the partition against writers first, then the users' rows in id order
		// (as every writer of events does).
		if _, err := tx.Exec(ctx, `LOCK TABLE `+table+` IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			WITH d AS (SELECT user_id, count(*) AS n FROM `+table+` GROUP BY user_id),
			u AS (SELECT u.id, d.n FROM users u JOIN d ON d.user_id = u.id ORDER BY u.id FOR UPDATE OF u)
			UPDATE users SET events = users.events - u.n FROM u WHERE users.id = u.id
			RETURNING users.id, users.events`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var u string
			var n int64
			if err := rows.Scan(&u, &n); err != nil {
				rows.Close()
				return err
			}
			counts[u] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM event_ids r USING `+table+` e WHERE r.event_id = e.event_id`)
		if err != nil {
			return err
		}
		total = tag.RowsAffected()
		if truncate {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM events_legacy`).Scan(&total); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `TRUNCATE events_legacy`)
		} else {
			_, err = tx.Exec(ctx, `DROP TABLE `+table)
		}
		return err
	})
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return 0, fmt.Errorf("drop %s: %w", table, postgres.Translate(err))
		}
		return 0, postgres.Translate(err)
	}
	s.deleteProfiles(ctx, counts)
	return total, nil
}

// deleteProfiles deletes the cached profiles of users whose stored events were removed
// (counts: user → count of stored events now): a cached profile holds more events than
// the count now says, and an update would take it for one that already holds newer
// events. A rebuild that read Postgres before the removal and writes after this delete
// still caches the older profile; it lives until the user's next import or its TTL.
func (s *Store) deleteProfiles(ctx context.Context, counts map[string]int64) {
	if len(counts) == 0 || s.rdb == nil {
		return
	}
	// Serving processes' local copies go too (the channel of the local cache).
	var msg strings.Builder
	pipe := s.rdb.Pipeline()
	for u := range counts {
		pipe.Del(ctx, s.userKey("profile", u))
		if s.lc != nil {
			s.lc.profiles.Drop(u)
		}
		if msg.Len() > 0 {
			msg.WriteByte('\n')
		}
		msg.WriteString("u " + u)
	}
	pipe.Publish(ctx, s.localChannel(), msg.String())
	_, err := pipe.Exec(ctx)
	s.redisState.observe(err)
	if err != nil {
		for u := range counts {
			s.redisState.add(u)
		}
	}
}

// RunPartitions runs MaintainPartitions now and then every interval until ctx ends,
// logging what it did.
func (s *Store) RunPartitions(ctx context.Context, interval time.Duration, ahead int, retention time.Duration) {
	for {
		st, err := s.MaintainPartitions(ctx, ahead, retention)
		if err != nil && ctx.Err() == nil {
			s.warn("event partitions: maintenance failed", err)
		} else if len(st.Dropped) > 0 {
			s.opt.Logger.Info("event partitions dropped past the retention", "partitions", st.Dropped, "events", st.Events)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
