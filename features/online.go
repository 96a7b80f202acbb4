package features

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/postgres"
)

type bucketKind struct {
	name  string
	width time.Duration
	ttl   time.Duration
}

var (
	hourBucket = bucketKind{"h", time.Hour, 3 * time.Hour}
	dayBucket  = bucketKind{"d", 24 * time.Hour, 9 * 24 * time.Hour}
)

// builtMarker is a member of every counter set written by a rebuild, so that an existing
// but empty window is told apart from a missing one.
const builtMarker = "\x00built"

func bucketIndex(k bucketKind, t time.Time) int64 { return t.UnixMilli() / k.width.Milliseconds() }

func (s *Store) popKey(k bucketKind, t time.Time) string {
	return s.key("pop", k.name, strconv.FormatInt(bucketIndex(k, t), 10))
}

// Source says where a profile came from.
const (
	SourceCache    = "cache"    // read from Redis
	SourceRebuilt  = "rebuilt"  // rebuilt from Postgres and written back to Redis (unless the user's events kept arriving meanwhile)
	SourcePostgres = "postgres" // rebuilt from Postgres; Redis unavailable
)

// RebuildTimeout bounds a rebuild from Postgres. A rebuild outlives the request that
// started it: a heavy one (a popular item's co-visitation set) finishes and is cached
// even when that request's deadline passes first, so the next request finds it.
const RebuildTimeout = 30 * time.Second

// rebuildOnce runs a profile's rebuild fn once per key across concurrent callers,
// detached from the caller's cancellation, and waits for it no longer than ctx allows.
func (s *Store) rebuildOnce(ctx context.Context, key string, fn func(context.Context) (any, error)) (any, error) {
	ch := s.startRebuild(ctx, key, profileRebuild, fn)
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// MaxRebuilds caps the rebuilds from Postgres running at once in one process. After a
// cache wipe under load every request would otherwise start its own, and the pile
// would hold every database connection that writes need; past the cap a request goes
// on without that feature (and says so) instead.
const MaxRebuilds = 16

// MaxCounterRebuilds of the MaxRebuilds may rebuild counter sets (co-visitation,
// popularity); the other 4 are kept for profiles. A Redis wipe makes every counter set
// missing at once, and the items' sets are many and heavier to rebuild than a
// shopper's events: the reserve keeps them from taking every slot, so that a profile
// (the shopper's personalisation, GET /v1/users/{id}/features) is rebuilt meanwhile.
// 12 is at least the 11 buckets one popularity read rebuilds at once.
const MaxCounterRebuilds = 12

// rebuildKind says which share of the slots a rebuild takes.
type rebuildKind int

const (
	profileRebuild rebuildKind = iota
	counterRebuild
)

// rebuilds runs the store's rebuilds from Postgres: one at a time per key (flights),
// at most MaxRebuilds at once (slots), of which at most MaxCounterRebuilds rebuild
// counter sets (counterSlots).
type rebuilds struct {
	flights      singleflight.Group
	slots        chan struct{}
	counterSlots chan struct{}
}

func newRebuilds() *rebuilds {
	return &rebuilds{slots: make(chan struct{}, MaxRebuilds), counterSlots: make(chan struct{}, MaxCounterRebuilds)}
}

// errBusy reports that the rebuild cap was reached: the store is unavailable for the
// moment (a 503 for an API call that needs the rebuild, not a 500).
var errBusy = fusionrank.Errorf(fusionrank.Unavailable, "too many rebuilds from Postgres in progress")

// startRebuild starts fn for key unless it is already running, detached from ctx's
// cancellation and bounded by RebuildTimeout. When its kind's share of the slots is
// taken it starts nothing and the result is errBusy.
func (s *Store) startRebuild(ctx context.Context, key string, kind rebuildKind, fn func(context.Context) (any, error)) <-chan singleflight.Result {
	return s.rebuilds.flights.DoChan(key, func() (any, error) {
		if kind == counterRebuild {
			select {
			case s.rebuilds.counterSlots <- struct{}{}:
				defer func() { <-s.rebuilds.counterSlots }()
			default:
				return nil, errBusy
			}
		}
		select {
		case s.rebuilds.slots <- struct{}{}:
			defer func() { <-s.rebuilds.slots }()
		default:
			return nil, errBusy
		}
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RebuildTimeout)
		defer cancel()
		return fn(bctx)
	})
}

