package ranking

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// mixProblem is randomProblem for fusion mode mode, with Mix drawn at random.
func mixProblem(s shape, mode string, seed uint64) (*Model, Query, []Candidate) {
	m, q, cands := randomProblem(s, seed)
	cfg := m.Config()
	cfg.Fusion = mode
	w := NewModel(cfg)
	src, dst := m.Tensors(), w.Tensors()
	for i := range src {
		copy(dst[i].Data, src[i].Data)
	}
	rng := rand.New(rand.NewPCG(seed, 9))
	for k := range w.Mix {
		w.Mix[k] = float32(0.5 * rng.NormFloat64())
	}
	return w, q, cands
}

// mixReference computes the score of fusion.go's formulas in float64 from
// the raw query and candidate, and the modality and token contributions.
func mixReference(m *Model, q Query, cd Candidate) (score float64, con, tok []float64) {
	c := m.cfg
	M, d := len(c.Modalities), c.DModel
	proj := func(j int, x []float32) []float64 {
		y := make([]float64, d)
		for e := range d {
			y[e] = float64(m.ProjBias[j][e])
			for k, v := range x {
				y[e] += float64(v) * float64(m.Proj[j][k*d+e])
			}
		}
		return y
	}
	var xs [][]float64
	var idx []int
	for i, x := range q.Tokens {
		if q.Valid(i) {
			xs = append(xs, proj(q.Modality[i], x))
			idx = append(idx, i)
		}
	}
	mean := func(skip int) []float64 {
		xb := make([]float64, d)
		n := 0
		for k, x := range xs {
			if k == skip {
				continue
			}
			n++
			for e := range d {
				xb[e] += x[e]
			}
		}
		if n == 0 {
			return nil
		}
		for e := range d {
			xb[e] /= float64(n)
		}
		return xb
	}
	ys := make([][]float64, M)
	present := false
	for j := range M {
		if cd.Valid(j) {
			ys[j] = proj(j, cd.Tokens[j])
			present = true
		}
	}
	con, tok = make([]float64, M), make([]float64, len(q.Tokens))
	for k, v := range cd.Features {
		score += float64(m.U[k]) * float64(v)
	}
	score += float64(m.B[0])
	xbar := mean(-1)
	if xbar == nil || !present || c.FusionMode() == FusionOff {
		return score, con, tok
	}
	dot := func(a, b []float64) float64 {
		var s float64
		for e := range a {
			s += a[e] * b[e]
		}
		return s
	}
	switch c.FusionMode() {
	case FusionLate:
		var e float64
		for j, y := range ys {
			if y != nil {
				con[j] = float64(m.Mix[j]) * dot(xbar, y)
				e += con[j]
				for k, x := range xs {
					tok[idx[k]] += float64(m.Mix[j]) * dot(x, y) / float64(len(xs))
				}
			}
		}
		return score + e, con, tok
	case FusionEarly:
		H := d
		w := func(r, h int) float64 { return float64(m.Mix[r*H+h]) }
		mlp := func(xb []float64, skipMod int) float64 {
			if xb == nil {
				return 0
			}
			var s float64
			for h := range H {
				z := float64(m.Mix[(M+1)*d*H+h])
				for e := range d {
					z += xb[e] * w(e, h)
				}
				for j, y := range ys {
					if y == nil || j == skipMod {
						continue
					}
					for e := range d {
						z += y[e] * w((1+j)*d+e, h)
					}
				}
				s += float64(m.Mix[(M+1)*d*H+H+h]) * math.Max(z, 0)
			}
			return s
		}
		e := mlp(xbar, -1)
		for j, y := range ys {
			if y != nil {
				con[j] = e - mlp(xbar, j)
			}
		}
		for k := range xs {
			tok[idx[k]] = e - mlp(mean(k), -1)
		}
		return score + e, con, tok
	}
	panic("unreachable")
}

