package training

import (
	"math"
	"sync"

	"github.com/fusionrank/fusionrank/ranking"
)

// refScratch holds the float64 activations of one example between the
// forward and the backward pass of the reference pass.
type refScratch struct {
	x, q, r        []float64 // Lq × d, Lq × da, Lq × da
	qmask          []bool    // Lq
	y, k, v        []float64 // N × M × d, N × M × da, N × M × da
	kmask          []bool    // N × M
	a, t           []float64 // N × Lq × M attention and R_i·V_cj
	attn           []bool    // N: candidate has a valid pair
	scores, p      []float64 // N
	dq, dr         []float64 // Lq × da
	dk, dv, dy, dx []float64 // M × da, M × da, d, d
	tmp            []float64 // d
}

var refPool = sync.Pool{New: func() any { return new(refScratch) }}

// zeroedBool returns s with length n, every element zero, reusing its memory when it can.
func zeroedBool(s []bool, n int) []bool {
	if cap(s) < n {
		return make([]bool, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// vecMat64 sets dst = x W for x in float64 and a row-major float32 W of
// len(x) × len(dst).
func vecMat64(dst []float64, x []float64, w []float32) {
	cols := len(dst)
	clear(dst)
	for k, xk := range x {
		if xk == 0 {
			continue
		}
		row := w[k*cols : (k+1)*cols]
		for e, wv := range row {
			dst[e] += xk * float64(wv)
		}
	}
}

// project64 sets dst = x P_j + p_j in float64.
func project64(m *ranking.Model, dst []float64, j int, x []float32) {
	d := len(dst)
	for e, b := range m.ProjBias[j] {
		dst[e] = float64(b)
	}
	p := m.Proj[j]
	for k, xk := range x {
		a := float64(xk)
		row := p[k*d : (k+1)*d]
		for e, w := range row {
			dst[e] += a * float64(w)
		}
	}
}

// matTVec64 sets dst = W dv (that is dv Wᵀ) for a row-major float32 W of
// len(dst) × len(dv), adding when add is true.
func matTVec64(dst []float64, w []float32, dv []float64, add bool) {
	cols := len(dv)
	for k := range dst {
		row := w[k*cols : (k+1)*cols]
		var s float64
		for e, g := range dv {
			s += float64(row[e]) * g
		}
		if add {
			dst[k] += s
		} else {
			dst[k] = s
		}
	}
}

// outer64 adds xᵀ g to the row-major dst of len(x) × len(g).
func outer64(dst []float64, x []float64, g []float64) {
	cols := len(g)
	for k, xk := range x {
		if xk == 0 {
			continue
		}
		row := dst[k*cols : (k+1)*cols]
		for e, gv := range g {
			row[e] += xk * gv
		}
	}
}

// outer64f is outer64 for a float32 x.
func outer64f(dst []float64, x []float32, g []float64) {
	cols := len(g)
	for k, xk := range x {
		if xk == 0 {
			continue
		}
		a := float64(xk)
		row := dst[k*cols : (k+1)*cols]
		for e, gv := range g {
			row[e] += a * gv
		}
	}
}

// forward64 runs the float64 forward pass of one example into sc and
// returns the loss of candidate pos (when pos ≥ 0).
func forward64(m *ranking.Model, sc *refScratch, q *ranking.Query, cands []ranking.Candidate, pos int) float64 {
	M, d, da := dims(m)
	lq, n := len(q.Tokens), len(cands)
	sc.x = zeroedF64(sc.x, lq*d)
	sc.q = zeroedF64(sc.q, lq*da)
	sc.r = zeroedF64(sc.r, lq*da)
	sc.qmask = zeroedBool(sc.qmask, lq)
	sc.y = zeroedF64(sc.y, n*M*d)
	sc.k = zeroedF64(sc.k, n*M*da)
	sc.v = zeroedF64(sc.v, n*M*da)
	sc.kmask = zeroedBool(sc.kmask, n*M)
	sc.a = zeroedF64(sc.a, n*lq*M)
	sc.t = zeroedF64(sc.t, n*lq*M)
	sc.attn = zeroedBool(sc.attn, n)
	sc.scores = zeroedF64(sc.scores, n)
	sc.p = zeroedF64(sc.p, n)
	for i, tok := range q.Tokens {
		if !q.Valid(i) {
			continue
		}
		sc.qmask[i] = true
		x := sc.x[i*d : (i+1)*d]
		project64(m, x, q.Modality[i], tok)
		vecMat64(sc.q[i*da:(i+1)*da], x, m.Wq)
		vecMat64(sc.r[i*da:(i+1)*da], x, m.Wo)
	}
	scale := 1 / math.Sqrt(float64(da))
	for ci := range cands {
		cd := &cands[ci]
		for j, tok := range cd.Tokens {
			if !cd.Valid(j) {
				continue
			}
			cj := ci*M + j
			sc.kmask[cj] = true
			y := sc.y[cj*d : (cj+1)*d]
			project64(m, y, j, tok)
			vecMat64(sc.k[cj*da:(cj+1)*da], y, m.Wk)
			vecMat64(sc.v[cj*da:(cj+1)*da], y, m.Wv)
		}
		// One softmax over every valid (i, j) pair.
		a := sc.a[ci*lq*M : (ci+1)*lq*M]
		t := sc.t[ci*lq*M : (ci+1)*lq*M]
		mx := math.Inf(-1)
		for i := range lq {
			if !sc.qmask[i] {
				continue
			}
			qi, ri := sc.q[i*da:(i+1)*da], sc.r[i*da:(i+1)*da]
			for j := range M {
				cj := ci*M + j
				if !sc.kmask[cj] {
					continue
				}
				kj, vj := sc.k[cj*da:(cj+1)*da], sc.v[cj*da:(cj+1)*da]
				var s, tv float64
				for e := range da {
					s += qi[e] * kj[e]
					tv += ri[e] * vj[e]
				}
				s = s*scale + float64(m.PosBias[i])
				a[i*M+j] = s
				t[i*M+j] = tv
				mx = max(mx, s)
			}
		}
		var score float64
		if !math.IsInf(mx, -1) {
			sc.attn[ci] = true
			var z float64
			for i := range lq {
				if !sc.qmask[i] {
					continue
				}
				for j := range M {
					if !sc.kmask[ci*M+j] {
						continue
					}
					e := math.Exp(a[i*M+j] - mx)
					a[i*M+j] = e
					z += e
				}
			}
			for i := range a {
				a[i] /= z
				score += a[i] * t[i]
			}
		}
		score += float64(m.B[0])
		if cd.Features != nil {
			for k, u := range m.U {
				score += float64(u) * float64(cd.Features[k])
			}
		}
		sc.scores[ci] = score
	}
	// Softmax cross-entropy of the positive among the candidates.
	mx := math.Inf(-1)
	for _, s := range sc.scores {
		mx = max(mx, s)
	}
	var z float64
	for ci, s := range sc.scores {
		sc.p[ci] = math.Exp(s - mx)
		z += sc.p[ci]
	}
	for ci := range sc.p {
		sc.p[ci] /= z
	}
	if pos < 0 {
		return 0
	}
	return mx + math.Log(z) - sc.scores[pos]
}

// LossAndGrad is the reference pass of the scorer: it computes the softmax
// cross-entropy loss of candidate pos among cands for query q,
//
//	L = −log( exp(score_pos) / Σ_c exp(score_c) ),
//
// adds ∂L/∂θ for every parameter θ of m to g (g accumulates, so a batch is a
// sequence of calls; zero it between steps), and, when ig is not nil,
// overwrites ig with ∂L/∂x_i for each query token and ∂L/∂y_cj for each
// candidate token. g may be nil when only the input gradients are wanted.
// The computation is float64 throughout, from the model's float32
// parameters and inputs; it is the reference the float32 training step
// (exampleStep) is tested against, and the step of the search examples
// and of the offline comparisons that train on explicit candidate lists.
// Inputs are not modified.
//
// It panics if shapes are inconsistent, cands is empty, or pos is out of
// range.
func LossAndGrad(m *ranking.Model, g *Grads, ig *InputGrads, q ranking.Query, cands []ranking.Candidate, pos int) float64 {
	checkExample(m, &q, cands, pos)
	if g != nil && len(g.Wq) != len(m.Wq) {
		panic("training: Grads shape differs from the model's")
	}
	sc := refPool.Get().(*refScratch)
	defer refPool.Put(sc)
	loss := forward64(m, sc, &q, cands, pos)
	if ig != nil {
		ig.reset(&q, cands)
	}
	backward64(m, sc, g, ig, &q, cands, pos)
	return loss
}

// checkExample panics unless q and cands fit m, cands is not empty and pos
// indexes it.
func checkExample(m *ranking.Model, q *ranking.Query, cands []ranking.Candidate, pos int) {
	m.CheckInputs(q, cands)
	if len(cands) == 0 {
		panic("training: the loss needs at least one candidate")
	}
	if pos < 0 || pos >= len(cands) {
		panic("training: positive index out of range")
	}
}

// dims returns the model's number of modalities, d and d_a.
func dims(m *ranking.Model) (M, d, da int) {
	M, d = len(m.Proj), len(m.ProjBias[0])
	return M, d, len(m.Wq) / d
}

// backward64 accumulates the gradients of the loss from forward64.
func backward64(m *ranking.Model, sc *refScratch, g *Grads, ig *InputGrads, q *ranking.Query, cands []ranking.Candidate, pos int) {
	M, d, da := dims(m)
	lq := len(q.Tokens)
	if g == nil {
		g = NewGrads(m) // gradients with respect to inputs only
	}
	sc.dq = zeroedF64(sc.dq, lq*da)
	sc.dr = zeroedF64(sc.dr, lq*da)
	sc.dk = zeroedF64(sc.dk, M*da)
	sc.dv = zeroedF64(sc.dv, M*da)
	sc.dy = zeroedF64(sc.dy, d)
	sc.dx = zeroedF64(sc.dx, d)
	scale := 1 / math.Sqrt(float64(da))
	for ci := range cands {
		cd := &cands[ci]
		ds := sc.p[ci]
		if ci == pos {
			ds--
		}
		g.B[0] += ds
		if cd.Features != nil {
			for k, f := range cd.Features {
				g.U[k] += ds * float64(f)
			}
		}
		if !sc.attn[ci] || ds == 0 {
			continue
		}
		a := sc.a[ci*lq*M : (ci+1)*lq*M]
		t := sc.t[ci*lq*M : (ci+1)*lq*M]
		// Σ A dA with dA = ds·T is ds times the attention part of the score.
		var adA float64
		for k := range a {
			adA += a[k] * t[k]
		}
		adA *= ds
		clear(sc.dk)
		clear(sc.dv)
		for i := range lq {
			if !sc.qmask[i] {
				continue
			}
			qi, ri := sc.q[i*da:(i+1)*da], sc.r[i*da:(i+1)*da]
			dqi, dri := sc.dq[i*da:(i+1)*da], sc.dr[i*da:(i+1)*da]
			for j := range M {
				cj := ci*M + j
				if !sc.kmask[cj] {
					continue
				}
				aij := a[i*M+j]
				dS := aij * (ds*t[i*M+j] - adA)
				dT := ds * aij
				g.PosBias[i] += dS
				dSs := dS * scale
				kj, vj := sc.k[cj*da:(cj+1)*da], sc.v[cj*da:(cj+1)*da]
				dkj, dvj := sc.dk[j*da:(j+1)*da], sc.dv[j*da:(j+1)*da]
				for e := range da {
					dqi[e] += dSs * kj[e]
					dkj[e] += dSs * qi[e]
					dri[e] += dT * vj[e]
					dvj[e] += dT * ri[e]
				}
			}
		}
		for j := range M {
			cj := ci*M + j
			if !sc.kmask[cj] {
				continue
			}
			y := sc.y[cj*d : (cj+1)*d]
			dkj, dvj := sc.dk[j*da:(j+1)*da], sc.dv[j*da:(j+1)*da]
			outer64(g.Wk, y, dkj)
			outer64(g.Wv, y, dvj)
			dy := sc.dy
			matTVec64(dy, m.Wk, dkj, false)
			matTVec64(dy, m.Wv, dvj, true)
			outer64f(g.Proj[j], cd.Tokens[j], dy)
			for e, v := range dy {
				g.ProjBias[j][e] += v
			}
			if ig != nil {
				matTVec64(ig.Candidates[ci][j], m.Proj[j], dy, false)
			}
		}
	}
	for i := range lq {
		if !sc.qmask[i] {
			continue
		}
		x := sc.x[i*d : (i+1)*d]
		dqi, dri := sc.dq[i*da:(i+1)*da], sc.dr[i*da:(i+1)*da]
		outer64(g.Wq, x, dqi)
		outer64(g.Wo, x, dri)
		dx := sc.dx
		matTVec64(dx, m.Wq, dqi, false)
		matTVec64(dx, m.Wo, dri, true)
		mi := q.Modality[i]
		outer64f(g.Proj[mi], q.Tokens[i], dx)
		for e, v := range dx {
			g.ProjBias[mi][e] += v
		}
		if ig != nil {
			matTVec64(ig.Query[i], m.Proj[mi], dx, false)
		}
	}
}

// Loss returns the loss LossAndGrad would return, without gradients.
func Loss(m *ranking.Model, q ranking.Query, cands []ranking.Candidate, pos int) float64 {
	checkExample(m, &q, cands, pos)
	sc := refPool.Get().(*refScratch)
	defer refPool.Put(sc)
	return forward64(m, sc, &q, cands, pos)
}

// ScoresTo writes the float64 reference scores of cands for q under m to
// dst: the formulas of ranking.Model.ScoreTo without precomputed item keys.
// Offline evaluation of small candidate lists and the validation of the
// search examples use it.
func ScoresTo(dst []float64, m *ranking.Model, q ranking.Query, cands []ranking.Candidate) {
	m.CheckInputs(&q, cands)
	if len(dst) != len(cands) {
		panic("training: ScoresTo dst length differs from cands length")
	}
	if len(cands) == 0 {
		return
	}
	sc := refPool.Get().(*refScratch)
	defer refPool.Put(sc)
	forward64(m, sc, &q, cands, -1)
	copy(dst, sc.scores)
}
