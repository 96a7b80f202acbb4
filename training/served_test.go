package training

import (
	"bytes"
	"math"
	"testing"

	"github.com/fusionrank/fusionrank/ranking"
)

// TestServedMatchesTraining: a model trained in each fusion mode scores every
// item through ranking's served pass (Scorer: Layout.Build, ItemKV, QueryTo,
// ScoreTo) as training's forward pass does (exampleStep's logits), within
// float32 tolerance; and after a round trip through the model file the served
// scores are identical. Without the mode in the file, a late or early model
// would load as attention and score differently.
func TestServedMatchesTraining(t *testing.T) {
	for _, mode := range FusionModes {
		t.Run(mode, func(t *testing.T) {
			d := smallData(120, 16, 7, true)
			in, val := HoldOut(d)
			o := Options{Seed: 3, CollabDim: 6, AttrDim: 5, DModel: 8, DAttn: 4, Recent: 3, Epochs: 3, Patience: 3, BatchSize: 32,
				Negatives: 8, LR: 2e-2, RecencyEmbedding: true, InitCovis: 0.5, Fusion: mode}
			res, err := Train(in, val, o)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Model.Config().FusionMode(); got != mode {
				t.Fatalf("the trained model's mode is %q", got)
			}
			n := res.n
			if mode == FusionEarly || mode == FusionLate {
				var nz bool
				for _, v := range res.Model.Mix {
					nz = nz || v != 0
				}
				if !nz {
					t.Fatal("the mode's parameters did not train")
				}
			}
			// Training's forward pass: one example against the whole catalogue.
			tr := &trainer{n: n, x: newCounts(in), timed: true}
			tr.g = NewGrads(n.model)
			if n.collab != nil {
				tr.collabG = NewSparseGrad(o.CollabDim)
			}
			if n.attr != nil {
				tr.attrG = NewSparseGrad(o.AttrDim)
			}
			tr.bi.idx = make([]int32, d.NumItems)
			for i := range d.NumItems {
				tr.bi.idx[i] = int32(i)
				tr.bi.items = append(tr.bi.items, int32(i))
			}
			tr.itemForward()
			sh := &shard{g: NewGrads(n.model), f: newFeaturizer(tr.x), ws: n.newExampleWS(), collab: NewSparseGrad(o.CollabDim), enc: make([]float64, len(n.enc.Pos))}
			if n.mix != nil {
				n.resetMixShard(sh, d.NumItems)
			}
			M := len(n.cfg.Modalities)
			sh.dk, sh.dv = make([]float32, d.NumItems*M*o.DAttn), make([]float32, d.NumItems*M*o.DAttn)
			sc := newScorer(n, tr.x)
			served := make([]float32, d.NumItems)
			checked := 0
			for _, cs := range val {
				if len(cs.History) == 0 {
					continue
				}
				if _, ok := n.exampleStep(sh, &tr.bi, cs.History, cs.Target, cs.Time, ownFuture{}); !ok {
					continue
				}
				sc.ScoreTo(served, cs.History, cs.Time)
				for i, l := range sh.ws.logit {
					if diff := math.Abs(float64(served[i]) - l); diff > 1e-4*(1+math.Abs(l)) {
						t.Fatalf("case %d item %d: served %v, training %v", checked, i, served[i], l)
					}
				}
				checked++
			}
			if checked < 10 {
				t.Fatalf("only %d cases compared", checked)
			}
			// Round trip through the model file.
			var buf bytes.Buffer
			if _, err := ranking.WriteModelTo(&buf, res.Model, res.RecencyEmbedding); err != nil {
				t.Fatal(err)
			}
			m2, _, err := ranking.ReadModelRecency(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if m2.Config().FusionMode() != mode {
				t.Fatalf("read back as %q", m2.Config().FusionMode())
			}
			n2 := *n
			n2.model = m2
			sc2 := newScorer(&n2, tr.x)
			again := make([]float32, d.NumItems)
			for _, cs := range val[:10] {
				sc.ScoreTo(served, cs.History, cs.Time)
				sc2.ScoreTo(again, cs.History, cs.Time)
				for i := range served {
					if served[i] != again[i] {
						t.Fatalf("item %d: %v before the file, %v after", i, served[i], again[i])
					}
				}
			}
		})
	}
}
