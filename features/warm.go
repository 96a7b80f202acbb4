package features

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/postgres"
)

// covisAllQuery counts, for every item, which items followed it directly in users'
// histories since $1: covisQuery for all items in one pass. A row with a NULL follower stands
// for an item that was some user's last event, so that items nothing followed get an
// (empty) set too.
const covisAllQuery = `
SELECT item_id, nxt, count(*) FROM (
	SELECT item_id, lead(item_id) OVER (PARTITION BY user_id ORDER BY ts, seq) AS nxt FROM events WHERE ts >= $1
) s WHERE nxt IS DISTINCT FROM item_id GROUP BY item_id, nxt ORDER BY item_id`

// createIfMissing writes a counter set only when the key does not exist (ARGV: TTL in
// ms, then score, member, …), so that a set kept up to date since is never replaced.
var createIfMissing = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('ZADD', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`)

// WarmCovisitation builds every co-visitation set that is missing in Redis from one
// pass over the events, instead of one query per item as requests find them missing.
// After Redis has lost its data (a restart, a flush) the per-item rebuilds of a busy
// shop pile up on Postgres; serve runs this in the background at start. Sets that exist
// are left alone. It reads the events of Options.CovisWindow only (all with none): on
// a partitioned events table that is the recent months' partitions, so the warm-up
// takes as long as the window's events, whatever the history. It returns how many sets
// it wrote.
func (s *Store) WarmCovisitation(ctx context.Context) (int, error) {
	rows, err := s.reads().Pool.Query(ctx, covisAllQuery, s.covisSince())
	if err != nil {
		return 0, postgres.Translate(err)
	}
	defer rows.Close()
	ttl := s.opt.CounterTTL.Milliseconds()
	written := 0
	type set struct {
		key string
		zs  []any // score, member, …
	}
	var batch []set
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(batch))
		const chunk = 2000 // members per call, under Lua's unpack limit
		for i, b := range batch {
			first := b.zs[:min(len(b.zs), 2*chunk)]
			cmds[i] = createIfMissing.Eval(ctx, pipe, []string{b.key}, append([]any{ttl}, first...)...)
		}
		_, err := pipe.Exec(ctx)
		s.redisState.observe(err)
		if err != nil && err != redis.Nil {
			return err
		}
		pipe = s.rdb.Pipeline()
		more := false
		for i, b := range batch {
			if n, _ := cmds[i].Int(); n != 1 {
				continue
			}
			written++
			for k := 2 * chunk; k < len(b.zs); k += 2 * chunk {
				args := make([]redis.Z, 0, chunk)
				for j := k; j < min(len(b.zs), k+2*chunk); j += 2 {
					args = append(args, redis.Z{Score: b.zs[j].(float64), Member: b.zs[j+1]})
				}
				pipe.ZAdd(ctx, b.key, args...)
				more = true
			}
		}
		if more {
			_, err = pipe.Exec(ctx)
			s.redisState.observe(err)
			if err != nil {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	var cur *set
	var curItem string
	for rows.Next() {
		var item string
		var nxt *string
		var n int64
		if err := rows.Scan(&item, &nxt, &n); err != nil {
			return written, postgres.Translate(err)
		}
		if cur == nil || item != curItem {
			if len(batch) >= 500 {
				if err := flush(); err != nil {
					return written, err
				}
			}
			batch = append(batch, set{key: s.itemKey("covis", item), zs: []any{float64(0), builtMarker}})
			cur, curItem = &batch[len(batch)-1], item
		}
		if nxt != nil {
			cur.zs = append(cur.zs, float64(n), *nxt)
		}
	}
	if err := rows.Err(); err != nil {
		return written, postgres.Translate(err)
	}
	return written, flush()
}

// covisSince is the start of the co-visitation window: now - Options.CovisWindow, or
// the year 1 without a window.
func (s *Store) covisSince() time.Time {
	if s.opt.CovisWindow <= 0 {
		return time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return s.opt.Now().Add(-s.opt.CovisWindow)
}

// warmProfilesQuery reads, in one statement (one snapshot), every event of the users
// with an event since $1, a user's events together and in time order.
const warmProfilesQuery = `
SELECT user_id, seq, item_id, type, ts FROM events
WHERE user_id IN (SELECT DISTINCT user_id FROM events WHERE ts >= $1)
ORDER BY user_id, ts, seq`

// WarmProfiles builds the profile of every user with an event since since that is
// missing in Redis, from one pass over their events, and caches it as a rebuild on a
// read would (a profile already cached is left alone; one whose user's events arrived
// after the pass read them is not cached). After a cold start or a Redis wipe under
// load, the reads' own rebuilds (a query per user) compete with the requests for the
// CPU and time out; one ordered pass costs a fraction of that and completes, so
// answers are personal again within seconds. serve runs it at start. It returns how
// many profiles it wrote.
func (s *Store) WarmProfiles(ctx context.Context, since time.Time) (int, error) {
	rows, err := s.reads().Pool.Query(ctx, warmProfilesQuery, since)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	defer rows.Close()
	written := 0
	type built struct {
		user string
		p    *Profile
	}
	var batch []built
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if s.replica != nil {
			// Read from the replica: cache only the profiles that hold as many events
			// as the primary's count of their user (replica.go); the others are
			// rebuilt on their next read.
			users := make([]string, len(batch))
			for i, b := range batch {
				users[i] = b.user
			}
			counts, err := s.primaryEventCounts(ctx, users)
			if err != nil {
				return err
			}
			keep := batch[:0]
			for _, b := range batch {
				if b.p.Events == counts[b.user] {
					keep = append(keep, b)
				}
			}
			batch = keep
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(batch))
		for i, b := range batch {
			cmds[i] = cacheRebuilt.Eval(ctx, pipe, []string{s.userKey("profile", b.user), s.userKey("pfloor", b.user)},
				b.p.Events, b.p.encode(), s.opt.ProfileTTL.Milliseconds(), profileHeader)
		}
		_, err := pipe.Exec(ctx)
		s.redisState.observe(err)
		if err != nil && err != redis.Nil {
			return err
		}
		for _, c := range cmds {
			if n, _ := c.Int(); n == 1 {
				written++
			}
		}
		batch = batch[:0]
		return nil
	}
	var cur *Profile
	var curUser string
	for rows.Next() {
		var ev fusionrank.Event
		var seq int64
		var typ string
		if err := rows.Scan(&ev.UserID, &seq, &ev.ItemID, &typ, &ev.Timestamp); err != nil {
			return written, postgres.Translate(err)
		}
		if cur == nil || ev.UserID != curUser {
			if len(batch) >= 500 {
				if err := flush(); err != nil {
					return written, err
				}
			}
			cur, curUser = &Profile{}, ev.UserID
			batch = append(batch, built{curUser, cur})
		}
		ev.Type = fusionrank.EventType(typ)
		cur.apply(s.opt.Rules, ev, seq, s.catalog.ItemVectors)
	}
	if err := rows.Err(); err != nil {
		return written, postgres.Translate(err)
	}
	return written, flush()
}

// The warm-up marker, a key of the namespace: while a warm-up after a wipe runs, it
// holds the warm-up's phase ("profiles", then "covis"; it expires after warmingTTL
// unless the warm-up refreshes it), and once that warm-up is done, "warm" (without
// expiry; the start-up warm-up writes that at once). Its absence tells that Redis lost
// its data (a restart without persistence, a flush, the marker's node of a cluster) or
// that a warm-up's process died: either way the state must be warmed again.
const (
	markProfiles = "profiles"
	markCovis    = "covis"
	markWarm     = "warm"
	warmingTTL   = time.Minute
)

// Phases of a warm-up after a wipe.
const (
	phaseNone int32 = iota
	phaseProfiles
	phaseCovis
)

// warmState is the phase of a warm-up after a wipe, run by this process (own) or, as
// the marker said, by another (others).
type warmState struct {
	own, others atomic.Int32
}

func phaseOf(mark string) int32 {
	switch mark {
	case markProfiles:
		return phaseProfiles
	case markCovis:
		return phaseCovis
	}
	return phaseNone
}

// covisDeclined reports whether co-visitation sets are left to a warm-up now: from
// its start (the profiles come first) to its end.
func (w *warmState) covisDeclined() bool {
	return w.own.Load() != phaseNone || w.others.Load() != phaseNone
}

// profilesDeclined reports whether serving leaves profiles to a warm-up now.
func (w *warmState) profilesDeclined() bool {
	return w.own.Load() == phaseProfiles || w.others.Load() == phaseProfiles
}

// errWarming is a rebuild declined because a warm-up is building the same state in one
// pass: the request goes on without it, and says so.
var errWarming = fusionrank.Errorf(fusionrank.Unavailable, "Redis is being warmed from Postgres")

// rebuildCovis rebuilds item's co-visitation set (key) from Postgres, unless a warm-up
// will build every set (errWarming). The warm-up's one pass costs a fraction of what
// the per-item window queries of a busy shop do, and those queries take Postgres's CPU
// from the profiles' rebuilds: after a Redis wipe under load, the shoppers would stay
// unpersonalised while the load lasts.
func (s *Store) rebuildCovis(ctx context.Context, key, item string) error {
	if s.warm.covisDeclined() {
		return errWarming
	}
	return s.rebuildCounter(ctx, key, covisQuery, s.covisSince(), item)
}

func (s *Store) warmKey() string { return s.key("warm") }

// RunWarm warms Redis from Postgres in the background: at start, and again whenever
// Redis has lost its data since, which it tells every every by the warm-up marker's
// absence (see markWarm). A warm-up is WarmProfiles for the users with an event within
// profiles (none when 0) and WarmCovisitation. One process claims the warm-up after
// a wipe (SET NX of the marker). While that warm-up runs, in any process, no
// co-visitation set is rebuilt per item (rebuildCovis), and while it builds the
// profiles, serving answers a shopper whose profile is missing without
// personalisation at once (ServingProfile) instead of waiting for a rebuild of its
// own: under load those waits hold requests until the server sheds them, and the
// rebuilds' queries starve the pass that builds every profile in a few seconds.
// The start-up warm-up declines nothing: a process starts before its traffic, and
// its requests' rebuilds meanwhile are few. It returns when ctx ends.
func (s *Store) RunWarm(ctx context.Context, every, profiles time.Duration) {
	// At start the warm-up runs whatever the marker says: it writes only what is
	// missing, so on a Redis that kept its data it is one pass over the events. The
	// marker is set first, so that a wipe during the warm-up is noticed.
	s.redisState.observe(s.rdb.SetNX(ctx, s.warmKey(), markWarm, 0).Err())
	s.runWarmup(ctx, "start", false, profiles)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		claimed, err := s.rdb.SetNX(ctx, s.warmKey(), markProfiles, warmingTTL).Result()
		s.redisState.observe(err)
		if err != nil {
			continue
		}
		if claimed {
			s.opt.Logger.Warn("Redis lost its data (the warm-up marker is gone): warming it again from Postgres")
			s.runWarmup(ctx, "Redis lost its data", true, profiles)
			continue
		}
		v, err := s.rdb.Get(ctx, s.warmKey()).Result()
		s.redisState.observe(err)
		if err != nil {
			v = ""
		}
		s.warm.others.Store(phaseOf(v))
	}
}

// runWarmup runs one warm-up. When claimed (this process wrote the marker after a
// wipe), it publishes its phase (own, and the marker, kept alive while it runs), so
// that serving declines what it will build, and marks Redis warm at the end.
func (s *Store) runWarmup(ctx context.Context, why string, claimed bool, profiles time.Duration) {
	phase := func(p int32, mark string) {
		s.warm.own.Store(p)
		ttl := warmingTTL
		if mark == markWarm {
			ttl = 0
		}
		s.redisState.observe(s.rdb.Set(ctx, s.warmKey(), mark, ttl).Err())
	}
	if claimed {
		defer s.warm.own.Store(phaseNone)
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			t := time.NewTicker(warmingTTL / 3)
			defer t.Stop()
			for {
				select {
				case <-wctx.Done():
					return
				case <-t.C:
					s.rdb.Expire(wctx, s.warmKey(), warmingTTL)
				}
			}
		}()
	}
	// pass runs one pass and logs it. On a failure it drops the claim (the next check
	// tries again) and reports false.
	pass := func(what string, run func() (int, error)) bool {
		start := time.Now()
		n, err := run()
		if err != nil {
			if ctx.Err() == nil {
				s.opt.Logger.Warn(what+" warm-up failed; they are rebuilt as requests need them", "why", why, "err", err)
				s.dropWarmClaim(claimed)
			}
			return false
		}
		s.opt.Logger.Info(what+" warmed", "why", why, "written", n, "seconds", time.Since(start).Seconds())
		return true
	}
	warmProfiles := func() bool {
		if profiles <= 0 {
			return true
		}
		return pass("profiles", func() (int, error) { return s.WarmProfiles(ctx, time.Now().Add(-profiles)) })
	}
	warmCovis := func() bool { return pass("co-visitation", func() (int, error) { return s.WarmCovisitation(ctx) }) }
	if !claimed {
		// Nothing is declined meanwhile, so the co-visitation sets come first: until
		// they exist every request may start a window query per recent item.
		if warmCovis() {
			warmProfiles()
		}
		return
	}
	// After a wipe the profiles come first: they are what personalises an answer, and
	// their pass is the shorter one (one user's events after another, against a window
	// over all events); no set is rebuilt per item meanwhile.
	phase(phaseProfiles, markProfiles)
	if !warmProfiles() {
		return
	}
	phase(phaseCovis, markCovis)
	if !warmCovis() {
		return
	}
	phase(phaseNone, markWarm)
}

// dropWarmClaim deletes the marker of a warm-up that failed, so that the next check
// (of any process) tries again.
func (s *Store) dropWarmClaim(claimed bool) {
	if !claimed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.rdb.Del(ctx, s.warmKey()).Err(); err != nil && !errors.Is(err, redis.Nil) {
		s.redisState.observe(err)
	}
}
