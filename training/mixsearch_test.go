package training

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fusionrank/fusionrank/ranking"
)

// TestMixSearchGradients: mixLossAndGrad (the search examples' pass of the
// non-attention modes) has the gradients of its loss (central finite
// differences over the mixer's parameters, the projections, u and b), and its
// logits are the served scores (ranking's ItemKV, QueryTo, ScoreTo) of the same
// query and candidates.
func TestMixSearchGradients(t *testing.T) {
	for _, mode := range []string{FusionEarly, FusionLate, FusionOff} {
		t.Run(mode, func(t *testing.T) {
			d := smallData(20, 10, 4, true)
			o := Options{Seed: 5, CollabDim: 4, AttrDim: 3, DModel: 5, DAttn: 4, Recent: 3, Fusion: mode}.withDefaults()
			rng := rand.New(rand.NewPCG(3, 4))
			n, err := newNet(d, o, rng)
			if err != nil {
				t.Fatal(err)
			}
			m := n.model
			for k := range m.U {
				m.U[k] = float32(rng.NormFloat64())
			}
			m.B[0] = 0.2
			for k := range m.Mix {
				m.Mix[k] = float32(0.6 * rng.NormFloat64())
			}
			for j := range m.ProjBias {
				for e := range m.ProjBias[j] {
					m.ProjBias[j][e] = float32(0.3 * rng.NormFloat64())
				}
			}
			cfg := m.Config()
			M := len(cfg.Modalities)
			vec := func(n int) []float32 {
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(rng.NormFloat64())
				}
				return v
			}
			q := ranking.Query{Tokens: [][]float32{vec(cfg.Modalities[0].Dim), nil, vec(cfg.Modalities[M-1].Dim)}, Modality: []int{0, 0, M - 1}, Mask: []bool{true, false, true}}
			var cands []ranking.Candidate
			for c := range 5 {
				cd := ranking.Candidate{Features: vec(ranking.NFeatures)}
				for j := range M {
					if (c+j)%3 == 2 {
						cd.Tokens = append(cd.Tokens, nil) // missing
					} else {
						cd.Tokens = append(cd.Tokens, vec(cfg.Modalities[j].Dim))
					}
				}
				cands = append(cands, cd)
			}
			cands = append(cands, ranking.Candidate{Tokens: make([][]float32, M), Features: vec(ranking.NFeatures)}) // no modality
			var ws mixSearchWS
			g := NewGrads(m)
			ws.g = make([]float64, len(m.Mix))
			n.mixLossAndGrad(&ws, g, q, cands, 1)
			loss := func() float64 { var w mixSearchWS; return n.mixLossAndGrad(&w, nil, q, cands, 1) }
			check := func(name string, p *float32, want float64) {
				const eps = 1e-3
				old := *p
				*p = old + eps
				lp := loss()
				*p = old - eps
				lm := loss()
				*p = old
				num := (lp - lm) / (2 * eps)
				if math.Abs(num-want) > 2e-3*(1+math.Abs(num)) {
					t.Errorf("%s: analytic %v, numeric %v", name, want, num)
				}
			}
			for k := range m.Mix {
				check("mix", &m.Mix[k], ws.g[k])
			}
			for j := range m.Proj {
				for k := range m.Proj[j] {
					check("proj", &m.Proj[j][k], g.Proj[j][k])
				}
				for k := range m.ProjBias[j] {
					check("proj_bias", &m.ProjBias[j][k], g.ProjBias[j][k])
				}
			}
			for k := range m.U {
				check("u", &m.U[k], g.U[k])
			}
			check("b", &m.B[0], g.B[0])
			// The logits are the served scores.
			kv := m.NewItemKV(len(cands))
			rows := make([]int, len(cands))
			var feats []float32
			for c, cd := range cands {
				m.ItemKVTo(kv, c, cd.Tokens, nil)
				rows[c] = c
				feats = append(feats, cd.Features...)
			}
			rw := ranking.NewWorkspace()
			m.QueryTo(rw, q)
			served := make([]float32, len(cands))
			m.ScoreTo(served, rw, kv, rows, feats, nil)
			var w mixSearchWS
			n.mixLossAndGrad(&w, nil, q, cands, 0)
			for c, l := range w.logit {
				if math.Abs(float64(served[c])-l) > 1e-4*(1+math.Abs(l)) {
					t.Errorf("candidate %d: served %v, search pass %v", c, served[c], l)
				}
			}
		})
	}
}
