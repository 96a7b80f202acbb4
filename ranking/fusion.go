package ranking

import (
	"math"

	"github.com/fusionrank/fusionrank/internal/kernel"
)

// The fusion modes: how the learned part of the score combines the query
// tokens with a candidate's modality vectors (Config.Fusion). Every mode
// shares the rest of the model: the projections X_i = x_i P_m(i) + p_m(i)
// of the query tokens and Y_cj = y_cj P_j + p_j of the candidate's
// modality vectors, the scalar features u·f_c and the bias b. A shop's
// model is trained with each and the best on held-out cases is served
// (training.ServeCandidates), because which fusion earns its keep depends
// on the shop's data.
//
// With x̄ = (1/n_q) Σ_i X_i the mean of the n_q valid query tokens' projections
// and e_c the learned part (score_c = e_c + u·f_c + b):
//
//	attention  e_c = Σ_ij A_c[i,j] (R_i·V_cj)                (the formula of doc.go)
//	early      e_c = w2 · relu(W1 [x̄; Y_c1; …; Y_cM] + b1)   (W1: H × (M+1)·d, H = d)
//	late       e_c = Σ_j w_j (x̄ · Y_cj)
//	off        e_c = 0                                      (the scalar features alone)
//
// In early fusion a missing modality is a zero block; in every mode a
// candidate without any present modality, or a query without a valid
// token, has e_c = 0. Early fusion stores, per item, each modality's part
// W1_j Y_cj of the pre-activation (the rows of W1 for block j), late fusion
// the projections Y_cj, so a request pays for x̄ (and W1_q x̄) once and then
// M dot products (late) or M additions of H-vectors and H rectifiers
// (early) per candidate.
//
// Explanations: late fusion is a sum over modalities and, x̄ being a mean,
// over query tokens too, so the contributions are exact: modality j adds
// w_j (x̄·Y_cj) and token i adds (1/n_q) Σ_j w_j (X_i·Y_cj). Early fusion
// has no such sum (the MLP mixes the blocks); what it reports is what
// leaving a part out changes: modality j contributes e_c minus e_c with
// block j zeroed, token i e_c minus e_c with x̄ the mean of the other
// tokens (0 when it is the only one). Modality and token weights are the
// shares of the absolute contributions (summing to 1). Off has none.
const (
	// FusionAttention is cross-modal attention, the default.
	FusionAttention = "attention"
	// FusionEarly is early fusion: one MLP over the concatenation.
	FusionEarly = "early"
	// FusionLate is late fusion: one score per modality, learned weights.
	FusionLate = "late"
	// FusionOff leaves the learned part out: u·f_c + b.
	FusionOff = "off"
)

// FusionModes lists the modes Config.Fusion accepts.
var FusionModes = []string{FusionAttention, FusionEarly, FusionLate, FusionOff}

// earlyW1 returns the rows of W1 for block k of the concatenation (0: x̄,
// 1+j: modality j), a DModel × H row-major matrix.
func (m *Model) earlyW1(k int) []float32 {
	d := m.cfg.DModel
	return m.Mix[k*d*d : (k+1)*d*d]
}

// earlyB1 and earlyW2 return b1 and w2 (H each).
func (m *Model) earlyB1() []float32 {
	d, M := m.cfg.DModel, len(m.cfg.Modalities)
	return m.Mix[(M+1)*d*d : (M+1)*d*d+d]
}

func (m *Model) earlyW2() []float32 {
	d, M := m.cfg.DModel, len(m.cfg.Modalities)
	return m.Mix[(M+1)*d*d+d : (M+1)*d*d+2*d]
}

// mixQuery is the query side of early and late fusion in a Workspace.
type mixQuery struct {
	nq    int
	valid []bool    // lq
	xs    []float32 // lq × d: X_i of the valid tokens
	xbar  []float32 // d
	a     []float32 // H, early: W1_q x̄
	aocc  []float32 // lq × H, early: W1_q x̄ without token i
	z     []float32 // H scratch, early
	cw    []float32 // M scratch: a candidate's modality contributions
	tw    []float32 // lq scratch: its token contributions
}

// mixQueryTo is QueryTo for early, late and off.
func (m *Model) mixQueryTo(ws *Workspace, q *Query) {
	c := &m.cfg
	d, lq, M := c.DModel, len(q.Tokens), len(c.Modalities)
	mq := &ws.mix
	mq.nq = 0
	if cap(mq.valid) < lq {
		mq.valid = make([]bool, lq)
	}
	mq.valid = mq.valid[:lq]
	mq.xs = resize(mq.xs, lq*d)
	mq.xbar = resize(mq.xbar, d)
	mq.a = resize(mq.a, d)
	mq.aocc = resize(mq.aocc, lq*d)
	mq.z = resize(mq.z, d)
	mq.cw = resize(mq.cw, M)
	mq.tw = resize(mq.tw, lq)
	clear(mq.xbar)
	for i, tok := range q.Tokens {
		mq.valid[i] = q.Valid(i)
		if mq.valid[i] {
			mq.nq++
			m.project(mq.xs[i*d:(i+1)*d], q.Modality[i], tok)
		}
	}
	if mq.nq == 0 || c.FusionMode() == FusionOff {
		return
	}
	inv := 1 / float32(mq.nq)
	for i := range lq {
		if mq.valid[i] {
			kernel.Axpy(mq.xbar, inv, mq.xs[i*d:(i+1)*d])
		}
	}
	if c.FusionMode() != FusionEarly {
		return
	}
	w1q := m.earlyW1(0)
	kernel.VecMatTo(mq.a, mq.xbar, w1q)
	// W1_q x̄ without token i = (n_q W1_q x̄ − W1_q X_i)/(n_q − 1), by linearity.
	n := float32(mq.nq)
	for i := range lq {
		ai := mq.aocc[i*d : (i+1)*d]
		if !mq.valid[i] || mq.nq == 1 {
			clear(ai)
			continue
		}
		kernel.VecMatTo(ai, mq.xs[i*d:(i+1)*d], w1q)
		for h, v := range ai {
			ai[h] = (n*mq.a[h] - v) / (n - 1)
		}
	}
}

