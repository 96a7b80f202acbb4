package training

import (
	"testing"

	"github.com/fusionrank/fusionrank/internal/rankingtest"
)

// TestGoldenBackward checks the reference pass against the golden cases
// (../shared/golden/fusion_golden.json): the loss, every parameter
// gradient, and the float64 scores.
func TestGoldenBackward(t *testing.T) {
	names, cases := rankingtest.Golden(t)
	for _, name := range names {
		gc := cases[name]
		t.Run(name, func(t *testing.T) {
			m, q, cands := gc.Build(t)
			g := NewGrads(m)
			loss := LossAndGrad(m, g, nil, q, cands, gc.Expected.LossPositiveIndex)
			if !rankingtest.Close(loss, gc.Expected.Loss, 1e-5, 1e-6) {
				t.Errorf("loss = %v, want %v", loss, gc.Expected.Loss)
			}
			if got := Loss(m, q, cands, gc.Expected.LossPositiveIndex); got != loss {
				t.Errorf("Loss = %v, LossAndGrad gave %v", got, loss)
			}
			if len(gc.Expected.Grad) != len(g.Tensors()) {
				t.Errorf("golden has %d gradient tensors, Grads %d", len(gc.Expected.Grad), len(g.Tensors()))
			}
			for _, gt := range g.Tensors() {
				want, ok := gc.Expected.Grad[gt.Name]
				if !ok {
					t.Errorf("golden lacks gradient %s", gt.Name)
					continue
				}
				if len(want) != len(gt.Data) {
					t.Errorf("gradient %s: %d values, golden %d", gt.Name, len(gt.Data), len(want))
					continue
				}
				bad := 0
				for k, w := range want {
					if !rankingtest.Close(gt.Data[k], w, 1e-4, 1e-6) {
						if bad < 5 {
							t.Errorf("grad %s[%d] = %v, want %v", gt.Name, k, gt.Data[k], w)
						}
						bad++
					}
				}
				if bad > 0 {
					t.Errorf("grad %s: %d of %d values off", gt.Name, bad, len(want))
				}
			}
			// The float64 reference forward agrees with the golden scores
			// too, so the served and the reference paths implement one set
			// of formulas.
			scores := make([]float64, len(cands))
			ScoresTo(scores, m, q, cands)
			for c, want := range gc.Expected.Scores {
				if !rankingtest.Close(scores[c], want, 1e-5, 1e-6) {
					t.Errorf("ScoresTo[%d] = %v, want %v", c, scores[c], want)
				}
			}
		})
	}
}
