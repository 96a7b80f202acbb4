package recommend

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/recommend/retrieval"
)

// TestCatalogGraphStored: a process that builds the catalogue's retrieval graph stores
// it; the next one loads it and answers exactly as the builder's index does; items
// changed, deactivated or added since are brought up to date when it loads, and the
// caught-up graph is stored again (a deleted item's node with it, deleted again at the
// next load); a graph too far behind the catalogue, or of other vectors, is not loaded
// but built again and stored anew.
func TestCatalogGraphStored(t *testing.T) {
	e, ctx := graphEnv(t, "catgraph")
	db := e.models.reg.db
	c := e.fs.Catalog()
	rng := rand.New(rand.NewPCG(7, 11))
	vec := func() []float32 {
		v := make([]float32, 4)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	n := ExactLimit + 200
	items := make([]fusionrank.Item, n)
	for i := range items {
		items[i] = item(fmt.Sprintf("c%05d", i), "", 0, vec()...)
	}
	e.putBatch(t, ctx, items)

	graphs := NewCatalogGraphs(db, nil)
	// storedSeq waits until the image graph stored is of the catalogue's current seq
	// (the store runs in the background) and returns its item count.
	storedSeq := func() int {
		t.Helper()
		c.RLock()
		want := c.Seq()
		c.RUnlock()
		deadline := time.Now().Add(time.Minute)
		for {
			var seq int64
			var items int
			err := db.Pool.QueryRow(ctx, `SELECT seq, cardinality(item_ids) FROM catalog_graphs WHERE modality = 'image'`).Scan(&seq, &items)
			if err == nil && seq == want {
				return items
			}
			if time.Now().After(deadline) {
				t.Fatalf("no image graph of seq %d stored within a minute: seq %d, %v", want, seq, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// search is the image index's top 10 for q.
	search := func(ix *indexes, q []float32) []retrieval.Hit {
		return ix.get("image").SearchTo(nil, q, 10, nil)
	}
	// recall is the index's recall@10 against an exact scan of the active items.
	recall := func(ix *indexes) float64 {
		t.Helper()
		exact := retrieval.NewExact(4)
		c.RLock()
		b := c.Block("image")
		for s := range int32(c.Len()) {
			if v := b.Vector(s); v != nil && c.Active(s) {
				exact.Set(s, v)
			}
		}
		c.RUnlock()
		found, total := 0, 0
		for range 50 {
			q := vec()
			in := map[int32]bool{}
			for _, h := range search(ix, q) {
				in[h.Slot] = true
			}
			for _, h := range exact.SearchTo(nil, q, 10, nil) {
				total++
				if in[h.Slot] {
					found++
				}
			}
		}
		return float64(found) / float64(total)
	}
	how := func(ix *indexes) string { return ix.made()["image"] }
	// sameAnswers checks that an index loaded from a stored graph answers 50 queries
	// exactly as the index the graph was stored from.
	sameAnswers := func(stored, loaded *indexes) {
		t.Helper()
		for range 50 {
			q := vec()
			if a, b := search(stored, q), search(loaded, q); !slices.Equal(a, b) {
				t.Fatalf("the loaded index answers %v, the one its graph was stored from %v", b, a)
			}
		}
	}

	built := newIndexes(c, graphs)
	if got := how(built); got != "built (no stored graph)" {
		t.Fatalf("first index: %q, want built for want of a stored graph", got)
	}
	if got := storedSeq(); got != n {
		t.Fatalf("stored graph of %d items, want %d", got, n)
	}
	loaded := newIndexes(c, graphs)
	if got := how(loaded); got != "stored graph (0 items changed since)" {
		t.Fatalf("second index: %q, want the stored graph", got)
	}
	sameAnswers(built, loaded)

	// Since the graph was stored: one item's vector turns, one item is deleted, one is
	// added. The next load brings all three up to date.
	turned, gone, added := vec(), "c00011", vec()
	e.putBatch(t, ctx, []fusionrank.Item{item("c00010", "", 0, turned...), item("new", "", 0, added...)})
	if err := e.fs.DeleteItem(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	goneVec := slices.Clone(items[11].Vectors["image"])
	caught := newIndexes(c, graphs)
	if got := how(caught); got != "stored graph (3 items changed since)" {
		t.Fatalf("index after three changes: %q, want the stored graph with 3 changes", got)
	}
	slotOf := func(id string) int32 {
		c.RLock()
		defer c.RUnlock()
		s, _ := c.Slot(id)
		return s
	}
	if h := search(caught, turned); len(h) == 0 || h[0].Slot != slotOf("c00010") {
		t.Errorf("the turned item is not the top hit for its new vector: %v", h)
	}
	if h := search(caught, added); len(h) == 0 || h[0].Slot != slotOf("new") {
		t.Errorf("the added item is not the top hit for its vector: %v", h)
	}
	if h := search(caught, goneVec); slices.ContainsFunc(h, func(h retrieval.Hit) bool { return h.Slot == slotOf(gone) }) {
		t.Errorf("the deleted item is still found: %v", h)
	}
	if r := recall(caught); r < 0.95 {
		t.Errorf("the caught-up index: recall@10 %.3f against an exact scan, want ≥ 0.95", r)
	}
	// The caught-up graph is stored again, the deleted item's node with it: the next
	// load has nothing to catch up on, deletes that node again, and answers as the
	// caught-up index.
	if got := storedSeq(); got != n+1 {
		t.Fatalf("caught-up graph stored with %d nodes, want %d (the deleted one kept as a node)", got, n+1)
	}
	next := newIndexes(c, graphs)
	if got := how(next); got != "stored graph (0 items changed since)" {
		t.Fatalf("index after the caught-up graph was stored: %q", got)
	}
	if h := search(next, goneVec); slices.ContainsFunc(h, func(h retrieval.Hit) bool { return h.Slot == slotOf(gone) }) {
		t.Errorf("the deleted item is found again after a reload: %v", h)
	}
	sameAnswers(caught, next)

	// More than a tenth of the items change: the graph is built, and the new one
	// stored.
	var many []fusionrank.Item
	for i := 100; i < 100+n/10; i++ {
		many = append(many, item(fmt.Sprintf("c%05d", i), "", 0, vec()...))
	}
	e.putBatch(t, ctx, many)
	rebuilt := newIndexes(c, graphs)
	if got, want := how(rebuilt), fmt.Sprintf("built (%d of the stored graph's %d items changed or are no longer served)", n/10+1, n+1); got != want {
		t.Fatalf("index after many changes: %q, want %q", got, want)
	}
	if got := storedSeq(); got != n {
		t.Fatalf("graph stored after the rebuild: %d items, want %d (one deleted, one added)", got, n)
	}
	if got := how(newIndexes(c, graphs)); got != "stored graph (0 items changed since)" {
		t.Fatalf("index after the rebuild's graph was stored: %q", got)
	}
	if r := recall(rebuilt); r < 0.95 {
		t.Errorf("the rebuilt index: recall@10 %.3f against an exact scan, want ≥ 0.95", r)
	}

	// A few vectors turn and nothing is removed: the index that caught up is stored
	// again, so the next start has nothing to catch up on and answers as it does.
	e.putBatch(t, ctx, []fusionrank.Item{item("c00020", "", 0, vec()...), item("c00021", "", 0, vec()...)})
	caughtUp := newIndexes(c, graphs)
	if got := how(caughtUp); got != "stored graph (2 items changed since)" {
		t.Fatalf("index after two changes: %q", got)
	}
	storedSeq()
	again := newIndexes(c, graphs)
	if got := how(again); got != "stored graph (0 items changed since)" {
		t.Fatalf("index after the caught-up graph was stored: %q", got)
	}
	sameAnswers(caughtUp, again)

	// A graph of other vectors, or one that does not decode, is built again.
	for _, tc := range []struct{ change, why string }{
		{`UPDATE catalog_graphs SET seq = seq - 1, dim = 5`, "the stored graph holds 5-dimensional vectors, the catalogue 4"},
		{`UPDATE catalog_graphs SET seq = seq - 1, version = 'enc-2'`, `the stored graph holds vectors of encoder version "enc-2", the catalogue ""`},
		{`UPDATE catalog_graphs SET seq = seq - 1, graph = substr(graph, 1, 100)`, "retrieval: malformed graph"},
		{`UPDATE catalog_graphs SET seq = seq - 1, item_ids[5] = 'nope'`, `the stored graph's item "nope" is not in the catalogue`},
	} {
		if _, err := db.Pool.Exec(ctx, tc.change); err != nil {
			t.Fatal(err)
		}
		if got := how(newIndexes(c, graphs)); !strings.HasPrefix(got, "built ("+tc.why) {
			t.Errorf("after %s: %q, want built because %s", tc.change, got, tc.why)
		}
		storedSeq() // the rebuilt graph replaces the damaged one
		var dim int
		if err := db.Pool.QueryRow(ctx, `SELECT dim FROM catalog_graphs WHERE modality = 'image' AND version = '' AND item_ids[5] <> 'nope'`).Scan(&dim); err != nil || dim != 4 {
			t.Fatalf("after %s the rebuilt graph was not stored: dim %d, %v", tc.change, dim, err)
		}
	}
}
