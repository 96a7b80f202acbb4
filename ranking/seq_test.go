package ranking

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSeqEncoder: h and seq(c) by hand on a small case, with a recent item
// that has no vector and one beyond the window.
func TestSeqEncoder(t *testing.T) {
	e := &SeqEncoder{Dim: 2, Window: 3, Gates: []float32{1, 2, 0.5, 0.5, 3, 1}}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	recent := [][]float32{{1, 1, 9}, nil, {2, -1, 9}, {100, 100, 9}}
	h := make([]float32, 2)
	e.QueryTo(h, recent)
	// h = (1·1 + 3·2, 2·1 + 1·(−1)) = (7, 1); the nil item and the 4th are skipped.
	if h[0] != 7 || h[1] != 1 {
		t.Fatalf("h = %v, want [7 1]", h)
	}
	if got := e.Score(h, []float32{0.5, 2, -1}); got != 4.5 {
		t.Errorf("seq = %v, want 7·0.5 + 1·2 − 1 = 4.5", got)
	}
	if got := e.Score(h, nil); got != 0 {
		t.Errorf("seq of an item without a row = %v, want 0", got)
	}
	bad := &SeqEncoder{Dim: 2, Window: 3, Gates: make([]float32, 5)}
	if bad.Validate() == nil {
		t.Error("5 gate values for a 3 × 2 encoder accepted")
	}
}

// TestWithFeatures: a model widened to more scalar features scores exactly
// as before when the new features are set, since their weights are 0.
func TestWithFeatures(t *testing.T) {
	cfg := Config{Modalities: []Modality{{Name: "a", Dim: 3}}, DModel: 4, DAttn: 2, NFeatures: 2, MaxQueryTokens: 2}
	m := NewRandomModel(cfg, rand.New(rand.NewPCG(1, 2)))
	m.U[0], m.U[1], m.B[0] = 0.5, -1, 0.25
	w := m.WithFeatures(3)
	if w.Config().NFeatures != 3 || len(w.U) != 3 || w.U[0] != 0.5 || w.U[1] != -1 || w.U[2] != 0 || w.B[0] != 0.25 {
		t.Fatalf("widened u %v b %v", w.U, w.B)
	}
	for i, tn := range m.Tensors() {
		if tn.Name == "u" {
			continue
		}
		for k, v := range tn.Data {
			if w.Tensors()[i].Data[k] != v {
				t.Fatalf("%s[%d] changed", tn.Name, k)
			}
		}
	}
	if math.IsNaN(float64(w.U[2])) {
		t.Fatal("NaN weight")
	}
}

// BenchmarkSeqEncoder: the seq feature of one request, 20 recent items and
// 100 candidates, at dim 128 (one member) and 256 (two members side by side,
// the served encoder's shape since the fourth evaluation round).
func BenchmarkSeqEncoder(b *testing.B) {
	for _, dim := range []int{128, 256, 384} {
		b.Run(fmt.Sprintf("dim=%d", dim), func(b *testing.B) { benchSeqEncoder(b, dim) })
	}
}

func benchSeqEncoder(b *testing.B, dim int) {
	const window, cands = 20, 100
	rng := rand.New(rand.NewPCG(1, 1))
	e := &SeqEncoder{Dim: dim, Window: window, Gates: make([]float32, dim*window)}
	row := func() []float32 {
		r := make([]float32, dim+1)
		for i := range r {
			r[i] = float32(rng.NormFloat64())
		}
		return r
	}
	for i := range e.Gates {
		e.Gates[i] = float32(rng.NormFloat64())
	}
	recent := make([][]float32, window)
	for k := range recent {
		recent[k] = row()
	}
	rows := make([][]float32, cands)
	for c := range rows {
		rows[c] = row()
	}
	h := make([]float32, dim)
	out := make([]float32, cands)
	b.ReportAllocs()
	for b.Loop() {
		e.QueryTo(h, recent)
		for c, r := range rows {
			out[c] = e.Score(h, r)
		}
	}
}
