package training

import (
	"math"
	"math/rand/v2"

	"github.com/fusionrank/fusionrank/ranking"
)

// AdamConfig holds the knobs of the Adam optimizer with decoupled weight
// decay (AdamW, Loshchilov & Hutter). A zero field takes its default.
type AdamConfig struct {
	// LR is the learning rate; default 1e-3.
	LR float64
	// Beta1 is the decay of the first-moment estimate; default 0.9.
	Beta1 float64
	// Beta2 is the decay of the second-moment estimate; default 0.999.
	Beta2 float64
	// Eps is added to the root of the second moment; default 1e-8.
	Eps float64
	// WeightDecay is the decoupled weight decay λ: each step subtracts
	// LR·λ·w from every weight it updates; default 0 (plain Adam).
	WeightDecay float64
}

func (c AdamConfig) withDefaults() AdamConfig {
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	return c
}

// Adam is an AdamW optimizer for a Model's parameters and for external
// embedding tables trained alongside it. It is deterministic: the same
// gradients in the same order give bit-identical weights.
//
// Each training step calls Step once (it advances the step count used for
// bias correction and updates the model), then StepEmbeddings for each
// table touched in that step.
type Adam struct {
	cfg  AdamConfig
	t    int
	m, v [][]float64 // per model tensor, allocated on the first Step
}

// NewAdam returns an optimizer with cfg (zero fields take their defaults).
func NewAdam(cfg AdamConfig) *Adam { return &Adam{cfg: cfg.withDefaults()} }

// Config returns the optimizer's configuration with defaults filled in.
func (a *Adam) Config() AdamConfig { return a.cfg }

// SetLR changes the learning rate, for schedules.
func (a *Adam) SetLR(lr float64) { a.cfg.LR = lr }

// Steps returns the number of Step calls so far.
func (a *Adam) Steps() int { return a.t }

// Step advances the step count and, when m is not nil, applies one AdamW
// update to every parameter of m from g. Pass a nil m to train embedding
// tables only. An Adam must be used with one model shape throughout.
func (a *Adam) Step(m *ranking.Model, g *Grads) {
	a.t++
	if m == nil {
		return
	}
	ps, gs := m.Tensors(), g.Tensors()
	if len(ps) != len(gs) {
		panic("training: Grads shape differs from the model's")
	}
	if a.m == nil {
		a.m = make([][]float64, len(ps))
		a.v = make([][]float64, len(ps))
		for k, p := range ps {
			a.m[k] = make([]float64, len(p.Data))
			a.v[k] = make([]float64, len(p.Data))
		}
	}
	if len(a.m) != len(ps) {
		panic("training: Adam used with a model of another shape")
	}
	lr, b1, b2, eps, wd := a.cfg.LR, a.cfg.Beta1, a.cfg.Beta2, a.cfg.Eps, a.cfg.WeightDecay
	c1 := 1 - math.Pow(b1, float64(a.t))
	c2 := 1 - math.Pow(b2, float64(a.t))
	for k, p := range ps {
		gd, mk, vk := gs[k].Data, a.m[k], a.v[k]
		if len(gd) != len(p.Data) || len(mk) != len(p.Data) {
			panic("training: Grads shape differs from the model's")
		}
		for e, w := range p.Data {
			gv := gd[e]
			mk[e] = b1*mk[e] + (1-b1)*gv
			vk[e] = b2*vk[e] + (1-b2)*gv*gv
			upd := (mk[e] / c1) / (math.Sqrt(vk[e]/c2) + eps)
			p.Data[e] = float32(float64(w) - lr*(upd+wd*float64(w)))
		}
	}
}

// Embeddings is an external embedding table trained alongside the model,
// such as items' learned collab vectors or attribute vectors: Rows × Dim
// float32, row-major, with its Adam moments.
type Embeddings struct {
	// Dim is the length of a row.
	Dim int
	// Data holds the rows; row r is Data[r*Dim:(r+1)*Dim].
	Data []float32
	m, v []float32
}

// NewEmbeddings returns a rows × dim table with entries drawn from
// N(0, std²) by rng (all zero when rng is nil).
func NewEmbeddings(rows, dim int, std float64, rng *rand.Rand) *Embeddings {
	if rows < 0 || dim <= 0 {
		panic("training: bad Embeddings shape")
	}
	e := &Embeddings{Dim: dim, Data: make([]float32, rows*dim)}
	if rng != nil {
		for i := range e.Data {
			e.Data[i] = float32(rng.NormFloat64() * std)
		}
	}
	return e
}

// Rows returns the number of rows.
func (e *Embeddings) Rows() int { return len(e.Data) / e.Dim }

// Row returns row r, aliasing the table.
func (e *Embeddings) Row(r int) []float32 { return e.Data[r*e.Dim : (r+1)*e.Dim] }

// SparseGrad accumulates gradients for a few rows of an Embeddings table,
// summing repeated rows, in first-seen order (so updates are
// deterministic).
type SparseGrad struct {
	dim   int
	rows  []int
	index map[int]int
	data  []float64
}

