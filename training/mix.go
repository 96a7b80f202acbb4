package training

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/fusionrank/fusionrank/internal/kernel"
	"github.com/fusionrank/fusionrank/ranking"
)

// The ways the scorer's learned part combines the query tokens with a
// candidate's modality vectors (Options.Fusion). Every mode shares the
// rest of the model: the projections X_s = P_m x_s + p_m of the query
// tokens and Y_cj = P_j y_cj + p_j of the candidate's modality vectors, the
// scalar features u·f_c and the bias b, so comparing modes compares only
// how the modalities are fused.
// The ways the scorer's learned part can fuse the modalities are
// ranking's fusion modes (formulas in ranking/fusion.go); each is served.
const (
	// FusionAttention is cross-modal attention (ranking.FusionAttention),
	// the default.
	FusionAttention = ranking.FusionAttention
	// FusionEarly is early fusion (ranking.FusionEarly): e_c = w2 ·
	// relu(W1 [x̄; Y_c1; …; Y_cM] + b1), x̄ = mean_s X_s, a missing
	// modality a zero block.
	FusionEarly = ranking.FusionEarly
	// FusionLate is late fusion (ranking.FusionLate): e_c = Σ_j w_j (x̄ ·
	// Y_cj), a missing modality scoring 0.
	FusionLate = ranking.FusionLate
	// FusionOff leaves the learned part out (ranking.FusionOff): the
	// score is u·f_c + b (the scalar features alone, their weights still
	// trained).
	FusionOff = ranking.FusionOff
)

// FusionModes lists the modes Options.Fusion accepts.
var FusionModes = ranking.FusionModes

// mixer holds the parameters of a non-attention fusion mode. p's rows are
// the trainable parameters, so the embedding optimizer updates them, and
// alias the model's Mix (ranking.Model): early: rows 0 … (M+1)·d−1 are W1
// (row r weighs input component r of the concatenation, x̄ first), row
// (M+1)·d is b1 and row (M+1)·d+1 is w2, all of width H = d; late: one row
// of the M weights w_j; off: nil.
type mixer struct {
	mode    string
	M, d, H int
	p       *Embeddings
}

// newMixer returns the mixer of model m (whose Mix it aliases), with W1
// drawn from rng under early fusion.
func newMixer(m *ranking.Model, rng *rand.Rand) (*mixer, error) {
	cfg := m.Config()
	mode, M, d := cfg.FusionMode(), len(cfg.Modalities), cfg.DModel
	mx := &mixer{mode: mode, M: M, d: d, H: d}
	switch mode {
	case FusionEarly:
		mx.p = &Embeddings{Dim: mx.H, Data: m.Mix}
		s := 1 / math.Sqrt(float64((M+1)*d))
		for i := range (M + 1) * d * mx.H {
			mx.p.Data[i] = float32(rng.NormFloat64() * s)
		}
		// w2 starts at 0: the initial model is the scalar features alone,
		// as every mode's is, and w2's first gradients open the MLP.
	case FusionLate:
		mx.p = &Embeddings{Dim: M, Data: m.Mix} // w_j start at 0
	case FusionOff:
	default:
		return nil, fmt.Errorf("training: fusion mode %q: want one of %v", mode, FusionModes)
	}
	return mx, nil
}

// cloneFor returns a copy of mx whose parameters alias m's Mix (a clone of
// the model mx's alias).
func (mx *mixer) cloneFor(m *ranking.Model) *mixer {
	c := *mx
	if mx.p != nil {
		c.p = &Embeddings{Dim: mx.p.Dim, Data: m.Mix}
	}
	return &c
}

// w1 returns the H-wide row r of W1, b1 and w2 (early).
func (mx *mixer) w1(r int) []float32 { return mx.p.Row(r) }
func (mx *mixer) b1() []float32      { return mx.p.Row((mx.M + 1) * mx.d) }
func (mx *mixer) w2() []float32      { return mx.p.Row((mx.M+1)*mx.d + 1) }

