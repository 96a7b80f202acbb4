package rerank

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
)

// discount is the DCG position discount of the 0-based position p.
func discount(p int) float64 { return 1 / math.Log2(float64(p)+2) }

// NDCG returns the normalised discounted cumulative gain at cutoff k of the
// order given by scores (higher first) for items with the given gains:
//
//	DCG@k  = Σ_{p<k} g(p) / log2(p + 2)      (p the 0-based position)
//	NDCG@k = DCG@k / IDCG@k
//
// where IDCG@k is the DCG@k of the items sorted by gain. Ties are scored by
// their expectation over a random order: the items whose scores tie share
// the positions they occupy, and each of those positions gets the mean gain
// of the group. A constant scorer therefore gets exactly the mean NDCG of a
// random order, and no scorer gains by returning ties. NDCG returns 0 when
// every gain is zero (IDCG = 0).
//
// NDCG panics if the lengths differ, if k < 1, or if a score is NaN.
func NDCG(scores []float32, gains []float64, k int) float64 {
	if len(scores) != len(gains) {
		panic(fmt.Sprintf("rerank: NDCG: %d scores for %d gains", len(scores), len(gains)))
	}
	if k < 1 {
		panic(fmt.Sprintf("rerank: NDCG: k = %d, want >= 1", k))
	}
	for i, s := range scores {
		if s != s {
			panic(fmt.Sprintf("rerank: NDCG: score %d is NaN", i))
		}
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	dcg := 0.0
	for start := 0; start < len(order) && start < k; {
		end := start + 1
		for end < len(order) && scores[order[end]] == scores[order[start]] {
			end++
		}
		mean := 0.0
		for _, i := range order[start:end] {
			mean += gains[i]
		}
		mean /= float64(end - start)
		for p := start; p < end && p < k; p++ {
			dcg += mean * discount(p)
		}
		start = end
	}

	ideal := slices.Clone(gains)
	slices.SortFunc(ideal, func(a, b float64) int { return cmp.Compare(b, a) })
	idcg := 0.0
	for p := 0; p < len(ideal) && p < k; p++ {
		idcg += ideal[p] * discount(p)
	}
	if idcg == 0 {
		return 0
	}
	return dcg / idcg
}

// Evaluate returns the mean NDCG@k of the scorer's order over the queries of
// qs that have at least two distinct grades (see [Query.Grades]), and the
// number n of such queries; with n = 0 the mean is 0. Gains are
// relevance − 1. The scorer must already be fitted.
func Evaluate(qs []Query, s Scorer, k int) (ndcg float64, n int) {
	means, n := EvaluateAt(qs, s, []int{k})
	return means[0], n
}

// EvaluateAt is [Evaluate] for several cutoffs at once: ndcg[i] is the mean
// NDCG@ks[i]. Each query is scored once.
func EvaluateAt(qs []Query, s Scorer, ks []int) (ndcg []float64, n int) {
	ndcg, n, _ = evaluateAt(context.Background(), qs, s, ks, nil)
	return ndcg, n
}

// evaluateAt is EvaluateAt with cancellation (checked every 256 queries)
// and a progress callback called once per evaluated query (when not nil).
func evaluateAt(ctx context.Context, qs []Query, s Scorer, ks []int, tick func()) (ndcg []float64, n int, err error) {
	for _, k := range ks {
		if k < 1 {
			panic(fmt.Sprintf("rerank: EvaluateAt: k = %d, want >= 1", k))
		}
	}
	sums := make([]float64, len(ks))
	var scores []float32
	var gains []float64
	for i, q := range qs {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
		if q.Grades() < 2 {
			continue
		}
		n++
		scores = slices.Grow(scores[:0], len(q.Items))[:len(q.Items)]
		gains = gains[:0]
		for _, it := range q.Items {
			gains = append(gains, it.Gain())
		}
		s.ScoreTo(scores, q)
		for i, k := range ks {
			sums[i] += NDCG(scores, gains, k)
		}
		if tick != nil {
			tick()
		}
	}
	ndcg = make([]float64, len(ks))
	if n > 0 {
		for i := range sums {
			ndcg[i] = sums[i] / float64(n)
		}
	}
	return ndcg, n, nil
}
