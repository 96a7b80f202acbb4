package features

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/testenv"
)

func TestVectorCodec(t *testing.T) {
	for _, n := range []int{0, 1, 7, 512} {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i)*0.25 - 3
		}
		got, ok := DecodeVector(EncodeVector(nil, v))
		if !ok || len(got) != n {
			t.Fatalf("n=%d: round trip failed", n)
		}
		for i := range v {
			if got[i] != v[i] {
				t.Fatalf("n=%d: [%d] = %v, want %v", n, i, got[i], v[i])
			}
		}
	}
	good := EncodeVector(nil, []float32{1, 2, 3})
	wrongVersion := append([]byte{}, good...)
	wrongVersion[2] = codecVersion + 1
	wrongKind := append([]byte{}, good...)
	wrongKind[3] = 'x'
	for name, b := range map[string][]byte{
		"wrong version": wrongVersion, "wrong kind": wrongKind, "truncated": good[:len(good)-1],
		"extra byte": append(append([]byte{}, good...), 0), "empty": nil, "header only": good[:4],
	} {
		if _, ok := DecodeVector(b); ok {
			t.Errorf("%s: decoded, want a miss", name)
		}
	}
}

func TestProfileCodec(t *testing.T) {
	p := &Profile{UpdatedAt: 5, Events: 3,
		Recent: []RecentItem{{"a", 3, 9}, {"b", 2, 8}}, Bought: []RecentItem{{"a", 3, 9}},
		Modalities: map[string]*ModalityProfile{"text": {Ref: 3, Weight: 1.5, Mean: []float32{0.5, -0.5}}}}
	b := p.encode()
	q, ok := decodeProfile(b)
	if !ok || q.Events != 3 || len(q.Recent) != 2 || q.Recent[1].ItemID != "b" || q.Modalities["text"].Mean[1] != -0.5 || q.Modalities["text"].Weight != 1.5 {
		t.Fatalf("round trip: %+v", q)
	}
	for cut := 0; cut < len(b); cut += 7 {
		if _, ok := decodeProfile(b[:cut]); ok {
			t.Fatalf("truncated at %d decoded", cut)
		}
	}
	old := append([]byte{}, b...)
	old[2] = 0
	if _, ok := decodeProfile(old); ok {
		t.Fatal("old version decoded")
	}
}

// newStore returns a store on this package's database with a Redis namespace of the
// test's own and two caller modalities.
func newStore(t *testing.T, now time.Time) *Store {
	t.Helper()
	db := testenv.DB(t, "features")
	rdb, ns := testenv.Redis(t)
	s := New(db, rdb, Options{
		Modalities: []Modality{{"image", 4}, {"color", 3}},
		Namespace:  ns,
		Now:        func() time.Time { return now },
		Rules:      ProfileRules{HalfLife: 24 * time.Hour},
	})
	return s
}

func ptr[T any](v T) *T { return &v }