// Profile returns the user's profile: from Redis, or rebuilt from the user's events in
// Postgres on a miss (and written back with a TTL). With Redis down it is rebuilt from
// Postgres every time. A user with no events has an empty profile.
func (s *Store) Profile(ctx context.Context, userID string) (*Profile, string, error) {
	return s.profile(ctx, userID, false)
}

// ServingProfile is Profile for answering a ranking request, which can go on without
// the profile: while a warm-up builds every recent shopper's profile after Redis lost
// its data (RunWarm), a profile missing in Redis is not rebuilt for the request, which
// gets errWarming (unavailable) at once.
func (s *Store) ServingProfile(ctx context.Context, userID string) (*Profile, string, error) {
	return s.profile(ctx, userID, true)
}

func (s *Store) profile(ctx context.Context, userID string, serving bool) (*Profile, string, error) {
	key := s.userKey("profile", userID)
	redisOK := s.redisState.redisUp()
	lc := s.local()
	var lgen uint64
	if lc != nil && !s.redisState.has(userID) {
		var p *Profile
		var ok bool
		if p, lgen, ok = lc.profiles.Get(userID, time.Now().UnixNano()); ok {
			return p, SourceCache, nil
		}
	}
	if redisOK && !s.redisState.has(userID) {
		p, err := s.readCachedProfile(ctx, key, userID, lc, lgen)
		switch {
		case err == nil:
			if p != nil {
				return p, SourceCache, nil
			}
		case errors.Is(err, redis.Nil):
		case ctx.Err() != nil:
			// The caller ran out of time: Redis is not known to be down, and starting a
			// rebuild from Postgres now would only add load to a busy moment.
			return nil, "", ctx.Err()
		default:
			redisOK = false
		}
	}
	if serving && redisOK && s.warm.profilesDeclined() {
		return nil, "", errWarming
	}
	type rebuilt struct {
		p   *Profile
		src string
	}
	// The rebuild writes the profile back itself, so that it is cached even when this
	// request stops waiting for it. It caches only what is still current: events stored
	// after its read of Postgres raise the user's floor (applyOnline), and then it reads
	// again, up to three times in all, before answering with what it read, uncached.
	v, err := s.rebuildOnce(ctx, s.opt.Namespace+"\x00"+userID, func(ctx context.Context) (any, error) {
		for attempt := 0; ; attempt++ {
			p, err := s.rebuildProfile(ctx, userID)
			if err != nil {
				return nil, err
			}
			if s.hooks.afterRebuildRead != nil {
				s.hooks.afterRebuildRead(userID)
			}
			if !redisOK || !s.redisState.redisUp() {
				return rebuilt{p, SourcePostgres}, nil
			}
			res, err := cacheRebuilt.Run(ctx, s.rdb, []string{key, s.userKey("pfloor", userID)},
				p.Events, p.encode(), s.opt.ProfileTTL.Milliseconds(), profileHeader).Int()
			s.redisState.observe(err)
			switch {
			case err != nil:
				return rebuilt{p, SourcePostgres}, nil
			case res != 0:
				s.redisState.clear(userID)
				if lc != nil {
					lc.profiles.Put(userID, p, lgen, time.Now().Add(lc.ttl).UnixNano())
				}
				return rebuilt{p, SourceRebuilt}, nil
			case attempt == 2:
				return rebuilt{p, SourceRebuilt}, nil // correct, but not cached
			}
		}
	})
	if err != nil {
		return nil, "", err
	}
	r := v.(rebuilt)
	return r.p, r.src, nil
}

