package ranking

import (
	"math"
	"testing"
)

// fdCheck compares an analytic derivative with a central finite difference
// of the float64 loss, perturbing the float32 value *p by about h. The
// actual step (after rounding to float32) is used in the quotient.
func fdCheck(t *testing.T, what string, p *float32, analytic float64, loss func() float64) {
	t.Helper()
	orig := *p
	h := float32(1e-4 * math.Max(1, math.Abs(float64(orig))))
	*p = orig + h
	up := float64(*p)
	lp := loss()
	*p = orig - h
	down := float64(*p)
	lm := loss()
	*p = orig
	num := (lp - lm) / (up - down)
	if !closeTo(analytic, num, 1e-3, 1e-6) {
		t.Errorf("%s: analytic %v, finite difference %v", what, analytic, num)
	}
}

// TestFiniteDifferences checks every parameter gradient and every input
// gradient of LossAndGrad against central differences on seeded random
// shapes, masks included.
func TestFiniteDifferences(t *testing.T) {
	for i, s := range randomShapes[:5] {
		t.Run(s.String(), func(t *testing.T) {
			m, q, cands := randomProblem(s, uint64(1000+i))
			pos := len(cands) / 2
			g := m.NewGrads()
			ig := new(InputGrads)
			m.LossAndGrad(g, ig, q, cands, pos)
			loss := func() float64 { return m.Loss(q, cands, pos) }
			mt, gt := m.Tensors(), g.Tensors()
			for k := range mt {
				for e := range mt[k].Data {
					fdCheck(t, mt[k].Name, &mt[k].Data[e], gt[k].Data[e], loss)
				}
			}
			for i, x := range q.Tokens {
				if !q.Mask[i] {
					if len(ig.Query[i]) != 0 {
						t.Errorf("padded query token %d has a gradient", i)
					}
					continue
				}
				for e := range x {
					fdCheck(t, "query token", &x[e], ig.Query[i][e], loss)
				}
			}
			for c, cd := range cands {
				for j, y := range cd.Tokens {
					if !cd.Mask[j] {
						if len(ig.Candidates[c][j]) != 0 {
							t.Errorf("missing modality %d of candidate %d has a gradient", j, c)
						}
						continue
					}
					for e := range y {
						fdCheck(t, "candidate token", &y[e], ig.Candidates[c][j][e], loss)
					}
				}
			}
		})
	}
}

// TestLossAndGradAccumulates checks that g sums over calls while ig is
// overwritten, the contract a batch trainer relies on.
func TestLossAndGradAccumulates(t *testing.T) {
	m, q, cands := randomProblem(randomShapes[2], 5)
	g1 := m.NewGrads()
	ig := new(InputGrads)
	m.LossAndGrad(g1, ig, q, cands, 1)
	first := append([]float64(nil), ig.Query[0]...)
	g2 := m.NewGrads()
	m.LossAndGrad(g2, ig, q, cands, 1)
	m.LossAndGrad(g2, ig, q, cands, 1)
	g1.Scale(2)
	a, b := g1.Tensors(), g2.Tensors()
	for k := range a {
		for e := range a[k].Data {
			if !closeTo(a[k].Data[e], b[k].Data[e], 1e-12, 1e-15) {
				t.Fatalf("%s[%d]: two calls gave %v, twice one call %v", a[k].Name, e, b[k].Data[e], a[k].Data[e])
			}
		}
	}
	for e, v := range ig.Query[0] {
		if v != first[e] {
			t.Fatalf("input gradient accumulated: %v, want %v", v, first[e])
		}
	}
}
