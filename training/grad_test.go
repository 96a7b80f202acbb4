package training

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fusionrank/fusionrank/ranking"
)

// smallData returns random sequences over n items with attributes and a
// fixed "text" modality, some items lacking either.
func smallData(users, n int, seed uint64, timed bool) *Data {
	rng := rand.New(rand.NewPCG(seed, 2))
	d := &Data{NumItems: n, NumAttributes: 5, Attributes: make([][]int32, n)}
	text := FixedModality{Name: "text", Dim: 6, Vectors: make([][]float32, n)}
	for i := range n {
		if i%4 != 3 {
			d.Attributes[i] = []int32{int32(i % 5), int32((i + 2) % 5)}
		}
		if i%5 != 4 {
			v := make([]float32, 6)
			for k := range v {
				v[k] = float32(rng.NormFloat64())
			}
			text.Vectors[i] = v
		}
	}
	d.Fixed = []FixedModality{text}
	var clock int64 = 1_700_000_000
	for range users {
		seq := make([]Event, 2+rng.IntN(6))
		for k := range seq {
			if timed {
				clock += int64(rng.IntN(5000))
			}
			seq[k] = Event{Item: int32(rng.IntN(n)), Time: map[bool]int64{true: clock}[timed], Weight: float32(1 + rng.IntN(2))}
		}
		d.Users = append(d.Users, seq)
	}
	return d
}

