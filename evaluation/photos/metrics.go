package photos

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/internal/kernel"
)

// target is a case's product and coarse class.
type target struct{ product, coarse int }

// scorer ranks each case's target among the products (fine) and among the
// coarse classes (each scored by its best product), per variant, and keeps
// the ranks by case so the metrics do not depend on the order cases finish.
type scorer struct {
	variants, products, coarse int
	coarseOf                   []int
	fine, coarseR              [][]evaluation.Rank // [variant][case]
}

func newScorer(variants, products, coarse int, coarseOf []int) *scorer {
	return &scorer{variants: variants, products: products, coarse: coarse, coarseOf: coarseOf,
		fine: make([][]evaluation.Rank, variants), coarseR: make([][]evaluation.Rank, variants)}
}

// grow sizes the rank tables for n cases.
func (s *scorer) grow(n int) {
	for v := range s.variants {
		s.fine[v] = make([]evaluation.Rank, n)
		s.coarseR[v] = make([]evaluation.Rank, n)
	}
}

// newBuf returns a score buffer: one row of products per variant, plus a
// row for the coarse scores.
func (s *scorer) newBuf() [][]float32 {
	buf := make([][]float32, s.variants+1)
	for v := range s.variants {
		buf[v] = make([]float32, s.products)
	}
	buf[s.variants] = make([]float32, s.coarse)
	return buf
}

// record ranks case i's target in every variant's scores in buf. It is safe
// for concurrent use on distinct cases.
func (s *scorer) record(i int, buf [][]float32, t target) {
	cs := buf[s.variants]
	for v := range s.variants {
		scores := buf[v][:s.products]
		s.fine[v][i] = evaluation.TargetRank(scores, t.product)
		for c := range cs {
			cs[c] = -3e38
		}
		for p, x := range scores {
			if c := s.coarseOf[p]; x > cs[c] {
				cs[c] = x
			}
		}
		s.coarseR[v][i] = evaluation.TargetRank(cs, t.coarse)
	}
}

// metrics returns each variant's metrics: HR@k for Ks, NDCG@k for the Ks
// above 1, MRR, then the same prefixed coarse_.
func (s *scorer) metrics() []evaluation.Metrics {
	out := make([]evaluation.Metrics, s.variants)
	for v := range s.variants {
		out[v] = append(rankMetrics("", s.fine[v]), rankMetrics("coarse_", s.coarseR[v])...)
	}
	return out
}

// rankMetrics summarises ranks (ties counted as expected under a random
// order) with the metric names prefixed.
func rankMetrics(prefix string, ranks []evaluation.Rank) evaluation.Metrics {
	acc := evaluation.NewLeaveOneOut(Ks, evaluation.TiesExpected)
	var rr float64
	for _, r := range ranks {
		acc.Add(r)
		rr += evaluation.ReciprocalRank(r, evaluation.TiesExpected)
	}
	var hr, ndcg evaluation.Metrics
	for _, m := range acc.Metrics() {
		m.Name = prefix + m.Name
		switch {
		case m.Name == prefix+"HR":
			hr = append(hr, m)
		case m.K > 1:
			ndcg = append(ndcg, m)
		}
	}
	mrr := 0.0
	if len(ranks) > 0 {
		mrr = rr / float64(len(ranks))
	}
	return append(append(hr, ndcg...), evaluation.Metric{Name: prefix + "MRR", Value: mrr})
}

// parallelFor calls fn(i, buf) for every i in [0, n) on up to workers
// goroutines (0: GOMAXPROCS), each with its own buffer from newBuf,
// stopping early when ctx is done.
func parallelFor(ctx context.Context, n, workers int, fn func(i int, buf [][]float32), newBuf func() [][]float32) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := newBuf()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i, buf)
			}
		}()
	}
	wg.Wait()
}

// scoreAll writes the dot product of v with each row of reps into dst
// (a nil or zero row scores 0).
func scoreAll(dst, v []float32, reps [][]float32) {
	for c, r := range reps {
		dst[c] = 0
		if r != nil {
			dst[c] = kernel.DotFixed(v, r)
		}
	}
}

// nearest scores each product by the best cosine of v with its photos
// (train, with their products in label); a product without photos scores
// −2, below every cosine.
func nearest(dst, v []float32, train [][]float32, label []int) {
	for c := range dst {
		dst[c] = -2
	}
	for i, tv := range train {
		if s := kernel.DotFixed(v, tv); s > dst[label[i]] {
			dst[label[i]] = s
		}
	}
}

func addTo(dst, x []float32) {
	for i, v := range x {
		dst[i] += v
	}
}

// unit scales v to unit L2 norm (a zero vector stays zero).
func unit(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	f := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= f
	}
}

// sumUnit returns the unit vector along the sum of parts (nil parts skipped).
func sumUnit(parts ...[]float32) []float32 {
	var out []float32
	for _, p := range parts {
		if p == nil {
			continue
		}
		if out == nil {
			out = make([]float32, len(p))
		}
		addTo(out, p)
	}
	if out != nil {
		unit(out)
	}
	return out
}
