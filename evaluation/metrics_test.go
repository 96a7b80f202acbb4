package evaluation

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

const eps = 1e-12

func near(a, b float64) bool { return math.Abs(a-b) < eps }

func TestTargetRank(t *testing.T) {
	ninf := float32(math.Inf(-1))
	nan := float32(math.NaN())
	tests := []struct {
		name   string
		scores []float32
		target int
		want   Rank
	}{
		{"one element", []float32{1}, 0, Rank{}},
		{"best", []float32{3, 1, 2}, 0, Rank{}},
		{"last", []float32{3, 1, 2}, 1, Rank{Above: 2}},
		{"ties before and after", []float32{2, 5, 2, 2, 1}, 2, Rank{Above: 1, Tied: 2, TiedBefore: 1}},
		{"masked ignored", []float32{ninf, 1, ninf, 0}, 3, Rank{Above: 1}},
		{"nan candidates ignored", []float32{nan, 1, 2}, 1, Rank{Above: 1}},
		{"nan target is last", []float32{nan, 1, ninf, 2}, 0, Rank{Above: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TargetRank(tt.scores, tt.target); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHitNDCG(t *testing.T) {
	l2 := math.Log2
	tests := []struct {
		name     string
		r        Rank
		k        int
		rule     TieRule
		hit, dcg float64
	}{
		{"rank 0 k 1", Rank{}, 1, TiesPessimistic, 1, 1},
		{"rank 1 k 1 misses", Rank{Above: 1}, 1, TiesPessimistic, 0, 0},
		{"rank k-1 hits", Rank{Above: 4}, 5, TiesPessimistic, 1, 1 / l2(6)},
		{"rank k misses", Rank{Above: 5}, 5, TiesPessimistic, 0, 0},
		{"pessimistic counts ties above", Rank{Above: 3, Tied: 2}, 6, TiesPessimistic, 1, 1 / l2(7)},
		{"pessimistic pushed out", Rank{Above: 3, Tied: 2}, 4, TiesPessimistic, 0, 0},
		{"optimistic", Rank{Above: 3, Tied: 2}, 4, TiesOptimistic, 1, 1 / l2(5)},
		{"by index", Rank{Above: 3, Tied: 2, TiedBefore: 1}, 5, TiesByIndex, 1, 1 / l2(6)},
		// Ranks 3, 4, 5 equally likely; k = 5 keeps 3 and 4.
		{"expected straddling k", Rank{Above: 3, Tied: 2}, 5, TiesExpected, 2.0 / 3, (1/l2(5) + 1/l2(6)) / 3},
		{"expected all inside", Rank{Above: 0, Tied: 1}, 5, TiesExpected, 1, (1 + 1/l2(3)) / 2},
		{"expected all outside", Rank{Above: 5, Tied: 3}, 5, TiesExpected, 0, 0},
		{"expected no ties", Rank{Above: 2}, 5, TiesExpected, 1, 1 / l2(4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, g := HitNDCG(tt.r, tt.k, tt.rule)
			if !near(h, tt.hit) || !near(g, tt.dcg) {
				t.Fatalf("got (%v, %v), want (%v, %v)", h, g, tt.hit, tt.dcg)
			}
		})
	}
}

// TestExpectedMatchesShuffles checks TiesExpected against the average over
// every order of the tied candidates, computed by brute force.
func TestExpectedMatchesShuffles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 1 + rng.IntN(8)
		scores := make([]float32, n)
		for i := range scores {
			scores[i] = float32(rng.IntN(3))
		}
		target := rng.IntN(n)
		r := TargetRank(scores, target)
		k := 1 + rng.IntN(n)
		// Every position among the tied block is equally likely.
		var hit, dcg float64
		for pos := r.Above; pos <= r.Above+r.Tied; pos++ {
			if pos < k {
				hit++
				dcg += 1 / math.Log2(float64(pos+2))
			}
		}
		hit /= float64(r.Tied + 1)
		dcg /= float64(r.Tied + 1)
		h, g := HitNDCG(r, k, TiesExpected)
		if !near(h, hit) || !near(g, dcg) {
			t.Fatalf("trial %d: got (%v,%v), want (%v,%v)", trial, h, g, hit, dcg)
		}
	}
}

func TestLeaveOneOut(t *testing.T) {
	a := NewLeaveOneOut([]int{1, 3}, TiesPessimistic)
	if got := a.Metrics(); got[0].Value != 0 || a.N() != 0 {
		t.Fatalf("empty accumulator: %v", got)
	}
	a.Add(Rank{}) // hit at 1 and 3
	b := NewLeaveOneOut([]int{1, 3}, TiesPessimistic)
	b.Add(Rank{Above: 2}) // hit at 3 only
	b.Add(Rank{Above: 9}) // miss
	a.Merge(b)
	want := map[string]float64{"HR@1": 1.0 / 3, "NDCG@1": 1.0 / 3, "HR@3": 2.0 / 3, "NDCG@3": (1 + 0.5) / 3}
	got := a.Metrics()
	if len(got) != 4 || got[0].Key() != "HR@1" || got[1].Key() != "NDCG@1" || got[2].Key() != "HR@3" {
		t.Fatalf("order: %v", got)
	}
	for k, w := range want {
		if v, _ := got.Get(k); !near(v, w) {
			t.Errorf("%s = %v, want %v", k, v, w)
		}
	}
}

func TestMultiTarget(t *testing.T) {
	l2 := math.Log2
	tests := []struct {
		name    string
		ranked  []int32
		targets []int32
		want    map[string]float64
	}{
		{"first of two", []int32{7, 1, 2, 3}, []int32{7, 9}, map[string]float64{
			"HR@1": 1, "Recall@1": 0.5, "NDCG@1": 1,
			"HR@3": 1, "Recall@3": 0.5, "NDCG@3": 1 / (1 + 1/l2(3)),
		}},
		{"second and third", []int32{0, 5, 6}, []int32{5, 6}, map[string]float64{
			"HR@1": 0, "Recall@1": 0, "NDCG@1": 0,
			"HR@3": 1, "Recall@3": 1, "NDCG@3": (1/l2(3) + 1/l2(4)) / (1 + 1/l2(3)),
		}},
		{"short list", []int32{4}, []int32{4}, map[string]float64{"HR@3": 1, "Recall@3": 1, "NDCG@3": 1}},
		{"more targets than k", []int32{1, 2, 3}, []int32{1, 2, 3, 4, 5}, map[string]float64{"Recall@3": 0.6, "NDCG@3": 1, "NDCG@1": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewMultiTarget([]int{1, 3})
			a.Add(tt.ranked, func(i int32) bool { return slices.Contains(tt.targets, i) }, len(tt.targets))
			a.Add(tt.ranked, func(int32) bool { return true }, 0) // ignored: no targets
			if a.N() != 1 {
				t.Fatalf("N = %d", a.N())
			}
			m := a.Metrics()
			for k, w := range tt.want {
				if v, _ := m.Get(k); !near(v, w) {
					t.Errorf("%s = %v, want %v", k, v, w)
				}
			}
		})
	}
}

func TestTopKTo(t *testing.T) {
	ninf := float32(math.Inf(-1))
	tests := []struct {
		name   string
		scores []float32
		k      int
		want   []int32
	}{
		{"empty scores", nil, 3, []int32{}},
		{"k zero", []float32{1, 2}, 0, []int32{}},
		{"one", []float32{5}, 2, []int32{0}},
		{"ties by lower index", []float32{1, 3, 3, 2, 3}, 3, []int32{1, 2, 4}},
		{"masked skipped", []float32{ninf, 1, ninf, 0}, 4, []int32{1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TopKTo(make([]int32, tt.k), tt.scores)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	// Against a naive stable sort on seeded random data with many ties.
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 100 {
		n := rng.IntN(60)
		scores := make([]float32, n)
		for i := range scores {
			scores[i] = float32(rng.IntN(10))
		}
		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32(i)
		}
		sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
		k := rng.IntN(20)
		want := idx[:min(k, n)]
		if got := TopKTo(make([]int32, k), scores); !slices.Equal(got, want) {
			t.Fatalf("trial %d: got %v, want %v", trial, got, want)
		}
	}
	scores := make([]float32, 1000)
	dst := make([]int32, 20)
	if allocs := testing.AllocsPerRun(10, func() { TopKTo(dst, scores) }); allocs != 0 {
		t.Fatalf("TopKTo allocates %v times", allocs)
	}
}

func BenchmarkTargetRank(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	scores := make([]float32, 12101)
	for i := range scores {
		scores[i] = float32(rng.IntN(1000))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		TargetRank(scores, i%len(scores))
	}
}

func BenchmarkTopKTo(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	scores := make([]float32, 12101)
	for i := range scores {
		scores[i] = rng.Float32()
	}
	dst := make([]int32, 20)
	b.ReportAllocs()
	for b.Loop() {
		TopKTo(dst, scores)
	}
}

// TestTargetRankMatchesNaive compares the unrolled counting with a plain
// loop on every length from 1 to 40 and every target position.
func TestTargetRankMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	ninf := float32(math.Inf(-1))
	for n := 1; n <= 40; n++ {
		scores := make([]float32, n)
		for i := range scores {
			scores[i] = float32(rng.IntN(4))
			if rng.IntN(5) == 0 {
				scores[i] = ninf
			}
		}
		for target := range n {
			var want Rank
			for i, v := range scores {
				if i == target {
					continue
				}
				if v > scores[target] {
					want.Above++
				} else if v == scores[target] {
					want.Tied++
					if i < target {
						want.TiedBefore++
					}
				}
			}
			if got := TargetRank(scores, target); got != want {
				t.Fatalf("n %d target %d: got %+v, want %+v", n, target, got, want)
			}
		}
	}
}
