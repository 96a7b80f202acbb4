package ranking

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// shape describes a random test problem.
type shape struct {
	dims           []int
	d, da, f, maxQ int
	lq, n          int
}

func (s shape) String() string {
	return fmt.Sprintf("dims=%v/d=%d/da=%d/f=%d/lq=%d/n=%d", s.dims, s.d, s.da, s.f, s.lq, s.n)
}

func (s shape) config() Config {
	cfg := Config{DModel: s.d, DAttn: s.da, NFeatures: s.f, MaxQueryTokens: max(s.maxQ, s.lq)}
	for j, d := range s.dims {
		cfg.Modalities = append(cfg.Modalities, Modality{Name: fmt.Sprintf("m%d", j), Dim: d})
	}
	return cfg
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// randomProblem returns a random model with non-zero biases, a query with
// some padded tokens and candidates with some missing modalities (about
// one in five of each, never all of a query).
func randomProblem(s shape, seed uint64) (*Model, Query, []Candidate) {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := NewRandomModel(s.config(), rng)
	for _, t := range m.Tensors() {
		if strings.HasPrefix(t.Name, "proj_bias") || t.Name == "pos_bias" || t.Name == "u" || t.Name == "b" {
			copy(t.Data, randVec(rng, len(t.Data)))
		}
	}
	M := len(s.dims)
	var q Query
	for i := range s.lq {
		mi := rng.IntN(M)
		q.Tokens = append(q.Tokens, randVec(rng, s.dims[mi]))
		q.Modality = append(q.Modality, mi)
		q.Mask = append(q.Mask, i == 0 || rng.IntN(5) != 0)
	}
	cands := make([]Candidate, s.n)
	for c := range cands {
		cd := &cands[c]
		for j := range M {
			cd.Tokens = append(cd.Tokens, randVec(rng, s.dims[j]))
			cd.Mask = append(cd.Mask, rng.IntN(5) != 0)
		}
		cd.Features = randVec(rng, s.f)
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

var randomShapes = []shape{
	{dims: []int{3}, d: 2, da: 1, f: 0, lq: 1, n: 1},
	{dims: []int{6, 5}, d: 4, da: 3, f: 2, lq: 3, n: 5},
	{dims: []int{7, 3, 11, 5}, d: 10, da: 6, f: 1, lq: 4, n: 9},
	{dims: []int{16, 12, 8}, d: 8, da: 16, f: 3, lq: 16, n: 7},
	{dims: []int{5, 9}, d: 6, da: 17, f: 2, lq: 17, n: 4},
	{dims: []int{4, 4, 4, 4, 4}, d: 5, da: 8, f: 2, lq: 40, n: 6, maxQ: 48},
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Modalities: []Modality{{"text", 100}, {"image", 512}}, DModel: 64, DAttn: 128, NFeatures: 3, MaxQueryTokens: 16}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"valid", func(*Config) {}, ""},
		{"no features is fine", func(c *Config) { c.NFeatures = 0 }, ""},
		{"no modalities", func(c *Config) { c.Modalities = nil }, "no modalities"},
		{"empty name", func(c *Config) { c.Modalities = []Modality{{"", 3}} }, "no name"},
		{"duplicate name", func(c *Config) { c.Modalities = []Modality{{"a", 3}, {"a", 4}} }, "used by"},
		{"zero dim", func(c *Config) { c.Modalities = []Modality{{"a", 0}} }, "dim 0"},
		{"too many", func(c *Config) {
			c.Modalities = nil
			for j := range MaxModalities + 1 {
				c.Modalities = append(c.Modalities, Modality{fmt.Sprint(j), 1})
			}
		}, "at most"},
		{"d_model", func(c *Config) { c.DModel = 0 }, "d_model"},
		{"d_attn", func(c *Config) { c.DAttn = -1 }, "d_attn"},
		{"n_features", func(c *Config) { c.NFeatures = -1 }, "n_features"},
		{"max_query_tokens", func(c *Config) { c.MaxQueryTokens = 0 }, "max_query_tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok.clone()
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestMasksIgnored proves that padded query tokens and missing item
// modalities never influence a score or an explanation: filling them with
// garbage (NaN, ±Inf, huge values, wrong lengths) changes nothing, bit for
// bit. (training's TestReferenceMasksIgnored does the same for the loss and
// the gradients.)
func TestMasksIgnored(t *testing.T) {
	garbage := []struct {
		name string
		fill func(n int) []float32
	}{
		{"huge", func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = 1e30
			}
			return v
		}},
		{"nan", func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(math.NaN())
			}
			return v
		}},
		{"inf", func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(math.Inf(-1 + 2*(i%2)))
			}
			return v
		}},
		{"wrong length", func(n int) []float32 { return make([]float32, n+3) }},
		{"nil", func(int) []float32 { return nil }},
	}
	s := shape{dims: []int{7, 3, 11, 5}, d: 10, da: 6, f: 2, lq: 6, n: 8}
	m, q, cands := randomProblem(s, 42)
	q.Mask[2], q.Mask[5] = false, false
	cands[3].Mask = []bool{false, false, false, false} // all-masked candidate
	M, lq := len(s.dims), s.lq
	run := func(q Query, cands []Candidate) ([]float32, *Explanations) {
		ex := &Explanations{Modality: make([]float32, len(cands)*M), Token: make([]float32, len(cands)*lq)}
		scores := scoreCandidates(m, new(Workspace), q, cands, ex)
		return scores, ex
	}
	wantS, wantEx := run(q, cands)
	for _, gb := range garbage {
		t.Run(gb.name, func(t *testing.T) {
			q2 := q
			q2.Tokens = slices.Clone(q.Tokens)
			q2.Modality = slices.Clone(q.Modality)
			for i := range q2.Tokens {
				if !q.Mask[i] {
					q2.Tokens[i] = gb.fill(len(q.Tokens[i]))
					q2.Modality[i] = 99 // even the modality index is ignored
				}
			}
			c2 := make([]Candidate, len(cands))
			for c, cd := range cands {
				c2[c] = cd
				c2[c].Tokens = slices.Clone(cd.Tokens)
				for j := range cd.Tokens {
					if !cd.Mask[j] {
						c2[c].Tokens[j] = gb.fill(len(cd.Tokens[j]))
					}
				}
			}
			gotS, gotEx := run(q2, c2)
			if !slices.Equal(gotS, wantS) {
				t.Errorf("scores changed: %v, want %v", gotS, wantS)
			}
			if !slices.Equal(gotEx.Modality, wantEx.Modality) || !slices.Equal(gotEx.Token, wantEx.Token) {
				t.Errorf("explanations changed")
			}
		})
	}
	// The padded tokens get zero token attention; the missing modalities
	// zero modality attention.
	for c := range cands {
		for i := range lq {
			if !q.Mask[i] && wantEx.Token[c*lq+i] != 0 {
				t.Errorf("candidate %d: padded token %d has attention %v", c, i, wantEx.Token[c*lq+i])
			}
		}
		for j := range M {
			if !cands[c].Mask[j] && wantEx.Modality[c*M+j] != 0 {
				t.Errorf("candidate %d: missing modality %d has attention %v", c, j, wantEx.Modality[c*M+j])
			}
		}
	}
}

