package features

import (
	"container/heap"
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fusionrank/fusionrank/internal/yield"
)

// The popularity cache keeps every catalogue item's popularity windows and the trending
// list in process memory, read from Redis's bucket sets by RunCounters every second, so
// that ranking a request needs no Redis round trip for them. Redis stays the one place
// where counts are kept (every replica reads the same sets); the cache only saves the
// reads. The hour window is therefore up to one refresh interval old, which a 1-hour
// window does not notice; the open day bucket is re-read every DayBucketRefresh.
// Buckets whose time span ended more than LateEventGrace ago change only when a late
// event arrives, so they are re-read every ClosedBucketRefresh.
//
// While Redis is unreachable the last snapshot keeps being served for up to
// MaxCounterAge; past that, callers fall back to reading Redis directly (which then
// fails fast, and requests are answered without popularity and say so).

// ClosedBucketRefresh is how often a bucket whose time span has passed is re-read.
const ClosedBucketRefresh = time.Minute

// DayBucketRefresh is how often the open one-day bucket is re-read. It can hold every
// item of a busy shop, and the day and week windows barely move in a few seconds;
// hour buckets are re-read at every refresh.
const DayBucketRefresh = 10 * time.Second

// LateEventGrace is how long after its end a bucket still counts as open: events
// sent a few minutes late are common, so they show at the next refresh.
const LateEventGrace = 10 * time.Minute

// MaxCounterAge is how old a popularity snapshot may be and still be served.
const MaxCounterAge = time.Minute

// TrendingCached is the length of the trending list kept in the snapshot; Trending
// calls asking for more read Redis.
const TrendingCached = 1000

// popBucket is one bucket set as last read: its members' slots and counts.
type popBucket struct {
	read   time.Time
	slots  []int32
	counts []float64
}

// popSnapshot is the popularity of every catalogue slot at one instant.
type popSnapshot struct {
	at       time.Time // the clock of the refresh that made it
	pops     []Popularity
	trending []int32 // slots by decreasing one-day popularity
}

type popCache struct {
	mu      sync.Mutex // serialises refreshes; guards the fields below but snap
	buckets map[string]*popBucket
	mark    []uint32 // by slot: the read (gen) that last saw it, to drop ZSCAN repeats
	where   []int32  // by slot: its index in the bucket being read
	gen     uint32
	snap    atomic.Pointer[popSnapshot]
}