// queryPart returns the query's contribution to the early MLP's
// pre-activation, W1_q x̄ (into dst, H).
func (mx *mixer) queryPart(dst, xbar []float32) {
	clear(dst)
	for r, v := range xbar {
		if v != 0 {
			kernel.Axpy(dst, v, mx.w1(r))
		}
	}
}

// itemPart writes a candidate's part of the early MLP's pre-activation,
// b1 + Σ_j W1_j Y_cj, to dst (H); y is the candidate's M × d projections,
// mask which are present.
func (mx *mixer) itemPart(dst, y []float32, mask []bool) {
	copy(dst, mx.b1())
	for j := range mx.M {
		if !mask[j] {
			continue
		}
		for e, v := range y[j*mx.d : (j+1)*mx.d] {
			if v != 0 {
				kernel.Axpy(dst, v, mx.w1((1+j)*mx.d+e))
			}
		}
	}
}

// score returns e_c: early from the pre-activation parts a (query) and b
// (candidate), late from x̄ and the candidate's projections y with mask.
func (mx *mixer) score(a, b, xbar, y []float32, mask []bool) float32 {
	switch mx.mode {
	case FusionEarly:
		if !slices.Contains(mask, true) {
			return 0 // no modality: no learned part, as under attention
		}
		w2 := mx.w2()
		var s float32
		for h, av := range a {
			if z := av + b[h]; z > 0 {
				s += w2[h] * z
			}
		}
		return s
	case FusionLate:
		w := mx.p.Data
		var s float32
		for j := range mx.M {
			if mask[j] {
				s += w[j] * kernel.Dot(xbar, y[j*mx.d:(j+1)*mx.d])
			}
		}
		return s
	}
	return 0
}

// mixShard is a shard's share of the mixer's gradients.
type mixShard struct {
	g  []float64 // ∂L/∂p.Data
	db []float32 // early: nC × H, ∂L/∂(item part)
	dy []float32 // late: nC × M × d, ∂L/∂Y
}

// mixWS is an example's scratch for a non-attention mode.
type mixWS struct {
	x, xbar, dxbar []float32
	a, da          []float32
	dtok           []float32
	dx64           []float64
}

// mixItemForward computes the candidates' early item parts (bi.mb) after
// itemForward has projected their modality vectors (bi.y).
func (tr *trainer) mixItemForward() {
	n, bi := tr.n, &tr.bi
	mx := n.mix
	if mx.mode != FusionEarly {
		return
	}
	M, d, H := mx.M, mx.d, mx.H
	nC := len(bi.items)
	bi.mb = zeroedF32(bi.mb, nC*H)
	for c := range nC {
		mx.itemPart(bi.mb[c*H:(c+1)*H], bi.y[c*M*d:(c+1)*M*d], bi.kmask[c*M:(c+1)*M])
	}
}

// resetMixShard sizes and zeroes a shard's mixer gradients for nC candidates.
func (n *net) resetMixShard(sh *shard, nC int) {
	mx := n.mix
	if mx.p == nil {
		return
	}
	ms := &sh.mix
	ms.g = zeroedF64(ms.g, len(mx.p.Data))
	switch mx.mode {
	case FusionEarly:
		ms.db = zeroedF32(ms.db, nC*mx.H)
	case FusionLate:
		ms.dy = zeroedF32(ms.dy, nC*mx.M*mx.d)
	}
}