// featureScore is u·f + b, the score of a candidate without attention.
func featureScore(m *Model, f []float32) float64 {
	s := float64(m.B[0])
	for k, u := range m.U {
		s += float64(u) * float64(f[k])
	}
	return s
}

func TestEdgeCases(t *testing.T) {
	base := shape{dims: []int{6, 5, 4}, d: 4, da: 3, f: 2, lq: 4, n: 5}
	tests := []struct {
		name   string
		shape  shape
		modify func(q *Query, cands []Candidate)
		// noAttention lists candidates expected to score exactly u·f + b.
		noAttention []int
	}{
		{name: "one candidate", shape: shape{dims: base.dims, d: 4, da: 3, f: 2, lq: 4, n: 1},
			modify: func(_ *Query, c []Candidate) { c[0].Mask = []bool{true, true, true} }},
		{name: "one query token", shape: shape{dims: base.dims, d: 4, da: 3, f: 2, lq: 1, n: 5}},
		{name: "all-masked candidate", shape: base,
			modify:      func(_ *Query, c []Candidate) { c[2].Mask = []bool{false, false, false} },
			noAttention: []int{2}},
		{name: "all query tokens padded", shape: base,
			modify:      func(q *Query, _ []Candidate) { clear(q.Mask) },
			noAttention: []int{0, 1, 2, 3, 4}},
		{name: "empty query", shape: shape{dims: base.dims, d: 4, da: 3, f: 2, lq: 0, n: 3, maxQ: 2},
			noAttention: []int{0, 1, 2}},
		{name: "nil masks", shape: base,
			modify: func(q *Query, c []Candidate) {
				q.Mask = nil
				for i := range c {
					c[i].Mask = nil
				}
				c[1].Tokens[0] = nil // nil mask: an empty token is missing
			}},
		{name: "no features", shape: shape{dims: base.dims, d: 4, da: 3, f: 0, lq: 3, n: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, q, cands := randomProblem(tt.shape, 7)
			if tt.modify != nil {
				tt.modify(&q, cands)
			}
			M, lq := len(tt.shape.dims), len(q.Tokens)
			ex := &Explanations{Modality: make([]float32, len(cands)*M), Token: make([]float32, len(cands)*lq)}
			got := scoreCandidates(m, new(Workspace), q, cands, ex)
			want := referenceScores(m, q, cands)
			for c := range cands {
				if !closeTo(float64(got[c]), float64(want[c]), 1e-4, 1e-5) {
					t.Errorf("score[%d] = %v, reference %v", c, got[c], want[c])
				}
				var ms, ts float64
				for j := range M {
					ms += float64(ex.Modality[c*M+j])
				}
				for i := range lq {
					ts += float64(ex.Token[c*lq+i])
				}
				if slices.Contains(tt.noAttention, c) {
					if fs := featureScore(m, cands[c].Features); !closeTo(float64(got[c]), fs, 1e-6, 1e-6) {
						t.Errorf("score[%d] = %v, want u·f+b = %v", c, got[c], fs)
					}
					if ms != 0 || ts != 0 {
						t.Errorf("candidate %d without attention has explanations %v, %v", c, ms, ts)
					}
				} else if math.Abs(ms-1) > 1e-5 || math.Abs(ts-1) > 1e-5 {
					t.Errorf("candidate %d: modality attention sums to %v, token attention to %v, want 1", c, ms, ts)
				}
			}
		})
	}
}

