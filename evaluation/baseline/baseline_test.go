package baseline

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/fusionrank/fusionrank/evaluation"
)

func near32(a, b float32) bool {
	return math.Abs(float64(a-b)) <= 1e-5*math.Max(1, math.Abs(float64(b)))
}

func fit(t *testing.T, m evaluation.Model, s *evaluation.Sequences) {
	t.Helper()
	if err := m.Fit(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

func TestPop(t *testing.T) {
	s := &evaluation.Sequences{
		NumItems: 4,
		Users:    [][]int32{{0, 1, 1}, {1, 2}, {}},
		Times:    [][]int64{{1, 2, 3}, {5, 6}, {}},
	}
	tests := []struct {
		name string
		p    *Pop
		want []float32
	}{
		{"all interactions", &Pop{}, []float32{1, 3, 1, 0}},
		{"distinct users", &Pop{Distinct: true}, []float32{1, 2, 1, 0}},
		{"window", &Pop{Since: 3}, []float32{0, 2, 1, 0}},
		{"window distinct", &Pop{Since: 3, Distinct: true}, []float32{0, 2, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fit(t, tt.p, s)
			dst := make([]float32, 4)
			tt.p.ScoreTo(dst, []int32{0})
			for i := range dst {
				if dst[i] != tt.want[i] {
					t.Fatalf("scores %v, want %v", dst, tt.want)
				}
			}
		})
	}
	if err := (&Pop{Since: 1}).Fit(context.Background(), &evaluation.Sequences{NumItems: 1, Users: [][]int32{{0}}}); err == nil {
		t.Fatal("window without times accepted")
	}
	if err := (&Pop{}).Fit(context.Background(), &evaluation.Sequences{NumItems: 1, Users: [][]int32{{3}}}); err == nil {
		t.Fatal("out-of-range item accepted")
	}
}

// naiveMarkov is the documented formula computed with maps.
func naiveMarkov(m *Markov, s *evaluation.Sequences, history []int32) []float32 {
	order, decay, popw := m.params()
	trans := map[[2]int32]float64{}
	rowSum := map[int32]float64{}
	pop := make([]float64, s.NumItems)
	maxPop := 0.0
	for _, seq := range s.Users {
		for i, it := range seq {
			pop[it]++
			maxPop = math.Max(maxPop, pop[it])
			if i > 0 {
				trans[[2]int32{seq[i-1], it}]++
				rowSum[seq[i-1]]++
				if m.Reverse != 0 {
					trans[[2]int32{it, seq[i-1]}] += m.Reverse
					rowSum[it] += m.Reverse
				}
			}
		}
	}
	out := make([]float32, s.NumItems)
	for j := range out {
		v := popw * pop[j] / math.Max(maxPop, 1)
		w := 1.0
		for l := 0; l < order && l < len(history); l++ {
			a := history[len(history)-1-l]
			t := trans[[2]int32{a, int32(j)}]
			if m.Normalize && t != 0 {
				t /= rowSum[a]
			}
			v += w * t
			w *= decay
		}
		out[j] = float32(v)
	}
	return out
}

func randomSequences(rng *rand.Rand, users, items int) *evaluation.Sequences {
	s := &evaluation.Sequences{NumItems: items}
	for range users {
		seq := make([]int32, rng.IntN(8))
		times := make([]int64, len(seq))
		t := int64(0)
		for i := range seq {
			seq[i] = int32(rng.IntN(items))
			if rng.IntN(3) > 0 {
				t++
			}
			times[i] = t
		}
		s.Users = append(s.Users, seq)
		s.Times = append(s.Times, times)
	}
	return s
}

func TestMarkovMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	variants := []*Markov{
		{}, {Order: 3, Decay: 0.5}, {Order: 2, Normalize: true}, {Reverse: 0.25}, {Order: 4, Decay: 0.3, Normalize: true, Reverse: 0.5, PopWeight: 0.1},
	}
	for _, m := range variants {
		t.Run(m.Version(), func(t *testing.T) {
			for trial := range 20 {
				s := randomSequences(rng, 1+rng.IntN(12), 1+rng.IntN(9))
				fit(t, m, s)
				for _, h := range s.Users {
					dst := make([]float32, s.NumItems)
					m.ScoreTo(dst, h)
					want := naiveMarkov(m, s, h)
					for j := range dst {
						if !near32(dst[j], want[j]) {
							t.Fatalf("trial %d history %v: scores %v, want %v", trial, h, dst, want)
						}
					}
				}
			}
		})
	}
}

// naiveCoPurchase is the documented formula computed with sets.
func naiveCoPurchase(c *CoPurchase, s *evaluation.Sequences, history []int32) []float32 {
	decay, popw := c.params()
	var groups []map[int32]bool
	buyers := make([]float64, s.NumItems)
	for u, seq := range s.Users {
		seen := map[int32]bool{}
		g := map[int32]bool{}
		for i, it := range seq {
			if c.Basket && i > 0 && s.Times[u][i] != s.Times[u][i-1] {
				groups = append(groups, g)
				g = map[int32]bool{}
			}
			g[it] = true
			if (c.PopSince == 0 || s.Times[u][i] >= c.PopSince) && !seen[it] {
				seen[it] = true
				buyers[it]++
			}
		}
		groups = append(groups, g)
	}
	maxB := 0.0
	for _, b := range buyers {
		maxB = math.Max(maxB, b)
	}
	df := make([]float64, s.NumItems)
	for _, g := range groups {
		for it := range g {
			df[it]++
		}
	}
	co := func(a, b int32) float64 {
		if a == b {
			return 0
		}
		n := 0.0
		for _, g := range groups {
			if g[a] && g[b] {
				n++
			}
		}
		if c.Cosine && n > 0 {
			n /= math.Sqrt(df[a] * df[b])
		}
		return n
	}
	var recent []int32
	seen := map[int32]bool{}
	for i := len(history) - 1; i >= 0; i-- {
		if !seen[history[i]] {
			seen[history[i]] = true
			recent = append(recent, history[i])
		}
	}
	if c.Recent > 0 && len(recent) > c.Recent {
		recent = recent[:c.Recent]
	}
	out := make([]float32, s.NumItems)
	for j := range out {
		v := 0.0
		if maxB > 0 {
			v = popw * buyers[j] / maxB
		}
		w := 1.0
		for _, a := range recent {
			v += w * co(a, int32(j))
			w *= decay
		}
		out[j] = float32(v)
	}
	return out
}

func TestCoPurchaseMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	variants := []*CoPurchase{
		{}, {Basket: true}, {Cosine: true}, {Basket: true, Cosine: true, Decay: 0.8}, {Recent: 2, Decay: 0.5, PopWeight: 0.3}, {Basket: true, PopSince: 2, PopWeight: 1},
	}
	for _, c := range variants {
		t.Run(c.Version(), func(t *testing.T) {
			for trial := range 20 {
				s := randomSequences(rng, 1+rng.IntN(12), 1+rng.IntN(9))
				fit(t, c, s)
				for _, h := range s.Users {
					dst := make([]float32, s.NumItems)
					c.ScoreTo(dst, h)
					want := naiveCoPurchase(c, s, h)
					for j := range dst {
						if !near32(dst[j], want[j]) {
							t.Fatalf("trial %d history %v: scores %v, want %v", trial, h, dst, want)
						}
					}
				}
			}
		})
	}
	if err := (&CoPurchase{Basket: true}).Fit(context.Background(), &evaluation.Sequences{NumItems: 1, Users: [][]int32{{0}}}); err == nil {
		t.Fatal("baskets without times accepted")
	}
}

