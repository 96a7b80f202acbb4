package features

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/memo"
	"golang.org/x/sync/singleflight"
)

// waitFor polls cond until it holds or a few seconds pass: the invalidation message
// crosses Redis asynchronously.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLocalCache checks the process-local copy of profiles and co-visitation sets: it
// answers without Redis, shows the process's own events at once, and drops what
// another process's events change (an importer, another replica) when their message
// arrives.
func TestLocalCache(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	a := newStore(t, now) // the serving process, with a local cache
	a.lc = &localCache{ttl: time.Minute, profiles: memo.New[*Profile](1000), covis: memo.New[*covisSet](1000)}
	b := New(a.db, a.rdb, a.opt) // another process on the same stores, without one
	b.lc = nil
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.RunLocalCache(ctx)
	waitFor(t, "subscribed", func() bool { return a.local() != nil })

	tag := runTag() + "lc-"
	raceShop(t, a, tag, 10)
	if _, err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	user := tag + "u"
	ev := eventsOf(tag, user, fusionrank.View, now)
	ingest(t, a, ev(1), ev(2))
	// The first read keeps the profile unless its own invalidation message crossed it.
	waitFor(t, "kept locally", func() bool {
		p, _, err := a.Profile(ctx, user)
		if err != nil || p.Events != 2 {
			t.Fatalf("profile: %v %+v", err, p)
		}
		_, _, ok := a.lc.profiles.Get(user, time.Now().UnixNano())
		return ok
	})
	// Served from memory: gone from Redis, still answered, as cached.
	a.rdb.Del(ctx, a.userKey("profile", user))
	p, src, err := a.Profile(ctx, user)
	if err != nil || src != SourceCache || p.Events != 2 {
		t.Fatalf("after the Redis copy was dropped: %s %v %+v", src, err, p)
	}
	// The process's own events show at once.
	ingest(t, a, ev(3))
	if p, _, err = a.Profile(ctx, user); err != nil || p.Events != 3 || p.RecentIDs()[0] != tag+"3" {
		t.Fatalf("after an event of its own: %v %+v", err, p)
	}
	// Another process's events show when their message arrives.
	ingest(t, b, ev(4))
	waitFor(t, "another process's event", func() bool {
		p, _, err := a.Profile(ctx, user)
		return err == nil && p.Events == 4
	})

	// Co-visitation: item 4 followed item 3; read through the local copy, then another
	// process adds a follower of item 3.
	if _, err := a.WarmCovisitation(ctx); err != nil {
		t.Fatal(err)
	}
	// The read keeps the set unless an invalidation message of item 3 (from b's event
	// above) crossed it; then the next read keeps it.
	waitFor(t, "covisitation set held locally", func() bool {
		counts, err := a.Covisitation(ctx, []string{tag + "3"}, []string{tag + "4", tag + "5"})
		if err != nil || counts[0][0] != 1 || counts[0][1] != 0 {
			t.Fatalf("covisitation: %v %v", counts, err)
		}
		set, _, ok := a.lc.covis.Get(tag+"3", time.Now().UnixNano())
		return ok && set.lookup(covisHash(tag+"4"), tag+"4") == 1
	})
	other := eventsOf(tag+"o", tag+"v", fusionrank.View, now)
	e1, e2 := other(1), other(2)
	e1.ItemID, e2.ItemID = tag+"3", tag+"5"
	ingest(t, b, e1, e2)
	waitFor(t, "another process's co-visitation", func() bool {
		counts, err := a.Covisitation(ctx, []string{tag + "3"}, []string{tag + "4", tag + "5"})
		return err == nil && counts[0][1] == 1
	})
	zs, err := a.CovisNeighbours(ctx, []string{tag + "3"}, 5)
	if err != nil || len(zs[0]) != 2 {
		t.Fatalf("neighbours: %v %v", zs, err)
	}

	// Without the subscription nothing is served from memory.
	cancel()
	waitFor(t, "unsubscribed", func() bool { return a.local() == nil })
}

