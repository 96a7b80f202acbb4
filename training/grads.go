package training

import (
	"math"
	"strconv"

	"github.com/fusionrank/fusionrank/ranking"
)

// Grads holds float64 gradients, one tensor per ranking.Model parameter
// with the same names, shapes and row-major layout.
type Grads struct {
	cfg ranking.Config

	// Proj[m] is ∂L/∂P_m, Modalities[m].Dim × DModel.
	Proj [][]float64
	// ProjBias[m] is ∂L/∂p_m, DModel.
	ProjBias [][]float64
	// Wq, Wk, Wv and Wo are ∂L/∂W, DModel × DAttn.
	Wq, Wk, Wv, Wo []float64
	// PosBias is ∂L/∂β, MaxQueryTokens.
	PosBias []float64
	// U is ∂L/∂u, NFeatures.
	U []float64
	// B is ∂L/∂b.
	B [1]float64
}

// GradTensor is a named view of one gradient tensor.
type GradTensor struct {
	// Name matches the parameter's Tensor name.
	Name string
	// Shape matches the parameter's shape.
	Shape []int
	// Data aliases the Grads storage.
	Data []float64
}

// NewGrads returns zeroed gradients shaped like m's parameters.
func NewGrads(m *ranking.Model) *Grads {
	c := m.Config()
	d, da := c.DModel, c.DAttn
	g := &Grads{cfg: c}
	g.Proj = make([][]float64, len(c.Modalities))
	g.ProjBias = make([][]float64, len(c.Modalities))
	for j, mod := range c.Modalities {
		g.Proj[j] = make([]float64, mod.Dim*d)
		g.ProjBias[j] = make([]float64, d)
	}
	g.Wq = make([]float64, d*da)
	g.Wk = make([]float64, d*da)
	g.Wv = make([]float64, d*da)
	g.Wo = make([]float64, d*da)
	g.PosBias = make([]float64, c.MaxQueryTokens)
	g.U = make([]float64, c.NFeatures)
	return g
}

// Tensors returns views of every gradient tensor in the same order as
// Model.Tensors.
func (g *Grads) Tensors() []GradTensor {
	c := g.cfg
	d, da := c.DModel, c.DAttn
	ts := make([]GradTensor, 0, 2*len(c.Modalities)+7)
	for j, mod := range c.Modalities {
		ts = append(ts, GradTensor{"proj." + strconv.Itoa(j), []int{mod.Dim, d}, g.Proj[j]})
	}
	for j := range c.Modalities {
		ts = append(ts, GradTensor{"proj_bias." + strconv.Itoa(j), []int{d}, g.ProjBias[j]})
	}
	return append(ts,
		GradTensor{"wq", []int{d, da}, g.Wq},
		GradTensor{"wk", []int{d, da}, g.Wk},
		GradTensor{"wv", []int{d, da}, g.Wv},
		GradTensor{"wo", []int{d, da}, g.Wo},
		GradTensor{"pos_bias", []int{c.MaxQueryTokens}, g.PosBias},
		GradTensor{"u", []int{c.NFeatures}, g.U},
		GradTensor{"b", []int{1}, g.B[:]},
	)
}

// Zero sets every gradient to zero.
func (g *Grads) Zero() {
	for _, t := range g.Tensors() {
		clear(t.Data)
	}
}

// Scale multiplies every gradient by a.
func (g *Grads) Scale(a float64) {
	for _, t := range g.Tensors() {
		for i := range t.Data {
			t.Data[i] *= a
		}
	}
}

// Add adds h to g, for summing gradients computed on separate goroutines.
// It panics if the shapes differ.
func (g *Grads) Add(h *Grads) {
	gt, ht := g.Tensors(), h.Tensors()
	if len(gt) != len(ht) {
		panic("training: Grads shapes differ")
	}
	for i := range gt {
		if len(gt[i].Data) != len(ht[i].Data) {
			panic("training: Grads shapes differ")
		}
		for k, v := range ht[i].Data {
			gt[i].Data[k] += v
		}
	}
}

// Norm returns the Euclidean norm of all gradients together, for logging
// and clipping.
func (g *Grads) Norm() float64 {
	var s float64
	for _, t := range g.Tensors() {
		for _, v := range t.Data {
			s += v * v
		}
	}
	return math.Sqrt(s)
}

// InputGrads receives the gradients of the loss with respect to the raw
// input tokens, so a trainer can learn embedding tables (collab, attr) by
// backpropagating into them. LossAndGrad resizes and overwrites it; reuse
// one across calls to avoid allocations.
type InputGrads struct {
	// Query[i] is ∂L/∂x_i, of the token's length; empty for padded tokens.
	Query [][]float64
	// Candidates[c][j] is ∂L/∂y_cj, of the token's length; empty for
	// missing modalities.
	Candidates [][][]float64
}

// reset shapes ig for q and cands, zeroed.
func (ig *InputGrads) reset(q *ranking.Query, cands []ranking.Candidate) {
	if cap(ig.Query) < len(q.Tokens) {
		ig.Query = append(ig.Query[:cap(ig.Query)], make([][]float64, len(q.Tokens)-cap(ig.Query))...)
	}
	ig.Query = ig.Query[:len(q.Tokens)]
	for i, x := range q.Tokens {
		n := 0
		if q.Valid(i) {
			n = len(x)
		}
		ig.Query[i] = zeroedF64(ig.Query[i], n)
	}
	if cap(ig.Candidates) < len(cands) {
		ig.Candidates = append(ig.Candidates[:cap(ig.Candidates)], make([][][]float64, len(cands)-cap(ig.Candidates))...)
	}
	ig.Candidates = ig.Candidates[:len(cands)]
	for c := range cands {
		cd := &cands[c]
		row := ig.Candidates[c]
		if cap(row) < len(cd.Tokens) {
			row = append(row[:cap(row)], make([][]float64, len(cd.Tokens)-cap(row))...)
		}
		row = row[:len(cd.Tokens)]
		for j, y := range cd.Tokens {
			n := 0
			if cd.Valid(j) {
				n = len(y)
			}
			row[j] = zeroedF64(row[j], n)
		}
		ig.Candidates[c] = row
	}
}