// TestFusionModesServed: ScoreTo under early, late and off matches the float64
// reference of fusion.go's formulas, with missing modalities and padded query
// tokens; the contributions match too, and the modality and token weights are
// their absolute shares.
func TestFusionModesServed(t *testing.T) {
	for _, mode := range []string{FusionEarly, FusionLate, FusionOff} {
		for si, s := range randomShapes {
			t.Run(mode+"/"+s.String(), func(t *testing.T) {
				m, q, cands := mixProblem(s, mode, uint64(40+si))
				kv := m.NewItemKV(len(cands))
				rows := make([]int, len(cands))
				var feats []float32
				for c, cd := range cands {
					m.ItemKVTo(kv, c, cd.Tokens, cd.Mask)
					rows[c] = c
					feats = append(feats, cd.Features...)
				}
				M := len(s.dims)
				ex := &Explanations{Modality: make([]float32, len(cands)*M), Token: make([]float32, len(cands)*s.lq), Contribution: make([]float32, len(cands)*M)}
				ws := new(Workspace)
				m.QueryTo(ws, q)
				got := make([]float32, len(cands))
				m.ScoreTo(got, ws, kv, rows, feats, ex)
				close := func(a float32, b float64) bool { return math.Abs(float64(a)-b) <= 1e-4*(1+math.Abs(b)) }
				for c, cd := range cands {
					want, con, tok := mixReference(m, q, cd)
					if !close(got[c], want) {
						t.Fatalf("candidate %d: score %v, reference %v", c, got[c], want)
					}
					var ct, tt float64
					for j := range M {
						if !close(ex.Contribution[c*M+j], con[j]) {
							t.Fatalf("candidate %d modality %d: contribution %v, reference %v", c, j, ex.Contribution[c*M+j], con[j])
						}
						ct += math.Abs(con[j])
					}
					for i := range s.lq {
						tt += math.Abs(tok[i])
					}
					for j := range M {
						if want := math.Abs(con[j]) / ct; ct > 1e-6 && math.Abs(float64(ex.Modality[c*M+j])-want) > 1e-3 {
							t.Fatalf("candidate %d modality %d: weight %v, want %v", c, j, ex.Modality[c*M+j], want)
						}
					}
					for i := range s.lq {
						if want := math.Abs(tok[i]) / tt; tt > 1e-6 && math.Abs(float64(ex.Token[c*s.lq+i])-want) > 1e-3 {
							t.Fatalf("candidate %d token %d: weight %v, want %v", c, i, ex.Token[c*s.lq+i], want)
						}
					}
				}
			})
		}
	}
}

// TestFusionModeLateSums: under late fusion the modality contributions add up
// to the learned part of the score (score − u·f − b) exactly as stated.
func TestFusionModeLateSums(t *testing.T) {
	s := randomShapes[2]
	m, q, cands := mixProblem(s, FusionLate, 3)
	kv := m.NewItemKV(len(cands))
	for c, cd := range cands {
		m.ItemKVTo(kv, c, cd.Tokens, cd.Mask)
	}
	M := len(s.dims)
	ex := &Explanations{Contribution: make([]float32, len(cands)*M)}
	ws := new(Workspace)
	m.QueryTo(ws, q)
	got := make([]float32, len(cands))
	m.ScoreTo(got, ws, kv, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}, nil, ex)
	for c := range cands {
		var sum float32
		for j := range M {
			sum += ex.Contribution[c*M+j]
		}
		if d := got[c] - m.B[0] - sum; math.Abs(float64(d)) > 1e-4 {
			t.Errorf("candidate %d: score %v − b %v ≠ Σ contributions %v", c, got[c], m.B[0], sum)
		}
	}
}

// TestFusionModesNoAlloc: a request in every mode, explanations included,
// allocates nothing once its Workspace has grown.
func TestFusionModesNoAlloc(t *testing.T) {
	for _, mode := range FusionModes {
		s := randomShapes[3]
		m, q, cands := mixProblem(s, mode, 5)
		kv := m.NewItemKV(len(cands))
		rows := make([]int, len(cands))
		var feats []float32
		for c, cd := range cands {
			m.ItemKVTo(kv, c, cd.Tokens, cd.Mask)
			rows[c] = c
			feats = append(feats, cd.Features...)
		}
		M := len(s.dims)
		ex := &Explanations{Modality: make([]float32, len(cands)*M), Token: make([]float32, len(cands)*s.lq), Contribution: make([]float32, len(cands)*M)}
		ws := new(Workspace)
		dst := make([]float32, len(cands))
		m.QueryTo(ws, q)
		allocs := testing.AllocsPerRun(100, func() {
			m.QueryTo(ws, q)
			m.ScoreTo(dst, ws, kv, rows, feats, ex)
		})
		if allocs != 0 {
			t.Errorf("%s: QueryTo+ScoreTo allocate %v times per request, want 0", mode, allocs)
		}
	}
}

