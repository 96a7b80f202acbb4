package ranking

import (
	"math"
	"sync"

	"github.com/fusionrank/fusionrank/internal/kernel"
	"github.com/fusionrank/fusionrank/internal/touch"
)

// ItemKV is a contiguous store of items' precomputed keys K_c and values V_c
// for one model, with each item's modality mask. Row r holds one item; the
// caller maps item ids to rows.
//
// Under attention each row is 2M × DAttn float32: the M keys K_c[0..M-1],
// then the M values V_c[0..M-1], each a contiguous run of DAttn, the
// layout kernel.Attention.Score reads. The other fusion modes store what
// their score reads instead (fusion.go): late fusion the projections
// Y_c1…Y_cM (M × DModel), early fusion each modality's part of the MLP's
// pre-activation W1_j Y_cj (M × DModel), and off nothing but the mask.
//
// An ItemKV is safe for concurrent reads; writes (ItemKVTo, Resize) must
// not run concurrently with reads of the same ItemKV.
type ItemKV struct {
	m, da  int    // modalities, d_a
	width  int    // the length of one row
	fusion string // the fusion mode of the model that made it
	data   []float32
	masks  []uint64
}

// stride is the length of one row.
func (kv *ItemKV) stride() int { return kv.width }

// kvWidth is the length of an ItemKV row for m's fusion mode.
func (m *Model) kvWidth() int {
	M := len(m.cfg.Modalities)
	switch m.cfg.FusionMode() {
	case FusionLate, FusionEarly:
		return M * m.cfg.DModel
	case FusionOff:
		return 0
	}
	return 2 * M * m.cfg.DAttn
}

// checkKV panics unless kv was made by a model of m's shape and mode.
func (m *Model) checkKV(kv *ItemKV) {
	if kv.m != len(m.cfg.Modalities) || kv.da != m.cfg.DAttn || kv.width != m.kvWidth() || kv.fusion != m.cfg.FusionMode() {
		panic("ranking: ItemKV shape differs from the model's")
	}
}

// NewItemKV returns a zeroed store with n rows for m's shapes. A zeroed row
// has no valid modality, so it scores u·f + b until set with ItemKVTo.
func (m *Model) NewItemKV(n int) *ItemKV {
	if n < 0 {
		panic("ranking: negative ItemKV size")
	}
	M, da := len(m.cfg.Modalities), m.cfg.DAttn
	kv := &ItemKV{m: M, da: da, width: m.kvWidth(), fusion: m.cfg.FusionMode(), masks: make([]uint64, n)}
	kv.data = make([]float32, n*kv.stride())
	return kv
}

// Len returns the number of rows.
func (kv *ItemKV) Len() int { return len(kv.masks) }

// Resize changes the number of rows to n, keeping the first min(n, Len())
// rows; new rows are zeroed (no valid modality).
func (kv *ItemKV) Resize(n int) {
	if n < 0 {
		panic("ranking: negative ItemKV size")
	}
	stride := kv.stride()
	if n <= len(kv.masks) {
		kv.data = kv.data[:n*stride]
		kv.masks = kv.masks[:n]
		return
	}
	data := make([]float32, n*stride, max(n, 2*len(kv.masks))*stride)
	copy(data, kv.data)
	masks := make([]uint64, n, max(n, 2*len(kv.masks)))
	copy(masks, kv.masks)
	kv.data, kv.masks = data, masks
}

// Mask returns row r's modality set: bit j is set when modality j is present.
func (kv *ItemKV) Mask(r int) uint64 { return kv.masks[r] }

