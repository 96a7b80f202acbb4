package retrieval

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/fusionrank/fusionrank/internal/kernel"
)

// indexes returns one of each implementation, for the contract tests that
// every Index must pass.
func indexes(dim int) map[string]Index {
	return map[string]Index{
		"exact": NewExact(dim),
		"hnsw":  NewHNSW(dim, HNSWConfig{M: 8, EfConstruction: 64, EfSearch: 64}),
	}
}

func TestIndexContract(t *testing.T) {
	const dim = 16
	for name, idx := range indexes(dim) {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			q := randVec(rng, dim)
			if got := idx.SearchTo(nil, q, 10, nil); len(got) != 0 || idx.Len() != 0 {
				t.Fatalf("empty index returned %v, Len %d", got, idx.Len())
			}
			idx.Set(3, q)
			got := idx.SearchTo(nil, q, 10, nil)
			if len(got) != 1 || got[0].Slot != 3 || !close32(got[0].Score, float32(len32(q))) {
				t.Fatalf("one item: got %+v", got)
			}
			if got = idx.SearchTo(got, q, 0, nil); len(got) != 0 {
				t.Fatalf("k=0 returned %v", got)
			}
			const n = 300
			rows := make([][]float32, n)
			for i := range n {
				rows[i] = randVec(rng, dim)
				idx.Set(int32(i), rows[i])
			}
			if idx.Len() != n {
				t.Fatalf("Len %d, want %d", idx.Len(), n)
			}
			// k > n: everything, best first.
			got = idx.SearchTo(got, q, 2*n, nil)
			if len(got) != n {
				t.Fatalf("k>n: got %d hits, want %d", len(got), n)
			}
			if !slices.IsSortedFunc(got, func(a, b Hit) int {
				if worse(b, a) {
					return -1
				}
				return 1
			}) {
				t.Fatal("hits not sorted best first")
			}
			// The filter is honoured.
			odd := func(s int32) bool { return s%2 == 1 }
			for _, h := range idx.SearchTo(got, q, 50, odd) {
				if h.Slot%2 == 0 {
					t.Fatalf("filtered-out slot %d returned", h.Slot)
				}
			}
			// A changed vector moves: slot 7 becomes the query direction.
			idx.Set(7, q)
			if got = idx.SearchTo(got, q, 1, nil); len(got) != 1 || got[0].Slot != 7 {
				t.Fatalf("after moving slot 7 to the query, top hit is %+v", got)
			}
			// Deleted slots never come back, at any k.
			for i := 0; i < n; i += 4 {
				idx.Delete(int32(i))
			}
			for _, k := range []int{1, 10, n} {
				for _, h := range idx.SearchTo(got, q, k, nil) {
					if h.Slot%4 == 0 {
						t.Fatalf("k=%d: deleted slot %d returned", k, h.Slot)
					}
				}
			}
			if want := n - n/4; idx.Len() != want {
				t.Fatalf("Len %d after deletes, want %d", idx.Len(), want)
			}
			// A deleted slot set again is found again.
			idx.Set(8, q)
			if got = idx.SearchTo(got, q, 2, nil); len(got) != 2 || (got[0].Slot != 8 && got[1].Slot != 8) {
				t.Fatalf("revived slot 8 not found: %+v", got)
			}
		})
	}
}

func len32(v []float32) float64 {
	return float64(kernel.Dot(v, v)) / float64(sqrt32(kernel.Dot(v, v)))
}

func sqrt32(x float32) float32 {
	// Newton iterations are plenty for a test helper.
	r := x
	for range 30 {
		r = 0.5 * (r + x/r)
	}
	return r
}

// recallVsExact returns mean recall@k of h against exact search.
func recallVsExact(h, ex Index, queries []float32, dim, k int, allow func(int32) bool) float64 {
	nq := len(queries) / dim
	var sum float64
	var got, want []Hit
	for i := range nq {
		q := queries[i*dim : (i+1)*dim]
		got = h.SearchTo(got, q, k, allow)
		want = ex.SearchTo(want, q, k, allow)
		sum += recallAt(got, want)
	}
	return sum / float64(nq)
}

