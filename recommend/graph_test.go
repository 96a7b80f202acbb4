package recommend

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/recommend/retrieval"
)

// graphEnv is the environment of a test that builds retrieval graphs of more than
// ExactLimit items: far more than a request's time, tenfold under the race detector,
// which make test runs these tests without (they are skipped under it). Its context
// allows five minutes.
func graphEnv(t *testing.T, name string) (*env, context.Context) {
	t.Helper()
	if raceEnabled {
		t.Skip("builds 20k-item retrieval graphs (tens of seconds under the race detector); make test runs it without")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return newEnv(t, name, Options{}), ctx
}

// putBatch stores items in one batch, as a bulk load does, and loads them into the
// catalogue.
func (e *env) putBatch(t *testing.T, ctx context.Context, items []fusionrank.Item) {
	t.Helper()
	errs, err := e.fs.PutItems(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.fs.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestModelGraphStored: a model registered with more than ExactLimit learned vectors
// stores its retrieval graph; a server loads that graph instead of building one, and
// the index it gets finds what an exact scan finds. A stored graph that no longer fits
// the model's vectors is not used: the index is built, and works; IndexModel then
// stores one that fits.
func TestModelGraphStored(t *testing.T) {
	// Three graphs of 20k items are built (two registrations and IndexModel), and one
	// index at a load.
	e, ctx := graphEnv(t, "graph")
	n := ExactLimit + 2 // one more than a graph needs, since v2 loses one below
	items := make([]fusionrank.Item, n)
	ids := make([]string, n)
	for i := range items {
		ids[i] = fmt.Sprintf("g%05d", i)
		items[i] = item(ids[i], "", 0, 1, float32(i%5), float32(i%3), 1)
	}
	e.putBatch(t, ctx, items)
	register(t, e, "v1", 1, ids)
	var stored int
	if err := e.models.reg.db.Pool.QueryRow(ctx, `SELECT cardinality(item_ids) FROM model_graphs WHERE model_version = 'v1' AND modality = 'collab'`).Scan(&stored); err != nil {
		t.Fatalf("the model's graph: %v", err)
	}
	if stored != n {
		t.Fatalf("stored graph of %d items, want %d", stored, n)
	}

	// serve activates version v and loads it as a server's Sync does.
	serve := func(v string) {
		t.Helper()
		if _, err := e.models.reg.ActivateModel(ctx, v); err != nil {
			t.Fatal(err)
		}
		if _, err := e.models.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// recall is the index's recall@10 against an exact scan of the same vectors, over
	// 50 of the items' own vectors as queries.
	recall := func(l *live) float64 {
		t.Helper()
		b := l.learned["collab"]
		exact := retrieval.NewExact(b.Dim)
		for s := range int32(len(b.Has)) {
			if v := b.Vector(s); v != nil {
				exact.Set(s, v)
			}
		}
		found, total := 0, 0
		for q := range 50 {
			v := b.Vector(int32(q * 397 % n))
			want := exact.SearchTo(nil, v, 10, nil)
			got := l.recentIndex.SearchTo(nil, v, 10, nil)
			in := map[int32]bool{}
			for _, h := range got {
				in[h.Slot] = true
			}
			for _, h := range want {
				total++
				if in[h.Slot] {
					found++
				}
			}
		}
		return float64(found) / float64(total)
	}

	serve("v1")
	if got := e.models.RecentIndex(); got != "stored graph" {
		t.Fatalf("v1's recent-item index: %q, want the stored graph", got)
	}
	if r := recall(e.models.current()); r < 0.95 {
		t.Errorf("v1 from the stored graph: recall@10 %.3f against an exact scan, want ≥ 0.95", r)
	}

	// v2's graph names an item whose vector is then removed: the load builds instead.
	register(t, e, "v2", 2, ids)
	if _, err := e.models.reg.db.Pool.Exec(ctx, `DELETE FROM item_vectors WHERE model_version = 'v2' AND item_id = 'g00007'`); err != nil {
		t.Fatal(err)
	}
	serve("v2")
	if got := e.models.RecentIndex(); !strings.HasPrefix(got, "built (the stored graph has 20002 items, the model's vectors 20001") {
		t.Fatalf("v2's recent-item index: %q, want one built because the graph does not fit", got)
	}
	if r := recall(e.models.current()); r < 0.95 {
		t.Errorf("v2 built: recall@10 %.3f against an exact scan, want ≥ 0.95", r)
	}

	// models index: v2 gets a graph of the vectors it has now, and loads from it.
	if stored, err := e.models.reg.IndexModel(ctx, "v2"); err != nil || !stored {
		t.Fatalf("IndexModel(v2): stored %v, %v", stored, err)
	}
	serve("v1")
	serve("v2")
	if got := e.models.RecentIndex(); got != "stored graph" {
		t.Fatalf("v2 after IndexModel: %q, want the stored graph", got)
	}
	if r := recall(e.models.current()); r < 0.95 {
		t.Errorf("v2 from its new graph: recall@10 %.3f against an exact scan, want ≥ 0.95", r)
	}
	if _, err := e.models.reg.IndexModel(ctx, "nope"); fusionrank.ErrorCode(err) != fusionrank.NotFound {
		t.Errorf("IndexModel of an unknown version: %v, want not found", err)
	}
}
