package ranking

import (
	"math"
	"sync"
)

// trainScratch holds the float64 activations of one example between the
// forward and the backward pass.
type trainScratch struct {
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

var trainPool = sync.Pool{New: func() any { return new(trainScratch) }}

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
func (m *Model) project64(dst []float64, j int, x []float32) {
	d := m.cfg.DModel
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
func (m *Model) forward64(sc *trainScratch, q *Query, cands []Candidate, pos int) float64 {
	c := &m.cfg
	M, d, da := len(c.Modalities), c.DModel, c.DAttn
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
		if !queryValid(q, i) {
			continue
		}
		sc.qmask[i] = true
		x := sc.x[i*d : (i+1)*d]
		m.project64(x, q.Modality[i], tok)
		vecMat64(sc.q[i*da:(i+1)*da], x, m.Wq)
		vecMat64(sc.r[i*da:(i+1)*da], x, m.Wo)
	}
	scale := 1 / math.Sqrt(float64(da))
	for ci := range cands {
		cd := &cands[ci]
		for j, tok := range cd.Tokens {
			if !candValid(cd, j) {
				continue
			}
			cj := ci*M + j
			sc.kmask[cj] = true
			y := sc.y[cj*d : (cj+1)*d]
			m.project64(y, j, tok)
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

// LossAndGrad computes the softmax cross-entropy loss of candidate pos
// among cands for query q,
//
//	L = −log( exp(score_pos) / Σ_c exp(score_c) ),
//
// adds ∂L/∂θ for every parameter θ to g (g accumulates, so a batch is a
// sequence of calls; zero it between steps), and, when ig is not nil,
// overwrites ig with ∂L/∂x_i for each query token and ∂L/∂y_cj for each
// candidate token. g may be nil when only the input gradients are wanted. The computation is float64 throughout, from the model's
// float32 parameters and inputs. Inputs are not modified.
//
// It panics if shapes are inconsistent, cands is empty, or pos is out of
// range.
func (m *Model) LossAndGrad(g *Grads, ig *InputGrads, q Query, cands []Candidate, pos int) float64 {
	m.checkQuery(&q)
	if len(cands) == 0 {
		panic("ranking: LossAndGrad needs at least one candidate")
	}
	if pos < 0 || pos >= len(cands) {
		panic("ranking: positive index out of range")
	}
	for c := range cands {
		m.checkCandidate(&cands[c])
	}
	if g != nil && len(g.Wq) != len(m.Wq) {
		panic("ranking: Grads shape differs from the model's")
	}
	sc := trainPool.Get().(*trainScratch)
	defer trainPool.Put(sc)
	loss := m.forward64(sc, &q, cands, pos)
	if ig != nil {
		ig.reset(&q, cands)
	}
	m.backward64(sc, g, ig, &q, cands, pos)
	return loss
}

// backward64 accumulates the gradients of the loss from forward64.
func (m *Model) backward64(sc *trainScratch, g *Grads, ig *InputGrads, q *Query, cands []Candidate, pos int) {
	c := &m.cfg
	M, d, da := len(c.Modalities), c.DModel, c.DAttn
	lq := len(q.Tokens)
	if g == nil {
		g = m.NewGrads() // gradients with respect to inputs only
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
func (m *Model) Loss(q Query, cands []Candidate, pos int) float64 {
	m.checkQuery(&q)
	if len(cands) == 0 {
		panic("ranking: Loss needs at least one candidate")
	}
	if pos < 0 || pos >= len(cands) {
		panic("ranking: positive index out of range")
	}
	for c := range cands {
		m.checkCandidate(&cands[c])
	}
	sc := trainPool.Get().(*trainScratch)
	defer trainPool.Put(sc)
	return m.forward64(sc, &q, cands, pos)
}

// ScoresTo writes the float64 training-path scores of cands for q to dst,
// the same formulas as ScoreTo without precomputed item keys; use it for
// offline evaluation of small candidate lists and for checking the serving
// path.
func (m *Model) ScoresTo(dst []float64, q Query, cands []Candidate) {
	m.checkQuery(&q)
	if len(dst) != len(cands) {
		panic("ranking: ScoresTo dst length differs from cands length")
	}
	for c := range cands {
		m.checkCandidate(&cands[c])
	}
	if len(cands) == 0 {
		return
	}
	sc := trainPool.Get().(*trainScratch)
	defer trainPool.Put(sc)
	m.forward64(sc, &q, cands, -1)
	copy(dst, sc.scores)
}