// TestHNSWRecall builds the index in parallel (SetBatch) on a seeded
// clustered set and checks recall against exact search, before and after
// updates and deletions. Thresholds sit a little under the measured values
// (see doc.go) so a regression in graph quality fails the test.
func TestHNSWRecall(t *testing.T) {
	dim, n, nq := 128, 20000, 100
	if raceEnabled || testing.Short() {
		dim, n, nq = 32, 3000, 50
	}
	items, queries := mixtureSplit(n, nq, dim, 20, 0.7, 1)
	h := NewHNSW(dim, HNSWConfig{})
	h.SetBatch(seqSlots(n), items)
	ex := NewExact(dim)
	for i := range n {
		ex.Set(int32(i), items[i*dim:(i+1)*dim])
	}
	if h.Len() != n {
		t.Fatalf("Len %d, want %d", h.Len(), n)
	}
	check := func(stage string, k int, min float64, allow func(int32) bool) {
		t.Helper()
		r := recallVsExact(h, ex, queries, dim, k, allow)
		t.Logf("%s: recall@%d = %.4f", stage, k, r)
		if r < min {
			t.Errorf("%s: recall@%d = %.4f, want >= %.2f", stage, k, r, min)
		}
	}
	check("built", 10, 0.98, nil)
	check("built", 100, 0.97, nil)
	check("filter 1 in 2", 100, 0.95, func(s int32) bool { return s%2 == 0 })

	// The effort of one call: ef ≤ 0 is the index's default; less effort (the
	// serving default keeps max(100, k)) costs some recall, more effort gains some.
	var a, b []Hit
	efRecall := map[int]float64{}
	for i := range nq {
		q := queries[i*dim : (i+1)*dim]
		a, b = h.SearchTo(a, q, 100, nil), h.SearchEfTo(b, q, 100, 0, nil)
		if !slices.Equal(a, b) {
			t.Fatalf("query %d: SearchEfTo with ef 0 differs from SearchTo", i)
		}
		want := ex.SearchTo(nil, q, 100, nil)
		for _, ef := range []int{100, 400} {
			efRecall[ef] += recallAt(h.SearchEfTo(a, q, 100, ef, nil), want) / float64(nq)
		}
	}
	t.Logf("recall@100 at ef 100: %.4f, at ef 400: %.4f", efRecall[100], efRecall[400])
	if efRecall[100] < 0.9 || efRecall[400] < efRecall[100] {
		t.Errorf("recall@100 at ef 100 = %.4f, at ef 400 = %.4f", efRecall[100], efRecall[400])
	}

	// Replace a tenth of the vectors with fresh ones and delete another
	// tenth: the graph must stay as good, and deleted slots never return.
	rng := rand.New(rand.NewPCG(2, 3))
	fresh := mixture(n/10, dim, 20, 0.7, 99)
	for i := range n / 10 {
		s := int32(rng.IntN(n))
		v := fresh[i*dim : (i+1)*dim]
		h.Set(s, v)
		ex.Set(s, v)
	}
	deleted := map[int32]bool{}
	for range n / 10 {
		s := int32(rng.IntN(n))
		deleted[s] = true
		h.Delete(s)
		ex.Delete(s)
	}
	if h.Len() != ex.Len() || h.Tombstones() != len(deleted) {
		t.Fatalf("Len %d, exact Len %d; Tombstones %d, want %d", h.Len(), ex.Len(), h.Tombstones(), len(deleted))
	}
	check("after updates and deletes", 100, 0.95, nil)
	var got []Hit
	for i := range nq {
		got = h.SearchTo(got, queries[i*dim:(i+1)*dim], 100, nil)
		for _, g := range got {
			if deleted[g.Slot] {
				t.Fatalf("deleted slot %d returned", g.Slot)
			}
		}
	}
	// Every updated item is findable at once: its own vector as the query
	// puts it first.
	added := mixture(50, dim, 20, 0.7, 123)
	for i := range 50 {
		s := int32(n + i) // new slots, added one by one after the batch
		v := added[i*dim : (i+1)*dim]
		h.Set(s, v)
		if got = h.SearchTo(got, v, 1, nil); len(got) == 0 || got[0].Slot != s {
			t.Fatalf("new slot %d not found first by its own vector: %+v", s, got)
		}
	}
}