// readCachedProfile reads the user's cached profile from Redis (nil when the bytes do
// not decode) and keeps it in the local cache lc (when not nil) under generation lgen.
// The read runs on its own deadline (detachedReadTimeout) and the caller waits for it
// only as long as ctx allows, returning ctx's error then: a read cut short by a
// request's deadline would make go-redis close the connection (its reply is still
// pending), and redials under load cost more than the reads; a read that finishes
// late still fills the local cache for the shopper's next request.
func (s *Store) readCachedProfile(ctx context.Context, key, userID string, lc *localCache, lgen uint64) (*Profile, error) {
	type result struct {
		p   *Profile
		err error
	}
	r, ok := detachedRead(ctx, func(rctx context.Context) result {
		b, err := s.rdb.Get(rctx, key).Bytes()
		s.redisState.observe(err)
		if err != nil {
			return result{nil, err}
		}
		p, ok := decodeProfile(b)
		if !ok {
			return result{}
		}
		if lc != nil {
			lc.profiles.Put(userID, p, lgen, time.Now().Add(lc.ttl).UnixNano())
		}
		return result{p, nil}
	})
	if !ok || (r.err != nil && ctx.Err() != nil) {
		return nil, ctx.Err()
	}
	return r.p, r.err
}

// detachedRead runs read in its own goroutine on a detached context and waits for it
// as long as ctx allows; ok is false when ctx ended first (read then goes on alone).
// read must not touch anything its caller changes after returning.
func detachedRead[T any](ctx context.Context, read func(context.Context) T) (v T, ok bool) {
	done := make(chan T, 1)
	go func() {
		rctx, cancel := detached(ctx)
		defer cancel()
		done <- read(rctx)
	}()
	select {
	case v = <-done:
		return v, true
	case <-ctx.Done():
		return v, false
	}
}

// detachedReadTimeout is the least time given to a Redis read that may outlive the
// request that started it (readCachedProfile, the local cache's co-visitation fills).
const detachedReadTimeout = 200 * time.Millisecond

// detached returns a context for such a read: ctx's values, not its cancellation, and
// the later of ctx's deadline and detachedReadTimeout from now.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	dl := time.Now().Add(detachedReadTimeout)
	if d, ok := ctx.Deadline(); ok && d.After(dl) {
		dl = d
	}
	return context.WithDeadline(context.WithoutCancel(ctx), dl)
}

// rebuildProfile computes a profile from all the user's events in Postgres, in time
// order, exactly as the incremental updates do. With a replica it reads the replica
// and keeps that profile only when it holds as many events as the primary's count of
// the user read after it; otherwise it reads the primary (replica.go).
func (s *Store) rebuildProfile(ctx context.Context, userID string) (*Profile, error) {
	if s.replica == nil {
		p, err := s.readProfile(ctx, s.db, userID)
		if err == nil {
			s.onRebuildRead(PoolPrimary)
		}
		return p, err
	}
	p, err := s.readProfile(ctx, s.replica, userID)
	pool := PoolPrimaryError
	if err == nil {
		counts, err := s.primaryEventCounts(ctx, []string{userID})
		if err != nil {
			return nil, err
		}
		if p.Events == counts[userID] {
			s.onRebuildRead(PoolReplica)
			return p, nil
		}
		pool = PoolPrimaryLag
	} else if ctx.Err() != nil {
		return nil, err
	}
	p, err = s.readProfile(ctx, s.db, userID)
	if err == nil {
		s.onRebuildRead(pool)
	}
	return p, err
}