// mixExampleStep is exampleStep for a non-attention mode: the forward and
// backward pass of one example against the batch's candidates.
func (n *net) mixExampleStep(sh *shard, bi *batchItems, hist []Event, target int32, cutoff int64, own ownFuture) (float64, bool) {
	ws := sh.ws
	m, mx := n.model, n.mix
	M, d, H := len(n.cfg.Modalities), n.cfg.DModel, mx.H
	F := ranking.NFeatures
	nq := n.query(ws, hist)
	pos := bi.idx[target]
	if nq == 0 || pos < 0 {
		return 0, false
	}
	nC := len(bi.items)
	ws.feats = zeroedF32(ws.feats, nC*F)
	sh.f.features(ws.feats, nC, bi.idx, bi.items, ws.recent, cutoff, own)
	n.seqFeatures(ws.feats, bi.items, hist, ws.seqH)
	ws.gen++
	for _, e := range hist {
		ws.stamp[e.Item] = ws.gen
	}
	mw := &ws.mix
	n.mixQuery(mw, ws, nq)
	if mx.mode == FusionEarly {
		mw.a = zeroedF32(mw.a, H)
		mx.queryPart(mw.a, mw.xbar)
		mw.da = zeroedF32(mw.da, H)
	}
	ws.logit = zeroedF64(ws.logit, nC)
	ws.p = zeroedF64(ws.p, nC)
	mxl := math.Inf(-1)
	for c := range nC {
		if ws.stamp[bi.items[c]] == ws.gen && int32(c) != pos {
			ws.logit[c] = math.Inf(-1)
			continue
		}
		l := float64(m.B[0])
		if mx.p != nil {
			var b []float32
			if mx.mode == FusionEarly {
				b = bi.mb[c*H : (c+1)*H]
			}
			l += float64(mx.score(mw.a, b, mw.xbar, bi.y[c*M*d:(c+1)*M*d], bi.kmask[c*M:(c+1)*M]))
		}
		f := ws.feats[c*F : (c+1)*F]
		for k, u := range m.U {
			l += float64(u) * float64(f[k])
		}
		ws.logit[c] = l
		mxl = max(mxl, l)
	}
	loss := softmaxLoss(ws.p, ws.logit, mxl, pos)
	// Backward.
	g, ms := sh.g, &sh.mix
	mw.dxbar = zeroedF32(mw.dxbar, d)
	for c := range nC {
		gc := ws.p[c]
		if int32(c) == pos {
			gc--
		}
		if gc == 0 {
			continue
		}
		g.B[0] += gc
		f := ws.feats[c*F : (c+1)*F]
		for k := range g.U {
			g.U[k] += gc * float64(f[k])
		}
		g32 := float32(gc)
		switch mx.mode {
		case FusionEarly:
			if !slices.Contains(bi.kmask[c*M:(c+1)*M], true) {
				break // no modality: no learned part (mixer.score)
			}
			b := bi.mb[c*H : (c+1)*H]
			w2 := mx.w2()
			gw2 := ms.g[((M+1)*d+1)*H:]
			db := ms.db[c*H : (c+1)*H]
			for h, av := range mw.a {
				zv := av + b[h]
				if zv <= 0 {
					continue
				}
				gw2[h] += gc * float64(zv)
				dp := g32 * w2[h]
				mw.da[h] += dp
				db[h] += dp
			}
		case FusionLate:
			y := bi.y[c*M*d : (c+1)*M*d]
			km := bi.kmask[c*M : (c+1)*M]
			for j := range M {
				if !km[j] {
					continue
				}
				yj := y[j*d : (j+1)*d]
				ms.g[j] += gc * float64(kernel.Dot(mw.xbar, yj))
				wj := g32 * mx.p.Data[j]
				kernel.Axpy(mw.dxbar, wj, yj)
				kernel.Axpy(ms.dy[(c*M+j)*d:(c*M+j+1)*d], wj, mw.xbar)
			}
		}
	}
	if mx.mode == FusionEarly {
		// ∂L/∂W1_q = x̄ ⊗ ∂L/∂a, ∂L/∂x̄ = W1_q ∂L/∂a.
		for r, v := range mw.xbar {
			row := ms.g[r*H : (r+1)*H]
			w := mx.w1(r)
			var s float32
			for h, dv := range mw.da {
				row[h] += float64(v) * float64(dv)
				s += w[h] * dv
			}
			mw.dxbar[r] += s
		}
	}
	n.mixQueryBackward(sh, mw, ws, nq)
	return loss, true
}