func TestScoreToZeroAllocs(t *testing.T) {
	s := shape{dims: []int{100, 64, 32, 16}, d: 32, da: 64, f: 3, lq: 16, n: 50}
	m, q, cands := randomProblem(s, 3)
	kv := m.NewItemKV(len(cands))
	rows := make([]int, len(cands))
	feats := make([]float32, len(cands)*s.f)
	for c, cd := range cands {
		m.ItemKVTo(kv, c, cd.Tokens, cd.Mask)
		rows[c] = c
		copy(feats[c*s.f:], cd.Features)
	}
	ws := new(Workspace)
	dst := make([]float32, len(cands))
	ex := &Explanations{Modality: make([]float32, len(cands)*len(s.dims)), Token: make([]float32, len(cands)*s.lq)}
	m.QueryTo(ws, q) // first use grows the workspace
	allocs := testing.AllocsPerRun(100, func() {
		m.QueryTo(ws, q)
		m.ScoreTo(dst, ws, kv, rows, feats, ex)
	})
	if allocs != 0 {
		t.Fatalf("QueryTo+ScoreTo allocate %v times per request, want 0", allocs)
	}
}

func TestWorkspaceReuseAcrossShapes(t *testing.T) {
	// One Workspace serves queries of different lengths and models of
	// different shapes in turn, as it would coming out of a sync.Pool.
	ws := new(Workspace)
	for i, s := range []shape{randomShapes[5], randomShapes[1], randomShapes[3], randomShapes[1]} {
		m, q, cands := randomProblem(s, uint64(100+i))
		got := scoreCandidates(m, ws, q, cands, nil)
		want := scoreCandidates(m, new(Workspace), q, cands, nil)
		if !slices.Equal(got, want) {
			t.Errorf("%v: reused workspace scores %v, fresh %v", s, got, want)
		}
	}
}

func TestShapeMisusePanics(t *testing.T) {
	s := shape{dims: []int{4, 3}, d: 4, da: 3, f: 2, lq: 2, n: 2}
	m, q, cands := randomProblem(s, 1)
	kv := m.NewItemKV(2)
	for c, cd := range cands {
		m.ItemKVTo(kv, c, cd.Tokens, cd.Mask)
	}
	other := NewModel(shape{dims: []int{4, 3}, d: 4, da: 5, f: 2, lq: 2}.config())
	ws := new(Workspace)
	m.QueryTo(ws, q)
	tests := []struct {
		name string
		f    func()
	}{
		{"query too long", func() {
			m.QueryTo(new(Workspace), Query{Tokens: make([][]float32, 3), Modality: make([]int, 3), Mask: make([]bool, 3)})
		}},
		{"query token length", func() { m.QueryTo(new(Workspace), Query{Tokens: [][]float32{{1}}, Modality: []int{0}}) }},
		{"query modality range", func() { m.QueryTo(new(Workspace), Query{Tokens: [][]float32{{1, 2, 3, 4}}, Modality: []int{5}}) }},
		{"item token count", func() { m.ItemKVTo(kv, 0, [][]float32{{1, 2, 3, 4}}, nil) }},
		{"item row", func() { m.ItemKVTo(kv, 2, cands[0].Tokens, cands[0].Mask) }},
		{"kv of another model", func() { other.ItemKVTo(kv, 0, cands[0].Tokens, cands[0].Mask) }},
		{"dst length", func() { m.ScoreTo(make([]float32, 1), ws, kv, []int{0, 1}, nil, nil) }},
		{"row range", func() { m.ScoreTo(make([]float32, 1), ws, kv, []int{2}, nil, nil) }},
		{"features length", func() { m.ScoreTo(make([]float32, 1), ws, kv, []int{0}, make([]float32, 3), nil) }},
		{"explanation length", func() {
			m.ScoreTo(make([]float32, 1), ws, kv, []int{0}, nil, &Explanations{Modality: make([]float32, 1)})
		}},
		{"workspace without query", func() { m.ScoreTo(make([]float32, 1), new(Workspace), kv, []int{0}, nil, nil) }},
		{"workspace of another model", func() { other.ScoreTo(make([]float32, 1), ws, kv, []int{0}, nil, nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if msg := fmt.Sprint(r); !strings.HasPrefix(msg, "ranking: ") {
					t.Fatalf("panic %q lacks the ranking: prefix", msg)
				}
			}()
			tt.f()
		})
	}
}