// ItemKVTo computes item row's keys and values, K_j = (y_j P_j + p_j) Wk and
// V_j = (y_j P_j + p_j) Wv for each present modality j, and stores them in
// kv row row (under the other fusion modes, what their score reads; see
// ItemKV). Missing modalities (mask[j] false, or an empty token when mask
// is nil) store zeros and are never attended to. tokens is not modified.
func (m *Model) ItemKVTo(kv *ItemKV, row int, tokens [][]float32, mask []bool) {
	M, da, d := len(m.cfg.Modalities), m.cfg.DAttn, m.cfg.DModel
	m.checkKV(kv)
	if row < 0 || row >= len(kv.masks) {
		panic("ranking: ItemKV row out of range")
	}
	m.checkItemTokens(tokens, mask)
	stride := kv.stride()
	dst := kv.data[row*stride : (row+1)*stride]
	clear(dst)
	yp := projPool.Get().(*[]float32)
	defer projPool.Put(yp)
	if cap(*yp) < d {
		*yp = make([]float32, d)
	}
	y := (*yp)[:d]
	var bits uint64
	for j, tok := range tokens {
		valid := len(tok) > 0
		if mask != nil {
			valid = mask[j]
		}
		if !valid {
			continue
		}
		bits |= 1 << j
		switch kv.fusion {
		case FusionOff:
		case FusionLate:
			m.project(dst[j*d:(j+1)*d], j, tok)
		case FusionEarly:
			m.project(y, j, tok)
			kernel.VecMatTo(dst[j*d:(j+1)*d], y, m.earlyW1(1+j))
		default:
			m.project(y, j, tok)
			kernel.VecMatTo(dst[j*da:(j+1)*da], y, m.Wk)
			kernel.VecMatTo(dst[(M+j)*da:(M+j+1)*da], y, m.Wv)
		}
	}
	kv.masks[row] = bits
}

// projPool holds d_model scratch vectors for ItemKVTo, which a model load
// calls once per item.
var projPool = sync.Pool{New: func() any { return new([]float32) }}

// project sets dst = x P_j + p_j.
func (m *Model) project(dst []float32, j int, x []float32) {
	copy(dst, m.ProjBias[j])
	kernel.VecMatAddTo(dst, x, m.Proj[j])
}

// Workspace holds one request's query state and scratch memory. The zero
// value is ready to use; it grows on first use and is then reused without
// allocating, so keep Workspaces in a sync.Pool. A Workspace must not be
// used by two goroutines at once.
type Workspace struct {
	model     *Model
	m, da, lq int
	att       kernel.Attention // the query side of the attention kernel: Q/√d_a, R, β
	q, r      []float32        // lq × da, row-major Q (unscaled) and R
	qs        []float32        // d_a scratch: Q_i/√d_a
	qmask     []bool           // lq
	x         []float32        // d_model scratch
	hasQuery  bool
	mix       mixQuery // the query side of early and late fusion
}

// NewWorkspace returns an empty Workspace; the zero value works too.
func NewWorkspace() *Workspace { return new(Workspace) }

