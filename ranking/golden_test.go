package ranking

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"testing"
)

// goldenPath is the golden file relative to this package's directory: the
// shared/ directory sits beside the repository, locally and on CI.
const goldenPath = "../../shared/golden/fusion_golden.json"

type goldenTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

type goldenCase struct {
	Config struct {
		ModalDims      []int `json:"modal_dims"`
		DModel         int   `json:"d_model"`
		DAttn          int   `json:"d_attn"`
		NFeatures      int   `json:"n_features"`
		MaxQueryTokens int   `json:"max_query_tokens"`
	} `json:"config"`
	Weights map[string]goldenTensor `json:"weights"`
	Query   struct {
		Tokens   [][]float64 `json:"tokens"`
		Modality []int       `json:"modality"`
		Mask     []bool      `json:"mask"`
	} `json:"query"`
	Candidates struct {
		Tokens   [][][]float64 `json:"tokens"`
		Mask     [][]bool      `json:"mask"`
		Features [][]float64   `json:"features"`
	} `json:"candidates"`
	Expected struct {
		Scores            []float64            `json:"scores"`
		ModalityAttention [][]float64          `json:"modality_attention"`
		TokenAttention    [][]float64          `json:"token_attention"`
		LossPositiveIndex int                  `json:"loss_positive_index"`
		Loss              float64              `json:"loss"`
		Grad              map[string][]float64 `json:"grad"`
	} `json:"expected"`
}

type goldenFile struct {
	Spec  string                `json:"spec"`
	Dtype string                `json:"dtype"`
	Cases map[string]goldenCase `json:"cases"`
}

// loadGolden reads the golden file; a missing or unreadable file fails the
// test, because a skipped golden test proves nothing.
func loadGolden(t *testing.T) (names []string, cases map[string]goldenCase) {
	t.Helper()
	path := goldenPath
	if p := os.Getenv("FUSIONRANK_GOLDEN_FILE"); p != "" {
		path = p
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (set FUSIONRANK_GOLDEN_FILE to its path)", err)
	}
	var g goldenFile
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("golden file %s: %v", path, err)
	}
	if len(g.Cases) == 0 {
		t.Fatalf("golden file %s has no cases", path)
	}
	for name := range g.Cases {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, g.Cases
}

func f32s(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// build turns a golden case into a model, a query and candidates.
func (gc *goldenCase) build(t *testing.T) (*Model, Query, []Candidate) {
	t.Helper()
	cfg := Config{
		DModel:         gc.Config.DModel,
		DAttn:          gc.Config.DAttn,
		NFeatures:      gc.Config.NFeatures,
		MaxQueryTokens: gc.Config.MaxQueryTokens,
	}
	for j, d := range gc.Config.ModalDims {
		cfg.Modalities = append(cfg.Modalities, Modality{Name: fmt.Sprintf("m%d", j), Dim: d})
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := NewModel(cfg)
	for _, ten := range m.Tensors() {
		w, ok := gc.Weights[ten.Name]
		if !ok {
			t.Fatalf("golden weights lack %s", ten.Name)
		}
		if !slices.Equal(w.Shape, ten.Shape) {
			t.Fatalf("golden %s shape %v, model wants %v", ten.Name, w.Shape, ten.Shape)
		}
		copy(ten.Data, f32s(w.Data))
	}
	if len(gc.Weights) != len(m.Tensors()) {
		t.Fatalf("golden has %d weight tensors, model %d", len(gc.Weights), len(m.Tensors()))
	}
	var q Query
	for i, x := range gc.Query.Tokens {
		q.Tokens = append(q.Tokens, f32s(x))
		q.Modality = append(q.Modality, gc.Query.Modality[i])
	}
	q.Mask = slices.Clone(gc.Query.Mask)
	var cands []Candidate
	for c, toks := range gc.Candidates.Tokens {
		var cd Candidate
		for _, y := range toks {
			cd.Tokens = append(cd.Tokens, f32s(y))
		}
		cd.Mask = slices.Clone(gc.Candidates.Mask[c])
		cd.Features = f32s(gc.Candidates.Features[c])
		cands = append(cands, cd)
	}
	return m, q, cands
}

// close reports whether got is within rel relative or abs absolute of want.
func closeTo(got, want, rel, abs float64) bool {
	d := math.Abs(got - want)
	return d <= abs || d <= rel*math.Abs(want)
}

// scoreCandidates is the serving path end to end: item K/V, query, scores.
func scoreCandidates(m *Model, ws *Workspace, q Query, cands []Candidate, ex *Explanations) []float32 {
	kv := m.NewItemKV(len(cands))
	rows := make([]int, len(cands))
	var feats []float32
	if m.cfg.NFeatures > 0 {
		feats = make([]float32, len(cands)*m.cfg.NFeatures)
	}
	for c, cd := range cands {
		m.ItemKVTo(kv, c, cd.Tokens, cd.Mask)
		rows[c] = c
		copy(feats[c*m.cfg.NFeatures:], cd.Features)
	}
	m.QueryTo(ws, q)
	dst := make([]float32, len(cands))
	m.ScoreTo(dst, ws, kv, rows, feats, ex)
	return dst
}

func TestGoldenForward(t *testing.T) {
	names, cases := loadGolden(t)
	for _, name := range names {
		gc := cases[name]
		t.Run(name, func(t *testing.T) {
			m, q, cands := gc.build(t)
			n, M, lq := len(cands), len(m.cfg.Modalities), len(q.Tokens)
			ex := &Explanations{Modality: make([]float32, n*M), Token: make([]float32, n*lq)}
			scores := scoreCandidates(m, new(Workspace), q, cands, ex)
			for c := range n {
				if !closeTo(float64(scores[c]), gc.Expected.Scores[c], 1e-4, 1e-5) {
					t.Errorf("score[%d] = %v, want %v", c, scores[c], gc.Expected.Scores[c])
				}
				for j := range M {
					if got, want := ex.Modality[c*M+j], gc.Expected.ModalityAttention[c][j]; !closeTo(float64(got), want, 1e-4, 1e-5) {
						t.Errorf("modality attention[%d][%d] = %v, want %v", c, j, got, want)
					}
				}
				for i := range lq {
					if got, want := ex.Token[c*lq+i], gc.Expected.TokenAttention[c][i]; !closeTo(float64(got), want, 1e-4, 1e-5) {
						t.Errorf("token attention[%d][%d] = %v, want %v", c, i, got, want)
					}
				}
			}
		})
	}
}

func TestGoldenBackward(t *testing.T) {
	names, cases := loadGolden(t)
	for _, name := range names {
		gc := cases[name]
		t.Run(name, func(t *testing.T) {
			m, q, cands := gc.build(t)
			g := m.NewGrads()
			loss := m.LossAndGrad(g, nil, q, cands, gc.Expected.LossPositiveIndex)
			if !closeTo(loss, gc.Expected.Loss, 1e-5, 1e-6) {
				t.Errorf("loss = %v, want %v", loss, gc.Expected.Loss)
			}
			if got := m.Loss(q, cands, gc.Expected.LossPositiveIndex); got != loss {
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
					if !closeTo(gt.Data[k], w, 1e-4, 1e-6) {
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
			// The float64 training forward agrees with the golden scores
			// too, so the two paths implement one set of formulas.
			scores := make([]float64, len(cands))
			m.ScoresTo(scores, q, cands)
			for c, want := range gc.Expected.Scores {
				if !closeTo(scores[c], want, 1e-5, 1e-6) {
					t.Errorf("ScoresTo[%d] = %v, want %v", c, scores[c], want)
				}
			}
		})
	}
}
