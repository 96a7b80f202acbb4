package ranking

import (
	"fmt"

	"github.com/fusionrank/fusionrank/internal/kernel"
)

// SeqEncoder is the served form of the sequence encoder (training.SeqModel
// with one table for input and output item embeddings and no attention).
// Each item c has a learned vector e_c (Dim) and bias b_c, stored together
// as one row [e_c, b_c] of Dim+1 floats. For the user's distinct recent
// items r_0, r_1, … (most recent first),
//
//	h      = Σ_{k < Window} g_k ⊙ e_{r_k}
//	seq(c) = h · e_c + b_c
//
// and seq(c) is the scalar feature FeatSeq. A recent item without a vector
// contributes nothing (its position still counts); a candidate without one
// scores 0.
type SeqEncoder struct {
	Dim    int `json:"dim"`
	Window int `json:"window"`
	// Gates is Window × Dim, row k the gate g_k of the k-th most recent item.
	Gates []float32 `json:"gates"`
}

// Validate checks the shapes.
func (e *SeqEncoder) Validate() error {
	if e.Dim <= 0 || e.Window <= 0 {
		return fmt.Errorf("%w: sequence encoder dim %d, window %d", ErrInvalidConfig, e.Dim, e.Window)
	}
	if len(e.Gates) != e.Dim*e.Window {
		return fmt.Errorf("%w: sequence encoder has %d gate values, want window × dim = %d", ErrInvalidConfig, len(e.Gates), e.Dim*e.Window)
	}
	return nil
}

// QueryTo writes h to dst (len Dim) from the recent items' rows (most recent
// first, nil for an item without one; rows beyond Window are ignored).
func (e *SeqEncoder) QueryTo(dst []float32, recent [][]float32) {
	clear(dst)
	for k, r := range recent[:min(len(recent), e.Window)] {
		if r == nil {
			continue
		}
		kernel.AddMul(dst, e.Gates[k*e.Dim:(k+1)*e.Dim], r)
	}
}

// Score returns seq(c) for the query h and the candidate's row (nil: 0).
func (e *SeqEncoder) Score(h, row []float32) float32 {
	if row == nil {
		return 0
	}
	return kernel.Dot(h, row[:e.Dim]) + row[e.Dim]
}