func TestItemsValidation(t *testing.T) {
	s := newStore(t, time.Now())
	ctx := context.Background()
	cases := []struct {
		name string
		item fusionrank.Item
		want string
	}{
		{"bad id", fusionrank.Item{ID: "a b"}, "id:"},
		{"unknown modality", fusionrank.Item{ID: "x1", Vectors: map[string][]float32{"sound": {1}}}, "vectors.sound: unknown modality"},
		{"wrong dim", fusionrank.Item{ID: "x1", Vectors: map[string][]float32{"image": {1, 2, 3}}}, "vectors.image: expected 4 numbers, got 3"},
		{"nan", fusionrank.Item{ID: "x1", Vectors: map[string][]float32{"image": {1, float32(math.NaN()), 0, 0}}}, "vectors.image[1]: not a finite number"},
		{"zero vector", fusionrank.Item{ID: "x1", Vectors: map[string][]float32{"image": {0, 0, 0, 0}}}, "vectors.image: all zeros"},
		{"negative price", fusionrank.Item{ID: "x1", Price: ptr(-1.0)}, "price:"},
		{"long title", fusionrank.Item{ID: "x1", Title: string(make([]byte, fusionrank.MaxTitleLen+1))}, "title: longer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.PutItem(ctx, c.item)
			if fusionrank.ErrorCode(err) != fusionrank.Invalid || !contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want invalid naming %q", err, c.want)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestItemsRoundTrip(t *testing.T) {
	s := newStore(t, time.Now())
	ctx := context.Background()
	created, err := s.PutItem(ctx, fusionrank.Item{ID: "rt-1", Title: "Red dress", Price: ptr(10.0), Active: true,
		Attributes: map[string]any{"size": "M"}, Vectors: map[string][]float32{"image": {3, 0, 4, 0}}})
	if err != nil || !created {
		t.Fatalf("put: %v created=%v", err, created)
	}
	created, err = s.PutItem(ctx, fusionrank.Item{ID: "rt-1", Title: "Red dress v2", Active: true, Vectors: map[string][]float32{"color": {1, 0, 0}}})
	if err != nil || created {
		t.Fatalf("replace: %v created=%v", err, created)
	}
	v, err := s.GetItem(ctx, "rt-1")
	if err != nil || v.Title != "Red dress v2" || v.Price != nil || len(v.Modalities) != 1 || v.Modalities["color"].Dim != 3 {
		t.Fatalf("get after replace: %+v %v", v, err)
	}
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	c := s.Catalog()
	c.RLock()
	slot, ok := c.Slot("rt-1")
	img := c.Block("image").Vector(slot)
	col := c.Block("color").Vector(slot)
	c.RUnlock()
	if !ok || img != nil || col == nil || col[0] != 1 {
		t.Fatalf("catalogue: ok=%v image=%v color=%v (the replaced image vector must be gone)", ok, img, col)
	}
	if err := s.DeleteItem(ctx, "rt-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	c.RLock()
	active := c.Meta(slot).Active
	c.RUnlock()
	if active {
		t.Fatal("deleted item still active in the catalogue")
	}
	if err := s.DeleteItem(ctx, "nope"); fusionrank.ErrorCode(err) != fusionrank.NotFound {
		t.Fatalf("delete unknown: %v", err)
	}
	if _, err := s.GetItem(ctx, "nope"); fusionrank.ErrorCode(err) != fusionrank.NotFound {
		t.Fatalf("get unknown: %v", err)
	}
	// Batch: per-item errors, later duplicates win.
	errs, err := s.PutItems(ctx, []fusionrank.Item{
		{ID: "b-1", Title: "one", Active: true}, {ID: "b 2"}, {ID: "b-1", Title: "one again", Active: true}})
	if err != nil || errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("batch: %v %v", errs, err)
	}
	if v, _ := s.GetItem(ctx, "b-1"); v.Title != "one again" {
		t.Fatalf("batch duplicate: title %q", v.Title)
	}
	// SlotsOf gives what Slot and Active give, in order, for an active item, a deleted
	// one and unknown ids, over more ids than it looks up at once.
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 2*lookAhead + 7 {
		ids = append(ids, []string{"b-1", "rt-1", "nope-" + strconv.Itoa(i)}[i%3])
	}
	next := 0
	c.RLock()
	c.SlotsOf(len(ids), func(i int) string { return ids[i] }, func(i int, slot int32, ok, active bool) {
		wantSlot, wantOK := c.Slot(ids[i])
		if i != next || ok != wantOK || (ok && (slot != wantSlot || active != c.Active(slot))) || (!ok && active) {
			t.Errorf("SlotsOf: %d (want %d) %q = %d %v active %v; Slot gives %d %v", i, next, ids[i], slot, ok, active, wantSlot, wantOK)
		}
		next++
	})
	c.RUnlock()
	if next != len(ids) {
		t.Fatalf("SlotsOf gave %d of %d ids", next, len(ids))
	}
	if slot, _ := c.Slot("b-1"); !c.Active(slot) {
		t.Fatal("b-1 is not active: the test does not cover an active item")
	}
	// ID gives every slot's item id, after the inserts, replacements and deletes above.
	c.RLock()
	for s := range int32(c.Len()) {
		if c.ID(s) != c.Meta(s).ID {
			t.Errorf("ID(%d) = %q, Meta(%d).ID = %q", s, c.ID(s), s, c.Meta(s).ID)
		}
		if back, _ := c.Slot(c.ID(s)); back != s {
			t.Errorf("ID(%d) = %q, whose slot is %d", s, c.ID(s), back)
		}
	}
	c.RUnlock()
}

func TestEventsIdempotentUnderConcurrentReplays(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, now)
	ctx := context.Background()
	var evs []fusionrank.Event
	for i := range 200 {
		evs = append(evs, fusionrank.Event{EventID: fmt.Sprintf("idem-%d", i), UserID: fmt.Sprintf("idem-u%d", i%7),
			ItemID: fmt.Sprintf("it-%d", i%13), Type: fusionrank.Click, Timestamp: now.Add(-time.Duration(i) * time.Minute)})
	}
	var wg sync.WaitGroup
	results := make([]fusionrank.EventResult, 4)
	errs := make([]error, 4)
	for k := range 4 {
		wg.Go(func() { results[k], errs[k] = s.IngestEvents(ctx, evs) })
	}
	wg.Wait()
	accepted, dups := 0, 0
	for k := range 4 {
		if errs[k] != nil {
			t.Fatal(errs[k])
		}
		accepted += results[k].Accepted
		dups += results[k].Duplicates
	}
	if accepted != 200 || dups != 600 {
		t.Fatalf("accepted %d duplicates %d over 4 concurrent replays; want 200 and 600", accepted, dups)
	}
	var n int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE event_id LIKE 'idem-%'`).Scan(&n); err != nil || n != 200 {
		t.Fatalf("%d events stored (%v)", n, err)
	}
	res, err := s.IngestEvents(ctx, []fusionrank.Event{
		{EventID: "future", UserID: "u", ItemID: "i", Type: fusionrank.View, Timestamp: now.Add(time.Hour)},
		{EventID: "ok-1", UserID: "u", ItemID: "i", Type: fusionrank.View, Timestamp: now},
	})
	if err != nil || res.Accepted != 1 || len(res.Rejected) != 1 || res.Rejected[0].Index != 0 {
		t.Fatalf("future event: %+v %v", res, err)
	}
}

// TestProfileRebuildEqualsIncremental wipes the cache (this test's namespace: FLUSHALL
// would destroy other tests' keys) and checks that the profile rebuilt from Postgres
// equals the one maintained event by event.
func TestProfileRebuildEqualsIncremental(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, now)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var items []fusionrank.Item
	for i := range 30 {
		it := fusionrank.Item{ID: fmt.Sprintf("pr-%d", i), Title: "item", Active: true, Vectors: map[string][]float32{}}
		if i%3 != 0 {
			it.Vectors["image"] = []float32{rng.Float32() + 0.1, rng.Float32(), rng.Float32(), rng.Float32()}
		}
		if i%2 == 0 {
			it.Vectors["color"] = []float32{rng.Float32() + 0.1, rng.Float32(), rng.Float32()}
		}
		items = append(items, it)
	}
	if _, err := s.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	user := "pr-user"
	// Make the profile cached, so later events update it incrementally.
	if _, src, err := s.Profile(ctx, user); err != nil || src != SourceRebuilt {
		t.Fatalf("first read: %s %v", src, err)
	}
	types := fusionrank.EventTypes
	for b := range 6 {
		var evs []fusionrank.Event
		for i := range 10 {
			k := b*10 + i
			// Timestamps out of order within and across batches.
			ts := now.Add(-time.Duration(rng.IntN(72*60)) * time.Minute)
			evs = append(evs, fusionrank.Event{EventID: fmt.Sprintf("pr-e%d", k), UserID: user,
				ItemID: fmt.Sprintf("pr-%d", rng.IntN(35)), Type: types[rng.IntN(4)], Timestamp: ts})
		}
		if _, err := s.IngestEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	inc, src, err := s.Profile(ctx, user)
	if err != nil || src != SourceCache {
		t.Fatalf("incremental read: %s %v", src, err)
	}
	testenv.DeleteNamespace(ctx, s.rdb, s.opt.Namespace)
	rebuilt, src, err := s.Profile(ctx, user)
	if err != nil || src != SourceRebuilt {
		t.Fatalf("read after wipe: %s %v", src, err)
	}
	if inc.Events != 60 || rebuilt.Events != 60 {
		t.Fatalf("events: incremental %d, rebuilt %d; want 60", inc.Events, rebuilt.Events)
	}
	if fmt.Sprint(inc.RecentIDs()) != fmt.Sprint(rebuilt.RecentIDs()) || fmt.Sprint(inc.Bought) != fmt.Sprint(rebuilt.Bought) || len(inc.Bought) == 0 {
		t.Fatalf("recent items differ:\nincremental %v\nrebuilt     %v", inc.RecentIDs(), rebuilt.RecentIDs())
	}
	if len(inc.Modalities) != 2 || len(rebuilt.Modalities) != 2 {
		t.Fatalf("modalities: %d vs %d", len(inc.Modalities), len(rebuilt.Modalities))
	}
	for m, a := range inc.Modalities {
		b := rebuilt.Modalities[m]
		if b == nil || a.Ref != b.Ref || math.Abs(a.Weight-b.Weight) > 1e-9*b.Weight {
			t.Fatalf("%s: ref/weight %d/%v vs %d/%v", m, a.Ref, a.Weight, b.Ref, b.Weight)
		}
		for i := range a.Mean {
			if d := math.Abs(float64(a.Mean[i] - b.Mean[i])); d > 1e-6 {
				t.Fatalf("%s[%d]: incremental %v, rebuilt %v (diff %g)", m, i, a.Mean[i], b.Mean[i], d)
			}
		}
	}
	f, err := s.UserFeatures(ctx, user)
	if err != nil || len(f.RecentItems) == 0 || f.Profile["image"].Dim != 4 || f.Source != SourceCache {
		t.Fatalf("user features: %+v %v", f, err)
	}
}

// TestExportIsPointInTime plants a later event and proves it never appears in an
// earlier example, neither in the history nor in the counters.
func TestExportIsPointInTime(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, now)
	ctx := context.Background()
	base := now.Add(-48 * time.Hour)
	var evs []fusionrank.Event
	for i := range 10 {
		evs = append(evs, fusionrank.Event{EventID: fmt.Sprintf("pit-%d", i), UserID: "pit-u", ItemID: fmt.Sprintf("pit-i%d", i%4),
			Type: fusionrank.Click, Timestamp: base.Add(time.Duration(i) * time.Minute)})
	}
	// The planted future: a purchase of a unique item by the same user, after all others,
	// inserted first so that its sequence number is the smallest.
	planted := fusionrank.Event{EventID: "pit-planted", UserID: "pit-u", ItemID: "pit-future", Type: fusionrank.Purchase, Timestamp: base.Add(time.Hour)}
	if _, err := s.IngestEvents(ctx, []fusionrank.Event{planted}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.IngestEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	seen := 0
	_, err := s.Export(ctx, ExportOptions{}, func(ex Example) error {
		if ex.Event.UserID != "pit-u" {
			return nil
		}
		seen++
		for _, h := range ex.History {
			if !h.TS.Before(ex.Event.Timestamp) && h.TS != ex.Event.Timestamp {
				t.Errorf("%s: history holds a later event at %s", ex.Event.EventID, h.TS)
			}
			if h.ItemID == "pit-future" && ex.Event.EventID != "pit-planted" {
				t.Errorf("%s: the planted future item is in its history", ex.Event.EventID)
			}
		}
		if ex.Event.EventID != "pit-planted" {
			if p := ex.At.Popularity("pit-future"); p.Week != 0 {
				t.Errorf("%s: the planted item already has popularity %v", ex.Event.EventID, p)
			}
			for i := range 4 {
				if c := ex.At.Covisitation(fmt.Sprintf("pit-i%d", i), "pit-future"); c != 0 {
					t.Errorf("%s: co-visitation with the planted item is %v", ex.Event.EventID, c)
				}
			}
		} else if len(ex.History) != 10 || ex.History[0].ItemID != "pit-i1" {
			t.Errorf("the planted event's history: %+v", ex.History)
		}
		// The example's own event is not counted yet.
		if p := ex.At.Popularity(ex.Event.ItemID); ex.Event.EventID == "pit-0" && p.Week != 0 {
			t.Errorf("pit-0 sees itself in popularity: %v", p)
		}
		return nil
	})
	if err != nil || seen != 11 {
		t.Fatalf("export: %d examples of the user, err %v", seen, err)
	}
}

// TestCountersIncrementalEqualRebuilt: popularity windows and co-visitation counts kept
// up event by event equal the ones rebuilt from Postgres after the cache is wiped.
func TestCountersIncrementalEqualRebuilt(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 30, 0, 0, time.UTC)
	s := newStore(t, now)
	ctx := context.Background()
	items := []string{"cnt-a", "cnt-b", "cnt-c", "cnt-d"}
	send := func(k0, n int) {
		var evs []fusionrank.Event
		for k := k0; k < k0+n; k++ {
			evs = append(evs, fusionrank.Event{EventID: fmt.Sprintf("cnt-%d", k), UserID: fmt.Sprintf("cnt-u%d", k%3),
				ItemID: items[(k*7)%4], Type: fusionrank.View, Timestamp: now.Add(-time.Duration(40-k) * 7 * time.Minute)})
		}
		if _, err := s.IngestEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	read := func() ([]Popularity, [][]float64) {
		p, err := s.Popularities(ctx, items, now)
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.Covisitation(ctx, items, items)
		if err != nil {
			t.Fatal(err)
		}
		return p, c
	}
	send(0, 20)
	read() // builds the sets from Postgres
	send(20, 20)
	incP, incC := read() // kept up incrementally
	testenv.DeleteNamespace(ctx, s.rdb, s.opt.Namespace)
	rebP, rebC := read()
	if fmt.Sprint(incP) != fmt.Sprint(rebP) {
		t.Fatalf("popularity: incremental %v, rebuilt %v", incP, rebP)
	}
	if fmt.Sprint(incC) != fmt.Sprint(rebC) {
		t.Fatalf("co-visitation: incremental %v, rebuilt %v", incC, rebC)
	}
	var total float64
	for _, p := range rebP {
		total += p.Day
	}
	if total == 0 {
		t.Fatal("no popularity counted")
	}
}

func TestTopUsers(t *testing.T) {
	s := newStore(t, time.Now())
	ctx := context.Background()
	if _, err := s.PutItem(ctx, fusionrank.Item{ID: "top-1", Active: true}); err != nil {
		t.Fatal(err)
	}
	// A user of this test with three events, two with one: the most first, ties by id.
	var evs []fusionrank.Event
	for i, u := range []string{"top-b", "top-a", "top-c", "top-c", "top-c"} {
		evs = append(evs, fusionrank.Event{EventID: fmt.Sprintf("top-%d", i), UserID: u, ItemID: "top-1", Type: fusionrank.View, Timestamp: time.Now().Add(-time.Hour)})
	}
	if _, err := s.IngestEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	users, err := s.TopUsers(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []UserEvents
	for _, u := range users {
		if strings.HasPrefix(u.UserID, "top-") {
			got = append(got, u)
		}
	}
	want := []UserEvents{{"top-c", 3}, {"top-a", 1}, {"top-b", 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%v, want %v", got, want)
	}
}
