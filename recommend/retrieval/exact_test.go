package retrieval

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fusionrank/fusionrank/internal/kernel"
)

// naiveSearch scores every live row of rows (nil rows are absent), sorts
// all of them and keeps k: the reference the heap must reproduce.
func naiveSearch(rows [][]float32, q []float32, k int, allow func(int32) bool) []Hit {
	var all []Hit
	for s, v := range rows {
		if v == nil || (allow != nil && !allow(int32(s))) {
			continue
		}
		u := make([]float32, len(v))
		normaliseTo(u, v)
		all = append(all, Hit{int32(s), kernel.Dot(q, u)})
	}
	slices.SortFunc(all, func(a, b Hit) int {
		if worse(b, a) {
			return -1
		}
		if worse(a, b) {
			return 1
		}
		return 0
	})
	if k < 0 {
		k = 0
	}
	return all[:min(k, len(all))]
}

func randVec(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func TestExactMatchesNaive(t *testing.T) {
	const dim = 9
	even := func(s int32) bool { return s%2 == 0 }
	none := func(int32) bool { return false }
	cases := []struct {
		name  string
		n, k  int
		del   int // delete every del-th slot (0: none)
		allow func(int32) bool
	}{
		{"empty", 0, 5, 0, nil},
		{"one item", 1, 5, 0, nil},
		{"one item k=1", 1, 1, 0, nil},
		{"k zero", 10, 0, 0, nil},
		{"k negative", 10, -1, 0, nil},
		{"k greater than n", 7, 20, 0, nil},
		{"k equals n", 7, 7, 0, nil},
		{"many", 500, 10, 0, nil},
		{"allow even", 500, 10, 0, even},
		{"allow none", 50, 10, 0, none},
		{"with deletions", 300, 25, 3, nil},
		{"deletions and filter, k>eligible", 40, 30, 2, even},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.n), 9))
			e := NewExact(dim)
			rows := make([][]float32, tc.n)
			for i := range tc.n {
				rows[i] = randVec(rng, dim)
				e.Set(int32(i), rows[i])
			}
			live := tc.n
			if tc.del > 0 {
				for i := 0; i < tc.n; i += tc.del {
					e.Delete(int32(i))
					rows[i] = nil
					live--
				}
			}
			if e.Len() != live {
				t.Fatalf("Len = %d, want %d", e.Len(), live)
			}
			for range 5 {
				q := randVec(rng, dim)
				qc := slices.Clone(q)
				got := e.SearchTo(nil, q, tc.k, tc.allow)
				want := naiveSearch(rows, q, tc.k, tc.allow)
				if !slices.Equal(q, qc) {
					t.Fatal("SearchTo modified the query")
				}
				if len(got) != len(want) {
					t.Fatalf("got %d hits, want %d", len(got), len(want))
				}
				for i := range got {
					if got[i].Slot != want[i].Slot || !close32(got[i].Score, want[i].Score) {
						t.Fatalf("hit %d: got %+v, want %+v", i, got[i], want[i])
					}
				}
			}
		})
	}
}

func close32(a, b float32) bool {
	d := a - b
	return d < 1e-5 && d > -1e-5
}

func TestExactSetReplacesAndDoesNotAlias(t *testing.T) {
	e := NewExact(3)
	v := []float32{3, 4, 0}
	e.Set(5, v)
	if !slices.Equal(v, []float32{3, 4, 0}) {
		t.Fatal("Set modified its input")
	}
	v[0] = -100 // the index must hold its own copy
	got := e.SearchTo(nil, []float32{1, 0, 0}, 1, nil)
	if len(got) != 1 || got[0].Slot != 5 || !close32(got[0].Score, 0.6) {
		t.Fatalf("got %+v, want slot 5 score 0.6 (normalised copy)", got)
	}
	e.Set(5, []float32{-1, 0, 0})
	if got = e.SearchTo(got, []float32{1, 0, 0}, 1, nil); got[0].Score != -1 {
		t.Fatalf("after replace got %+v, want score -1", got)
	}
	if e.Len() != 1 || !e.Contains(5) || e.Contains(4) {
		t.Fatalf("Len %d Contains(5) %v Contains(4) %v", e.Len(), e.Contains(5), e.Contains(4))
	}
	e.Delete(5)
	e.Delete(5)    // twice is fine
	e.Delete(1000) // absent is fine
	if e.Len() != 0 || len(e.SearchTo(got, []float32{1, 0, 0}, 3, nil)) != 0 {
		t.Fatal("deleted slot still returned")
	}
}

func TestPanicsOnMisuse(t *testing.T) {
	for name, f := range map[string]func(){
		"exact dim":          func() { NewExact(0) },
		"exact set len":      func() { NewExact(3).Set(0, []float32{1}) },
		"exact query len":    func() { NewExact(3).SearchTo(nil, []float32{1}, 1, nil) },
		"exact slot":         func() { NewExact(1).Set(-1, []float32{1}) },
		"exact NaN":          func() { NewExact(1).Set(0, []float32{float32(nanF())}) },
		"hnsw set len":       func() { NewHNSW(3, HNSWConfig{}).Set(0, []float32{1}) },
		"hnsw query len":     func() { NewHNSW(3, HNSWConfig{}).SearchTo(nil, []float32{1}, 1, nil) },
		"hnsw batch len":     func() { NewHNSW(2, HNSWConfig{}).SetBatch([]int32{0}, []float32{1}) },
		"hnsw batch NaN":     func() { NewHNSW(1, HNSWConfig{}).SetBatch([]int32{0, 1}, []float32{1, float32(nanF())}) },
		"hnsw bad M":         func() { NewHNSW(2, HNSWConfig{M: 1}) },
		"hnsw bad efSearch":  func() { NewHNSW(2, HNSWConfig{}).SetEfSearch(0) },
		"hnsw negative slot": func() { NewHNSW(1, HNSWConfig{}).Delete(-3) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		})
	}
}

func nanF() float64 {
	var z float64
	return z / z
}

func TestSearchDoesNotAllocate(t *testing.T) {
	const dim, n, k = 32, 2000, 50
	items := mixture(n, dim, 8, 0.7, 5)
	q := items[:dim]
	for name, idx := range map[string]Index{"exact": NewExact(dim), "hnsw": NewHNSW(dim, HNSWConfig{})} {
		for i := range n {
			idx.Set(int32(i), items[i*dim:(i+1)*dim])
		}
		dst := make([]Hit, 0, k)
		allow := func(s int32) bool { return s%3 != 0 }
		dst = idx.SearchTo(dst, q, k, allow) // warm the workspace
		if a := testing.AllocsPerRun(50, func() { dst = idx.SearchTo(dst, q, k, allow) }); a != 0 {
			t.Errorf("%s: %v allocations per search, want 0", name, a)
		}
	}
}
