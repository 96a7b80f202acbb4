package training

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// chainData returns users walking the chain 0 → 1 → 2 → … (mod n) from
// random starts, so the item after i is always i+1.
func chainData(users, n, length int, seed uint64) *Data {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &Data{NumItems: n}
	for range users {
		s := rng.IntN(n)
		seq := make([]Event, length)
		for k := range seq {
			seq[k] = Event{Item: int32((s + k) % n)}
		}
		d.Users = append(d.Users, seq)
	}
	return d
}

func TestTrainLearnsChain(t *testing.T) {
	d := chainData(300, 40, 6, 1)
	var val []Case
	for s := range 40 {
		val = append(val, Case{History: []Event{{Item: int32(s)}, {Item: int32((s + 1) % 40)}}, Target: int32((s + 2) % 40)})
	}
	o := Options{Seed: 7, CollabDim: 16, DModel: 16, DAttn: 8, Recent: 2, Epochs: 8, BatchSize: 64, Negatives: 16, LR: 5e-3}
	res, err := Train(d, val, o)
	if err != nil {
		t.Fatal(err)
	}
	sc := res.NewScorer(d)
	scores := make([]float32, d.NumItems)
	hits := 0
	for s := range 40 {
		prev := (s + 39) % 40
		sc.ScoreTo(scores, []Event{{Item: int32(prev)}, {Item: int32(s)}}, 0)
		scores[s], scores[prev] = float32(math.Inf(-1)), float32(math.Inf(-1)) // the history is masked, as in serving
		best := 0
		for i, v := range scores {
			if v > scores[best] {
				best = i
			}
		}
		if best == (s+1)%40 {
			hits++
		}
	}
	if hits < 38 {
		t.Errorf("next item ranked first for %d of 40 items; curve %+v", hits, res.Curve)
	}
	if res.BestValidation < 0.9 {
		t.Errorf("validation NDCG@10 %.3f, want ≥ 0.9", res.BestValidation)
	}
	if math.IsNaN(res.Curve.Loss[0]) || res.Curve.Loss[len(res.Curve.Loss)-1] >= res.Curve.Loss[0] {
		t.Errorf("loss did not fall: %v", res.Curve.Loss)
	}
}

// TestTrainReproducible trains twice with the same seed and data (with
// different goroutine counts) and expects identical weights, and a
// different seed to give different ones.
func TestTrainReproducible(t *testing.T) {
	d := smallData(60, 15, 4, true)
	var val []Case
	for _, seq := range d.Users[:10] {
		val = append(val, Case{History: seq[:len(seq)-1], Target: seq[len(seq)-1].Item})
	}
	train := func(seed uint64, workers int) *Result {
		o := Options{Seed: seed, CollabDim: 8, AttrDim: 4, DModel: 8, DAttn: 4, Recent: 3, Epochs: 3, BatchSize: 16, Negatives: 5, Workers: workers, WeightDecay: 0.01}
		res, err := Train(d, val, o)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	weights := func(r *Result) []float32 {
		var w []float32
		for _, ts := range r.Model.Tensors() {
			w = append(w, ts.Data...)
		}
		w = append(w, r.Collab.Data...)
		return append(w, r.Attr.Data...)
	}
	tests := []struct {
		name      string
		a, b      *Result
		wantEqual bool
	}{
		{"same seed, 1 and 2 goroutines", train(1, 1), train(1, 2), true},
		{"same seed, 2 goroutines twice", train(1, 2), train(1, 2), true},
		{"different seed", train(1, 2), train(2, 2), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := slices.Equal(weights(tc.a), weights(tc.b)); got != tc.wantEqual {
				t.Errorf("weights equal = %v, want %v", got, tc.wantEqual)
			}
		})
	}
}