// RunCounters refreshes the in-process popularity snapshot every interval (default
// 1 s) until ctx ends. Serving processes run it; without it every popularity read goes
// to Redis.
func (s *Store) RunCounters(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		err := s.RefreshCounters(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			if s.snapshot() != nil {
				s.opt.Logger.Warn("popularity cache not refreshed; serving the last snapshot", "err", err)
			} else {
				s.opt.Logger.Warn("popularity cache not refreshed; no snapshot yet, so requests read their popularities from Redis", "err", err)
			}
			failing = true
		case err == nil && failing:
			s.opt.Logger.Info("popularity cache refreshed again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RefreshCounters reads the popularity buckets of the current windows from Redis
// (rebuilding missing ones from Postgres) and replaces the in-process snapshot.
func (s *Store) RefreshCounters(ctx context.Context) error {
	c := &s.pop
	c.mu.Lock()
	defer c.mu.Unlock()
	now := s.opt.Now()
	keys, weights, bounds := s.windowKeys(now)
	if err := s.ensureCounters(ctx, keys, bounds); err != nil {
		return err
	}
	if c.buckets == nil {
		c.buckets = map[string]*popBucket{}
	}
	for i, k := range keys {
		b := c.buckets[k]
		age := ClosedBucketRefresh
		if bounds[i][1].After(now.Add(-LateEventGrace)) { // open, or just closed
			age = 0
			if bounds[i][1].Sub(bounds[i][0]) > time.Hour {
				age = DayBucketRefresh
			}
		}
		if b != nil && now.Sub(b.read) < age {
			continue
		}
		nb, err := s.readBucket(ctx, k, now)
		if err != nil {
			return err
		}
		c.buckets[k] = nb
	}
	live := make(map[string]bool, len(keys))
	for _, k := range keys {
		live[k] = true
	}
	for k := range c.buckets {
		if !live[k] {
			delete(c.buckets, k)
		}
	}
	s.catalog.RLock()
	n := s.catalog.Len()
	s.catalog.RUnlock()
	// The passes over every bucket and slot below give way to requests (yield): at a
	// shop's size they take milliseconds, once a second. Not while no snapshot is
	// served: requests then read Redis for every popularity, and this pass is what they
	// wait for.
	var y *yield.Yielder
	if s.snapshot() != nil {
		y = &yield.Yielder{}
	}
	snap := &popSnapshot{at: now, pops: make([]Popularity, n)}
	for i, k := range keys {
		w := weights[i]
		b := c.buckets[k]
		for j, slot := range b.slots {
			y.Maybe()
			if int(slot) < n {
				p := &snap.pops[slot]
				v := b.counts[j]
				p.Hour += w[0] * v
				p.Day += w[1] * v
				p.Week += w[2] * v
			}
		}
	}
	snap.trending = topDay(snap.pops, TrendingCached, y)
	c.snap.Store(snap)
	return nil
}

// scanChunk is the COUNT of each ZSCAN call. Redis is single-threaded: reading a
// 30k-member bucket in one call held it for 5–70 ms on the 2-core test machine, and
// every request waited behind it; chunks of 1000 hold it for a fraction of a
// millisecond each.
const scanChunk = 1000

// readBucket reads one bucket set with ZSCAN, a bounded chunk per round trip, so that
// a large set never blocks Redis for long. ZSCAN may return a member twice; the later
// count wins.
func (s *Store) readBucket(ctx context.Context, key string, now time.Time) (*popBucket, error) {
	c := &s.pop
	c.gen++
	if c.gen == 0 { // wrapped: forget every old mark
		clear(c.mark)
		c.gen = 1
	}
	b := &popBucket{read: now}
	var cursor uint64
	for {
		kv, next, err := s.rdb.ZScan(ctx, key, cursor, "", scanChunk).Result()
		s.redisState.observe(err)
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		s.catalog.RLock()
		if n := s.catalog.Len(); len(c.mark) < n {
			c.mark = append(c.mark, make([]uint32, n-len(c.mark))...)
			c.where = append(c.where, make([]int32, n-len(c.where))...)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			slot, ok := s.catalog.Slot(kv[i])
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(kv[i+1], 64)
			if err != nil || v == 0 {
				continue
			}
			if c.mark[slot] == c.gen {
				b.counts[c.where[slot]] = v
				continue
			}
			c.mark[slot], c.where[slot] = c.gen, int32(len(b.slots))
			b.slots = append(b.slots, slot)
			b.counts = append(b.counts, v)
		}
		s.catalog.RUnlock()
		if cursor = next; cursor == 0 {
			return b, nil
		}
	}
}

// snapshot returns the popularity snapshot if there is one young enough to serve.
func (s *Store) snapshot() *popSnapshot {
	p := s.pop.snap.Load()
	if p == nil || s.opt.Now().Sub(p.at) > MaxCounterAge {
		return nil
	}
	return p
}

// PopularitiesOf fills dst[i] with the popularity windows of catalogue slot slots[i]
// from the in-process snapshot. It returns false, leaving dst alone, when there is no
// snapshot to serve (RunCounters is not running, or has failed for MaxCounterAge);
// callers then use Popularities.
func (s *Store) PopularitiesOf(dst []Popularity, slots []int32) bool {
	p := s.snapshot()
	if p == nil {
		return false
	}
	for i, slot := range slots {
		if slot >= 0 && int(slot) < len(p.pops) {
			dst[i] = p.pops[slot]
		} else {
			dst[i] = Popularity{} // an item newer than the snapshot: not counted yet
		}
	}
	return true
}

// TrendingOf returns up to n catalogue slots with the most events in the last day
// (sliding), best first, from the in-process snapshot; false when there is no snapshot
// to serve or n is over TrendingCached (callers then use Trending).
func (s *Store) TrendingOf(n int) ([]int32, bool) {
	p := s.snapshot()
	if p == nil || n > TrendingCached {
		return nil, false
	}
	return p.trending[:min(n, len(p.trending))], true
}

// topDay returns up to n slots with the highest positive one-day popularity, best
// first (ties by slot). It calls y.Maybe once per slot (y may be nil).
func topDay(pops []Popularity, n int, y *yield.Yielder) []int32 {
	h := &slotHeap{}
	for slot, p := range pops {
		y.Maybe()
		if p.Day <= 0 {
			continue
		}
		if h.Len() < n {
			heap.Push(h, slotScore{int32(slot), p.Day})
		} else if p.Day > h.s[0].score {
			h.s[0] = slotScore{int32(slot), p.Day}
			heap.Fix(h, 0)
		}
	}
	slots := make([]int32, h.Len())
	for i := h.Len() - 1; i >= 0; i-- {
		slots[i] = heap.Pop(h).(slotScore).slot
	}
	return slots
}

type slotScore struct {
	slot  int32
	score float64
}

// slotHeap is a min-heap on score; among equal scores the higher slot is smaller, so
// the lower slot is kept and comes first.
type slotHeap struct{ s []slotScore }

func (h *slotHeap) Len() int { return len(h.s) }
func (h *slotHeap) Less(i, j int) bool {
	if h.s[i].score != h.s[j].score {
		return h.s[i].score < h.s[j].score
	}
	return h.s[i].slot > h.s[j].slot
}
func (h *slotHeap) Swap(i, j int) { h.s[i], h.s[j] = h.s[j], h.s[i] }
func (h *slotHeap) Push(x any)    { h.s = append(h.s, x.(slotScore)) }
func (h *slotHeap) Pop() any {
	x := h.s[len(h.s)-1]
	h.s = h.s[:len(h.s)-1]
	return x
}
