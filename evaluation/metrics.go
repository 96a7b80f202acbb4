package evaluation

import (
	"fmt"
	"math"
	"slices"
)

// TieRule says how a leave-one-out target is ranked among candidates that
// received exactly the same score. See the package documentation for the
// formulas and for the rule that reproduces the published PopRec row.
type TieRule int

const (
	// TiesExpected ranks the target by its expected metric value when the
	// tied candidates are ordered uniformly at random. It is the default:
	// a model cannot gain or lose by producing ties.
	TiesExpected TieRule = iota
	// TiesPessimistic places the target after every candidate tied with it.
	TiesPessimistic
	// TiesOptimistic places the target before every candidate tied with it.
	TiesOptimistic
	// TiesByIndex breaks ties by candidate index, lower index first, as a
	// stable sort by descending score over items in id order would.
	TiesByIndex
)

// String returns the rule's flag name: expected, pessimistic, optimistic or index.
func (r TieRule) String() string {
	switch r {
	case TiesExpected:
		return "expected"
	case TiesPessimistic:
		return "pessimistic"
	case TiesOptimistic:
		return "optimistic"
	case TiesByIndex:
		return "index"
	}
	return fmt.Sprintf("TieRule(%d)", int(r))
}

// ParseTieRule parses the names returned by TieRule.String.
func ParseTieRule(s string) (TieRule, error) {
	for _, r := range []TieRule{TiesExpected, TiesPessimistic, TiesOptimistic, TiesByIndex} {
		if r.String() == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("evaluation: unknown tie rule %q (want expected, pessimistic, optimistic or index)", s)
}

// Rank says where a single target landed among the scored candidates.
type Rank struct {
	// Above is the number of candidates scored strictly higher than the target.
	Above int
	// Tied is the number of other candidates scored exactly like the target.
	Tied int
	// TiedBefore is the number of tied candidates whose index is lower than
	// the target's; only TiesByIndex uses it.
	TiedBefore int
}

// TargetRank ranks scores[target] among all scores. Candidates scored
// -Inf are masked: they never count as above or tied unless the target
// itself is -Inf. NaN scores never count as above or tied; a NaN target is
// ranked below every non-NaN candidate. scores is not modified.
// It panics if target is out of range.
func TargetRank(scores []float32, target int) Rank {
	if target < 0 || target >= len(scores) {
		panic(fmt.Sprintf("evaluation: target %d out of range [0,%d)", target, len(scores)))
	}
	s := scores[target]
	var r Rank
	if s != s { // NaN target: everything else that is a number is above it.
		for i, v := range scores {
			if i != target && v == v && !math.IsInf(float64(v), -1) {
				r.Above++
			}
		}
		return r
	}
	// Two branch-free passes (before and after the target) so the compiler
	// can use conditional moves: this is the evaluator's inner loop.
	above, tiedBefore := countAboveEqual(scores[:target], s)
	above2, tiedAfter := countAboveEqual(scores[target+1:], s)
	return Rank{Above: above + above2, Tied: tiedBefore + tiedAfter, TiedBefore: tiedBefore}
}

// countAboveEqual counts the entries of xs greater than s and equal to s,
// four lanes at a time to break the dependency chains.
func countAboveEqual(xs []float32, s float32) (above, equal int) {
	var a0, a1, a2, a3, e0, e1, e2, e3 int
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		x := xs[i : i+4 : i+4]
		a0 += b2i(x[0] > s)
		a1 += b2i(x[1] > s)
		a2 += b2i(x[2] > s)
		a3 += b2i(x[3] > s)
		e0 += b2i(x[0] == s)
		e1 += b2i(x[1] == s)
		e2 += b2i(x[2] == s)
		e3 += b2i(x[3] == s)
	}
	for ; i < len(xs); i++ {
		a0 += b2i(xs[i] > s)
		e0 += b2i(xs[i] == s)
	}
	return a0 + a1 + a2 + a3, e0 + e1 + e2 + e3
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// HitNDCG returns the hit (0 or 1, or a fraction under TiesExpected) and the
// NDCG contribution at cutoff k of a single target with rank r. With one
// relevant item the ideal DCG is 1, so NDCG@k = 1/log2(rank+2) when the
// 0-based rank is below k.
func HitNDCG(r Rank, k int, rule TieRule) (hit, ndcg float64) {
	switch rule {
	case TiesPessimistic:
		return single(r.Above+r.Tied, k)
	case TiesOptimistic:
		return single(r.Above, k)
	case TiesByIndex:
		return single(r.Above+r.TiedBefore, k)
	case TiesExpected:
		// Uniform over ranks Above … Above+Tied.
		last := min(r.Above+r.Tied, k-1)
		n := float64(r.Tied + 1)
		for p := r.Above; p <= last; p++ {
			hit++
			ndcg += discount(p)
		}
		return hit / n, ndcg / n
	}
	panic(fmt.Sprintf("evaluation: unknown tie rule %d", int(rule)))
}

func single(rank, k int) (hit, ndcg float64) {
	if rank < k {
		return 1, discount(rank)
	}
	return 0, 0
}

// discount is the DCG discount of 0-based position p: 1/log2(p+2).
func discount(p int) float64 { return 1 / math.Log2(float64(p+2)) }

// LeaveOneOut accumulates HR@k and NDCG@k over cases that each have one
// target. The zero value is not usable; call NewLeaveOneOut. It is not safe
// for concurrent use: give each worker its own and Merge them.
type LeaveOneOut struct {
	ks   []int
	rule TieRule
	hr   []float64
	ndcg []float64
	n    int
}

// NewLeaveOneOut returns an empty accumulator for the cutoffs ks (sorted
// ascending, each > 0) and the tie rule. It panics on an empty or invalid ks.
func NewLeaveOneOut(ks []int, rule TieRule) *LeaveOneOut {
	checkKs(ks)
	return &LeaveOneOut{ks: slices.Clone(ks), rule: rule, hr: make([]float64, len(ks)), ndcg: make([]float64, len(ks))}
}

func checkKs(ks []int) {
	if len(ks) == 0 {
		panic("evaluation: no cutoffs")
	}
	for i, k := range ks {
		if k <= 0 || (i > 0 && k <= ks[i-1]) {
			panic(fmt.Sprintf("evaluation: cutoffs must be positive and strictly increasing, got %v", ks))
		}
	}
}

// Add records one case whose target has rank r.
func (a *LeaveOneOut) Add(r Rank) {
	for i, k := range a.ks {
		h, g := HitNDCG(r, k, a.rule)
		a.hr[i] += h
		a.ndcg[i] += g
	}
	a.n++
}

// Merge adds b's cases to a. It panics if the cutoffs or rules differ.
func (a *LeaveOneOut) Merge(b *LeaveOneOut) {
	if !slices.Equal(a.ks, b.ks) || a.rule != b.rule {
		panic("evaluation: merging accumulators with different cutoffs or tie rules")
	}
	for i := range a.ks {
		a.hr[i] += b.hr[i]
		a.ndcg[i] += b.ndcg[i]
	}
	a.n += b.n
}

// N returns the number of cases added.
func (a *LeaveOneOut) N() int { return a.n }

// Metrics returns HR@k and NDCG@k averaged over the cases, ordered by k and
// then HR before NDCG. With no cases every value is 0.
func (a *LeaveOneOut) Metrics() Metrics {
	out := make(Metrics, 0, 2*len(a.ks))
	for i, k := range a.ks {
		out = append(out, Metric{Name: "HR", K: k, Value: mean(a.hr[i], a.n)}, Metric{Name: "NDCG", K: k, Value: mean(a.ndcg[i], a.n)})
	}
	return out
}

func mean(sum float64, n int) float64 {
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// MultiTarget accumulates HR@k, Recall@k and NDCG@k over cases that each
// have a set of relevant items and a ranked list (see the package
// documentation for the definitions). It is not safe for concurrent use:
// give each worker its own and Merge them.
type MultiTarget struct {
	ks     []int
	hr     []float64
	recall []float64
	ndcg   []float64
	n      int
}

// NewMultiTarget returns an empty accumulator for the cutoffs ks (sorted
// ascending, each > 0). It panics on an empty or invalid ks.
func NewMultiTarget(ks []int) *MultiTarget {
	checkKs(ks)
	n := len(ks)
	return &MultiTarget{ks: slices.Clone(ks), hr: make([]float64, n), recall: make([]float64, n), ndcg: make([]float64, n)}
}

// Add records one case: ranked is the model's list, best first, at least as
// long as the largest cutoff unless the catalogue is smaller; relevant
// reports whether an item is a target; nTargets is the number of targets.
// A case with no targets is ignored, since recall is undefined for it.
func (a *MultiTarget) Add(ranked []int32, relevant func(item int32) bool, nTargets int) {
	if nTargets <= 0 {
		return
	}
	hits, dcg := 0, 0.0
	p := 0
	for i, k := range a.ks {
		for ; p < k && p < len(ranked); p++ {
			if relevant(ranked[p]) {
				hits++
				dcg += discount(p)
			}
		}
		idcg := 0.0
		for q := range min(k, nTargets) {
			idcg += discount(q)
		}
		if hits > 0 {
			a.hr[i]++
		}
		a.recall[i] += float64(hits) / float64(nTargets)
		a.ndcg[i] += dcg / idcg
	}
	a.n++
}

// Merge adds b's cases to a. It panics if the cutoffs differ.
func (a *MultiTarget) Merge(b *MultiTarget) {
	if !slices.Equal(a.ks, b.ks) {
		panic("evaluation: merging accumulators with different cutoffs")
	}
	for i := range a.ks {
		a.hr[i] += b.hr[i]
		a.recall[i] += b.recall[i]
		a.ndcg[i] += b.ndcg[i]
	}
	a.n += b.n
}

// N returns the number of cases added.
func (a *MultiTarget) N() int { return a.n }

// Metrics returns HR@k, Recall@k and NDCG@k averaged over the cases,
// ordered by k. With no cases every value is 0.
func (a *MultiTarget) Metrics() Metrics {
	out := make(Metrics, 0, 3*len(a.ks))
	for i, k := range a.ks {
		out = append(out,
			Metric{Name: "HR", K: k, Value: mean(a.hr[i], a.n)},
			Metric{Name: "Recall", K: k, Value: mean(a.recall[i], a.n)},
			Metric{Name: "NDCG", K: k, Value: mean(a.ndcg[i], a.n)})
	}
	return out
}

// TopKTo writes into dst the indices of the len(dst) highest scores, best
// first, breaking ties by lower index, and returns the filled prefix (shorter
// than dst when scores has fewer non-masked entries). Scores of -Inf and NaN
// are masked and never returned. scores is not modified; TopKTo does not
// allocate.
func TopKTo(dst []int32, scores []float32) []int32 {
	k := len(dst)
	if k == 0 {
		return dst
	}
	// dst[:n] is a min-heap under "worse" (the worst kept item at the root).
	n := 0
	for i, v := range scores {
		if v != v || math.IsInf(float64(v), -1) {
			continue
		}
		idx := int32(i)
		if n < k {
			dst[n] = idx
			n++
			siftUp(dst[:n], scores, n-1)
			continue
		}
		if better(idx, dst[0], scores) {
			dst[0] = idx
			siftDown(dst[:n], scores, 0)
		}
	}
	out := dst[:n]
	// Heap sort in place: repeatedly move the worst to the end.
	for end := n - 1; end > 0; end-- {
		out[0], out[end] = out[end], out[0]
		siftDown(out[:end], scores, 0)
	}
	return out
}

// better reports whether item a ranks before item b.
func better(a, b int32, scores []float32) bool {
	sa, sb := scores[a], scores[b]
	if sa != sb {
		return sa > sb
	}
	return a < b
}

func siftUp(h []int32, scores []float32, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !better(h[p], h[i], scores) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func siftDown(h []int32, scores []float32, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		w := l
		if r := l + 1; r < n && better(h[l], h[r], scores) {
			w = r
		}
		if !better(h[i], h[w], scores) {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}
