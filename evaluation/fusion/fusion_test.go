package fusion

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/training"
)

// chain returns sequences walking 0 → 1 → … → n−1 → 0 from varied starts,
// with attributes (item mod 3).
func chain(users, n, length int) *evaluation.Sequences {
	s := &evaluation.Sequences{NumItems: n, NumAttributes: 3, ItemAttributes: make([][]int32, n)}
	for i := range n {
		s.ItemAttributes[i] = []int32{int32(i % 3)}
	}
	for u := range users {
		seq := make([]int32, length)
		for k := range seq {
			seq[k] = int32((u*7 + k) % n)
		}
		s.Users = append(s.Users, seq)
	}
	return s
}

func TestModelLearnsChain(t *testing.T) {
	s := chain(200, 30, 6)
	o := training.Options{Seed: 3, CollabDim: 16, AttrDim: 8, DModel: 16, DAttn: 8, Recent: 2, Epochs: 6, BatchSize: 64, Negatives: 16, LR: 5e-3}
	m := New("fusion", o)
	if err := m.Fit(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	checkChain(t, m, s.NumItems)
	if v := m.Version(); !strings.HasPrefix(v, "fusion(") || !strings.Contains(v, "epoch=") {
		t.Errorf("Version() = %q", v)
	}
	if c := m.TrainingCurve(); c == nil || len(c.Loss) == 0 || len(c.Loss) != len(c.Validation) {
		t.Errorf("TrainingCurve() = %+v", c)
	}
}

func TestHoldOut(t *testing.T) {
	d := &training.Data{NumItems: 5, Users: [][]training.Event{
		{{Item: 0}, {Item: 1}, {Item: 2}},
		{{Item: 3}, {Item: 4}},
		{{Item: 1}, {Item: 2}, {Item: 3}, {Item: 4}},
	}}
	in, val := HoldOut(d)
	tests := []struct {
		user, wantLen int
	}{{0, 2}, {1, 2}, {2, 3}}
	for _, tc := range tests {
		if got := len(in.Users[tc.user]); got != tc.wantLen {
			t.Errorf("user %d keeps %d events, want %d", tc.user, got, tc.wantLen)
		}
	}
	if len(val) != 2 || val[0].Target != 2 || val[1].Target != 4 || len(val[1].History) != 3 {
		t.Errorf("validation cases %+v", val)
	}
	if len(d.Users[0]) != 3 {
		t.Error("HoldOut modified its input")
	}
}

// TestModelWithSeqLearnsChain: with the sequence encoder and no scorer
// training (the SeqOptions shape, small sizes), the next item of the chain
// comes first through ScoreTo, the seq weight is one of the candidates and
// the version names the encoder.
func TestModelWithSeqLearnsChain(t *testing.T) {
	s := chain(200, 30, 6)
	o := training.Options{Seed: 3, CollabDim: 16, AttrDim: 8, DModel: 16, DAttn: 8, Recent: 2, Epochs: -1, InitCovis: 1,
		Seq:        &training.SeqOptions{Dim: 16, Window: 3, Negatives: 16, BatchSize: 64, LR: 1e-2, Epochs: 10, Members: 2},
		SeqWeights: []float64{0.25, 1}}
	m := New("fusion", o)
	if err := m.Fit(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if r := m.Result(); len(r.Seq) != 2 || (r.SeqWeight != 0.25 && r.SeqWeight != 1) || r.BestEpoch != 0 {
		t.Errorf("%d seq models, weight %v, best epoch %d", len(r.Seq), r.SeqWeight, r.BestEpoch)
	}
	checkChain(t, m, s.NumItems)
	if v := m.Version(); !strings.Contains(v, "seq(dim=16") || !strings.Contains(v, "seq_weight=") {
		t.Errorf("Version() = %q", v)
	}
	// The scorer is not trained: the report draws the encoder's curve.
	if c := m.TrainingCurve(); c == nil || len(c.Loss) == 0 || len(c.Loss) != len(c.Validation) {
		t.Errorf("TrainingCurve() = %+v", c)
	}
}

// checkChain asserts that m, fitted on chain(…, 30, …), ranks the next item of the
// 30-item cycle first (history masked) for at least 28 of the 30 two-item histories.
func checkChain(t *testing.T, m *Model, numItems int) {
	t.Helper()
	scores := make([]float32, numItems)
	hits := 0
	for i := range 30 {
		hist := []int32{int32((i + 29) % 30), int32(i)}
		m.ScoreTo(scores, hist)
		for _, h := range hist {
			scores[h] = float32(math.Inf(-1))
		}
		best := 0
		for k, v := range scores {
			if v > scores[best] {
				best = k
			}
		}
		if best == (i+1)%30 {
			hits++
		}
	}
	if hits < 28 {
		t.Errorf("next item first for %d of 30 histories", hits)
	}
}

// TestSeqCache: a second fit with the same data and encoder options loads
// the encoders the first one saved (no new file, the same scores), and a
// fit with other encoder options trains and saves its own.
func TestSeqCache(t *testing.T) {
	s := chain(120, 20, 6)
	dir := t.TempDir()
	o := training.Options{Seed: 3, CollabDim: 8, AttrDim: 4, DModel: 8, DAttn: 4, Recent: 2, Epochs: -1, InitCovis: 1,
		Seq: &training.SeqOptions{Dim: 8, Window: 3, Negatives: 8, BatchSize: 64, LR: 1e-2, Epochs: 3}}
	fit := func(o training.Options) *Model {
		m := New("fusion", o)
		m.SeqCache = dir
		if err := m.Fit(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		return m
	}
	files := func() int {
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	a := fit(o)
	if files() != 1 {
		t.Fatalf("%d files after the first fit", files())
	}
	b := fit(o)
	if files() != 1 {
		t.Fatalf("%d files after the second fit", files())
	}
	sa, sb := make([]float32, s.NumItems), make([]float32, s.NumItems)
	for _, h := range [][]int32{{1, 2}, {5}, {7, 8, 9}} {
		a.ScoreTo(sa, h)
		b.ScoreTo(sb, h)
		if !slices.Equal(sa, sb) {
			t.Fatalf("history %v: scores differ after loading the cached encoder", h)
		}
	}
	// The second fit read the file: a damaged one is an error.
	es, _ := os.ReadDir(dir)
	if err := os.WriteFile(filepath.Join(dir, es[0].Name()), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := New("fusion", o)
	m.SeqCache = dir
	if err := m.Fit(context.Background(), s); err == nil {
		t.Error("a damaged cache file was not read")
	}
	o2 := o
	q := *o.Seq
	q.Dim = 12
	o2.Seq = &q
	fit(o2)
	if files() != 2 {
		t.Errorf("%d files after a fit with other encoder options", files())
	}
}

// TestServeChoosesCandidate: with Serve, Fit trains the served candidates
// (collab in the recent slots, and the fixed "text" modality there instead)
// and keeps the better on the held-out cases (collab: the text vectors are
// noise here); the version names it.
func TestServeChoosesCandidate(t *testing.T) {
	s := chain(200, 30, 6)
	o := training.Options{Seed: 3, CollabDim: 16, AttrDim: 8, DModel: 16, DAttn: 8, Recent: 2, Epochs: 6, BatchSize: 64, Negatives: 16, LR: 5e-3}
	m := New("fusion-served", o)
	m.Serve = true
	m.Fixed = func(s *evaluation.Sequences) ([]training.FixedModality, error) {
		// Noise: the text vectors say nothing about the chain.
		fm := training.FixedModality{Name: "text", Dim: 4, Vectors: make([][]float32, s.NumItems)}
		for i := range fm.Vectors {
			fm.Vectors[i] = []float32{float32(i % 2), 1, float32(i % 3), 0}
		}
		return []training.FixedModality{fm}, nil
	}
	if err := m.Fit(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if v := m.Version(); !strings.Contains(v, "chosen=recent=collab") {
		t.Errorf("Version() = %q: want the collab candidate chosen", v)
	}
}

// TestFitStopsWhenCancelled: a context cancelled while the scorer trains stops
// Fit after that epoch with the context's error.
func TestFitStopsWhenCancelled(t *testing.T) {
	s := chain(200, 30, 6)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	epochs := 0
	o := training.Options{Seed: 3, CollabDim: 16, AttrDim: 8, DModel: 16, DAttn: 8, Recent: 2, Epochs: 6, Patience: 6, BatchSize: 64, Negatives: 16, LR: 5e-3,
		OnEpoch: func(e int, _, _ float64) {
			epochs++
			if e == 1 {
				cancel()
			}
		}}
	m := New("fusion", o)
	err := m.Fit(ctx, s)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("Fit error %v, want an interruption wrapping context.Canceled", err)
	}
	if epochs != 2 || m.Result() != nil {
		t.Errorf("%d epoch reports (want 2: the start and epoch 1), result %v", epochs, m.Result())
	}
}