// TestExampleGradients checks the batched forward and backward pass of one
// example against the reference pass LossAndGrad on the same query, candidates and
// features: the loss, every scorer gradient and the gradients of the
// learned collab and attr rows.
func TestExampleGradients(t *testing.T) {
	for _, tc := range []struct{ timed, encoder bool }{{false, false}, {true, false}, {true, true}} {
		timed := tc.timed
		d := smallData(30, 12, 3, timed)
		o := Options{Seed: 5, CollabDim: 4, AttrDim: 3, DModel: 5, DAttn: 4, Recent: 3, Negatives: 6, RecencyEmbedding: tc.encoder}.withDefaults()
		rng := rand.New(rand.NewPCG(1, 2))
		n, err := newNet(d, o, rng)
		if err != nil {
			t.Fatal(err)
		}
		// Non-zero feature weights, biases and position bias, so every path counts.
		for k := range n.model.U {
			n.model.U[k] = float32(rng.NormFloat64())
		}
		for k := range n.model.PosBias {
			n.model.PosBias[k] = float32(rng.NormFloat64())
		}
		if n.enc != nil {
			for k := range n.enc.Pos {
				n.enc.Pos[k] = float32(0.5 * rng.NormFloat64())
			}
		}
		for j := range n.model.ProjBias {
			for k := range n.model.ProjBias[j] {
				n.model.ProjBias[j][k] = float32(0.3 * rng.NormFloat64())
			}
		}
		tr := &trainer{n: n, x: newCounts(d), timed: timed}
		tr.g = NewGrads(n.model)
		tr.collabG, tr.attrG = NewSparseGrad(o.CollabDim), NewSparseGrad(o.AttrDim)
		tr.bi.idx = make([]int32, d.NumItems)
		for i := range tr.bi.idx {
			tr.bi.idx[i] = -1
		}
		for i := range d.NumItems { // every item a candidate
			tr.bi.idx[i] = int32(i)
			tr.bi.items = append(tr.bi.items, int32(i))
		}
		tr.itemForward()
		sh := &shard{g: NewGrads(n.model), f: newFeaturizer(tr.x), ws: n.newExampleWS(), collab: NewSparseGrad(o.CollabDim)}
		if n.enc != nil {
			sh.enc = make([]float64, len(n.enc.Pos))
		}
		M, da := len(n.cfg.Modalities), n.cfg.DAttn
		sh.dk, sh.dv = make([]float32, d.NumItems*M*da), make([]float32, d.NumItems*M*da)
		u, pos := 0, 0
		for u = range d.Users {
			if len(d.Users[u]) >= 4 {
				break
			}
		}
		seq := d.Users[u]
		pos = len(seq) - 1
		hist := seq[:histEnd(seq, pos, timed)]
		cutoff := int64(math.MaxInt64)
		if timed {
			cutoff = seq[pos].Time
		}
		loss, ok := n.exampleStep(sh, &tr.bi, hist, seq[pos].Item, cutoff, ownFuture{seq, pos})
		if !ok {
			t.Fatal("example skipped")
		}
		tr.bi.dk, tr.bi.dv = sh.dk, sh.dv
		tr.g.Add(sh.g)
		for k, r := range sh.collab.Rows() {
			tr.collabG.Add(r, sh.collab.Grad(k), 1)
		}
		tr.itemBackward(1)

		// The same example through ranking's float64 reference path.
		ws := sh.ws
		q := ranking.Query{Tokens: make([][]float32, n.cfg.MaxQueryTokens), Modality: make([]int, n.cfg.MaxQueryTokens), Mask: make([]bool, n.cfg.MaxQueryTokens)}
		for s := range ws.tok {
			q.Tokens[ws.slot[s]], q.Modality[ws.slot[s]], q.Mask[ws.slot[s]] = ws.tok[s], ws.mod[s], true
		}
		// The candidates: every item but the history's (the target excepted),
		// which the example's softmax leaves out.
		inHist := map[int32]bool{}
		for _, e := range hist {
			inHist[e.Item] = true
		}
		var cands []ranking.Candidate
		var candItem []int
		target := -1
		for c := range d.NumItems {
			if inHist[int32(c)] && int32(c) != seq[pos].Item {
				continue
			}
			if int32(c) == seq[pos].Item {
				target = len(cands)
			}
			cands = append(cands, ranking.Candidate{Tokens: tr.bi.tok[c*M : (c+1)*M], Features: ws.feats[c*ranking.NFeatures : (c+1)*ranking.NFeatures]})
			candItem = append(candItem, c)
		}
		if len(cands) == d.NumItems {
			t.Fatal("the example's history excludes no candidate; the test needs one")
		}
		ref := NewGrads(n.model)
		var ig InputGrads
		want := LossAndGrad(n.model, ref, &ig, q, cands, target)
		if math.Abs(loss-want) > 1e-4*(1+math.Abs(want)) {
			t.Errorf("timed=%v: loss %v, reference %v", timed, loss, want)
		}
		gt, rt := tr.g.Tensors(), ref.Tensors()
		for k := range gt {
			for e := range gt[k].Data {
				if a, b := gt[k].Data[e], rt[k].Data[e]; math.Abs(a-b) > 2e-4*(1+math.Abs(b)) {
					t.Errorf("timed=%v: %s[%d] = %v, reference %v", timed, gt[k].Name, e, a, b)
					break
				}
			}
		}
		// Collab rows: query slots and candidate tokens; attr rows: candidates.
		wantCollab := map[int][]float64{}
		addRow := func(m map[int][]float64, row int, g []float64, s float64) {
			if m[row] == nil {
				m[row] = make([]float64, len(g))
			}
			for k, v := range g {
				m[row][k] += s * v
			}
		}
		for s := range ws.tok {
			if ws.item[s] >= 0 {
				addRow(wantCollab, int(ws.item[s]), ig.Query[ws.slot[s]], 1)
			}
		}
		wantAttr := map[int][]float64{}
		for k, c := range candItem {
			addRow(wantCollab, c, ig.Candidates[k][n.mCollab], 1)
			if as := d.Attributes[c]; len(as) > 0 {
				for _, a := range as {
					addRow(wantAttr, int(a), ig.Candidates[k][n.mAttr], 1/float64(len(as)))
				}
			}
		}
		check := func(name string, sg *SparseGrad, want map[int][]float64) {
			for k, r := range sg.Rows() {
				for e, v := range sg.Grad(k) {
					var w float64 // a row the reference does not touch: zero
					if want[r] != nil {
						w = want[r][e]
					}
					if math.Abs(v-w) > 2e-4*(1+math.Abs(w)) {
						t.Errorf("timed=%v: %s row %d [%d] = %v, reference %v", timed, name, r, e, v, w)
						return
					}
				}
			}
		}
		if n.enc != nil {
			// ∂L/∂e_k is the gradient of slot k's token.
			for s := range ws.tok {
				if ws.item[s] < 0 {
					continue // profile slot
				}
				for e, w := range ig.Query[ws.slot[s]] {
					if v := sh.enc[ws.slot[s]*o.CollabDim+e]; math.Abs(v-w) > 2e-4*(1+math.Abs(w)) {
						t.Errorf("encoder pos[%d][%d] = %v, reference %v", ws.slot[s], e, v, w)
					}
				}
			}
		}
		check("collab", tr.collabG, wantCollab)
		check("attr", tr.attrG, wantAttr)
	}
}