// NewSparseGrad returns an empty accumulator for rows of length dim.
func NewSparseGrad(dim int) *SparseGrad {
	if dim <= 0 {
		panic("training: bad SparseGrad dim")
	}
	return &SparseGrad{dim: dim, index: map[int]int{}}
}

// Add adds scale·g to the gradient of row. len(g) must be the row length;
// an empty g (a masked token's gradient) is ignored.
func (s *SparseGrad) Add(row int, g []float64, scale float64) {
	if len(g) == 0 {
		return
	}
	if len(g) != s.dim {
		panic("training: SparseGrad.Add gradient length differs from dim")
	}
	k, ok := s.index[row]
	if !ok {
		k = len(s.rows)
		s.index[row] = k
		s.rows = append(s.rows, row)
		s.data = append(s.data, make([]float64, s.dim)...)
	}
	dst := s.data[k*s.dim : (k+1)*s.dim]
	for e, v := range g {
		dst[e] += scale * v
	}
}

// Rows returns the rows with a gradient, in first-seen order.
func (s *SparseGrad) Rows() []int { return s.rows }

// Grad returns the accumulated gradient of the k-th row of Rows.
func (s *SparseGrad) Grad(k int) []float64 { return s.data[k*s.dim : (k+1)*s.dim] }

// Reset empties the accumulator, keeping its memory.
func (s *SparseGrad) Reset() {
	s.rows = s.rows[:0]
	s.data = s.data[:0]
	clear(s.index)
}

// StepEmbeddings applies one AdamW update to the rows of e that have a
// gradient in g, using the step count of the last Step (call Step first in
// each training step). Rows without a gradient are left alone, moments
// included ("lazy" Adam), so a step costs O(touched rows).
func (a *Adam) StepEmbeddings(e *Embeddings, g *SparseGrad) {
	if a.t == 0 {
		panic("training: StepEmbeddings before the first Step")
	}
	if g.dim != e.Dim {
		panic("training: SparseGrad dim differs from the table's")
	}
	if e.m == nil {
		e.m = make([]float32, len(e.Data))
		e.v = make([]float32, len(e.Data))
	}
	lr, b1, b2, eps, wd := a.cfg.LR, a.cfg.Beta1, a.cfg.Beta2, a.cfg.Eps, a.cfg.WeightDecay
	c1 := 1 - math.Pow(b1, float64(a.t))
	c2 := 1 - math.Pow(b2, float64(a.t))
	n := e.Rows()
	for k, r := range g.rows {
		if r < 0 || r >= n {
			panic("training: SparseGrad row out of the table's range")
		}
		gr := g.Grad(k)
		w, mr, vr := e.Row(r), e.m[r*e.Dim:(r+1)*e.Dim], e.v[r*e.Dim:(r+1)*e.Dim]
		for i, gv := range gr {
			m := b1*float64(mr[i]) + (1-b1)*gv
			v := b2*float64(vr[i]) + (1-b2)*gv*gv
			mr[i], vr[i] = float32(m), float32(v)
			upd := (m / c1) / (math.Sqrt(v/c2) + eps)
			w[i] = float32(float64(w[i]) - lr*(upd+wd*float64(w[i])))
		}
	}
}

// TrainStep runs one optimizer step on a batch: it zeroes g, accumulates
// the gradients of every example's loss, averages them over the batch,
// steps opt on m, and returns the mean loss. When ig is not nil it must
// have len(batch) entries; ig[k] receives example k's input gradients
// already divided by len(batch), ready for a SparseGrad of the trainer's
// embedding tables and opt.StepEmbeddings. g is scratch the caller keeps
// between steps (from NewGrads). It is the float64 reference pass's
// optimizer step, for callers that train on explicit candidate lists.
func TrainStep(m *ranking.Model, opt *Adam, g *Grads, batch []Example, ig []InputGrads) float64 {
	if len(batch) == 0 {
		panic("training: TrainStep needs a non-empty batch")
	}
	if ig != nil && len(ig) != len(batch) {
		panic("training: TrainStep ig length differs from batch length")
	}
	g.Zero()
	var loss float64
	for k := range batch {
		ex := &batch[k]
		var igk *InputGrads
		if ig != nil {
			igk = &ig[k]
		}
		loss += LossAndGrad(m, g, igk, ex.Query, ex.Candidates, ex.Positive)
	}
	inv := 1 / float64(len(batch))
	g.Scale(inv)
	for k := range ig {
		for _, row := range ig[k].Query {
			scale64(row, inv)
		}
		for _, cand := range ig[k].Candidates {
			for _, row := range cand {
				scale64(row, inv)
			}
		}
	}
	opt.Step(m, g)
	return loss * inv
}

// Example is one training example of TrainStep: a query, its candidates,
// and which of them is the positive.
type Example struct {
	// Query is the example's query side.
	Query ranking.Query
	// Candidates are the positive and its negatives, in any order.
	Candidates []ranking.Candidate
	// Positive is the index in Candidates of the positive item.
	Positive int
}

func scale64(x []float64, a float64) {
	for i := range x {
		x[i] *= a
	}
}