// TestProfileBusyIsUnavailable: a profile that needs a rebuild while MaxRebuilds are
// running is unavailable for the moment (an API call answers 503), not an internal
// error.
func TestProfileBusyIsUnavailable(t *testing.T) {
	s := newStore(t, time.Now())
	for range MaxRebuilds {
		s.rebuilds.slots <- struct{}{}
	}
	_, _, err := s.Profile(context.Background(), runTag()+"busy")
	if fusionrank.ErrorCode(err) != fusionrank.Unavailable {
		t.Fatalf("profile with every rebuild slot taken: %v (code %q), want unavailable", err, fusionrank.ErrorCode(err))
	}
}

// TestProfileRebuildsHaveAReserve: counter-set rebuilds, which a Redis wipe makes
// missing all at once, never take the slots kept for profiles. With as many counter
// rebuilds running as they may, another is refused (unavailable), and a shopper's
// profile is still rebuilt.
func TestProfileRebuildsHaveAReserve(t *testing.T) {
	s := newStore(t, time.Now())
	if keys, _, _ := s.windowKeys(time.Now()); len(keys) > MaxCounterRebuilds {
		t.Fatalf("a popularity read rebuilds %d buckets at once, more than MaxCounterRebuilds (%d)", len(keys), MaxCounterRebuilds)
	}
	tag := runTag()
	release := make(chan struct{})
	started := make(chan struct{}, MaxRebuilds)
	var pending []<-chan singleflight.Result
	for i := range MaxRebuilds {
		pending = append(pending, s.startRebuild(context.Background(), fmt.Sprintf("%scounter-%d", tag, i), counterRebuild,
			func(context.Context) (any, error) {
				started <- struct{}{}
				<-release
				return nil, nil
			}))
	}
	for range MaxCounterRebuilds {
		<-started
	}
	refused := 0
	for _, ch := range pending {
		select {
		case r := <-ch:
			if fusionrank.ErrorCode(r.Err) != fusionrank.Unavailable {
				t.Fatalf("a counter rebuild past the counters' share: %v, want unavailable", r.Err)
			}
			refused++
		case <-time.After(100 * time.Millisecond):
		}
	}
	if refused != MaxRebuilds-MaxCounterRebuilds {
		t.Fatalf("%d counter rebuilds refused, want %d", refused, MaxRebuilds-MaxCounterRebuilds)
	}
	_, src, err := s.Profile(context.Background(), tag+"reserved")
	if err != nil || src != SourceRebuilt {
		t.Fatalf("profile with the counters' share taken: source %q, err %v; want rebuilt", src, err)
	}
	close(release)
}

// TestImportInvalidatesLocalCaches: a bulk import of a user's events reaches a serving
// process's local copy of the profile through the invalidation channel, well within
// the local cache's lifetime.
func TestImportInvalidatesLocalCaches(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	a := newStore(t, now) // the serving process, with a local cache
	a.lc = &localCache{ttl: time.Hour, profiles: memo.New[*Profile](1000), covis: memo.New[*covisSet](1000)}
	b := New(a.db, a.rdb, a.opt) // `fusionrank import`, without one
	b.lc = nil
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.RunLocalCache(ctx)
	waitFor(t, "subscribed", func() bool { return a.local() != nil })

	tag := runTag() + "li-"
	raceShop(t, a, tag, 10)
	user := tag + "u"
	ev := eventsOf(tag, user, fusionrank.View, now)
	ingest(t, a, ev(1))
	waitFor(t, "kept locally", func() bool {
		p, _, err := a.Profile(ctx, user)
		if err != nil || p.Events != 1 {
			t.Fatalf("profile: %v %+v", err, p)
		}
		_, _, ok := a.lc.profiles.Get(user, time.Now().UnixNano())
		return ok
	})
	evs := []fusionrank.Event{ev(2), ev(3)}
	st, err := b.ImportEvents(ctx, func() (fusionrank.Event, error) {
		if len(evs) == 0 {
			return fusionrank.Event{}, Done()
		}
		e := evs[0]
		evs = evs[1:]
		return e, nil
	}, nil, nil)
	if err != nil || st.Accepted != 2 {
		t.Fatalf("import: %+v %v", st, err)
	}
	waitFor(t, "the imported events in the serving process", func() bool {
		p, _, err := a.Profile(ctx, user)
		return err == nil && p.Events == 3
	})
}
