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