// readProfile computes a profile from the user's events in db. One statement reads
// them, so one snapshot: the profile's Events is the user's users.events in that
// snapshot.
func (s *Store) readProfile(ctx context.Context, db *postgres.DB, userID string) (*Profile, error) {
	rows, err := db.Pool.Query(ctx, `SELECT seq, item_id, type, ts FROM events WHERE user_id = $1 ORDER BY ts, seq`, userID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	p := &Profile{}
	for rows.Next() {
		var ev fusionrank.Event
		var seq int64
		var typ string
		if err := rows.Scan(&seq, &ev.ItemID, &typ, &ev.Timestamp); err != nil {
			return nil, postgres.Translate(err)
		}
		ev.UserID, ev.Type = userID, fusionrank.EventType(typ)
		p.apply(s.opt.Rules, ev, seq, s.catalog.ItemVectors)
	}
	return p, postgres.Translate(rows.Err())
}

// UserFeatures reports the user's profile for the API.
func (s *Store) UserFeatures(ctx context.Context, userID string) (fusionrank.UserFeatures, error) {
	p, src, err := s.Profile(ctx, userID)
	if err != nil {
		return fusionrank.UserFeatures{}, err
	}
	f := fusionrank.UserFeatures{UserID: userID, RecentItems: p.RecentIDs(), Profile: map[string]fusionrank.ModalityInfo{}, Source: src}
	for m, mp := range p.Modalities {
		var n float64
		for _, x := range mp.Mean {
			n += float64(x) * float64(x)
		}
		f.Profile[m] = fusionrank.ModalityInfo{Dim: len(mp.Mean), Norm: math.Sqrt(n)}
	}
	if p.UpdatedAt > 0 {
		t := time.UnixMilli(p.UpdatedAt).UTC()
		f.UpdatedAt = &t
	}
	return f, nil
}

// Popularity holds an item's event counts in sliding windows.
type Popularity struct {
	Hour, Day, Week float64
}

// windowKeys lists the buckets that make up the 1-hour, 1-day and 7-day windows ending
// at now, with the weight of each bucket in each window: the oldest bucket of a window
// counts by the fraction of it that the window still covers.
func (s *Store) windowKeys(now time.Time) (keys []string, weights [][3]float64, bounds [][2]time.Time) {
	add := func(k bucketKind, idx int64, w [3]float64) {
		start := time.UnixMilli(idx * k.width.Milliseconds())
		keys = append(keys, s.key("pop", k.name, strconv.FormatInt(idx, 10)))
		weights = append(weights, w)
		bounds = append(bounds, [2]time.Time{start, start.Add(k.width)})
	}
	h := bucketIndex(hourBucket, now)
	hf := float64(now.UnixMilli()%hourBucket.width.Milliseconds()) / float64(hourBucket.width.Milliseconds())
	add(hourBucket, h, [3]float64{1, 0, 0})
	add(hourBucket, h-1, [3]float64{1 - hf, 0, 0})
	d := bucketIndex(dayBucket, now)
	df := float64(now.UnixMilli()%dayBucket.width.Milliseconds()) / float64(dayBucket.width.Milliseconds())
	add(dayBucket, d, [3]float64{0, 1, 1})
	add(dayBucket, d-1, [3]float64{0, 1 - df, 1})
	for i := int64(2); i <= 6; i++ {
		add(dayBucket, d-i, [3]float64{0, 0, 1})
	}
	add(dayBucket, d-7, [3]float64{0, 0, 1 - df})
	return keys, weights, bounds
}

// Popularities returns the popularity windows of each item at now.
func (s *Store) Popularities(ctx context.Context, itemIDs []string, now time.Time) ([]Popularity, error) {
	out := make([]Popularity, len(itemIDs))
	if len(itemIDs) == 0 {
		return out, nil
	}
	keys, weights, bounds := s.windowKeys(now)
	if err := s.ensureCounters(ctx, keys, bounds); err != nil {
		return out, err
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.FloatSliceCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.ZMScore(ctx, k, itemIDs...)
	}
	_, err := pipe.Exec(ctx)
	s.redisState.observe(err)
	if err != nil && !errors.Is(err, redis.Nil) {
		return out, err
	}
	for i, c := range cmds {
		vals, _ := c.Result()
		for j, v := range vals {
			w := weights[i]
			out[j].Hour += w[0] * v
			out[j].Day += w[1] * v
			out[j].Week += w[2] * v
		}
	}
	return out, nil
}

// Trending returns up to n item ids with the most events in the last day (sliding).
func (s *Store) Trending(ctx context.Context, n int, now time.Time) ([]string, []float64, error) {
	keys, weights, bounds := s.windowKeys(now)
	if err := s.ensureCounters(ctx, keys, bounds); err != nil {
		return nil, nil, err
	}
	score := map[string]float64{}
	pipe := s.rdb.Pipeline()
	var cmds []*redis.ZSliceCmd
	var ws []float64
	for i, k := range keys {
		if weights[i][1] > 0 {
			cmds = append(cmds, pipe.ZRevRangeWithScores(ctx, k, 0, int64(2*n)))
			ws = append(ws, weights[i][1])
		}
	}
	_, err := pipe.Exec(ctx)
	s.redisState.observe(err)
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, err
	}
	for i, c := range cmds {
		zs, _ := c.Result()
		for _, z := range zs {
			if id := z.Member.(string); id != builtMarker {
				score[id] += ws[i] * z.Score
			}
		}
	}
	return topN(score, n)
}

