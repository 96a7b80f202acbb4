// Package rankingtest holds what the tests of ranking's users share: the
// golden cases of ../shared/golden/fusion_golden.json as ranking inputs,
// seeded random scoring problems, the served scores of explicit candidate
// lists, and a tolerance check. Only tests import it.
package rankingtest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank/ranking"
)

// GoldenTensor is one tensor of a golden case.
type GoldenTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

// GoldenCase is one case of the golden file: a model's weights, a query,
// candidates and what the formulas give for them.
type GoldenCase struct {
	Config struct {
		ModalDims      []int `json:"modal_dims"`
		DModel         int   `json:"d_model"`
		DAttn          int   `json:"d_attn"`
		NFeatures      int   `json:"n_features"`
		MaxQueryTokens int   `json:"max_query_tokens"`
	} `json:"config"`
	Weights map[string]GoldenTensor `json:"weights"`
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
	Cases map[string]GoldenCase `json:"cases"`
}

// goldenPath returns FUSIONRANK_GOLDEN_FILE or the golden file relative to
// the directory of a top-level package's test (ranking, training): the
// shared/ directory sits beside the repository, locally and on CI.
func goldenPath() string {
	if p := os.Getenv("FUSIONRANK_GOLDEN_FILE"); p != "" {
		return p
	}
	return "../../shared/golden/fusion_golden.json"
}

// Golden reads the golden file and returns its case names, sorted, and the
// cases. A missing or unreadable file fails the test, because a skipped
// golden test proves nothing.
func Golden(t *testing.T) (names []string, cases map[string]GoldenCase) {
	t.Helper()
	path := goldenPath()
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

// Build turns a golden case into a model, a query and candidates.
func (gc *GoldenCase) Build(t *testing.T) (*ranking.Model, ranking.Query, []ranking.Candidate) {
	t.Helper()
	cfg := ranking.Config{
		DModel:         gc.Config.DModel,
		DAttn:          gc.Config.DAttn,
		NFeatures:      gc.Config.NFeatures,
		MaxQueryTokens: gc.Config.MaxQueryTokens,
	}
	for j, d := range gc.Config.ModalDims {
		cfg.Modalities = append(cfg.Modalities, ranking.Modality{Name: fmt.Sprintf("m%d", j), Dim: d})
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := ranking.NewModel(cfg)
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
	var q ranking.Query
	for i, x := range gc.Query.Tokens {
		q.Tokens = append(q.Tokens, f32s(x))
		q.Modality = append(q.Modality, gc.Query.Modality[i])
	}
	q.Mask = slices.Clone(gc.Query.Mask)
	var cands []ranking.Candidate
	for c, toks := range gc.Candidates.Tokens {
		var cd ranking.Candidate
		for _, y := range toks {
			cd.Tokens = append(cd.Tokens, f32s(y))
		}
		cd.Mask = slices.Clone(gc.Candidates.Mask[c])
		cd.Features = f32s(gc.Candidates.Features[c])
		cands = append(cands, cd)
	}
	return m, q, cands
}

// Close reports whether got is within rel relative or abs absolute of want.
func Close(got, want, rel, abs float64) bool {
	d := math.Abs(got - want)
	return d <= abs || d <= rel*math.Abs(want)
}

// Served scores cands for q through the serving path end to end (item
// keys and values, the query, ScoreTo), filling ex when it is not nil.
func Served(m *ranking.Model, q ranking.Query, cands []ranking.Candidate, ex *ranking.Explanations) []float32 {
	nf := m.Config().NFeatures
	kv := m.NewItemKV(len(cands))
	rows := make([]int, len(cands))
	var feats []float32
	if nf > 0 {
		feats = make([]float32, len(cands)*nf)
	}
	for c, cd := range cands {
		m.ItemKVTo(kv, c, cd.Tokens, cd.Mask)
		rows[c] = c
		copy(feats[c*nf:], cd.Features)
	}
	ws := new(ranking.Workspace)
	m.QueryTo(ws, q)
	dst := make([]float32, len(cands))
	m.ScoreTo(dst, ws, kv, rows, feats, ex)
	return dst
}

// Shape describes a random scoring problem.
type Shape struct {
	Dims           []int
	D, DA, F, MaxQ int
	LQ, N          int
}

func (s Shape) String() string {
	return fmt.Sprintf("dims=%v/d=%d/da=%d/f=%d/lq=%d/n=%d", s.Dims, s.D, s.DA, s.F, s.LQ, s.N)
}

// Config returns the model configuration of s.
func (s Shape) Config() ranking.Config {
	cfg := ranking.Config{DModel: s.D, DAttn: s.DA, NFeatures: s.F, MaxQueryTokens: max(s.MaxQ, s.LQ)}
	for j, d := range s.Dims {
		cfg.Modalities = append(cfg.Modalities, ranking.Modality{Name: fmt.Sprintf("m%d", j), Dim: d})
	}
	return cfg
}

// Shapes are random problems from one candidate to more than one 16-token
// lane group.
var Shapes = []Shape{
	{Dims: []int{3}, D: 2, DA: 1, F: 0, LQ: 1, N: 1},
	{Dims: []int{6, 5}, D: 4, DA: 3, F: 2, LQ: 3, N: 5},
	{Dims: []int{7, 3, 11, 5}, D: 10, DA: 6, F: 1, LQ: 4, N: 9},
	{Dims: []int{16, 12, 8}, D: 8, DA: 16, F: 3, LQ: 16, N: 7},
	{Dims: []int{5, 9}, D: 6, DA: 17, F: 2, LQ: 17, N: 4},
	{Dims: []int{4, 4, 4, 4, 4}, D: 5, DA: 8, F: 2, LQ: 40, N: 6, MaxQ: 48},
}

// RandVec returns n values drawn from N(0, 1).
func RandVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// RandomProblem returns a random model with non-zero biases, a query with
// some padded tokens and candidates with some missing modalities (about
// one in five of each, never all of a query).
func RandomProblem(s Shape, seed uint64) (*ranking.Model, ranking.Query, []ranking.Candidate) {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := ranking.NewRandomModel(s.Config(), rng)
	for _, t := range m.Tensors() {
		if strings.HasPrefix(t.Name, "proj_bias") || t.Name == "pos_bias" || t.Name == "u" || t.Name == "b" {
			copy(t.Data, RandVec(rng, len(t.Data)))
		}
	}
	M := len(s.Dims)
	var q ranking.Query
	for i := range s.LQ {
		mi := rng.IntN(M)
		q.Tokens = append(q.Tokens, RandVec(rng, s.Dims[mi]))
		q.Modality = append(q.Modality, mi)
		q.Mask = append(q.Mask, i == 0 || rng.IntN(5) != 0)
	}
	cands := make([]ranking.Candidate, s.N)
	for c := range cands {
		cd := &cands[c]
		for j := range M {
			cd.Tokens = append(cd.Tokens, RandVec(rng, s.Dims[j]))
			cd.Mask = append(cd.Mask, rng.IntN(5) != 0)
		}
		cd.Features = RandVec(rng, s.F)
	}
	return m, q, cands
}
