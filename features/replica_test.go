//go:build linux

package features

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/testenv"
)

// rebuildPools counts the pools that served profile rebuilds (Options.OnRebuildRead).
type rebuildPools struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *rebuildPools) add(pool string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n[pool]++
}

func (r *rebuildPools) take() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.n
	r.n = map[string]int{}
	return out
}

// TestReplicaRebuilds runs a real streaming replica of the test server: a profile
// rebuilt from it equals the primary's, and with its replay paused a rebuild for a
// user with newer events falls back to the primary and is still complete, as is a
// warm-up; the catalogue and the counters load from it.
func TestReplicaRebuilds(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	db := testenv.DB(t, "features")
	rdb, ns := testenv.Redis(t)
	rep := testenv.StartPostgresReplica(t)
	opt := Options{
		Modalities: []Modality{{"image", 4}, {"color", 3}},
		Now:        func() time.Time { return now },
		Rules:      ProfileRules{HalfLife: 24 * time.Hour},
	}
	primaryOnly := func(sub string) *Store {
		o := opt
		o.Namespace = ns + ":" + sub
		return New(db, rdb, o)
	}
	writer := primaryOnly("w")
	var items []fusionrank.Item
	for i := range 20 {
		items = append(items, fusionrank.Item{ID: fmt.Sprintf("rp-%d", i), Title: "item", Active: true, Vectors: map[string][]float32{
			"image": {float32(i%5) + 0.5, float32(i % 3), 1, float32(i % 7)},
			"color": {1, float32(i % 4), 0.5},
		}})
	}
	if _, err := writer.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	events := func(user string, from, n int) []fusionrank.Event {
		var evs []fusionrank.Event
		for k := from; k < from+n; k++ {
			evs = append(evs, fusionrank.Event{EventID: fmt.Sprintf("rp-%s-%d", user, k), UserID: user, ItemID: fmt.Sprintf("rp-%d", (k*7)%20),
				Type: fusionrank.EventTypes[k%4], Timestamp: now.Add(-time.Duration(k*37) * time.Minute)})
		}
		return evs
	}
	if _, err := writer.IngestEvents(ctx, append(events("rp-a", 0, 25), events("rp-b", 0, 10)...)); err != nil {
		t.Fatal(err)
	}

	replicaDB := rep.Open(t, db) // caught up with the writes above
	pools := &rebuildPools{n: map[string]int{}}
	withReplica := func(sub string) *Store {
		o := opt
		o.Namespace = ns + ":" + sub
		o.Replica = replicaDB
		o.OnRebuildRead = pools.add
		s := New(db, rdb, o)
		if _, err := s.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The primary's rebuild of a user's profile, from a namespace of its own each time.
	refs := 0
	ref := func() *Store {
		refs++
		s := primaryOnly(fmt.Sprintf("ref%d", refs))
		if _, err := s.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	profile := func(s *Store, user string) *Profile {
		t.Helper()
		p, src, err := s.Profile(ctx, user)
		if err != nil || src != SourceRebuilt {
			t.Fatalf("profile of %s: source %q, %v", user, src, err)
		}
		return p
	}
	same := func(what string, got, want *Profile, events int64) {
		t.Helper()
		if got.Events != events || want.Events != events || !slices.Equal(got.encode(), want.encode()) {
			t.Fatalf("%s: profile with %d events differs from the primary's with %d (want %d events)", what, got.Events, want.Events, events)
		}
	}

	s1 := withReplica("r1")
	if _, ok := s1.Catalog().Slot("rp-19"); !ok {
		t.Fatal("the catalogue loaded from the replica lacks rp-19")
	}
	if from := s1.Catalog().ReadFrom(); from != "replica" {
		t.Fatalf("the catalogue was read from the %s, want the replica (caught up)", from)
	}
	same("replica caught up", profile(s1, "rp-a"), profile(ref(), "rp-a"), 25)
	if got := pools.take(); got[PoolReplica] != 1 || len(got) != 1 {
		t.Fatalf("rebuild pools %v, want one from the replica", got)
	}
	if pop, err := s1.Popularities(ctx, []string{"rp-0"}, now); err != nil || pop[0].Week == 0 {
		t.Fatalf("popularity rebuilt from the replica: %+v %v", pop, err)
	}

	// The replica stops replaying: rp-a's new events and new user rp-c exist only on
	// the primary.
	if err := rep.PauseReplay(ctx); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = rep.ResumeReplay(context.Background())
		}
	}()
	if _, err := writer.IngestEvents(ctx, append(events("rp-a", 25, 5), events("rp-c", 0, 4)...)); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.PutItems(ctx, []fusionrank.Item{{ID: "rp-new", Title: "item", Active: true}}); err != nil {
		t.Fatal(err)
	}
	// The catalogue reads no further than the seq below which every change is
	// committed on the primary; the paused replica has not replayed that far, so it is
	// read from the primary, rp-new with it.
	s2 := withReplica("r2")
	if _, ok := s2.Catalog().Slot("rp-new"); !ok {
		t.Fatal("the catalogue lacks rp-new, which the primary has")
	}
	if from := s2.Catalog().ReadFrom(); from != "primary (the replica is behind)" {
		t.Fatalf("the catalogue was read from the %s, want the primary", from)
	}
	same("replica behind, rp-a", profile(s2, "rp-a"), profile(ref(), "rp-a"), 30)
	same("replica behind, rp-c", profile(s2, "rp-c"), profile(ref(), "rp-c"), 4)
	same("replica behind, rp-b (unchanged)", profile(s2, "rp-b"), profile(ref(), "rp-b"), 10)
	if got := pools.take(); got[PoolPrimaryLag] != 2 || got[PoolReplica] != 1 || len(got) != 2 {
		t.Fatalf("rebuild pools %v, want rp-a and rp-c from the primary after the lag, rp-b from the replica", got)
	}

	// The warm-up from the lagging replica caches only the profiles it read whole.
	s3 := withReplica("r3")
	// (Other tests' users share the database: only these three are checked.)
	if n, err := s3.WarmProfiles(ctx, now.Add(-30*24*time.Hour)); err != nil || n == 0 {
		t.Fatalf("warm-up from the lagging replica wrote %d profiles (%v), want rp-b's at least", n, err)
	}
	for user, want := range map[string]string{"rp-a": SourceRebuilt, "rp-b": SourceCache, "rp-c": SourceRebuilt} {
		if _, src, err := s3.Profile(ctx, user); err != nil || src != want {
			t.Fatalf("%s after the warm-up: %q %v, want %q", user, src, err, want)
		}
	}

	if err := rep.ResumeReplay(ctx); err != nil {
		t.Fatal(err)
	}
	resumed = true
	if err := rep.CatchUp(ctx, db); err != nil {
		t.Fatal(err)
	}
	pools.take()
	s4 := withReplica("r4")
	if _, ok := s4.Catalog().Slot("rp-new"); !ok {
		t.Fatal("the catalogue loaded from the caught-up replica lacks rp-new")
	}
	same("replica caught up again", profile(s4, "rp-a"), profile(ref(), "rp-a"), 30)
	if got := pools.take(); got[PoolReplica] != 1 || len(got) != 1 {
		t.Fatalf("rebuild pools %v, want one from the replica", got)
	}
}
