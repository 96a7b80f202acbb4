package features

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/testenv"
)

// TestWarmCovisitation: the one-pass warm-up writes the same co-visitation sets as the
// per-item rebuilds, writes none that exist, and leaves a set kept up to date alone.
func TestWarmCovisitation(t *testing.T) {
	now := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	s := newStore(t, now)
	ctx := context.Background()
	items := []string{"wm-a", "wm-b", "wm-c", "wm-d", "wm-e"}
	var evs []fusionrank.Event
	for k := range 60 {
		evs = append(evs, fusionrank.Event{EventID: fmt.Sprintf("wm-%d", k), UserID: fmt.Sprintf("wm-u%d", k%4),
			ItemID: items[(k*k+k/3)%len(items)], Type: fusionrank.View, Timestamp: now.Add(-time.Duration(60-k) * time.Minute)})
	}
	if _, err := s.IngestEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := s.Covisitation(ctx, items, items) // per-item rebuilds
	if err != nil {
		t.Fatal(err)
	}
	testenv.DeleteNamespace(ctx, s.rdb, s.opt.Namespace)
	n, err := s.WarmCovisitation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n < len(items) { // the package's other tests add their own items' sets
		t.Fatalf("warm-up wrote %d sets, want at least %d", n, len(items))
	}
	for _, it := range items {
		if e, _ := s.rdb.Exists(ctx, s.itemKey("covis", it)).Result(); e != 1 {
			t.Fatalf("no set for %s after the warm-up", it)
		}
	}
	warmed, err := s.Covisitation(ctx, items, items)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(warmed) != fmt.Sprint(rebuilt) {
		t.Fatalf("warmed %v, rebuilt %v", warmed, rebuilt)
	}
	var total float64
	for _, row := range warmed {
		for _, v := range row {
			total += v
		}
	}
	if total == 0 {
		t.Fatal("no co-visitation counted")
	}
	// A set kept up to date since is not replaced by a second warm-up.
	if err := s.rdb.ZIncrBy(ctx, s.itemKey("covis", "wm-a"), 100, "wm-b").Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.WarmCovisitation(ctx); err != nil || n != 0 {
		t.Fatalf("second warm-up wrote %d sets (%v), want 0", n, err)
	}
	if v, _ := s.rdb.ZScore(ctx, s.itemKey("covis", "wm-a"), "wm-b").Result(); v < 100 {
		t.Fatalf("the second warm-up replaced a live set: wm-a→wm-b = %v", v)
	}
}

// TestWarmProfiles: the one-pass warm-up caches for every recent user the profile a
// rebuild would, leaves cached profiles alone, and does not cache a profile that
// misses events stored after its read.
func TestWarmProfiles(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := newStore(t, now)
	ctx := context.Background()
	tag := runTag() + "wp-"
	raceShop(t, s, tag, 10)
	users := []string{tag + "u0", tag + "u1", tag + "u2"}
	for k := range 30 {
		ingest(t, s, fusionrank.Event{EventID: fmt.Sprintf("%se%d", tag, k), UserID: users[k%3], ItemID: fmt.Sprintf("%s%d", tag, k%10),
			Type: fusionrank.EventTypes[k%4], Timestamp: now.Add(-time.Duration(60-k) * time.Minute)})
	}
	testenv.DeleteNamespace(ctx, s.rdb, s.opt.Namespace) // Redis lost everything
	// A cached profile is left alone: u0's holds a marker the warm-up would not write.
	want0, err := s.rebuildProfile(ctx, users[0])
	if err != nil {
		t.Fatal(err)
	}
	marked := *want0
	marked.UpdatedAt++
	s.rdb.Set(ctx, s.userKey("profile", users[0]), marked.encode(), time.Hour)
	// u2's events go on after the warm-up's read: its floor is above what it read.
	s.rdb.Set(ctx, s.userKey("pfloor", users[2]), 11, time.Hour)

	n, err := s.WarmProfiles(ctx, now.Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Fatalf("warm-up wrote %d profiles", n)
	}
	b, err := s.rdb.Get(ctx, s.userKey("profile", users[1])).Bytes()
	if err != nil {
		t.Fatalf("u1 not cached: %v", err)
	}
	got, ok := decodeProfile(b)
	want, _ := s.rebuildProfile(ctx, users[1])
	if !ok {
		t.Fatal("u1: undecodable")
	}
	sameProfile(t, "u1", got, want)
	if b, _ := s.rdb.Get(ctx, s.userKey("profile", users[0])).Bytes(); b == nil {
		t.Fatal("u0's cached profile is gone")
	} else if p, _ := decodeProfile(b); p.UpdatedAt != marked.UpdatedAt {
		t.Fatal("u0's cached profile was replaced")
	}
	if e, _ := s.rdb.Exists(ctx, s.userKey("profile", users[2])).Result(); e != 0 {
		t.Fatal("u2's profile was cached although events arrived after the read")
	}
}