// resize returns s with length n, reusing its memory when it can; the contents are
// not cleared.
func resize(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// QueryTo computes the request's query side into ws: X_i = x_i P_m(i) +
// p_m(i), Q = X Wq and R = X Wo for every valid token, with padded tokens
// excluded. It must be called before ScoreTo. q is not modified.
func (m *Model) QueryTo(ws *Workspace, q Query) {
	m.checkQuery(&q)
	c := &m.cfg
	M, da, d := len(c.Modalities), c.DAttn, c.DModel
	lq := len(q.Tokens)
	ws.model, ws.m, ws.da, ws.lq = m, M, da, lq
	if c.FusionMode() != FusionAttention {
		m.mixQueryTo(ws, &q)
		ws.hasQuery = true
		return
	}
	ws.att.Reset(M, da, lq)
	ws.q = resize(ws.q, lq*da)
	ws.r = resize(ws.r, lq*da)
	ws.qs = resize(ws.qs, da)
	ws.x = resize(ws.x, d)
	if cap(ws.qmask) < lq {
		ws.qmask = make([]bool, lq)
	}
	ws.qmask = ws.qmask[:lq]
	clear(ws.q)
	clear(ws.r)
	scale := float32(1 / math.Sqrt(float64(da)))
	for i, tok := range q.Tokens {
		valid := q.Valid(i)
		ws.qmask[i] = valid
		if !valid {
			continue
		}
		x := ws.x
		m.project(x, q.Modality[i], tok)
		qi, ri := ws.q[i*da:(i+1)*da], ws.r[i*da:(i+1)*da]
		kernel.VecMatTo(qi, x, m.Wq)
		kernel.VecMatTo(ri, x, m.Wo)
		for e, v := range qi {
			ws.qs[e] = v * scale
		}
		ws.att.SetToken(i, ws.qs, ri, m.PosBias[i])
	}
	ws.hasQuery = true
}

// Explanations receives the attention summaries of scored candidates.
// Either slice may be nil to skip it.
type Explanations struct {
	// Modality is N × M row-major: Σ_i A_c[i,j], which modality of
	// candidate c carried the match. Each row sums to 1, or is all zero
	// when the candidate has no valid (token, modality) pair.
	Modality []float32
	// Token is N × Lq row-major: Σ_j A_c[i,j], which query token carried
	// the match; zero on padded tokens.
	Token []float32
	// Contribution is N × M row-major, early and late fusion only (zero
	// under attention and off): modality j's signed contribution to the
	// learned part of the score (see fusion.go). Under those modes Modality
	// and Token hold the shares of the absolute contributions of the
	// modalities and of the query tokens.
	Contribution []float32
}

// ScoreTo scores the candidates stored in kv rows rows against the query
// last given to QueryTo on ws, writing score_c to dst[c]:
//
//	score_c = Σ_ij A_c[i,j] (R_i·V_cj) + u·f_c + b
//
// features holds the candidates' scalar features, len(rows) × NFeatures
// row-major; nil means all zero. A candidate with no valid (query token,
// modality) pair (all modalities missing, or every query token padded)
// scores u·f_c + b. When ex is not nil its non-nil slices receive the
// attention summaries. ScoreTo does not allocate. Inputs are not modified.
func (m *Model) ScoreTo(dst []float32, ws *Workspace, kv *ItemKV, rows []int, features []float32, ex *Explanations) {
	if !ws.hasQuery || ws.model != m {
		panic("ranking: ScoreTo needs a Workspace filled by this model's QueryTo")
	}
	n := len(rows)
	M, F := ws.m, m.cfg.NFeatures
	if len(dst) != n {
		panic("ranking: ScoreTo dst length differs from rows length")
	}
	m.checkKV(kv)
	if features != nil && len(features) != n*F {
		panic("ranking: features length differs from len(rows) × NFeatures")
	}
	var modW, tokW, conW []float32
	if ex != nil {
		modW, tokW, conW = ex.Modality, ex.Token, ex.Contribution
		if conW != nil && len(conW) != n*M {
			panic("ranking: Explanations.Contribution length differs from len(rows) × M")
		}
		if modW != nil && len(modW) != n*M {
			panic("ranking: Explanations.Modality length differs from len(rows) × M")
		}
		if tokW != nil && len(tokW) != n*ws.lq {
			panic("ranking: Explanations.Token length differs from len(rows) × Lq")
		}
	}
	if kv.fusion != FusionAttention {
		m.mixScoreTo(dst, ws, kv, rows, features, modW, tokW, conW)
		return
	}
	clear(conW)
	stride := kv.stride()
	nrows := len(kv.masks)
	kv.touch(rows)
	for c, r := range rows {
		if uint(r) >= uint(nrows) {
			panic("ranking: ItemKV row out of range")
		}
		var mw, tw []float32
		if modW != nil {
			mw = modW[c*M : (c+1)*M]
		}
		if tokW != nil {
			tw = tokW[c*ws.lq : (c+1)*ws.lq]
		}
		imask := kv.masks[r]
		var s float32
		if ws.att.Any() && imask != 0 {
			row := kv.data[r*stride : (r+1)*stride]
			s = ws.att.Score(row[:M*ws.da], row[M*ws.da:], ws.da, imask)
			if mw != nil {
				ws.att.ModalityWeightsTo(mw)
			}
			if tw != nil {
				ws.att.TokenWeightsTo(tw)
			}
		} else {
			clear(mw)
			clear(tw)
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

// touch reads the mask and the first element of each of rows (those in range) in a
// look-ahead loop (package touch), so that the scoring loop finds them in the cache.
func (kv *ItemKV) touch(rows []int) {
	var x uint64
	n, w := len(kv.masks), kv.width
	for _, r := range rows {
		if uint(r) < uint(n) {
			x += kv.masks[r]
			if w > 0 {
				x += uint64(math.Float32bits(kv.data[r*w]))
			}
		}
	}
	touch.Keep(x)
}