// mixQuery projects the example's query tokens (X_s, into mw.x) and
// averages them into x̄ (mw.xbar).
func (n *net) mixQuery(mw *mixWS, ws *exampleWS, nq int) {
	m, d := n.model, n.cfg.DModel
	mw.x = zeroedF32(mw.x, nq*d)
	mw.xbar = zeroedF32(mw.xbar, d)
	for s := range nq {
		x := mw.x[s*d : (s+1)*d]
		copy(x, m.ProjBias[ws.mod[s]])
		kernel.VecMatAddTo(x, ws.tok[s], m.Proj[ws.mod[s]])
		kernel.Axpy(mw.xbar, 1/float32(nq), x)
	}
}

// mixQueryBackward sends ∂L/∂x̄ (mw.dxbar) to every query slot (∂X_s =
// ∂x̄ / nq) and on to the projections, the learned recent-slot vectors and
// the recency encoder, as exampleStep's query side does.
func (n *net) mixQueryBackward(sh *shard, mw *mixWS, ws *exampleWS, nq int) {
	m, g, d := n.model, sh.g, n.cfg.DModel
	dx := zeroedF32(mw.x[:0], d) // X is no longer needed: reuse its storage
	for e, v := range mw.dxbar {
		dx[e] = v / float32(nq)
	}
	for s := range nq {
		mi := ws.mod[s]
		kernel.AddOuter64(g.Proj[mi], ws.tok[s], dx)
		kernel.Axpy64(g.ProjBias[mi], 1, dx)
		if ws.item[s] < 0 || n.recentFixed >= 0 {
			continue
		}
		dim := len(ws.tok[s])
		mw.dtok = zeroedF32(mw.dtok, dim)
		kernel.MatVecTo(mw.dtok, m.Proj[mi], dx)
		mw.dx64 = zeroedF64(mw.dx64, dim)
		for k, v := range mw.dtok {
			mw.dx64[k] = float64(v)
		}
		sh.collab.Add(int(ws.item[s]), mw.dx64, 1)
		if n.enc != nil {
			eg := sh.enc[ws.slot[s]*dim : (ws.slot[s]+1)*dim]
			for k, v := range mw.dx64 {
				eg[k] += v
			}
		}
	}
}

// mixBackward reduces the shards' mixer gradients, backpropagates the item
// side into tr.g and the embedding gradients (scaled by inv, as
// itemBackward), and fills tr.mixG with the mixer's parameter gradient.
func (tr *trainer) mixBackward(inv float64) {
	n, bi := tr.n, &tr.bi
	mx := n.mix
	if mx.p == nil {
		return
	}
	M, d, H := mx.M, mx.d, mx.H
	nC := len(bi.items)
	g := make([]float64, len(mx.p.Data))
	var db, dyAll []float32
	switch mx.mode {
	case FusionEarly:
		db = make([]float32, nC*H)
	case FusionLate:
		dyAll = make([]float32, nC*M*d)
	}
	for _, sh := range tr.shards {
		for k, v := range sh.mix.g {
			g[k] += v
		}
		if db != nil {
			kernel.Axpy(db, 1, sh.mix.db)
		}
		if dyAll != nil {
			kernel.Axpy(dyAll, 1, sh.mix.dy)
		}
	}
	dy := make([]float32, d)
	dtok := make([]float32, max(n.o.CollabDim, n.o.AttrDim))
	dtok64 := make([]float64, len(dtok))
	for c, it := range bi.items {
		var dbc []float32
		if db != nil {
			dbc = db[c*H : (c+1)*H]
			for h, v := range dbc {
				g[(M+1)*d*H+h] += float64(v) // b1
			}
		}
		for j := range M {
			cj := c*M + j
			if !bi.kmask[cj] {
				continue
			}
			y := bi.y[cj*d : (cj+1)*d]
			if dbc != nil {
				// ∂L/∂W1_j = Y_cj ⊗ ∂b_c, ∂L/∂Y_cj = W1_j ∂b_c.
				for e, v := range y {
					r := (1+j)*d + e
					row := g[r*H : (r+1)*H]
					w := mx.w1(r)
					var s float32
					for h, dv := range dbc {
						row[h] += float64(v) * float64(dv)
						s += w[h] * dv
					}
					dy[e] = s
				}
			} else {
				copy(dy, dyAll[cj*d:(cj+1)*d])
			}
			tr.projectBack(j, it, bi.tok[cj], dy, dtok, dtok64, inv)
		}
	}
	if tr.mixG == nil {
		tr.mixG = NewSparseGrad(mx.p.Dim)
	}
	tr.mixG.Reset()
	for r := range mx.p.Rows() {
		tr.mixG.Add(r, g[r*mx.p.Dim:(r+1)*mx.p.Dim], inv)
	}
}