// TestRunWarmAfterWipe: RunWarm marks Redis warm after its start-up warm-up; when Redis
// then loses its data, it builds the co-visitation sets and the recent shoppers'
// profiles again without a request asking for them, and marks Redis warm again.
func TestRunWarmAfterWipe(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := newStore(t, now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tag := runTag() + "rw-"
	user := tag + "u"
	ev := eventsOf(tag, user, fusionrank.View, now)
	ingest(t, s, ev(1), ev(2), ev(3))
	done := make(chan struct{})
	go func() { s.RunWarm(ctx, 20*time.Millisecond, 24*time.Hour); close(done) }()
	marked := func() bool { v, _ := s.rdb.Get(ctx, s.warmKey()).Result(); return v == markWarm }
	waitFor(t, "the start-up warm-up's mark", marked)

	testenv.DeleteNamespace(ctx, s.rdb, s.opt.Namespace) // Redis lost its data
	waitFor(t, "the warm-up after the wipe", func() bool {
		a, _ := s.rdb.Exists(ctx, s.itemKey("covis", tag+"1")).Result()
		p, _ := s.rdb.Exists(ctx, s.userKey("profile", user)).Result()
		return a == 1 && p == 1 && marked()
	})
	p, src, err := s.Profile(ctx, user)
	if err != nil || src != SourceCache || p.Events != 3 {
		t.Fatalf("profile after the wipe's warm-up: source %q, %v; want 3 events from the cache", src, err)
	}
	zs, err := s.CovisNeighbours(ctx, []string{tag + "1"}, 5)
	if err != nil || len(zs[0]) != 1 || zs[0][0].ItemID != tag+"2" {
		t.Fatalf("co-visitation after the wipe's warm-up: %v, %v; want %s2 after %s1", zs, err, tag, tag)
	}
	cancel()
	<-done
}

// TestNoCovisRebuildWhileWarming: while a warm-up builds every co-visitation set (here
// another process's, as its marker said), a read does not rebuild a missing set from
// Postgres: it is unavailable for the moment, and the set is left for the warm-up.
// After the warm-up the read rebuilds it.
func TestNoCovisRebuildWhileWarming(t *testing.T) {
	s, tag := twoViews(t, "nw-")
	ctx := context.Background()
	key := s.itemKey("covis", tag+"1")
	s.warm.others.Store(phaseCovis)
	if _, err := s.Covisitation(ctx, []string{tag + "1"}, []string{tag + "2"}); fusionrank.ErrorCode(err) != fusionrank.Unavailable {
		t.Fatalf("co-visitation read during a warm-up: %v, want unavailable", err)
	}
	if n, _ := s.rdb.Exists(ctx, key).Result(); n != 0 {
		t.Fatal("a set was rebuilt during the warm-up")
	}
	s.warm.others.Store(phaseNone)
	counts, err := s.Covisitation(ctx, []string{tag + "1"}, []string{tag + "2"})
	if err != nil || counts[0][0] != 1 {
		t.Fatalf("co-visitation after the warm-up: %v, %v; want 1", counts, err)
	}
}

// TestServingProfileDuringTheWarmup: while a warm-up builds the profiles (here another
// process's, as its marker said), serving does not rebuild a missing profile for a
// request: it is unavailable at once. The API's own read (Profile) still rebuilds it,
// and once the warm-up has moved on to the co-visitation sets, so does serving.
func TestServingProfileDuringTheWarmup(t *testing.T) {
	s, tag := twoViews(t, "sp-")
	ctx := context.Background()
	s.warm.others.Store(phaseProfiles)
	if _, _, err := s.ServingProfile(ctx, tag+"u"); fusionrank.ErrorCode(err) != fusionrank.Unavailable {
		t.Fatalf("serving profile while the warm-up builds profiles: %v, want unavailable", err)
	}
	if p, src, err := s.Profile(ctx, tag+"u"); err != nil || src != SourceRebuilt || p.Events != 2 {
		t.Fatalf("the API's profile read: source %q, %v; want rebuilt with 2 events", src, err)
	}
	if p, src, err := s.ServingProfile(ctx, tag+"u"); err != nil || src != SourceCache || p.Events != 2 {
		t.Fatalf("a cached profile during the warm-up: source %q, %v; want it from the cache", src, err)
	}
	s.warm.others.Store(phaseCovis)
	if p, src, err := s.ServingProfile(ctx, tag+"v"); err != nil || src != SourceRebuilt || p.Events != 0 {
		t.Fatalf("serving profile while the warm-up builds co-visitation: source %q, %v; want rebuilt", src, err)
	}
}

// twoViews returns a store whose shopper tag+"u" viewed tag+"1", then tag+"2" (tag is
// prefix after a tag of the run's own).
func twoViews(t *testing.T, prefix string) (*Store, string) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := newStore(t, now)
	tag := runTag() + prefix
	ev := eventsOf(tag, tag+"u", fusionrank.View, now)
	ingest(t, s, ev(1), ev(2))
	return s, tag
}
