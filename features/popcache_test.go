package features

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/testenv"
)

// TestPopularityCache: the in-process snapshot serves exactly what reading Redis
// serves (windows and trending order), follows new events at the next refresh, is
// refused when it has grown too old, and keeps being served (within MaxCounterAge)
// when a refresh fails.
func TestPopularityCache(t *testing.T) {
	now := time.Date(2026, 11, 2, 12, 30, 0, 0, time.UTC)
	clock := now
	db := testenv.DB(t, "features")
	rdb, ns := testenv.Redis(t)
	s := New(db, rdb, Options{Namespace: ns, Now: func() time.Time { return clock }})
	ctx := context.Background()

	items := make([]fusionrank.Item, 6)
	ids := make([]string, len(items))
	for i := range items {
		ids[i] = fmt.Sprintf("pc-%d", i)
		items[i] = fusionrank.Item{ID: ids[i], Title: "item", Active: true}
	}
	if errs, err := s.PutItems(ctx, items); err != nil || slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
		t.Fatal(err, errs)
	}
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	slots := make([]int32, len(ids))
	s.catalog.RLock()
	for i, id := range ids {
		slots[i], _ = s.catalog.Slot(id)
	}
	s.catalog.RUnlock()

	got := make([]Popularity, len(ids))
	if s.PopularitiesOf(got, slots) {
		t.Fatal("a snapshot was served before any refresh")
	}
	if _, ok := s.TrendingOf(3); ok {
		t.Fatal("trending was served before any refresh")
	}

	// Item i gets i+1 events spread over the last nine days, some in the last hour.
	k := 0
	send := func(perItem func(i int) int, age func(k int) time.Duration) {
		var evs []fusionrank.Event
		for i, id := range ids {
			for range perItem(i) {
				evs = append(evs, fusionrank.Event{EventID: fmt.Sprintf("pc-ev-%d", k), UserID: fmt.Sprintf("pc-u%d", k%4),
					ItemID: id, Type: fusionrank.View, Timestamp: clock.Add(-age(k))})
				k++
			}
		}
		if _, err := s.IngestEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	send(func(i int) int { return i + 1 }, func(k int) time.Duration { return time.Duration(k*37%(9*24*60)) * time.Minute })

	check := func(when string, hourOnly bool) {
		t.Helper()
		if err := s.RefreshCounters(ctx); err != nil {
			t.Fatal(err)
		}
		want, err := s.Popularities(ctx, ids, clock)
		if err != nil {
			t.Fatal(err)
		}
		if !s.PopularitiesOf(got, slots) {
			t.Fatalf("%s: no snapshot served after a refresh", when)
		}
		for i := range ids {
			pairs := [][2]float64{{got[i].Hour, want[i].Hour}, {got[i].Day, want[i].Day}, {got[i].Week, want[i].Week}}
			if hourOnly {
				pairs = pairs[:1]
			}
			for _, d := range pairs {
				if diff := d[0] - d[1]; diff > 1e-9 || diff < -1e-9 {
					t.Fatalf("%s: item %s: snapshot %+v, Redis %+v", when, ids[i], got[i], want[i])
				}
			}
		}
		var total float64
		for _, p := range want {
			total += p.Week
		}
		if total == 0 {
			t.Fatalf("%s: nothing counted", when)
		}
		if hourOnly {
			return
		}
		// Other tests of the package share the database: compare this test's items.
		mine := func(id string) bool { return slices.Contains(ids, id) }
		all, _, err := s.Trending(ctx, 100, clock)
		if err != nil {
			t.Fatal(err)
		}
		var wantIDs, gotIDs []string
		for _, id := range all {
			if mine(id) {
				wantIDs = append(wantIDs, id)
			}
		}
		tr, ok := s.TrendingOf(100)
		if !ok {
			t.Fatalf("%s: no trending served", when)
		}
		s.catalog.RLock()
		for _, slot := range tr {
			if id := s.catalog.Meta(slot).ID; mine(id) {
				gotIDs = append(gotIDs, id)
			}
		}
		s.catalog.RUnlock()
		if !slices.Equal(gotIDs, wantIDs) {
			t.Fatalf("%s: trending from the snapshot %v, from Redis %v", when, gotIDs, wantIDs)
		}
	}
	check("first refresh", false)

	// New events, most of them for the least popular item, within the last hour.
	before := slices.Clone(got)
	// They land in open buckets: the hour's shows at the next refresh, the day's
	// within DayBucketRefresh.
	send(func(i int) int { return map[bool]int{true: 12, false: 0}[i == 0] }, func(k int) time.Duration { return time.Duration(k%30) * time.Minute })
	if s.PopularitiesOf(got, slots); got[0] != before[0] {
		t.Fatal("the snapshot changed without a refresh")
	}
	check("after new events, at the next refresh", true)
	clock = clock.Add(DayBucketRefresh)
	check("after new events, DayBucketRefresh later", false)
	if got[0].Hour <= before[0].Hour {
		t.Fatalf("item 0's hour window did not grow: %v then %v", before[0], got[0])
	}
	if got[0].Day <= got[5].Day {
		t.Fatalf("item 0 (%v) is not above item 5 (%v) after its new events", got[0], got[5])
	}

	// A late event in a closed bucket (the previous hour) shows within ClosedBucketRefresh.
	send(func(i int) int { return map[bool]int{true: 1, false: 0}[i == 1] }, func(int) time.Duration { return 45 * time.Minute })
	clock = clock.Add(ClosedBucketRefresh)
	check("after a late event", false)

	// A failed refresh leaves the last snapshot in service, until it is too old.
	clock = clock.Add(MaxCounterAge / 2)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.RefreshCounters(cctx); err == nil {
		t.Fatal("a refresh with a cancelled context succeeded")
	}
	if !s.PopularitiesOf(got, slots) {
		t.Fatal("the last snapshot was not served after one failed refresh")
	}
	clock = clock.Add(MaxCounterAge)
	if s.PopularitiesOf(got, slots) {
		t.Fatal("a snapshot older than MaxCounterAge was served")
	}
}

// TestBreaker: a slow reply while Redis answers other calls is not an outage; a
// failed connection is, and so is a timeout when nothing has succeeded for a second.
func TestBreaker(t *testing.T) {
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	d := newRedisState()
	d.observe(nil)
	d.observe(timeout)
	d.observe(redis.ErrPoolTimeout)
	d.observe(context.DeadlineExceeded)
	if !d.redisUp() {
		t.Fatal("timeouts right after a success marked Redis down")
	}
	d.observe(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	if d.redisUp() {
		t.Fatal("a refused connection did not mark Redis down")
	}
	d = newRedisState()
	d.lastOK.Store(time.Now().Add(-2 * time.Second).UnixNano())
	d.observe(timeout)
	if d.redisUp() {
		t.Fatal("a timeout after two seconds without a success did not mark Redis down")
	}
}
