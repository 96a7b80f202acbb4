package baseline

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/fusionrank/fusionrank/evaluation"
)

// Markov is a first-order Markov chain over items: it counts how often item
// b directly followed item a in the training sequences and scores the
// successors of the user's last items, with popularity as the fallback for
// items it has no transition for (and to break ties). See the package
// documentation for the score.
type Markov struct {
	// Order is how many of the user's last items contribute (L); 0 means 1.
	Order int
	// Decay weighs the l-th most recent item by Decay^l (l = 0 for the last
	// one); 0 means 0.5. It matters only when Order > 1.
	Decay float64
	// Normalize divides each item's transition counts by its number of
	// outgoing transitions, so every history item contributes a
	// distribution. Default false (raw counts).
	Normalize bool
	// Reverse adds Reverse × count(b→a) to a→b: items that preceded the
	// user's last items also count. Default 0.
	Reverse float64
	// PopWeight (λ) mixes in popularity scaled to [0, 1]; the default 0
	// means 1e-3, small enough only to break ties among transition scores
	// and to rank items without transitions.
	PopWeight float64

	rowStart []int32 // CSR: successors of a are cols[rowStart[a]:rowStart[a+1]]
	cols     []int32
	vals     []float32 // transition weights, normalised when Normalize
	pop      []float32 // λ × popularity / max popularity
	n        int
}

// params returns the knobs with defaults applied.
func (m *Markov) params() (order int, decay, popw float64) {
	order, decay, popw = m.Order, m.Decay, m.PopWeight
	if order <= 0 {
		order = 1
	}
	if decay == 0 {
		decay = 0.5
	}
	if popw == 0 {
		popw = 1e-3
	}
	return
}

// Fit counts the transitions and the popularity in train.
func (m *Markov) Fit(ctx context.Context, train *evaluation.Sequences) error {
	if err := train.Validate(); err != nil {
		return err
	}
	_, _, popw := m.params()
	n := train.NumItems
	m.n = n
	var pop Pop
	if err := pop.Fit(ctx, train); err != nil {
		return err
	}
	m.pop = pop.normalized()
	for i := range m.pop {
		m.pop[i] *= float32(popw)
	}

	// Pairs as (a<<32 | b) keys with a weight; sorted and merged into CSR.
	type pair struct {
		key uint64
		w   float32
	}
	var pairs []pair
	for _, seq := range train.Users {
		for i := 1; i < len(seq); i++ {
			a, b := uint64(seq[i-1]), uint64(seq[i])
			pairs = append(pairs, pair{a<<32 | b, 1})
			if m.Reverse != 0 {
				pairs = append(pairs, pair{b<<32 | a, float32(m.Reverse)})
			}
		}
	}
	slices.SortFunc(pairs, func(x, y pair) int {
		switch {
		case x.key < y.key:
			return -1
		case x.key > y.key:
			return 1
		}
		return 0
	})
	m.rowStart = make([]int32, n+1)
	m.cols = m.cols[:0]
	m.vals = m.vals[:0]
	for i := 0; i < len(pairs); {
		j, w := i, float32(0)
		for ; j < len(pairs) && pairs[j].key == pairs[i].key; j++ {
			w += pairs[j].w
		}
		a, b := int32(pairs[i].key>>32), int32(pairs[i].key&math.MaxUint32)
		m.cols = append(m.cols, b)
		m.vals = append(m.vals, w)
		m.rowStart[a+1]++
		i = j
	}
	for a := range n {
		m.rowStart[a+1] += m.rowStart[a]
	}
	if m.Normalize {
		for a := range n {
			row := m.vals[m.rowStart[a]:m.rowStart[a+1]]
			var sum float32
			for _, v := range row {
				sum += v
			}
			for i := range row {
				row[i] /= sum
			}
		}
	}
	return nil
}

// ScoreTo writes λ·pop(j) + Σ_l Decay^l · T(h_l → j) into dst.
func (m *Markov) ScoreTo(dst []float32, history []int32) {
	if len(dst) != m.n {
		panic(fmt.Sprintf("baseline: markov: dst has %d scores for %d items", len(dst), m.n))
	}
	copy(dst, m.pop)
	order, decay, _ := m.params()
	w := float32(1)
	for l := 0; l < order && l < len(history); l++ {
		a := history[len(history)-1-l]
		lo, hi := m.rowStart[a], m.rowStart[a+1]
		for i := lo; i < hi; i++ {
			dst[m.cols[i]] += w * m.vals[i]
		}
		w *= float32(decay)
	}
}

// Transitions returns the number of distinct (a, b) transitions fitted.
func (m *Markov) Transitions() int { return len(m.cols) }

// Version describes the fitted settings.
func (m *Markov) Version() string {
	order, decay, popw := m.params()
	return fmt.Sprintf("markov(order=%d,decay=%g,normalize=%t,reverse=%g,pop=%g)", order, decay, m.Normalize, m.Reverse, popw)
}
