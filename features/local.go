package features

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fusionrank/fusionrank/internal/memo"
)

// The local cache keeps decoded profiles and co-visitation sets in process memory, so
// that a request for a shopper seen recently makes no Redis round trip for them (one
// round trip and a decode cost more server CPU than the rest of a rerank's feature
// work). Redis stays the shared copy; the local one is kept true by invalidation:
//
//   - every process that stores events publishes the users and co-visitation sets they
//     touched on one Redis channel (in the pipeline that updates Redis, so no extra
//     round trip; `fusionrank import` the users whose profiles it drops, and retention
//     those of the events it removes), and every serving process drops those entries
//     when the message arrives, its own writes at once;
//   - entries are served only while the subscription is live (RunLocalCache); after it
//     drops, everything is forgotten, since messages may have been missed;
//   - an entry read from Redis is kept only if no invalidation of its shard arrived
//     while it was being read, so a concurrent update cannot be overwritten by the
//     value it replaced;
//   - every entry lives at most Options.LocalCacheTTL, a bound on staleness should a
//     message be lost without the connection dropping.
//
// A wipe of Redis does not empty it: the profiles it holds are still right, and they
// carry the process through the rebuilds.

// maxLocalCovis is the largest co-visitation set kept locally; larger ones are read
// from Redis (ZMSCORE) every time.
const maxLocalCovis = 1024

// localCache is the store's process-local cache (nil when Options.LocalCacheTTL is 0).
type localCache struct {
	ttl      time.Duration
	profiles *memo.Map[*Profile]
	covis    *memo.Map[*covisSet]
	live     atomic.Bool // the invalidation subscription is up
}

// localChannel is the invalidation channel: each message holds lines "u <user id>" and
// "c <item id>" (a co-visitation set).
func (s *Store) localChannel() string { return s.key("invalidate") }

// local returns the cache when it may be served from now.
func (s *Store) local() *localCache {
	if s.lc == nil || !s.lc.live.Load() {
		return nil
	}
	return s.lc
}

// RunLocalCache keeps the local cache's invalidation subscription until ctx ends. The
// local cache is served only while it runs and is subscribed; without it (or with
// Options.LocalCacheTTL 0) every read goes to Redis.
func (s *Store) RunLocalCache(ctx context.Context) {
	if s.lc == nil || s.rdb == nil {
		return
	}
	for ctx.Err() == nil {
		ps := s.rdb.Subscribe(ctx, s.localChannel())
		// A blocked receive does not watch ctx: closing the subscription ends it.
		stop := context.AfterFunc(ctx, func() { s.lc.live.Store(false); ps.Close() })
		for ctx.Err() == nil {
			msg, err := ps.ReceiveTimeout(ctx, 30*time.Second)
			if err != nil {
				if isTimeout(err) && ps.Ping(ctx) == nil {
					continue // nothing published, and the connection answers
				}
				break
			}
			switch m := msg.(type) {
			case *redis.Subscription:
				// (Re)subscribed: what happened while we were not is unknown.
				s.lc.profiles.Clear()
				s.lc.covis.Clear()
				s.lc.live.Store(m.Kind == "subscribe")
			case *redis.Message:
				s.lc.invalidate(m.Payload)
			case *redis.Pong:
			}
		}
		s.lc.live.Store(false)
		s.lc.profiles.Clear()
		s.lc.covis.Clear()
		stop()
		ps.Close()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// invalidate drops the entries a message names.
func (c *localCache) invalidate(payload string) {
	for line := range strings.SplitSeq(payload, "\n") {
		kind, id, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		switch kind {
		case "u":
			c.profiles.Drop(id)
		case "c":
			c.covis.Drop(id)
		}
	}
}

// invalidation builds the message for events: their users and the co-visitation sets
// they add to.
func invalidation(evs []storedEvent) string {
	var b strings.Builder
	seen := make(map[string]bool, 2*len(evs))
	add := func(kind, id string) {
		k := kind + " " + id
		if seen[k] {
			return
		}
		seen[k] = true
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k)
	}
	for _, e := range evs {
		add("u", e.UserID)
		if e.Prev != "" && e.Prev != e.ItemID {
			add("c", e.Prev)
		}
	}
	return b.String()
}

// dropLocal forgets, in this process, what events change (before the message comes
// back from Redis).
func (s *Store) dropLocal(evs []storedEvent) {
	if s.lc == nil {
		return
	}
	for _, e := range evs {
		s.lc.profiles.Drop(e.UserID)
		if e.Prev != "" {
			s.lc.covis.Drop(e.Prev)
		}
	}
}

// localCovis returns the locally held sets of items (nil entries for misses) and the
// generations to store the misses with.
func (c *localCache) getCovis(items []string, now int64) ([]*covisSet, []uint64, int) {
	sets := make([]*covisSet, len(items))
	gens := make([]uint64, len(items))
	missing := 0
	for i, it := range items {
		var ok bool
		sets[i], gens[i], ok = c.covis.Get(it, now)
		if !ok {
			missing++
		}
	}
	return sets, gens, missing
}

// fillCovis reads the missing sets of items whole, in one round trip, and keeps them.
// It reports false when one is missing in Redis (it must be rebuilt) or too large to
// keep, or when Redis failed. On false, localCovisSets returns ctx's error when ctx is
// done, and the caller reads the counts from Redis only while ctx is not.
func (s *Store) fillCovis(ctx context.Context, c *localCache, items []string, sets []*covisSet, gens []uint64) bool {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.ZSliceCmd, len(items))
	for i, it := range items {
		if sets[i] == nil {
			cmds[i] = pipe.ZRevRangeWithScores(ctx, s.itemKey("covis", it), 0, maxLocalCovis)
		}
	}
	_, err := pipe.Exec(ctx)
	s.redisState.observe(err)
	if err != nil && err != redis.Nil {
		return false
	}
	exp := time.Now().Add(c.ttl).UnixNano()
	for i, cmd := range cmds {
		if cmd == nil {
			continue
		}
		zs, _ := cmd.Result()
		if len(zs) == 0 || len(zs) > maxLocalCovis {
			return false // missing (every built set holds the marker) or too large
		}
		ids := make([]string, 0, len(zs))
		counts := make([]float64, 0, len(zs))
		for _, z := range zs {
			m, _ := z.Member.(string)
			if m == builtMarker {
				continue
			}
			ids = append(ids, m)
			counts = append(counts, z.Score)
		}
		set := newCovisSet(ids, counts)
		sets[i] = set
		c.covis.Put(items[i], set, gens[i], exp)
	}
	return true
}

// localCovisSets returns the co-visitation sets of items from the local cache, reading
// the missing ones from Redis in one round trip; ok is false when the local cache is
// off or cannot answer (a set missing in Redis, or too large). err is ctx's error when
// the request's time ran out meanwhile: the caller gives up rather than try Redis again.
func (s *Store) localCovisSets(ctx context.Context, items []string) ([]*covisSet, bool, error) {
	c := s.local()
	if c == nil {
		return nil, false, nil
	}
	sets, gens, missing := c.getCovis(items, time.Now().UnixNano())
	if missing == 0 {
		return sets, true, nil
	}
	// A request that runs out of time does not cut the read short (detachedRead:
	// go-redis closes a connection whose reply is still pending, and under load those
	// redials cost more than the reads); the finished read fills the cache for the
	// next request.
	filled, done := detachedRead(ctx, func(rctx context.Context) bool {
		return s.fillCovis(rctx, c, items, sets, gens)
	})
	if !done || !filled {
		return nil, false, ctx.Err()
	}
	return sets, true, nil
}