// mixSearchWS is a search shard's scratch for a non-attention mode.
type mixSearchWS struct {
	g                     []float64 // ∂L/∂Mix, summed over the shard's examples (zeroed per step by the caller)
	xs, ys, z             [][]float64
	xbar, dxbar, a, v, dz []float64
	logit, p              []float64
}

func growF64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	s = s[:n]
	clear(s)
	return s
}

func rows64(s [][]float64, n, w int) [][]float64 {
	for len(s) < n {
		s = append(s, nil)
	}
	s = s[:n]
	for k := range s {
		s[k] = growF64(s[k], w)
	}
	return s
}

// mixLossAndGrad is ranking.Model.LossAndGrad for the non-attention fusion
// modes, on raw query and candidate tokens (the search examples): the
// softmax cross-entropy of candidate pos, computed in float64, with the
// gradients added to g (projections, u, b) and to ws.g (the mixer's
// parameters, laid out as Mix, of length len(Mix)) when g is not nil. With g nil it only writes
// the logits to ws.logit (validation). No input gradients: search examples
// do not train the learned tables, as under attention.
func (n *net) mixLossAndGrad(ws *mixSearchWS, g *Grads, q ranking.Query, cands []ranking.Candidate, pos int) float64 {
	m, mx := n.model, n.mix
	M, d := len(n.cfg.Modalities), n.cfg.DModel
	H := d
	proj := func(dst []float64, j int, x []float32) {
		p := m.Proj[j]
		for e := range d {
			dst[e] = float64(m.ProjBias[j][e])
		}
		for k, v := range x {
			if v == 0 {
				continue
			}
			row := p[k*d : (k+1)*d]
			for e, w := range row {
				dst[e] += float64(v) * float64(w)
			}
		}
	}
	// Query side: X_i and x̄.
	ws.xs = rows64(ws.xs, len(q.Tokens), d)
	ws.xbar = growF64(ws.xbar, d)
	nq := 0
	for i, x := range q.Tokens {
		if q.Mask != nil && !q.Mask[i] {
			continue
		}
		proj(ws.xs[i], q.Modality[i], x)
		for e, v := range ws.xs[i] {
			ws.xbar[e] += v
		}
		nq++
	}
	if nq > 0 {
		for e := range ws.xbar {
			ws.xbar[e] /= float64(nq)
		}
	}
	mix := func(k int) float64 { return float64(m.Mix[k]) }
	if mx.mode == FusionEarly && nq > 0 {
		ws.a = growF64(ws.a, H) // W1_q x̄
		for r, v := range ws.xbar {
			for h := range H {
				ws.a[h] += v * mix(r*H+h)
			}
		}
	}
	nC := len(cands)
	ws.ys = rows64(ws.ys, nC*M, d)
	if mx.mode == FusionEarly {
		ws.z = rows64(ws.z, nC, H)
	}
	ws.logit = growF64(ws.logit, nC)
	ws.p = growF64(ws.p, nC)
	present := func(cd *ranking.Candidate, j int) bool {
		if cd.Mask != nil {
			return cd.Mask[j]
		}
		return len(cd.Tokens[j]) > 0
	}
	mxl := math.Inf(-1)
	for c := range cands {
		cd := &cands[c]
		l := float64(m.B[0])
		for k, u := range m.U {
			if cd.Features != nil {
				l += float64(u) * float64(cd.Features[k])
			}
		}
		any := false
		for j := range M {
			if present(cd, j) {
				proj(ws.ys[c*M+j], j, cd.Tokens[j])
				any = true
			}
		}
		if nq > 0 && any {
			switch mx.mode {
			case FusionLate:
				for j := range M {
					if present(cd, j) {
						l += mix(j) * dot64(ws.xbar, ws.ys[c*M+j])
					}
				}
			case FusionEarly:
				z := ws.z[c]
				for h := range H {
					z[h] = ws.a[h] + mix((M+1)*d*H+h)
				}
				for j := range M {
					if !present(cd, j) {
						continue
					}
					for e, v := range ws.ys[c*M+j] {
						r := ((1+j)*d + e) * H
						for h := range H {
							z[h] += v * mix(r+h)
						}
					}
				}
				for h, v := range z {
					if v > 0 {
						l += mix((M+1)*d*H+H+h) * v
					}
				}
			}
		}
		ws.logit[c] = l
		mxl = max(mxl, l)
	}
	var zsum float64
	for c, l := range ws.logit {
		ws.p[c] = math.Exp(l - mxl)
		zsum += ws.p[c]
	}
	loss := math.Log(zsum) + mxl - ws.logit[pos]
	if g == nil {
		return loss
	}
	for c := range ws.p {
		ws.p[c] /= zsum
	}
	ws.dxbar = growF64(ws.dxbar, d)
	ws.v = growF64(ws.v, max(d, H))
	var dA []float64 // early: Σ_c ∂L/∂z_c, for W1_q and x̄
	if mx.mode == FusionEarly {
		dA = make([]float64, H)
	}
	addProj := func(j int, x []float32, dy []float64) {
		for k, v := range x {
			if v == 0 {
				continue
			}
			row := g.Proj[j][k*d : (k+1)*d]
			for e, gv := range dy {
				row[e] += float64(v) * gv
			}
		}
		for e, gv := range dy {
			g.ProjBias[j][e] += gv
		}
	}
	for c := range cands {
		cd := &cands[c]
		gc := ws.p[c]
		if c == pos {
			gc--
		}
		if gc == 0 {
			continue
		}
		g.B[0] += gc
		if cd.Features != nil {
			for k := range g.U {
				g.U[k] += gc * float64(cd.Features[k])
			}
		}
		any := false
		for j := range M {
			any = any || present(cd, j)
		}
		if nq == 0 || !any {
			continue
		}
		switch mx.mode {
		case FusionLate:
			for j := range M {
				if !present(cd, j) {
					continue
				}
				y := ws.ys[c*M+j]
				ws.g[j] += gc * dot64(ws.xbar, y)
				wj := gc * mix(j)
				dy := ws.v[:d]
				for e := range d {
					ws.dxbar[e] += wj * y[e]
					dy[e] = wj * ws.xbar[e]
				}
				addProj(j, cd.Tokens[j], dy)
			}
		case FusionEarly:
			z := ws.z[c]
			ws.dz = growF64(ws.dz, H)
			dz := ws.dz
			for h, v := range z {
				if v > 0 {
					ws.g[(M+1)*d*H+H+h] += gc * v
					dz[h] = gc * mix((M+1)*d*H+H+h)
					ws.g[(M+1)*d*H+h] += dz[h]
					dA[h] += dz[h]
				}
			}
			for j := range M {
				if !present(cd, j) {
					continue
				}
				y := ws.ys[c*M+j]
				dy := ws.v[:d]
				for e, v := range y {
					r := ((1+j)*d + e) * H
					var s float64
					for h, dv := range dz {
						ws.g[r+h] += v * dv
						s += mix(r+h) * dv
					}
					dy[e] = s
				}
				addProj(j, cd.Tokens[j], dy)
			}
		}
	}
	if dA != nil {
		for r, v := range ws.xbar {
			var s float64
			for h, dv := range dA {
				ws.g[r*H+h] += v * dv
				s += mix(r*H+h) * dv
			}
			ws.dxbar[r] += s
		}
	}
	if nq > 0 {
		dx := ws.v[:d]
		for e, v := range ws.dxbar {
			dx[e] = v / float64(nq)
		}
		for i, x := range q.Tokens {
			if q.Mask != nil && !q.Mask[i] {
				continue
			}
			addProj(q.Modality[i], x, dx)
		}
	}
	return loss
}

func dot64(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}
