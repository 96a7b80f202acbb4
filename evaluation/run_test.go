package evaluation

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

// fixedModel scores item j as scores[j] whatever the history.
type fixedModel struct{ scores []float32 }

func (m *fixedModel) Fit(context.Context, *Sequences) error { return nil }
func (m *fixedModel) ScoreTo(dst []float32, _ []int32)      { copy(dst, m.scores) }

func TestRunnerLeaveOneOutMasksHistory(t *testing.T) {
	m := &fixedModel{scores: []float32{5, 4, 3, 2, 1}}
	cases := []Case{
		{History: nil, Target: 2},           // rank 2
		{History: []int32{0, 1}, Target: 2}, // items 0 and 1 masked: rank 0
		{History: []int32{4, 3}, Target: 3}, // the target is never masked: rank 3
	}
	ranks, err := Runner{}.Ranks(context.Background(), m, 5, cases)
	if err != nil {
		t.Fatal(err)
	}
	want := []Rank{{Above: 2}, {Above: 0}, {Above: 3}}
	for i := range want {
		if ranks[i] != want[i] {
			t.Fatalf("ranks %v, want %v", ranks, want)
		}
	}
	if _, err := (Runner{}).Ranks(context.Background(), m, 5, []Case{{Target: 5}}); err == nil {
		t.Fatal("out-of-range target accepted")
	}
}

func TestRunnerWorkersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := 300
	scores := make([]float32, n)
	for i := range scores {
		scores[i] = float32(rng.IntN(40)) // many ties
	}
	m := &fixedModel{scores: scores}
	var cases []Case
	var multi []MultiCase
	for range 1000 {
		h := []int32{int32(rng.IntN(n)), int32(rng.IntN(n))}
		cases = append(cases, Case{History: h, Target: int32(rng.IntN(n))})
		multi = append(multi, MultiCase{History: h, Targets: []int32{int32(rng.IntN(n)), int32(rng.IntN(n))}})
	}
	ks := []int{5, 10, 20}
	var ref, refMulti Metrics
	for _, w := range []int{1, 2, 7} {
		r := Runner{Workers: w}
		acc, _, err := r.LeaveOneOut(context.Background(), m, n, cases, ks, TiesExpected)
		if err != nil {
			t.Fatal(err)
		}
		mt, err := r.MultiTarget(context.Background(), m, n, multi, ks)
		if err != nil {
			t.Fatal(err)
		}
		got, gotMulti := acc.Metrics(), mt.Metrics()
		if ref == nil {
			ref, refMulti = got, gotMulti
			continue
		}
		for i := range ref {
			if got[i] != ref[i] {
				t.Fatalf("%d workers: %v, 1 worker: %v", w, got, ref)
			}
		}
		for i := range refMulti {
			if gotMulti[i] != refMulti[i] {
				t.Fatalf("%d workers: %v, 1 worker: %v", w, gotMulti, refMulti)
			}
		}
	}
}

func TestRunnerCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := Runner{}.LeaveOneOut(ctx, &fixedModel{scores: []float32{1}}, 1, []Case{{Target: 0}}, []int{1}, TiesExpected)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestSequencesValidate(t *testing.T) {
	tests := []struct {
		name string
		s    Sequences
		ok   bool
	}{
		{"ok", Sequences{NumItems: 2, Users: [][]int32{{0, 1}}, Times: [][]int64{{1, 2}}}, true},
		{"no items", Sequences{}, false},
		{"item out of range", Sequences{NumItems: 2, Users: [][]int32{{2}}}, false},
		{"times length", Sequences{NumItems: 2, Users: [][]int32{{0, 1}}, Times: [][]int64{{1}}}, false},
		{"times rows", Sequences{NumItems: 2, Users: [][]int32{{0}}, Times: [][]int64{}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.s.Validate(); (err == nil) != tt.ok {
				t.Fatalf("err %v, ok %v", err, tt.ok)
			}
		})
	}
}
