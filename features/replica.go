package features

import (
	"context"

	"github.com/fusionrank/fusionrank/postgres"
)

// Reading from a streaming replica (Options.Replica).
//
// The replica serves the heavy reads: profile and counter rebuilds, the start-up
// warm-ups, catalogue loads and exports. Everything that writes, and every read that
// must see a write just made (an item read back after its PUT, event id replays, the
// photo and model registries, keys, the search log), stays on the primary.
//
// A replica lags its primary by the WAL it has not replayed yet. A profile must not be
// built from a history missing events the primary has: the user's event count is its
// version (users.events, see doc.go), so a rebuild reads the user's events from the
// replica, then the user's count from the primary (one index lookup), and keeps the
// replica's profile only when it holds exactly that many events; otherwise it reads
// the events again from the primary. The replica replays commits in the primary's
// order and a user's batches commit in count order, so a replica holding N events of
// a user holds the first N, and N equal to the primary's count read after it means
// nothing is missing. WarmProfiles applies the same check to each batch of profiles
// (one query of the users' counts on the primary).
//
// Counter sets tolerate the lag: a popularity window still open lives minutes and
// closed windows are older than any lag, and a co-visitation set rebuilt from a
// replica may miss the events of the lag's last moments, which is within the set's
// approximation. The catalogue follows the replica: a change appears once the replica
// has replayed it, within the refresh interval after that (the primary's NOTIFY wakes
// the refresh, polling catches what the replica had not replayed yet).

// Pools that serve a profile rebuild's read (Options.OnRebuildRead).
const (
	PoolPrimary      = "primary"       // no replica configured
	PoolReplica      = "replica"       // the replica held every event of the user
	PoolPrimaryLag   = "primary_lag"   // the replica was behind the user's event count: read again from the primary
	PoolPrimaryError = "primary_error" // the replica failed: read from the primary
)

// reads is the pool for reads that tolerate the replica's lag: the replica when there
// is one.
func (s *Store) reads() *postgres.DB {
	if s.replica != nil {
		return s.replica
	}
	return s.db
}

// readLagged runs read on the replica when there is one, and on the primary when
// there is none or the replica fails (what is logged as what). read must have no
// effect when it returns an error.
func (s *Store) readLagged(ctx context.Context, what string, read func(*postgres.DB) error) error {
	if s.replica == nil {
		return read(s.db)
	}
	err := read(s.replica)
	if err == nil || ctx.Err() != nil {
		return err
	}
	s.opt.Logger.Warn("read from the replica failed; reading from the primary", "read", what, "err", err)
	return read(s.db)
}

// onRebuildRead reports the pool that served a profile rebuild.
func (s *Store) onRebuildRead(pool string) {
	if s.opt.OnRebuildRead != nil {
		s.opt.OnRebuildRead(pool)
	}
}

// primaryEventCounts returns the users' event counts (users.events) on the primary;
// a user without a row has none and is absent from the map.
func (s *Store) primaryEventCounts(ctx context.Context, users []string) (map[string]int64, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT id, events FROM users WHERE id = ANY($1)`, users)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	out := make(map[string]int64, len(users))
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, postgres.Translate(err)
		}
		out[id] = n
	}
	return out, postgres.Translate(rows.Err())
}