// mixScoreTo is ScoreTo for early, late and off: the learned part (fusion.go)
// plus u·f_c + b, and the explanations when asked.
func (m *Model) mixScoreTo(dst []float32, ws *Workspace, kv *ItemKV, rows []int, features []float32, modW, tokW, conW []float32) {
	M, F, lq, d := ws.m, m.cfg.NFeatures, ws.lq, m.cfg.DModel
	mq := &ws.mix
	mode := kv.fusion
	stride, nrows := kv.stride(), len(kv.masks)
	explain := modW != nil || tokW != nil || conW != nil
	for c, r := range rows {
		if uint(r) >= uint(nrows) {
			panic("ranking: ItemKV row out of range")
		}
		var mw, tw, cw []float32
		if modW != nil {
			mw = modW[c*M : (c+1)*M]
		}
		if tokW != nil {
			tw = tokW[c*lq : (c+1)*lq]
		}
		if conW != nil {
			cw = conW[c*M : (c+1)*M]
		}
		clear(mw)
		clear(tw)
		clear(cw)
		imask := kv.masks[r]
		var s float32
		if mode != FusionOff && mq.nq > 0 && imask != 0 {
			row := kv.data[r*stride : (r+1)*stride]
			if mode == FusionLate {
				s = m.lateScore(mq, row, imask, M, d, explain)
			} else {
				s = m.earlyScore(mq, row, imask, M, d, explain)
			}
			if explain {
				if cw != nil {
					copy(cw, mq.cw[:M])
				}
				shares(mw, mq.cw[:M])
				shares(tw, mq.tw[:lq])
			}
		}
		s += m.B[0]
		if features != nil {
			f := features[c*F : (c+1)*F]
			for k, u := range m.U {
				s += u * f[k]
			}
		}
		dst[c] = s
	}
}

// lateScore returns Σ_j w_j (x̄·Y_cj) of one candidate (row: its Y_cj); with
// explain, the modalities' and tokens' contributions go to mq.cw and mq.tw.
func (m *Model) lateScore(mq *mixQuery, row []float32, imask uint64, M, d int, explain bool) float32 {
	w := m.Mix
	var s float32
	for j := range M {
		cj := float32(0)
		if imask&(1<<j) != 0 {
			cj = w[j] * kernel.Dot(mq.xbar, row[j*d:(j+1)*d])
			s += cj
		}
		mq.cw[j] = cj
	}
	if !explain {
		return s
	}
	inv := 1 / float32(mq.nq)
	for i, ok := range mq.valid {
		var t float32
		if ok {
			x := mq.xs[i*d : (i+1)*d]
			for j := range M {
				if imask&(1<<j) != 0 {
					t += w[j] * kernel.Dot(x, row[j*d:(j+1)*d])
				}
			}
		}
		mq.tw[i] = t * inv
	}
	return s
}

// earlyScore returns w2 · relu(W1_q x̄ + b1 + Σ_j W1_j Y_cj) of one candidate
// (row: its parts W1_j Y_cj); with explain, the occlusion contributions go
// to mq.cw and mq.tw.
func (m *Model) earlyScore(mq *mixQuery, row []float32, imask uint64, M, d int, explain bool) float32 {
	z := mq.z
	copy(z, m.earlyB1())
	for j := range M {
		if imask&(1<<j) != 0 {
			kernel.Axpy(z, 1, row[j*d:(j+1)*d])
		}
	}
	w2 := m.earlyW2()
	s := reluDot(w2, mq.a, z, nil)
	if !explain {
		return s
	}
	for j := range M {
		mq.cw[j] = 0
		if imask&(1<<j) != 0 {
			mq.cw[j] = s - reluDot(w2, mq.a, z, row[j*d:(j+1)*d])
		}
	}
	for i, ok := range mq.valid {
		mq.tw[i] = 0
		if !ok {
			continue
		}
		without := float32(0) // the only token left out: no query, e_c = 0
		if mq.nq > 1 {
			without = reluDot(w2, mq.aocc[i*d:(i+1)*d], z, nil)
		}
		mq.tw[i] = s - without
	}
	return s
}

// reluDot returns Σ_h w2_h relu(a_h + z_h − sub_h) (sub nil: 0).
func reluDot(w2, a, z, sub []float32) float32 {
	var s float32
	for h, av := range a {
		v := av + z[h]
		if sub != nil {
			v -= sub[h]
		}
		if v > 0 {
			s += w2[h] * v
		}
	}
	return s
}

// shares writes |x_k| / Σ|x| to dst (nil: nothing), all zero when Σ|x| is 0.
func shares(dst, x []float32) {
	if dst == nil {
		return
	}
	var t float32
	for _, v := range x {
		t += float32(math.Abs(float64(v)))
	}
	for k, v := range x {
		dst[k] = 0
		if t > 0 {
			dst[k] = float32(math.Abs(float64(v))) / t
		}
	}
}
