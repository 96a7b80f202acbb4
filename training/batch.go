package training

import (
	"math"

	"github.com/fusionrank/fusionrank/internal/kernel"
	"github.com/fusionrank/fusionrank/ranking"
)

// shards is the fixed number of gradient accumulators a batch is split
// into. Goroutines take whole shards and shards are summed in index order,
// so the result does not depend on the number of goroutines.
const shards = 4

// example is one training example: the item at position t of user u is the
// positive, the user's events before it the history.
type example struct{ u, t int32 }

// batchItems holds the item side of one batch: the candidates (every
// positive of the batch and the shared negatives, each once) with their
// projected tokens, keys and values.
type batchItems struct {
	items []int32     // nC
	idx   []int32     // NumItems: candidate index of an item, −1 if absent
	tok   [][]float32 // nC × M raw tokens (nil when missing)
	attr  []float32   // nC × AttrDim, the attr means
	y     []float32   // nC × M × d
	k, v  []float32   // nC × M × da
	kmask []bool      // nC × M
	dk    []float32   // reduced ∂L/∂K
	dv    []float32
	mb    []float32 // nC × H: the early fusion item parts (FusionEarly)
}

// shard accumulates the gradients of a part of a batch.
type shard struct {
	g      *Grads
	dk, dv []float32
	collab *SparseGrad // recent-slot token gradients
	enc    []float64   // Recent × CollabDim: ∂L/∂ encoder Pos
	loss   float64
	count  int
	f      *featurizer
	ws     *exampleWS
	mix    mixShard // the mixer's gradients (non-attention modes)
}

// exampleWS is one goroutine's scratch for an example's forward and
// backward pass.
type exampleWS struct {
	feats                []float32
	stamp                []int32
	gen                  int32
	recent               []int32
	prof                 [][]float32
	encBuf               [][]float32
	tok                  [][]float32
	mod, slot            []int
	item                 []int32
	x, qs, r, dq, dr, dx []float32
	dxTok                []float32
	a, t                 []float32
	att                  []float32
	logit, p             []float64
	dx64                 []float64
	seqH                 []float32
	mix                  mixWS
}

func (n *net) newExampleWS() *exampleWS {
	ws := &exampleWS{stamp: make([]int32, n.d.NumItems)}
	if len(n.seq) > 0 {
		ws.seqH = make([]float32, n.seq[0].Dim)
	}
	for _, k := range n.profile {
		ws.prof = append(ws.prof, make([]float32, n.d.Fixed[k].Dim))
	}
	if n.enc != nil {
		for range n.layout.Recent {
			ws.encBuf = append(ws.encBuf, make([]float32, n.enc.Dim))
		}
	}
	return ws
}

// histEnd returns the end (exclusive) of the history of the example at
// position t of seq: every earlier event, without the events at the
// target's own time in timed data (the same basket).
func histEnd(seq []Event, t int, timed bool) int {
	end := t
	if timed {
		for end > 0 && seq[end-1].Time >= seq[t].Time {
			end--
		}
	}
	return end
}

// query fills ws's query slots for a history: the recent items' vectors in
// slots 0 … Recent−1 (most recent first, distinct), then one profile slot
// per fixed modality. It returns the number of valid slots.
func (n *net) query(ws *exampleWS, hist []Event) int {
	ws.recent = recentItems(ws.recent, hist, max(n.layout.Recent, ranking.CovisItems))
	ws.tok, ws.mod, ws.slot, ws.item = ws.tok[:0], ws.mod[:0], ws.slot[:0], ws.item[:0]
	rm := n.cfg.ModalityIndex(n.layout.RecentMod)
	for k := 0; k < min(len(ws.recent), n.layout.Recent); k++ {
		var buf []float32
		if n.enc != nil {
			buf = ws.encBuf[k]
		}
		v := n.slotToken(k, ws.recent[k], buf)
		if v == nil {
			continue
		}
		ws.tok = append(ws.tok, v)
		ws.mod = append(ws.mod, rm)
		ws.slot = append(ws.slot, k)
		ws.item = append(ws.item, ws.recent[k])
	}
	for p, fi := range n.profile {
		fm := &n.d.Fixed[fi]
		if profileTo(ws.prof[p], hist, fm, n.o.ProfileHalfLife) {
			ws.tok = append(ws.tok, ws.prof[p])
			ws.mod = append(ws.mod, n.cfg.ModalityIndex(fm.Name))
			ws.slot = append(ws.slot, n.layout.Recent+p)
			ws.item = append(ws.item, -1)
		}
	}
	return len(ws.tok)
}

