package training

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank/internal/rankingtest"
	"github.com/fusionrank/fusionrank/ranking"
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
	if !rankingtest.Close(analytic, num, 1e-3, 1e-6) {
		t.Errorf("%s: analytic %v, finite difference %v", what, analytic, num)
	}
}

// TestFiniteDifferences checks every parameter gradient and every input
// gradient of LossAndGrad against central differences on seeded random
// shapes, masks included.
func TestFiniteDifferences(t *testing.T) {
	for i, s := range rankingtest.Shapes[:5] {
		t.Run(s.String(), func(t *testing.T) {
			m, q, cands := rankingtest.RandomProblem(s, uint64(1000+i))
			pos := len(cands) / 2
			g := NewGrads(m)
			ig := new(InputGrads)
			LossAndGrad(m, g, ig, q, cands, pos)
			loss := func() float64 { return Loss(m, q, cands, pos) }
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
	m, q, cands := rankingtest.RandomProblem(rankingtest.Shapes[2], 5)
	g1 := NewGrads(m)
	ig := new(InputGrads)
	LossAndGrad(m, g1, ig, q, cands, 1)
	first := append([]float64(nil), ig.Query[0]...)
	g2 := NewGrads(m)
	LossAndGrad(m, g2, ig, q, cands, 1)
	LossAndGrad(m, g2, ig, q, cands, 1)
	g1.Scale(2)
	a, b := g1.Tensors(), g2.Tensors()
	for k := range a {
		for e := range a[k].Data {
			if !rankingtest.Close(a[k].Data[e], b[k].Data[e], 1e-12, 1e-15) {
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

// TestReferenceMatchesServing checks the float32 serving path (whichever
// kernel this build uses) against the float64 reference forward pass on
// random shapes, including more than one 16-token lane group.
func TestReferenceMatchesServing(t *testing.T) {
	for i, s := range rankingtest.Shapes {
		t.Run(s.String(), func(t *testing.T) {
			m, q, cands := rankingtest.RandomProblem(s, uint64(i))
			got := rankingtest.Served(m, q, cands, nil)
			want := make([]float64, len(cands))
			ScoresTo(want, m, q, cands)
			for c := range cands {
				if !rankingtest.Close(float64(got[c]), want[c], 1e-4, 1e-4) {
					t.Errorf("score[%d] = %v, float64 reference %v", c, got[c], want[c])
				}
			}
		})
	}
}

// TestReferenceMasksIgnored proves that padded query tokens and missing
// item modalities never influence the loss or a gradient: filling them
// with garbage (NaN, ±Inf, wrong lengths) changes nothing, bit for bit.
func TestReferenceMasksIgnored(t *testing.T) {
	garbage := map[string]func(n int) []float32{
		"nan": func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(math.NaN())
			}
			return v
		},
		"inf":          func(n int) []float32 { return slices.Repeat([]float32{float32(math.Inf(1))}, n) },
		"wrong length": func(n int) []float32 { return make([]float32, n+3) },
		"nil":          func(int) []float32 { return nil },
	}
	s := rankingtest.Shape{Dims: []int{7, 3, 11, 5}, D: 10, DA: 6, F: 2, LQ: 6, N: 8}
	m, q, cands := rankingtest.RandomProblem(s, 42)
	q.Mask[2], q.Mask[5] = false, false
	cands[3].Mask = []bool{false, false, false, false} // all-masked candidate
	run := func(q ranking.Query, cands []ranking.Candidate) (float64, *Grads) {
		g := NewGrads(m)
		return LossAndGrad(m, g, nil, q, cands, 0), g
	}
	wantL, wantG := run(q, cands)
	for name, fill := range garbage {
		t.Run(name, func(t *testing.T) {
			q2 := q
			q2.Tokens = slices.Clone(q.Tokens)
			q2.Modality = slices.Clone(q.Modality)
			for i := range q2.Tokens {
				if !q.Mask[i] {
					q2.Tokens[i] = fill(len(q.Tokens[i]))
					q2.Modality[i] = 99 // even the modality index is ignored
				}
			}
			c2 := make([]ranking.Candidate, len(cands))
			for c, cd := range cands {
				c2[c] = cd
				c2[c].Tokens = slices.Clone(cd.Tokens)
				for j := range cd.Tokens {
					if !cd.Mask[j] {
						c2[c].Tokens[j] = fill(len(cd.Tokens[j]))
					}
				}
			}
			gotL, gotG := run(q2, c2)
			if gotL != wantL {
				t.Errorf("loss changed: %v, want %v", gotL, wantL)
			}
			gt, wt := gotG.Tensors(), wantG.Tensors()
			for k := range gt {
				if !slices.Equal(gt[k].Data, wt[k].Data) {
					t.Errorf("gradient %s changed", gt[k].Name)
				}
			}
		})
	}
}

// TestReferenceEdgeCases trains on the serving edge cases (one candidate,
// an all-masked candidate, every query token padded, an empty query, nil
// masks, no features): the loss and the gradients stay finite.
func TestReferenceEdgeCases(t *testing.T) {
	dims := []int{6, 5, 4}
	base := rankingtest.Shape{Dims: dims, D: 4, DA: 3, F: 2, LQ: 4, N: 5}
	tests := []struct {
		name   string
		shape  rankingtest.Shape
		modify func(q *ranking.Query, cands []ranking.Candidate)
	}{
		{"one candidate", rankingtest.Shape{Dims: dims, D: 4, DA: 3, F: 2, LQ: 4, N: 1}, nil},
		{"all-masked candidate", base, func(_ *ranking.Query, c []ranking.Candidate) { c[2].Mask = []bool{false, false, false} }},
		{"all query tokens padded", base, func(q *ranking.Query, _ []ranking.Candidate) { clear(q.Mask) }},
		{"empty query", rankingtest.Shape{Dims: dims, D: 4, DA: 3, F: 2, LQ: 0, N: 3, MaxQ: 2}, nil},
		{"nil masks", base, func(q *ranking.Query, c []ranking.Candidate) {
			q.Mask = nil
			for i := range c {
				c[i].Mask = nil
			}
			c[1].Tokens[0] = nil
		}},
		{"no features", rankingtest.Shape{Dims: dims, D: 4, DA: 3, F: 0, LQ: 3, N: 4}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, q, cands := rankingtest.RandomProblem(tt.shape, 7)
			if tt.modify != nil {
				tt.modify(&q, cands)
			}
			g := NewGrads(m)
			loss := LossAndGrad(m, g, new(InputGrads), q, cands, len(cands)-1)
			if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(g.Norm()) {
				t.Errorf("loss %v, gradient norm %v", loss, g.Norm())
			}
		})
	}
}

// TestReferenceMisusePanics checks that a bad positive or an empty
// candidate list panics with the package's prefix.
func TestReferenceMisusePanics(t *testing.T) {
	m, q, cands := rankingtest.RandomProblem(rankingtest.Shape{Dims: []int{4, 3}, D: 4, DA: 3, F: 2, LQ: 2, N: 2}, 1)
	for name, f := range map[string]func(){
		"positive range": func() { LossAndGrad(m, NewGrads(m), nil, q, cands, 2) },
		"no candidates":  func() { LossAndGrad(m, NewGrads(m), nil, q, nil, 0) },
		"scores length":  func() { ScoresTo(make([]float64, 1), m, q, cands) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if msg := fmt.Sprint(r); !strings.HasPrefix(msg, "training: ") {
					t.Fatalf("panic %q lacks the training: prefix", msg)
				}
			}()
			f()
		})
	}
}
