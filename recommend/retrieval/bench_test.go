package retrieval

import (
	"os"
	"sync"
	"testing"
)

// benchSet is a built catalogue shared by the benchmarks of one size, so
// that b.N rounds do not rebuild it.
type benchSet struct {
	dim     int
	items   []float32
	queries []float32
	exact   *Exact
	hnsw    *HNSW
	truth   [][]Hit
}

var (
	benchMu   sync.Mutex
	benchSets = map[int]*benchSet{}
)

const benchDim, benchK, benchQueries = 128, 100, 200

// getBenchSet builds (once per size) the clustered synthetic catalogue of
// n items, d = 128, with an Exact index, an HNSW index with default knobs
// built by SetBatch, and the exact top-100 of benchQueries held-out queries.
func getBenchSet(b *testing.B, n int) *benchSet {
	benchMu.Lock()
	defer benchMu.Unlock()
	if s, ok := benchSets[n]; ok {
		return s
	}
	b.StopTimer()
	defer b.StartTimer()
	clusters := max(16, min(1024, n/1000))
	items, queries := mixtureSplit(n, benchQueries, benchDim, clusters, 0.7, 7)
	s := &benchSet{dim: benchDim, items: items, queries: queries, exact: NewExact(benchDim)}
	for i := range n {
		s.exact.Set(int32(i), items[i*benchDim:(i+1)*benchDim])
	}
	s.hnsw = NewHNSW(benchDim, HNSWConfig{})
	s.hnsw.SetBatch(seqSlots(n), items)
	for i := range benchQueries {
		s.truth = append(s.truth, s.exact.SearchTo(nil, s.query(i), benchK, nil))
	}
	benchSets[n] = s
	return s
}

func (s *benchSet) query(i int) []float32 {
	i %= benchQueries
	return s.queries[i*s.dim : (i+1)*s.dim]
}

func benchSearch(b *testing.B, n int, idx func(*benchSet) Index) {
	s := getBenchSet(b, n)
	ix := idx(s)
	var rec float64
	dst := make([]Hit, 0, benchK)
	for i := range benchQueries {
		dst = ix.SearchTo(dst, s.query(i), benchK, nil)
		rec += recallAt(dst, s.truth[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		dst = ix.SearchTo(dst, s.query(i), benchK, nil)
		i++
	}
	b.ReportMetric(rec/benchQueries, "recall@100")
}

func BenchmarkExactSearch100k(b *testing.B) {
	benchSearch(b, 100_000, func(s *benchSet) Index { return s.exact })
}

func BenchmarkHNSWSearch100k(b *testing.B) {
	benchSearch(b, 100_000, func(s *benchSet) Index { return s.hnsw })
}

// BenchmarkHNSWSearch1M needs FUSIONRANK_BENCH_1M=1: building the 1M × 128
// catalogue takes minutes and about 2.5 GB.
func BenchmarkHNSWSearch1M(b *testing.B) {
	if os.Getenv("FUSIONRANK_BENCH_1M") != "1" {
		b.Skip("set FUSIONRANK_BENCH_1M=1 to run (builds a 1M-item index)")
	}
	benchSearch(b, 1_000_000, func(s *benchSet) Index { return s.hnsw })
}

// BenchmarkHNSWBuild20k measures SetBatch of 20k clustered items, d = 128,
// on all cores (HNSWConfig.Workers default).
func BenchmarkHNSWBuild20k(b *testing.B) {
	const n = 20_000
	items := mixture(n, benchDim, 20, 0.7, 3)
	slots := seqSlots(n)
	b.ReportAllocs()
	for b.Loop() {
		h := NewHNSW(benchDim, HNSWConfig{})
		h.SetBatch(slots, items)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/item")
}

// BenchmarkHNSWSet measures adding single items one by one to a 20k index
// (the incremental update path, under the write lock).
func BenchmarkHNSWSet(b *testing.B) {
	const n = 20_000
	items := mixture(2*n, benchDim, 20, 0.7, 4)
	h := NewHNSW(benchDim, HNSWConfig{})
	h.SetBatch(seqSlots(n), items[:n*benchDim])
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		j := n + i%n
		h.Set(int32(j), items[j*benchDim:(j+1)*benchDim])
		i++
	}
}