// ensureCounters rebuilds from Postgres the counter windows that are missing in Redis.
func (s *Store) ensureCounters(ctx context.Context, keys []string, bounds [][2]time.Time) error {
	return s.readCounters(ctx, keys, nil, func(ctx context.Context, i int) error {
		return s.rebuildCounter(ctx, keys[i], `SELECT item_id, count(*) FROM events WHERE ts >= $1 AND ts < $2 GROUP BY item_id`, bounds[i][0], bounds[i][1])
	})
}

// rebuildCounter runs a (member, count) query and writes the result as a counter set.
// A set for a window that is still open lives only a few minutes, so an event that
// raced the rebuild is counted again soon.
func (s *Store) rebuildCounter(ctx context.Context, key, query string, args ...any) error {
	var zs []redis.Z
	err := s.readLagged(ctx, "counter rebuild", func(db *postgres.DB) error {
		rows, err := db.Pool.Query(ctx, query, args...)
		if err != nil {
			return postgres.Translate(err)
		}
		defer rows.Close()
		zs = []redis.Z{{Score: 0, Member: builtMarker}}
		for rows.Next() {
			var id string
			var n int64
			if err := rows.Scan(&id, &n); err != nil {
				return postgres.Translate(err)
			}
			zs = append(zs, redis.Z{Score: float64(n), Member: id})
		}
		return postgres.Translate(rows.Err())
	})
	if err != nil {
		return err
	}
	ttl := s.opt.CounterTTL
	now := s.opt.Now()
	if len(args) == 2 {
		if end, ok := args[1].(time.Time); ok {
			ttl = dayBucket.ttl
			if end.After(now) {
				ttl = 5 * time.Minute
			}
		}
	}
	pipe := s.rdb.TxPipeline()
	pipe.Del(ctx, key)
	for i := 0; i < len(zs); i += 1000 {
		pipe.ZAdd(ctx, key, zs[i:min(i+1000, len(zs))]...)
	}
	pipe.PExpire(ctx, key, ttl)
	_, err = pipe.Exec(ctx)
	s.redisState.observe(err)
	return err
}

// covisQuery counts, for one item ($2), which items followed it directly in users'
// histories since $1 (Options.CovisWindow).
const covisQuery = `
SELECT nxt, count(*) FROM (
	SELECT item_id, lead(item_id) OVER (PARTITION BY user_id ORDER BY ts, seq) AS nxt
	FROM events WHERE ts >= $1 AND user_id IN (SELECT DISTINCT user_id FROM events WHERE item_id = $2 AND ts >= $1)
) s WHERE item_id = $2 AND nxt IS NOT NULL AND nxt <> $2 GROUP BY nxt`

// covisKeys returns the co-visitation set keys of items.
func (s *Store) covisKeys(items []string) []string {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = s.itemKey("covis", it)
	}
	return keys
}