// TestFusionModeFile: the mode and its tensors survive the model file; a file
// without the mode's tensors is corrupt; an ItemKV of another mode is refused.
func TestFusionModeFile(t *testing.T) {
	for _, mode := range FusionModes {
		m, q, cands := mixProblem(randomShapes[2], mode, 8)
		var buf bytes.Buffer
		if _, err := m.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		raw := buf.Bytes()
		r, err := ReadModel(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if r.Config().FusionMode() != mode {
			t.Fatalf("%s: read back as %s", mode, r.Config().FusionMode())
		}
		score := func(m *Model) []float32 {
			kv := m.NewItemKV(len(cands))
			rows := make([]int, len(cands))
			for c, cd := range cands {
				m.ItemKVTo(kv, c, cd.Tokens, cd.Mask)
				rows[c] = c
			}
			ws := new(Workspace)
			m.QueryTo(ws, q)
			out := make([]float32, len(cands))
			m.ScoreTo(out, ws, kv, rows, nil, nil)
			return out
		}
		a, b := score(m), score(r)
		for c := range a {
			if a[c] != b[c] {
				t.Fatalf("%s: candidate %d scores %v, %v after the round trip", mode, c, a[c], b[c])
			}
		}
		if mode == FusionLate {
			// The same file claiming attention has an unexpected tensor.
			bad := bytes.Replace(raw, []byte(`\"fusion\":\"late\"`), []byte(`\"fusion\":\"off\" `), 1)
			if bytes.Equal(bad, raw) {
				t.Fatal("fusion not found in the header")
			}
			if _, err := ReadModel(bytes.NewReader(bad)); !errors.Is(err, ErrCorruptModel) || !strings.Contains(err.Error(), "late.w") {
				t.Errorf("late tensors under another mode: %v", err)
			}
		}
	}
	m, _, _ := mixProblem(randomShapes[2], FusionLate, 8)
	other, _, _ := mixProblem(randomShapes[2], FusionEarly, 8)
	defer func() {
		if recover() == nil {
			t.Error("an early ItemKV was accepted by a late model")
		}
	}()
	m.ItemKVTo(other.NewItemKV(1), 0, make([][]float32, 4), []bool{false, false, false, false})
}

// BenchmarkFusionModes measures ScoreTo per candidate in each fusion mode
// on the served training shape (d = 64, d_a = 16, M = 2 modalities of 64
// and 100 dimensions, 9 query slots), 1,000 candidates, without and with
// explanations.
func BenchmarkFusionModes(b *testing.B) {
	const n = 1000
	for _, mode := range FusionModes {
		for _, explain := range []bool{false, true} {
			name := mode
			if explain {
				name += "/explain"
			}
			b.Run(name, func(b *testing.B) {
				s := shape{dims: []int{64, 100}, d: 64, da: 16, f: 7, lq: 9, n: n}
				m, q, cands := mixProblem(s, mode, 11)
				kv := m.NewItemKV(n)
				rows := make([]int, n)
				var feats []float32
				for c, cd := range cands {
					cd.Mask = []bool{true, c%4 != 3}
					m.ItemKVTo(kv, c, cd.Tokens, cd.Mask)
					rows[c] = c
					feats = append(feats, cd.Features...)
				}
				ws := new(Workspace)
				m.QueryTo(ws, q)
				dst := make([]float32, n)
				var ex *Explanations
				if explain {
					ex = &Explanations{Modality: make([]float32, n*2), Token: make([]float32, n*s.lq), Contribution: make([]float32, n*2)}
				}
				perCandidate(b, n, func() { m.ScoreTo(dst, ws, kv, rows, feats, ex) })
			})
		}
	}
}