// zeroedF32 returns s with length n, every element zero, reusing its memory when it can.
func zeroedF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// zeroedF64 returns s with length n, every element zero, reusing its memory when it can.
func zeroedF64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// exampleStep runs the forward and backward pass of one example against the
// batch's candidates, accumulating into sh, and returns the loss. target is
// the positive item, cutoff and own the point-in-time feature rules.
func (n *net) exampleStep(sh *shard, bi *batchItems, hist []Event, target int32, cutoff int64, own ownFuture) (float64, bool) {
	if n.mix != nil {
		return n.mixExampleStep(sh, bi, hist, target, cutoff, own)
	}
	ws := sh.ws
	m := n.model
	M, d, da := len(n.cfg.Modalities), n.cfg.DModel, n.cfg.DAttn
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
	// Query side: X = x P + p, Qs = X Wq / sqrt(da), R = X Wo.
	ws.x = zeroedF32(ws.x, nq*d)
	ws.qs = zeroedF32(ws.qs, nq*da)
	ws.r = zeroedF32(ws.r, nq*da)
	ws.dq = zeroedF32(ws.dq, nq*da)
	ws.dr = zeroedF32(ws.dr, nq*da)
	scale := float32(1 / math.Sqrt(float64(da)))
	for s := range nq {
		x := ws.x[s*d : (s+1)*d]
		copy(x, m.ProjBias[ws.mod[s]])
		kernel.VecMatAddTo(x, ws.tok[s], m.Proj[ws.mod[s]])
		q := ws.qs[s*da : (s+1)*da]
		kernel.VecMatTo(q, x, m.Wq)
		for e := range q {
			q[e] *= scale
		}
		kernel.VecMatTo(ws.r[s*da:(s+1)*da], x, m.Wo)
	}
	// Scores.
	ws.a = zeroedF32(ws.a, nC*nq*M)
	ws.t = zeroedF32(ws.t, nC*nq*M)
	ws.att = zeroedF32(ws.att, nC)
	ws.logit = zeroedF64(ws.logit, nC)
	ws.p = zeroedF64(ws.p, nC)
	mxl := math.Inf(-1)
	for c := range nC {
		if ws.stamp[bi.items[c]] == ws.gen && int32(c) != pos {
			ws.logit[c] = math.Inf(-1)
			continue
		}
		a := ws.a[c*nq*M : (c+1)*nq*M]
		t := ws.t[c*nq*M : (c+1)*nq*M]
		km := bi.kmask[c*M : (c+1)*M]
		mx := float32(math.Inf(-1))
		for s := range nq {
			qs, r := ws.qs[s*da:(s+1)*da], ws.r[s*da:(s+1)*da]
			beta := m.PosBias[ws.slot[s]]
			for j := range M {
				if !km[j] {
					continue
				}
				o := ((c*M + j) * da)
				sv := kernel.Dot(qs, bi.k[o:o+da]) + beta
				a[s*M+j] = sv
				t[s*M+j] = kernel.Dot(r, bi.v[o:o+da])
				mx = max(mx, sv)
			}
		}
		var att float32
		if !math.IsInf(float64(mx), -1) {
			var z float32
			for s := range nq {
				for j := range M {
					if !km[j] {
						continue
					}
					e := float32(math.Exp(float64(a[s*M+j] - mx)))
					a[s*M+j] = e
					z += e
				}
			}
			inv := 1 / z
			for s := range nq {
				for j := range M {
					if km[j] {
						a[s*M+j] *= inv
						att += a[s*M+j] * t[s*M+j]
					}
				}
			}
		}
		ws.att[c] = att
		l := float64(att) + float64(m.B[0])
		f := ws.feats[c*F : (c+1)*F]
		for k, u := range m.U {
			l += float64(u) * float64(f[k])
		}
		ws.logit[c] = l
		mxl = max(mxl, l)
	}
	loss := softmaxLoss(ws.p, ws.logit, mxl, pos)
	// Backward.
	g := sh.g
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
		a := ws.a[c*nq*M : (c+1)*nq*M]
		t := ws.t[c*nq*M : (c+1)*nq*M]
		km := bi.kmask[c*M : (c+1)*M]
		g32 := float32(gc)
		gatt := g32 * ws.att[c]
		for s := range nq {
			qs, r := ws.qs[s*da:(s+1)*da], ws.r[s*da:(s+1)*da]
			dq, dr := ws.dq[s*da:(s+1)*da], ws.dr[s*da:(s+1)*da]
			var dbeta float32
			for j := range M {
				if !km[j] {
					continue
				}
				aij := a[s*M+j]
				if aij == 0 {
					continue
				}
				dT := g32 * aij
				dS := aij * (g32*t[s*M+j] - gatt)
				dbeta += dS
				o := (c*M + j) * da
				kernel.Axpy(dq, dS, bi.k[o:o+da])
				kernel.Axpy(sh.dk[o:o+da], dS, qs)
				kernel.Axpy(dr, dT, bi.v[o:o+da])
				kernel.Axpy(sh.dv[o:o+da], dT, r)
			}
			g.PosBias[ws.slot[s]] += float64(dbeta)
		}
	}
	// Query side backward.
	ws.dx = zeroedF32(ws.dx, d)
	for s := range nq {
		x := ws.x[s*d : (s+1)*d]
		dq, dr := ws.dq[s*da:(s+1)*da], ws.dr[s*da:(s+1)*da]
		for e := range dq {
			dq[e] *= scale
		}
		kernel.AddOuter64(g.Wq, x, dq)
		kernel.AddOuter64(g.Wo, x, dr)
		dx := ws.dx
		kernel.MatVecTo(dx, m.Wq, dq)
		kernel.MatVecAddTo(dx, m.Wo, dr)
		mi := ws.mod[s]
		kernel.AddOuter64(g.Proj[mi], ws.tok[s], dx)
		kernel.Axpy64(g.ProjBias[mi], 1, dx)
		if ws.item[s] < 0 || n.recentFixed >= 0 {
			continue // profile slots and fixed recent vectors are not learned
		}
		dim := len(ws.tok[s])
		ws.dxTok = zeroedF32(ws.dxTok, dim)
		kernel.MatVecTo(ws.dxTok, m.Proj[mi], dx)
		ws.dx64 = zeroedF64(ws.dx64, dim)
		for k, v := range ws.dxTok {
			ws.dx64[k] = float64(v)
		}
		sh.collab.Add(int(ws.item[s]), ws.dx64, 1)
		if n.enc != nil {
			eg := sh.enc[ws.slot[s]*dim : (ws.slot[s]+1)*dim]
			for k, v := range ws.dx64 {
				eg[k] += v
			}
		}
	}
	return loss, true
}

// softmaxLoss fills p with the softmax of logit (mx its maximum) and returns the
// cross-entropy of the candidate pos.
func softmaxLoss(p, logit []float64, mx float64, pos int32) float64 {
	var z float64
	for c, l := range logit {
		p[c] = math.Exp(l - mx)
		z += p[c]
	}
	for c := range p {
		p[c] /= z
	}
	return mx + math.Log(z) - logit[pos]
}
