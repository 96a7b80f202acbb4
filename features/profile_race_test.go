package features

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
)

// raceShop stores n items with image vectors and loads them into the catalogue.
func raceShop(t *testing.T, s *Store, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	var items []fusionrank.Item
	for i := range n {
		items = append(items, fusionrank.Item{ID: fmt.Sprintf("%s%d", prefix, i), Title: "item", Active: true,
			Vectors: map[string][]float32{"image": {float32(1 + i%5), float32(i % 3), 1, float32(i % 7)}}})
	}
	if _, err := s.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// runTag makes a test's ids its own, so that reruns in one process (-count) meet no
// events of an earlier run in the package's database.
func runTag() string { return fmt.Sprintf("%08x-", rand.Uint32()) }

// eventsOf returns a maker of events of user: event k is on item tag+k, k minutes
// after ten minutes before now.
func eventsOf(tag, user string, typ fusionrank.EventType, now time.Time) func(k int) fusionrank.Event {
	return func(k int) fusionrank.Event {
		return fusionrank.Event{EventID: fmt.Sprintf("%se%d", tag, k), UserID: user, ItemID: fmt.Sprintf("%s%d", tag, k),
			Type: typ, Timestamp: now.Add(time.Duration(k-10) * time.Minute)}
	}
}

func ingest(t *testing.T, s *Store, evs ...fusionrank.Event) {
	t.Helper()
	res, err := s.IngestEvents(context.Background(), evs)
	if err != nil || len(res.Rejected) != 0 || len(res.Warnings) != 0 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
}

// sameProfile fails unless got holds exactly what want (rebuilt from Postgres) holds.
func sameProfile(t *testing.T, what string, got, want *Profile) {
	t.Helper()
	if got.Events != want.Events || !slices.Equal(got.RecentIDs(), want.RecentIDs()) || !slices.Equal(got.BoughtIDs(), want.BoughtIDs()) {
		t.Fatalf("%s: %d events, recent %v, bought %v\nwant %d events, recent %v, bought %v",
			what, got.Events, got.RecentIDs(), got.BoughtIDs(), want.Events, want.RecentIDs(), want.BoughtIDs())
	}
	for m, b := range want.Modalities {
		a := got.Modalities[m]
		if a == nil || a.Ref != b.Ref || math.Abs(a.Weight-b.Weight) > 1e-9*b.Weight {
			t.Fatalf("%s: modality %s is %+v, want ref %d weight %v", what, m, a, b.Ref, b.Weight)
		}
	}
}

// TestProfileRebuildRacingAnEvent stores an event while a rebuild of the same user's
// profile is between its read of Postgres and its write to Redis. The event's update
// finds no cached profile; the rebuild must not then cache a profile without it.
func TestProfileRebuildRacingAnEvent(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, now)
	ctx := context.Background()
	tag := runTag() + "rr-"
	raceShop(t, s, tag, 5)
	user := tag + "user"
	ev := eventsOf(tag, user, fusionrank.Click, now)
	ingest(t, s, ev(1)) // not cached: nothing to update
	var once sync.Once
	s.hooks.afterRebuildRead = func(u string) {
		once.Do(func() { ingest(t, s, ev(2)) })
	}
	p, _, err := s.Profile(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	s.hooks.afterRebuildRead = nil
	if !slices.Equal(p.RecentIDs(), []string{tag + "2", tag + "1"}) {
		t.Errorf("the racing read answered %v, want [%s2 %s1]", p.RecentIDs(), tag, tag)
	}
	cached, src, err := s.Profile(ctx, user)
	if err != nil || src != SourceCache {
		t.Fatalf("second read: %s %v", src, err)
	}
	want, err := s.rebuildProfile(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	sameProfile(t, "cached after the race", cached, want)
}

// TestProfileEventRacingARebuild rebuilds a profile after an event is committed but
// before the event's own update of Redis runs: that update must not add the event to a
// profile that already holds it.
func TestProfileEventRacingARebuild(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, now)
	ctx := context.Background()
	tag := runTag() + "er-"
	raceShop(t, s, tag, 5)
	user := tag + "user"
	ingest(t, s, fusionrank.Event{EventID: tag + "e1", UserID: user, ItemID: tag + "1", Type: fusionrank.View, Timestamp: now.Add(-time.Hour)})
	var once sync.Once
	s.hooks.beforeApply = func() {
		once.Do(func() {
			if _, src, err := s.Profile(ctx, user); err != nil || src != SourceRebuilt {
				t.Errorf("rebuild between commit and update: %s %v", src, err)
			}
		})
	}
	ingest(t, s, fusionrank.Event{EventID: tag + "e2", UserID: user, ItemID: tag + "2", Type: fusionrank.Purchase, Timestamp: now.Add(-time.Minute)})
	s.hooks.beforeApply = nil
	cached, src, err := s.Profile(ctx, user)
	if err != nil || src != SourceCache {
		t.Fatalf("read: %s %v", src, err)
	}
	want, err := s.rebuildProfile(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if want.Events != 2 {
		t.Fatalf("Postgres holds %d events, want 2", want.Events)
	}
	sameProfile(t, "cached after the race", cached, want)
	// Later events still update the cached profile.
	ingest(t, s, fusionrank.Event{EventID: tag + "e3", UserID: user, ItemID: tag + "3", Type: fusionrank.Click, Timestamp: now})
	cached, src, err = s.Profile(ctx, user)
	if err != nil || src != SourceCache || cached.Events != 3 || cached.RecentIDs()[0] != tag+"3" {
		t.Fatalf("after a third event: %s %v %d events %v", src, err, cached.Events, cached.RecentIDs())
	}
}

// TestProfilesConsistentUnderConcurrentWipes sends concurrent event batches for a few
// users while profiles are dropped from Redis and read back (rebuilt) over and over.
// Afterwards every cached profile must equal the one rebuilt from Postgres.
func TestProfilesConsistentUnderConcurrentWipes(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, now)
	ctx := context.Background()
	tag := runTag() + "cw-"
	raceShop(t, s, tag, 20)
	users := []string{tag + "u0", tag + "u1", tag + "u2"}
	var seq atomic.Int64
	var writers, reader sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for range 60 {
				evs := make([]fusionrank.Event, 1+rng.IntN(3))
				for i := range evs {
					k := seq.Add(1)
					evs[i] = fusionrank.Event{EventID: fmt.Sprintf("%se%d", tag, k), UserID: users[rng.IntN(len(users))],
						ItemID: fmt.Sprintf("%s%d", tag, rng.IntN(20)), Type: fusionrank.EventTypes[rng.IntN(4)],
						Timestamp: now.Add(-time.Duration(rng.IntN(600)) * time.Minute)}
				}
				if _, err := s.IngestEvents(ctx, evs); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	reader.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			u := users[i%len(users)]
			if i%2 == 0 {
				s.rdb.Del(ctx, s.userKey("profile", u))
			}
			if _, _, err := s.Profile(ctx, u); err != nil {
				t.Error(err)
				return
			}
		}
	})
	writers.Wait()
	close(stop)
	reader.Wait()
	for _, u := range users {
		got, _, err := s.Profile(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.rebuildProfile(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		sameProfile(t, u, got, want)
	}
}

// TestImportEventsRefreshesProfiles imports events for a user whose profile is cached:
// the next read must hold them, and live events must go on updating the cache.
func TestImportEventsRefreshesProfiles(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, now)
	ctx := context.Background()
	tag := runTag() + "im-"
	raceShop(t, s, tag, 6)
	user := tag + "user"
	ev := eventsOf(tag, user, fusionrank.Purchase, now)
	ingest(t, s, ev(1))
	if p, _, err := s.Profile(ctx, user); err != nil || p.Events != 1 {
		t.Fatalf("first read: %+v %v", p, err)
	}
	batch := []fusionrank.Event{ev(1), ev(2), ev(3)} // ev(1) is a replay
	st, err := s.ImportEvents(ctx, func() (fusionrank.Event, error) {
		if len(batch) == 0 {
			return fusionrank.Event{}, Done()
		}
		e := batch[0]
		batch = batch[1:]
		return e, nil
	}, nil, nil)
	if err != nil || st.Accepted != 2 || st.Duplicates != 1 {
		t.Fatalf("import: %+v %v", st, err)
	}
	var count int64
	if err := s.db.Pool.QueryRow(ctx, `SELECT events FROM users WHERE id = $1`, user).Scan(&count); err != nil || count != 3 {
		t.Fatalf("users.events = %d (%v), want 3", count, err)
	}
	p, src, err := s.Profile(ctx, user)
	if err != nil || src != SourceRebuilt || !slices.Equal(p.BoughtIDs(), []string{tag + "3", tag + "2", tag + "1"}) {
		t.Fatalf("read after the import: %s %v %v", src, err, p.BoughtIDs())
	}
	ingest(t, s, ev(4))
	p, src, err = s.Profile(ctx, user)
	if err != nil || src != SourceCache || p.Events != 4 || p.RecentIDs()[0] != tag+"4" {
		t.Fatalf("read after a live event: %s %v %d events %v", src, err, p.Events, p.RecentIDs())
	}
}