func TestItemKVResize(t *testing.T) {
	s := shape{dims: []int{4, 3}, d: 4, da: 5, f: 1, lq: 3, n: 3}
	m, q, cands := randomProblem(s, 21)
	kv := m.NewItemKV(2)
	m.ItemKVTo(kv, 0, cands[0].Tokens, cands[0].Mask)
	m.ItemKVTo(kv, 1, cands[1].Tokens, cands[1].Mask)
	ws := new(Workspace)
	m.QueryTo(ws, q)
	before := make([]float32, 2)
	m.ScoreTo(before, ws, kv, []int{0, 1}, nil, nil)
	tests := []struct {
		name string
		n    int
	}{{"grow", 5}, {"shrink", 1}, {"grow again", 3}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv.Resize(tt.n)
			if kv.Len() != tt.n {
				t.Fatalf("Len() = %d, want %d", kv.Len(), tt.n)
			}
			got := make([]float32, 1)
			m.ScoreTo(got, ws, kv, []int{0}, nil, nil)
			if got[0] != before[0] {
				t.Errorf("row 0 scores %v after Resize, %v before", got[0], before[0])
			}
			if tt.n > 1 {
				// Rows beyond the old length are new and empty: u·f + b.
				m.ScoreTo(got, ws, kv, []int{tt.n - 1}, nil, nil)
				if got[0] != m.B[0] {
					t.Errorf("new row scores %v, want b = %v", got[0], m.B[0])
				}
			}
		})
	}
}

func TestModelHelpers(t *testing.T) {
	m, _, _ := randomProblem(randomShapes[2], 22)
	c := m.Clone()
	c.Wq[0]++
	if m.Wq[0] == c.Wq[0] {
		t.Error("Clone shares storage with the original")
	}
	want := 0
	for _, mod := range m.cfg.Modalities {
		want += mod.Dim*m.cfg.DModel + m.cfg.DModel
	}
	want += 4*m.cfg.DModel*m.cfg.DAttn + m.cfg.MaxQueryTokens + m.cfg.NFeatures + 1
	if m.NumParams() != want {
		t.Errorf("NumParams() = %d, want %d", m.NumParams(), want)
	}
	cfg := m.Config()
	cfg.Modalities[0].Name = "changed"
	if m.cfg.Modalities[0].Name == "changed" {
		t.Error("Config() returned storage shared with the model")
	}
	if got := m.cfg.ModalityIndex("m2"); got != 2 {
		t.Errorf("ModalityIndex(m2) = %d, want 2", got)
	}
	if got := m.cfg.ModalityIndex("nope"); got != -1 {
		t.Errorf("ModalityIndex(nope) = %d, want -1", got)
	}
}

// TestConcurrentScoring scores one ItemKV from several goroutines, each
// with its own pooled Workspace, as the API does; run with -race.
func TestConcurrentScoring(t *testing.T) {
	s := shape{dims: []int{8, 6, 5}, d: 8, da: 16, f: 2, lq: 10, n: 30}
	m, q, cands := randomProblem(s, 23)
	want := scoreCandidates(m, new(Workspace), q, cands, nil)
	kv := m.NewItemKV(len(cands))
	rows := make([]int, len(cands))
	feats := make([]float32, len(cands)*s.f)
	for c, cd := range cands {
		m.ItemKVTo(kv, c, cd.Tokens, cd.Mask)
		rows[c] = c
		copy(feats[c*s.f:], cd.Features)
	}
	pool := sync.Pool{New: func() any { return new(Workspace) }}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				ws := pool.Get().(*Workspace)
				m.QueryTo(ws, q)
				got := make([]float32, len(rows))
				m.ScoreTo(got, ws, kv, rows, feats, nil)
				pool.Put(ws)
				if !slices.Equal(got, want) {
					errs <- fmt.Sprintf("concurrent scores %v, want %v", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