// TestHNSWGloVe is the real-data check: 10k GloVe word vectors (d = 100).
func TestHNSWGloVe(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("slow under -race / -short")
	}
	vecs, dim := loadGloVe(t, 10000)
	n := len(vecs) / dim
	h := NewHNSW(dim, HNSWConfig{})
	h.SetBatch(seqSlots(n), vecs)
	ex := NewExact(dim)
	for i := range n {
		ex.Set(int32(i), vecs[i*dim:(i+1)*dim])
	}
	// Queries: every 100th word (they are in the index, as in similar-item
	// lookups).
	var queries []float32
	for i := 0; i < n; i += 100 {
		queries = append(queries, vecs[i*dim:(i+1)*dim]...)
	}
	r := recallVsExact(h, ex, queries, dim, 100, nil)
	t.Logf("GloVe n=%d d=%d: recall@100 = %.4f", n, dim, r)
	if r < 0.95 {
		t.Errorf("recall@100 = %.4f, want >= 0.95", r)
	}
}

func TestSetBatchLastWins(t *testing.T) {
	const dim = 4
	h := NewHNSW(dim, HNSWConfig{Workers: 2})
	n := 400
	rng := rand.New(rand.NewPCG(5, 6))
	slots := seqSlots(n)
	var vecs []float32
	for range n {
		vecs = append(vecs, randVec(rng, dim)...)
	}
	target := []float32{1, 0, 0, 0}
	// Slot 10 appears again at the end with the target vector: it must win.
	slots = append(slots, 10)
	vecs = append(vecs, target...)
	h.SetBatch(slots, vecs)
	if h.Len() != n {
		t.Fatalf("Len %d, want %d", h.Len(), n)
	}
	// A second batch re-sets existing slots.
	h.SetBatch([]int32{20, 21}, append([]float32{0, 1, 0, 0}, 0, 0, 1, 0))
	h.SetEfSearch(n)
	for _, c := range []struct {
		q    []float32
		slot int32
	}{{target, 10}, {[]float32{0, 1, 0, 0}, 20}, {[]float32{0, 0, 1, 0}, 21}} {
		if got := h.SearchTo(nil, c.q, 1, nil); len(got) != 1 || got[0].Slot != c.slot || !close32(got[0].Score, 1) {
			t.Fatalf("query %v: got %+v, want slot %d with score 1", c.q, got, c.slot)
		}
	}
}

// TestConcurrentSearchWhileSetting runs searches on several goroutines
// while one writer adds, replaces and deletes; run it with -race.
func TestConcurrentSearchWhileSetting(t *testing.T) {
	const dim, n = 16, 1500
	items := mixture(2*n, dim, 8, 0.7, 8)
	for name, idx := range indexes(dim) {
		t.Run(name, func(t *testing.T) {
			for i := range n {
				idx.Set(int32(i), items[i*dim:(i+1)*dim])
			}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for r := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var dst []Hit
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						q := items[((i*7+r)%(2*n))*dim:][:dim]
						dst = idx.SearchTo(dst, q, 20, nil)
						if len(dst) == 0 {
							t.Error("empty result while the index has items")
							return
						}
					}
				}()
			}
			for i := n; i < 2*n; i++ {
				idx.Set(int32(i), items[i*dim:(i+1)*dim])
				if i%3 == 0 {
					idx.Delete(int32(i - n))
				}
				if i%5 == 0 {
					idx.Set(int32(i-n+1), items[(i-3)*dim:(i-2)*dim])
				}
			}
			close(stop)
			wg.Wait()
		})
	}
}
