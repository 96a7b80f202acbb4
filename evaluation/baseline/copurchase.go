package baseline

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusionrank/fusionrank/evaluation"
)

// CoPurchase is item-to-item co-occurrence: two items are related by the
// number of groups that contain both, a group being a user's whole training
// history or, with Basket, one basket (one user's interactions at one
// time). A user's score for an item sums its relations with the user's
// history items, weighted by recency, with popularity as the fallback. See
// the package documentation for the formulas.
type CoPurchase struct {
	// Basket groups by basket (same user, same time) instead of by user; it
	// needs Sequences.Times. Default false.
	Basket bool
	// Cosine divides co-occurrence counts by sqrt(n_a·n_b), n the number of
	// groups an item appears in, so very popular items do not dominate.
	// Default false.
	Cosine bool
	// Recent, when > 0, uses only the user's Recent most recently bought
	// distinct items. Default 0 (all).
	Recent int
	// Decay weighs the r-th most recent distinct history item by Decay^r
	// (r = 0 for the latest); 0 means 1 (no decay).
	Decay float64
	// PopWeight (λ) mixes in popularity (distinct users) scaled to [0, 1];
	// 0 means 1e-3, a tie-break and fallback only.
	PopWeight float64
	// PopSince, when not 0, counts that popularity only from this Unix time
	// in nanoseconds on (a recent window); it needs Sequences.Times.
	// Default 0 (the whole training period).
	PopSince int64

	rowStart []int64 // CSR over items
	cols     []int32
	vals     []float32
	pop      []float32
	n        int
	pool     sync.Pool // *coWork
}

type coWork struct {
	seen []int32 // stamp per item, for distinct recency order
	gen  int32
	list []int32
}

func (c *CoPurchase) params() (decay, popw float64) {
	decay, popw = c.Decay, c.PopWeight
	if decay == 0 {
		decay = 1
	}
	if popw == 0 {
		popw = 1e-3
	}
	return
}

// Fit builds the co-occurrence matrix and the popularity from train. It
// uses every core.
func (c *CoPurchase) Fit(ctx context.Context, train *evaluation.Sequences) error {
	if err := train.Validate(); err != nil {
		return err
	}
	if c.Basket && train.Times == nil {
		return fmt.Errorf("baseline: copurchase: baskets need interaction times")
	}
	_, popw := c.params()
	n := train.NumItems
	c.n = n
	pop := Pop{Distinct: true, Since: c.PopSince}
	if err := pop.Fit(ctx, train); err != nil {
		return err
	}
	c.pop = pop.normalized()
	for i := range c.pop {
		c.pop[i] *= float32(popw)
	}

	// Groups of distinct items.
	var groups [][]int32
	stamp := make([]int32, n) // group generation that last took each item
	gen := int32(0)
	for u, seq := range train.Users {
		var g []int32
		gen++
		for i, it := range seq {
			if c.Basket && i > 0 && train.Times[u][i] != train.Times[u][i-1] {
				if len(g) > 0 {
					groups = append(groups, g)
				}
				g = nil
				gen++
			}
			if stamp[it] != gen {
				stamp[it] = gen
				g = append(g, it)
			}
		}
		if len(g) > 0 {
			groups = append(groups, g)
		}
	}
	// Inverted index: item → groups containing it.
	df := make([]int32, n)
	for _, g := range groups {
		for _, it := range g {
			df[it]++
		}
	}
	postStart := make([]int32, n+1)
	for a := range n {
		postStart[a+1] = postStart[a] + df[a]
	}
	post := make([]int32, postStart[n])
	fill := slices.Clone(postStart[:n])
	for gi, g := range groups {
		for _, it := range g {
			post[fill[it]] = int32(gi)
			fill[it]++
		}
	}

	// Rows in parallel, each worker with a dense accumulator.
	rowCols := make([][]int32, n)
	rowVals := make([][]float32, n)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acc := make([]float32, n)
			var touched []int32
			for {
				a := next.Add(1) - 1
				if a >= int64(n) || ctx.Err() != nil {
					return
				}
				touched = touched[:0]
				for _, gi := range post[postStart[a]:postStart[a+1]] {
					for _, b := range groups[gi] {
						if b == int32(a) {
							continue
						}
						if acc[b] == 0 {
							touched = append(touched, b)
						}
						acc[b]++
					}
				}
				cols := make([]int32, len(touched))
				vals := make([]float32, len(touched))
				for i, b := range touched {
					v := acc[b]
					if c.Cosine {
						v /= float32(math.Sqrt(float64(df[a]) * float64(df[b])))
					}
					cols[i], vals[i] = b, v
					acc[b] = 0
				}
				rowCols[a], rowVals[a] = cols, vals
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("baseline: copurchase: %w", err)
	}
	c.rowStart = make([]int64, n+1)
	for a := range n {
		c.rowStart[a+1] = c.rowStart[a] + int64(len(rowCols[a]))
	}
	c.cols = make([]int32, 0, c.rowStart[n])
	c.vals = make([]float32, 0, c.rowStart[n])
	for a := range n {
		c.cols = append(c.cols, rowCols[a]...)
		c.vals = append(c.vals, rowVals[a]...)
	}
	c.pool = sync.Pool{New: func() any { return &coWork{seen: make([]int32, n)} }}
	return nil
}

// ScoreTo writes λ·pop(j) + Σ_r Decay^r · C(h_r, j) into dst, h_r the
// user's distinct history items from the most recent (r = 0) backwards.
func (c *CoPurchase) ScoreTo(dst []float32, history []int32) {
	if len(dst) != c.n {
		panic(fmt.Sprintf("baseline: copurchase: dst has %d scores for %d items", len(dst), c.n))
	}
	copy(dst, c.pop)
	decay, _ := c.params()
	w := c.pool.Get().(*coWork)
	defer c.pool.Put(w)
	w.gen++
	w.list = w.list[:0]
	for i := len(history) - 1; i >= 0; i-- {
		it := history[i]
		if w.seen[it] == w.gen {
			continue
		}
		w.seen[it] = w.gen
		w.list = append(w.list, it)
		if c.Recent > 0 && len(w.list) == c.Recent {
			break
		}
	}
	wt := float32(1)
	for _, a := range w.list {
		lo, hi := c.rowStart[a], c.rowStart[a+1]
		for i := lo; i < hi; i++ {
			dst[c.cols[i]] += wt * c.vals[i]
		}
		wt *= float32(decay)
	}
}

// Pairs returns the number of stored (a, b) co-occurrences.
func (c *CoPurchase) Pairs() int { return len(c.cols) }

// Version describes the fitted settings.
func (c *CoPurchase) Version() string {
	decay, popw := c.params()
	v := fmt.Sprintf("copurchase(basket=%t,cosine=%t,recent=%d,decay=%g,pop=%g", c.Basket, c.Cosine, c.Recent, decay, popw)
	if c.PopSince != 0 {
		v += ",pop_since=" + time.Unix(0, c.PopSince).UTC().Format(time.DateOnly)
	}
	return v + ")"
}