// TestScoreToConcurrentNoAlloc checks the evaluator's contract: ScoreTo is
// safe from several goroutines (run with -race) and does not allocate.
func TestScoreToConcurrentNoAlloc(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	s := randomSequences(rng, 200, 50)
	models := []evaluation.Model{&Pop{}, &Markov{Order: 3}, &CoPurchase{Basket: true, Cosine: true, Decay: 0.9}}
	for _, m := range models {
		fit(t, m, s)
		want := make([][]float32, len(s.Users))
		for u, h := range s.Users {
			want[u] = make([]float32, s.NumItems)
			m.ScoreTo(want[u], h)
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dst := make([]float32, s.NumItems)
				for u := w; u < len(s.Users); u += 4 {
					m.ScoreTo(dst, s.Users[u])
					for j := range dst {
						if dst[j] != want[u][j] {
							t.Errorf("%T: concurrent score differs for user %d", m, u)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		dst := make([]float32, s.NumItems)
		h := s.Users[0]
		if allocs := testing.AllocsPerRun(20, func() { m.ScoreTo(dst, h) }); allocs != 0 {
			t.Errorf("%T: ScoreTo allocates %v times", m, allocs)
		}
	}
}

func BenchmarkMarkovScoreTo(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	s := randomSequences(rng, 20000, 12000)
	m := &Markov{Order: 5, Decay: 0.3}
	if err := m.Fit(context.Background(), s); err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, s.NumItems)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.ScoreTo(dst, s.Users[i%len(s.Users)])
	}
}
