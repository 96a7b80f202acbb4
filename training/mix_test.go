package training

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMixGradients checks the early and late fusion modes' backward pass
// against central finite differences of the loss: the mixer's parameters,
// the projections, the feature weights, the bias and the learned collab
// rows (query slots and candidates together).
func TestMixGradients(t *testing.T) {
	for _, mode := range []string{FusionEarly, FusionLate, FusionOff} {
		t.Run(mode, func(t *testing.T) {
			d := smallData(30, 12, 3, true)
			o := Options{Seed: 5, CollabDim: 4, AttrDim: 3, DModel: 5, DAttn: 4, Recent: 3, Negatives: 6, RecencyEmbedding: true, Fusion: mode}.withDefaults()
			rng := rand.New(rand.NewPCG(1, 2))
			n, err := newNet(d, o, rng)
			if err != nil {
				t.Fatal(err)
			}
			if n.mix == nil {
				t.Fatal("no mixer")
			}
			for k := range n.model.U {
				n.model.U[k] = float32(rng.NormFloat64())
			}
			n.model.B[0] = 0.3
			if n.mix.p != nil {
				for k := range n.mix.p.Data {
					n.mix.p.Data[k] = float32(0.7 * rng.NormFloat64())
				}
			}
			for k := range n.enc.Pos {
				n.enc.Pos[k] = float32(0.5 * rng.NormFloat64())
			}
			u := 0
			for u = range d.Users {
				if len(d.Users[u]) >= 4 {
					break
				}
			}
			seq := d.Users[u]
			pos := len(seq) - 1
			hist := seq[:histEnd(seq, pos, true)]
			// run returns the loss of the example against every item and
			// leaves the gradients in tr (scale 1).
			run := func() (float64, *trainer, *shard) {
				tr := &trainer{n: n, x: newCounts(d), timed: true}
				tr.g = NewGrads(n.model)
				tr.collabG, tr.attrG = NewSparseGrad(o.CollabDim), NewSparseGrad(o.AttrDim)
				tr.bi.idx = make([]int32, d.NumItems)
				for i := range d.NumItems {
					tr.bi.idx[i] = int32(i)
					tr.bi.items = append(tr.bi.items, int32(i))
				}
				tr.itemForward()
				sh := &shard{g: NewGrads(n.model), f: newFeaturizer(tr.x), ws: n.newExampleWS(), collab: NewSparseGrad(o.CollabDim), enc: make([]float64, len(n.enc.Pos))}
				for s := range tr.shards {
					tr.shards[s] = &shard{}
				}
				tr.shards[0] = sh
				n.resetMixShard(sh, d.NumItems)
				loss, ok := n.exampleStep(sh, &tr.bi, hist, seq[pos].Item, seq[pos].Time, ownFuture{seq, pos})
				if !ok {
					t.Fatal("example skipped")
				}
				tr.g.Add(sh.g)
				for k, r := range sh.collab.Rows() {
					tr.collabG.Add(r, sh.collab.Grad(k), 1)
				}
				tr.mixBackward(1)
				return loss, tr, sh
			}
			_, tr, sh := run()
			const eps = 1e-3
			numeric := func(p *float32) float64 {
				old := *p
				*p = old + eps
				lp, _, _ := run()
				*p = old - eps
				lm, _, _ := run()
				*p = old
				return (lp - lm) / (2 * eps)
			}
			checked := 0
			check := func(name string, p *float32, got float64) {
				t.Helper()
				want := numeric(p)
				if math.Abs(got-want) > 5e-3+3e-2*math.Abs(want) {
					t.Errorf("%s: gradient %v, finite difference %v", name, got, want)
				}
				if got != 0 {
					checked++
				}
			}
			if n.mix.p != nil {
				rows := map[int][]float64{}
				for k, r := range tr.mixG.Rows() {
					rows[r] = tr.mixG.Grad(k)
				}
				for r := range n.mix.p.Rows() {
					for e := range n.mix.p.Dim {
						var g float64
						if rows[r] != nil {
							g = rows[r][e]
						}
						check("mixer", &n.mix.p.Row(r)[e], g)
					}
				}
			}
			check("b", &n.model.B[0], tr.g.B[0])
			for k := range n.model.U {
				check("u", &n.model.U[k], tr.g.U[k])
			}
			for j := range n.model.Proj {
				for e := range n.model.Proj[j] {
					check("proj", &n.model.Proj[j][e], tr.g.Proj[j][e])
				}
				for e := range n.model.ProjBias[j] {
					check("proj_bias", &n.model.ProjBias[j][e], tr.g.ProjBias[j][e])
				}
			}
			col := map[int][]float64{}
			for k, r := range tr.collabG.Rows() {
				col[r] = tr.collabG.Grad(k)
			}
			for r := range d.NumItems {
				for e := range o.CollabDim {
					var g float64
					if col[r] != nil {
						g = col[r][e]
					}
					check("collab", &n.collab.Row(r)[e], g)
				}
			}
			for k := range n.enc.Pos {
				check("encoder", &n.enc.Pos[k], sh.enc[k])
			}
			// Off has gradients for b and the feature weights only.
			if least := map[bool]int{true: 3, false: 50}[mode == FusionOff]; checked < least {
				t.Errorf("only %d non-zero gradients checked", checked)
			}
		})
	}
}