// readCounters reads counter sets in one Redis round trip: read(pipe, i) queues the
// read of keys[i], pipelined with an EXISTS check of every key. Sets found missing
// are rebuilt from Postgres (once per key across callers, see startRebuild), waited
// for within ctx, and read again; the other reads stand. With read nil it only
// ensures that the sets exist.
func (s *Store) readCounters(ctx context.Context, keys []string, read func(p redis.Pipeliner, i int), rebuild func(ctx context.Context, i int) error) error {
	if !s.redisState.redisUp() {
		return errRedisDown
	}
	pipe := s.rdb.Pipeline()
	exists := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		exists[i] = pipe.Exists(ctx, k)
		if read != nil {
			read(pipe, i)
		}
	}
	_, err := pipe.Exec(ctx)
	s.redisState.observe(err)
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	var missing []int
	var pending []<-chan singleflight.Result
	for i, k := range keys {
		if exists[i].Val() == 1 {
			continue
		}
		missing = append(missing, i)
		pending = append(pending, s.startRebuild(ctx, k, counterRebuild, func(ctx context.Context) (any, error) { return nil, rebuild(ctx, i) }))
	}
	if len(missing) == 0 {
		return nil
	}
	// Start every missing rebuild at once (above), then wait for them within ctx.
	for _, ch := range pending {
		select {
		case r := <-ch:
			if r.Err != nil {
				return r.Err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if read == nil {
		return nil
	}
	pipe = s.rdb.Pipeline()
	for _, i := range missing {
		read(pipe, i)
	}
	_, err = pipe.Exec(ctx)
	s.redisState.observe(err)
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	return nil
}

// CovisitationTo writes, for each candidate, how often it directly followed each of
// the given (recent) items in users' histories: counts[j*len(candidates)+i] for
// recent[j], candidate i (every value of the first len(recent)·len(candidates) is
// written). The caller owns counts, so that a request allocates none of it. One Redis
// round trip unless a set has to be rebuilt.
func (s *Store) CovisitationTo(ctx context.Context, recent, candidates []string, counts []float64) error {
	n := len(candidates)
	counts = counts[:len(recent)*n]
	clear(counts)
	if len(recent) == 0 || n == 0 {
		return nil
	}
	if sets, ok, err := s.localCovisSets(ctx, recent); err != nil {
		return err
	} else if ok {
		for i, c := range candidates {
			h := covisHash(c)
			for j, set := range sets {
				counts[j*n+i] = set.lookup(h, c)
			}
		}
		return nil
	}
	keys := s.covisKeys(recent)
	cmds := make([]*redis.FloatSliceCmd, len(recent))
	err := s.readCounters(ctx, keys,
		func(p redis.Pipeliner, j int) { cmds[j] = p.ZMScore(ctx, keys[j], candidates...) },
		func(ctx context.Context, j int) error {
			return s.rebuildCovis(ctx, keys[j], recent[j])
		})
	if err != nil {
		return err
	}
	for j, c := range cmds {
		if v, _ := c.Result(); len(v) == n {
			copy(counts[j*n:(j+1)*n], v)
		}
	}
	return nil
}

// Neighbour is an item that directly followed another in users' histories, and how
// often it did.
type Neighbour struct {
	ItemID string
	Count  float64
}

// CovisNeighbours returns, for each of items, up to n items that most often directly
// followed it, most frequent first. One Redis round trip unless a set has to be rebuilt.
func (s *Store) CovisNeighbours(ctx context.Context, items []string, n int) ([][]Neighbour, error) {
	if sets, ok, err := s.localCovisSets(ctx, items); err != nil {
		return nil, err
	} else if ok {
		out := make([][]Neighbour, len(items))
		for i, set := range sets {
			for k := range min(set.len(), n+1) {
				if set.count[k] > 0 {
					out[i] = append(out[i], Neighbour{ItemID: set.member(k), Count: set.count[k]})
				}
			}
		}
		return out, nil
	}
	keys := s.covisKeys(items)
	cmds := make([]*redis.ZSliceCmd, len(items))
	err := s.readCounters(ctx, keys,
		func(p redis.Pipeliner, i int) { cmds[i] = p.ZRevRangeWithScores(ctx, keys[i], 0, int64(n)) },
		func(ctx context.Context, i int) error {
			return s.rebuildCovis(ctx, keys[i], items[i])
		})
	if err != nil {
		return nil, err
	}
	out := make([][]Neighbour, len(items))
	for i, c := range cmds {
		zs, _ := c.Result()
		for _, z := range zs {
			if id := z.Member.(string); id != builtMarker && z.Score > 0 {
				out[i] = append(out[i], Neighbour{ItemID: id, Count: z.Score})
			}
		}
	}
	return out, nil
}

func topN(score map[string]float64, n int) ([]string, []float64, error) {
	ids := make([]string, 0, len(score))
	for id := range score {
		ids = append(ids, id)
	}
	sortByScore(ids, score)
	if len(ids) > n {
		ids = ids[:n]
	}
	vals := make([]float64, len(ids))
	for i, id := range ids {
		vals[i] = score[id]
	}
	return ids, vals, nil
}
