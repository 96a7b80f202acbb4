package ranking

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Model holds the parameters of a fusion scorer, row-major float32.
//
// The exported slices may be read, and written by trainers and loaders, but
// their lengths must not change. Item keys and values (ItemKV) and query
// states (Workspace) computed from a Model are stale once its parameters
// change.
type Model struct {
	cfg Config

	// Proj[m] is P_m, Modalities[m].Dim × DModel ("proj.m" in files).
	Proj [][]float32
	// ProjBias[m] is p_m, DModel ("proj_bias.m").
	ProjBias [][]float32
	// Wq, Wk, Wv and Wo are DModel × DAttn ("wq", "wk", "wv", "wo").
	Wq, Wk, Wv, Wo []float32
	// PosBias is β, one per query slot, MaxQueryTokens ("pos_bias").
	PosBias []float32
	// U weighs the scalar features, NFeatures ("u").
	U []float32
	// B is the scalar bias b ("b", shape [1]).
	B [1]float32
	// Mix holds the learned part of the early and late fusion modes,
	// contiguous (nil under attention and off; see fusion.go): early, with
	// H = DModel, the (M+1)·DModel rows of W1 ("early.w1", row r weighs
	// component r of [x̄; Y_c1; …; Y_cM]), then b1 ("early.b1") and w2
	// ("early.w2"), each H wide; late, the M weights w_j ("late.w").
	Mix []float32
}

// Tensor is a named view of one parameter tensor of a Model.
type Tensor struct {
	// Name is the tensor's name in model files and golden files.
	Name string
	// Shape is the tensor's shape: [rows, cols] or [n].
	Shape []int
	// Data aliases the model's storage, row-major.
	Data []float32
}

// NewModel returns a model with zeroed parameters for cfg. It panics if cfg
// is invalid; call cfg.Validate first for an error.
func NewModel(cfg Config) *Model {
	if err := cfg.Validate(); err != nil {
		panic(err.Error())
	}
	cfg = cfg.clone()
	m := &Model{cfg: cfg}
	d, da := cfg.DModel, cfg.DAttn
	m.Proj = make([][]float32, len(cfg.Modalities))
	m.ProjBias = make([][]float32, len(cfg.Modalities))
	for j, mod := range cfg.Modalities {
		m.Proj[j] = make([]float32, mod.Dim*d)
		m.ProjBias[j] = make([]float32, d)
	}
	m.Wq = make([]float32, d*da)
	m.Wk = make([]float32, d*da)
	m.Wv = make([]float32, d*da)
	m.Wo = make([]float32, d*da)
	m.PosBias = make([]float32, cfg.MaxQueryTokens)
	m.U = make([]float32, cfg.NFeatures)
	M := len(cfg.Modalities)
	switch cfg.FusionMode() {
	case FusionEarly:
		m.Mix = make([]float32, ((M+1)*d+2)*d)
	case FusionLate:
		m.Mix = make([]float32, M)
	}
	return m
}

// NewRandomModel returns a model for cfg with weights drawn from rng:
// P_m ~ N(0, 1/dim_m), Wq, Wk, Wv, Wo ~ N(0, 1/d_model), and zero biases,
// position bias and feature weights. Mix (early and late fusion) stays
// zero: a trainer initialises it. The same seed gives the same model.
func NewRandomModel(cfg Config, rng *rand.Rand) *Model {
	m := NewModel(cfg)
	fill := func(w []float32, fanIn int) {
		s := 1 / math.Sqrt(float64(fanIn))
		for i := range w {
			w[i] = float32(rng.NormFloat64() * s)
		}
	}
	for j, mod := range m.cfg.Modalities {
		fill(m.Proj[j], mod.Dim)
	}
	fill(m.Wq, m.cfg.DModel)
	fill(m.Wk, m.cfg.DModel)
	fill(m.Wv, m.cfg.DModel)
	fill(m.Wo, m.cfg.DModel)
	return m
}

// Config returns a copy of the model's configuration.
func (m *Model) Config() Config { return m.cfg.clone() }

// Tensors returns views of the parameter tensors every fusion mode has, in
// the canonical order proj.0…, proj_bias.0…, wq, wk, wv, wo, pos_bias, u,
// b; Grads mirrors them. ModeTensors returns the fusion mode's own. The
// views alias the model's storage.
func (m *Model) Tensors() []Tensor {
	c := m.cfg
	d, da := c.DModel, c.DAttn
	ts := make([]Tensor, 0, 2*len(c.Modalities)+7)
	for j, mod := range c.Modalities {
		ts = append(ts, Tensor{"proj." + strconv.Itoa(j), []int{mod.Dim, d}, m.Proj[j]})
	}
	for j := range c.Modalities {
		ts = append(ts, Tensor{"proj_bias." + strconv.Itoa(j), []int{d}, m.ProjBias[j]})
	}
	ts = append(ts,
		Tensor{"wq", []int{d, da}, m.Wq},
		Tensor{"wk", []int{d, da}, m.Wk},
		Tensor{"wv", []int{d, da}, m.Wv},
		Tensor{"wo", []int{d, da}, m.Wo},
		Tensor{"pos_bias", []int{c.MaxQueryTokens}, m.PosBias},
		Tensor{"u", []int{c.NFeatures}, m.U},
		Tensor{"b", []int{1}, m.B[:]},
	)
	return ts
}

// ModeTensors returns views of the fusion mode's own parameters, the
// parts of Mix: early.w1 ((M+1)·d × d), early.b1 (d), early.w2 (d) under
// early fusion, late.w (M) under late fusion, none otherwise.
func (m *Model) ModeTensors() []Tensor {
	c := m.cfg
	d, M := c.DModel, len(c.Modalities)
	switch c.FusionMode() {
	case FusionEarly:
		n := (M + 1) * d * d
		return []Tensor{
			{"early.w1", []int{(M + 1) * d, d}, m.Mix[:n]},
			{"early.b1", []int{d}, m.Mix[n : n+d]},
			{"early.w2", []int{d}, m.Mix[n+d : n+2*d]},
		}
	case FusionLate:
		return []Tensor{{"late.w", []int{M}, m.Mix}}
	}
	return nil
}

// allTensors returns Tensors then ModeTensors: what model files hold.
func (m *Model) allTensors() []Tensor { return append(m.Tensors(), m.ModeTensors()...) }

// Clone returns a deep copy of m.
func (m *Model) Clone() *Model {
	c := NewModel(m.cfg)
	src, dst := m.allTensors(), c.allTensors()
	for i := range src {
		copy(dst[i].Data, src[i].Data)
	}
	return c
}

// NumParams returns the number of scalar parameters.
func (m *Model) NumParams() int {
	n := 0
	for _, t := range m.allTensors() {
		n += len(t.Data)
	}
	return n
}

// checkFinite reports the first non-finite parameter.
func (m *Model) checkFinite() error {
	for _, t := range m.allTensors() {
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("tensor %s: element %d is %v", t.Name, i, v)
			}
		}
	}
	return nil
}

// WithFeatures returns a copy of m that takes n ≥ NFeatures scalar features,
// the new ones weighted 0: a model trained with fewer features scores the
// same with n.
func (m *Model) WithFeatures(n int) *Model {
	if n < m.cfg.NFeatures {
		panic("ranking: WithFeatures cannot drop features")
	}
	cfg := m.cfg.clone()
	cfg.NFeatures = n
	w := NewModel(cfg)
	dst := w.allTensors()
	for i, t := range m.allTensors() {
		copy(dst[i].Data, t.Data) // u: the old features, a prefix
	}
	return w
}