// TestMixModesLearnChain: each non-attention mode learns a chain, and its
// learned part alone (the scalar features' weights zeroed after training)
// ranks the held-out next item at the top through Scorer.
func TestMixModesLearnChain(t *testing.T) {
	for _, mode := range []string{FusionEarly, FusionLate} {
		t.Run(mode, func(t *testing.T) {
			const items = 20
			d := &Data{NumItems: items}
			for u := range 150 {
				seq := make([]Event, 6)
				for k := range seq {
					seq[k].Item = int32((u*7 + k) % items)
				}
				d.Users = append(d.Users, seq)
			}
			in, val := HoldOut(d)
			o := Options{Seed: 2, CollabDim: 16, DModel: 16, DAttn: 8, Recent: 1, Epochs: 25, Patience: 25, BatchSize: 64, Negatives: 16, LR: 1e-2, Fusion: mode}
			res, err := Train(in, val, o)
			if err != nil {
				t.Fatal(err)
			}
			if res.BestEpoch == 0 || res.BestValidation < 0.8 {
				t.Errorf("best epoch %d, held-out NDCG@10 %.3f (curve %v)", res.BestEpoch, res.BestValidation, res.Curve.Validation)
			}
			clear(res.n.model.U)
			if v := newScorer(res.n, newCounts(in)).NDCG(val, 10, 1); v < 0.8 {
				t.Errorf("the learned part alone: held-out NDCG@10 %.3f", v)
			}
		})
	}
}

// TestNDCGIsEvaluations: the held-out NDCG@10 of training (early stopping,
// weight choice, the registry's popularity bar) is evaluation's metric: a
// target tied with three other items at the top scores the mean discount
// of positions 0 … 3 (evaluation.TiesExpected), the history is masked but
// for the target, and popularity is ranked the same way.
func TestNDCGIsEvaluations(t *testing.T) {
	disc := func(p int) float64 { return 1 / math.Log2(float64(p+2)) }
	want := (disc(0) + disc(1) + disc(2) + disc(3)) / 4
	scores := []float32{5, 5, 1, 5, 5, 9, 0}
	cs := &Case{Target: 0, History: []Event{{Item: 5}, {Item: 0}}}
	if got := ndcgOf(scores, cs, 10); math.Abs(got-want) > 1e-12 {
		t.Errorf("ndcgOf = %v, want %v", got, want)
	}
	// Popularity: items 1, 2 bought twice, 3 and 0 once. Case 1: history
	// item 1 masked, target 3 ties with 0 behind item 2. Case 2: the
	// target is its own history (not masked) and ties with item 1.
	d := &Data{NumItems: 4, Users: [][]Event{{{Item: 1}, {Item: 2}}, {{Item: 1}, {Item: 2}, {Item: 3}, {Item: 0}}}}
	cases := []Case{{History: []Event{{Item: 1}}, Target: 3}, {History: []Event{{Item: 2}}, Target: 2}}
	wantPop := ((disc(1)+disc(2))/2 + (disc(0)+disc(1))/2) / 2
	if got := PopularityNDCG(d, cases, 10); math.Abs(got-wantPop) > 1e-12 {
		t.Errorf("PopularityNDCG = %v, want %v", got, wantPop)
	}
}

// TestChoose: Choose trains every candidate, reports each one's held-out
// NDCG@10 and kept epoch, returns the better one (a trained scorer over an
// untrained one with no counting start).
func TestChoose(t *testing.T) {
	const items = 20
	d := &Data{NumItems: items}
	for u := range 150 {
		seq := make([]Event, 6)
		for k := range seq {
			seq[k].Item = int32((u*7 + k) % items)
		}
		d.Users = append(d.Users, seq)
	}
	in, val := HoldOut(d)
	base := Options{Seed: 2, CollabDim: 16, DModel: 16, DAttn: 8, Recent: 1, Epochs: 10, Patience: 10, BatchSize: 64, Negatives: 16, LR: 1e-2,
		Seq: &SeqOptions{Dim: 8, Window: 3, Negatives: 8, BatchSize: 64, LR: 1e-2, Epochs: 2}, SeqWeights: []float64{0}}
	untrained := base
	untrained.Epochs = -1
	res, k, tried, err := Choose(in, val, []Candidate{{Name: "untrained", Options: untrained}, {Name: "trained", Options: base}})
	if err != nil {
		t.Fatal(err)
	}
	if k != 1 || len(tried) != 2 || tried[1].Name != "trained" || tried[1].BestEpoch == 0 || !(tried[1].Validation > tried[0].Validation) || res.BestValidation != tried[1].Validation {
		t.Errorf("chose %d, tried %+v", k, tried)
	}
	if len(res.Seq) != 1 {
		t.Fatalf("%d encoders", len(res.Seq))
	}
	if _, _, _, err := Choose(in, val, nil); err == nil {
		t.Error("no candidates accepted")
	}
}
