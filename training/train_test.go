package training

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fusionrank/fusionrank/ranking"
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

// TestHoldOut: each user with three or more events gives its last as a
// validation case; in timed data the rest of its basket (same time) is
// neither history nor dropped from training, and the case carries the
// target's time.
func TestHoldOut(t *testing.T) {
	d := &Data{NumItems: 6, Users: [][]Event{
		{{Item: 0, Time: 10}, {Item: 1, Time: 20}, {Item: 2, Time: 30}, {Item: 3, Time: 30}},
		{{Item: 4, Time: 5}, {Item: 5, Time: 6}},
	}}
	in, val := HoldOut(d)
	if len(val) != 1 {
		t.Fatalf("%d cases, want 1", len(val))
	}
	c := val[0]
	if c.Target != 3 || c.Time != 30 || len(c.History) != 2 || c.History[1].Item != 1 {
		t.Errorf("case %+v, want target 3 at 30 after items 0 and 1", c)
	}
	if len(in.Users[0]) != 3 || len(in.Users[1]) != 2 || len(d.Users[0]) != 4 {
		t.Errorf("training lengths %d, %d (input %d), want 3, 2 (4)", len(in.Users[0]), len(in.Users[1]), len(d.Users[0]))
	}
	u := &Data{NumItems: 3, Users: [][]Event{{{Item: 0}, {Item: 1}, {Item: 2}}}}
	_, val = HoldOut(u)
	if len(val) != 1 || len(val[0].History) != 2 || val[0].Time != 0 {
		t.Errorf("untimed case %+v, want two history events and time 0", val)
	}
	// A last event that repeats a history item gives no case, and the user
	// trains on every event; the same item in the last basket only is new.
	r := &Data{NumItems: 4, Users: [][]Event{
		{{Item: 0, Time: 1}, {Item: 1, Time: 2}, {Item: 0, Time: 3}},
		{{Item: 2, Time: 1}, {Item: 3, Time: 2}, {Item: 1, Time: 3}, {Item: 1, Time: 3}},
	}}
	in, val = HoldOut(r)
	if len(val) != 1 || val[0].Target != 1 || len(in.Users[0]) != 3 {
		t.Errorf("repeat: cases %+v, user 0 trains on %d events, want one case (user 1, target 1) and 3", val, len(in.Users[0]))
	}
}

// TestPopWeightChosen: when the held-out targets are what was popular in
// the week before them, the counting start picks a positive pop_7d weight
// (scored at each case's own time) and ranks better than without it.
func TestPopWeightChosen(t *testing.T) {
	const day, n = 86400, 60
	rng := rand.New(rand.NewPCG(3, 4))
	hot := func(tm int64) int32 { return int32(tm / (7 * day) % n) }
	d := &Data{NumItems: n}
	for range 200 { // evaluated users: three random purchases, then the week's hot item
		last := int64(14+rng.IntN(80)) * day
		seq := []Event{}
		for k := range 3 {
			seq = append(seq, Event{Item: int32(rng.IntN(n)), Time: int64(k+1) * day})
		}
		d.Users = append(d.Users, append(seq, Event{Item: hot(last), Time: last}))
	}
	for range 600 { // background buyers of the week's hot item
		tm := int64(rng.IntN(100*day)) + 1
		d.Users = append(d.Users, []Event{{Item: hot(tm), Time: tm}})
	}
	in, val := HoldOut(d)
	o := Options{Seed: 1, CollabDim: 8, DModel: 8, DAttn: 4, Recent: 2, Epochs: -1, InitCovis: 1, PopWeights: []float64{0, 1}}
	res, err := Train(in, val, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.PopWeight != 1 {
		t.Fatalf("pop_7d weight %v, want 1", res.PopWeight)
	}
	o.PopWeights = nil
	res0, err := Train(in, val, o)
	if err != nil {
		t.Fatal(err)
	}
	with, without := res.NewScorer(in).NDCG(val, 10, 2), res0.NewScorer(in).NDCG(val, 10, 2)
	if with < without+0.3 {
		t.Errorf("NDCG@10 %.3f with the pop weight, %.3f without: want a clear gain", with, without)
	}
}

// TestWeightChoiceMatchesRescoring: choosing a scalar feature's weight from
// one scoring per case (the score is linear in the weight) gives the mean
// NDCG@10 of scoring every case again under each weight, and picks the
// same weight.
func TestWeightChoiceMatchesRescoring(t *testing.T) {
	const day, n = 86400, 60
	rng := rand.New(rand.NewPCG(5, 6))
	hot := func(tm int64) int32 { return int32(tm / (7 * day) % n) }
	d := &Data{NumItems: n}
	for range 300 {
		last := int64(14+rng.IntN(80)) * day
		seq := []Event{}
		for k := range 3 {
			seq = append(seq, Event{Item: int32(rng.IntN(n)), Time: int64(k+1) * day})
		}
		if rng.IntN(2) == 0 { // half follow the week's hot item, half a chain
			seq = append(seq, Event{Item: hot(last), Time: last})
		} else {
			seq = append(seq, Event{Item: (seq[2].Item + 1) % n, Time: last})
		}
		d.Users = append(d.Users, seq)
	}
	for range 600 {
		tm := int64(rng.IntN(100*day)) + 1
		d.Users = append(d.Users, []Event{{Item: hot(tm), Time: tm}})
	}
	in, val := HoldOut(d)
	res, err := Train(in, val, Options{Seed: 1, CollabDim: 8, DModel: 8, DAttn: 4, Recent: 2, Epochs: -1, InitCovis: 1})
	if err != nil {
		t.Fatal(err)
	}
	sc := res.NewScorer(in)
	ws := []float64{0, 0.05, 0.25, 1, 4, 16}
	got := sc.weightNDCG(val, ranking.FeatPop7d, ws, 2)
	best, bestW := -1.0, 0.0
	for j, w := range ws {
		res.Model.U[ranking.FeatPop7d] = float32(w)
		want := sc.NDCG(val, 10, 2)
		if math.Abs(got[j]-want) > 1e-3 {
			t.Errorf("weight %v: NDCG@10 %.5f from one scoring, %.5f rescored", w, got[j], want)
		}
		if want > best {
			best, bestW = want, w
		}
	}
	res.Model.U[ranking.FeatPop7d] = 0
	if c := sc.chooseWeight(val, ranking.FeatPop7d, ws, 2); c != bestW {
		t.Errorf("chose %v, rescoring says %v (NDCG@10 %v)", c, bestW, got)
	}
	if got[0] == got[len(got)-1] {
		t.Errorf("NDCG@10 does not depend on the weight (%v): the test says nothing", got)
	}
}
