package rerank

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// l3 and l4 are the discounts of positions 1 and 2 (0-based): 1/log2(3), 1/log2(4).
var (
	l3 = 1 / math.Log2(3)
	l4 = 0.5
)

func TestNDCG(t *testing.T) {
	tests := []struct {
		name   string
		scores []float32
		gains  []float64
		k      int
		want   float64
	}{
		{"perfect order", []float32{3, 2, 1}, []float64{2, 1, 0}, 10, 1},
		{"perfect order, unsorted input", []float32{1, 3, 2}, []float64{0, 2, 1}, 10, 1},
		// Reversed: DCG = 0 + 1/log2(3) + 2/log2(4); IDCG = 2 + 1/log2(3).
		{"reversed order", []float32{1, 2, 3}, []float64{2, 1, 0}, 10, (l3 + 2*l4) / (2 + l3)},
		// Two tied items share positions 0 and 1, each with the mean gain 1.
		{"tie of two", []float32{5, 5}, []float64{2, 0}, 10, (1 + l3) / 2},
		{"tie equals the mean of both orders", []float32{0, 0}, []float64{0, 2}, 10, (1 + 2*l3/2) / 2},
		// All three tied, cut at 1: position 0 gets the mean gain 1; IDCG@1 = 2.
		{"tie cut by k", []float32{1, 1, 1}, []float64{2, 1, 0}, 1, 0.5},
		// Top item tied with the second, third separate: positions 0,1 get (2+0)/2.
		{"partial tie", []float32{2, 2, 1}, []float64{2, 0, 1}, 10, (1 + l3 + 1*l4) / (2 + l3)},
		{"k = 1 wrong top", []float32{1, 0}, []float64{0, 2}, 1, 0},
		{"k beyond length", []float32{1}, []float64{1.5}, 10, 1},
		{"all gains zero", []float32{1, 2}, []float64{0, 0}, 10, 0},
		{"negative and infinite scores", []float32{-1, float32(math.Inf(-1)), float32(math.Inf(1))}, []float64{1, 0, 2}, 10, 1},
		{"empty", nil, nil, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NDCG(tt.scores, tt.gains, tt.k)
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("NDCG = %.15f, want %.15f", got, tt.want)
			}
		})
	}
}

func TestNDCGPanics(t *testing.T) {
	tests := []struct {
		name   string
		scores []float32
		gains  []float64
		k      int
	}{
		{"length mismatch", []float32{1}, []float64{1, 2}, 10},
		{"k = 0", []float32{1}, []float64{1}, 0},
		{"NaN score", []float32{float32(math.NaN())}, []float64{1}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if s, _ := recover().(string); !strings.HasPrefix(s, "rerank: NDCG") {
					t.Errorf("recover() = %q, want a rerank: NDCG panic", s)
				}
			}()
			NDCG(tt.scores, tt.gains, tt.k)
		})
	}
}

// bruteNDCG averages the plain NDCG@k over every order of the items that is
// consistent with the scores (ties in every order): the definition the
// tie rule of NDCG must reproduce.
func bruteNDCG(scores []float32, gains []float64, k int) float64 {
	n := len(scores)
	perm := make([]int, n)
	used := make([]bool, n)
	idcg := 0.0
	ideal := append([]float64(nil), gains...)
	for i := range ideal { // selection sort, descending
		for j := i + 1; j < len(ideal); j++ {
			if ideal[j] > ideal[i] {
				ideal[i], ideal[j] = ideal[j], ideal[i]
			}
		}
		if i < k {
			idcg += ideal[i] / math.Log2(float64(i)+2)
		}
	}
	sum, count := 0.0, 0
	var rec func(p int)
	rec = func(p int) {
		if p == n {
			dcg := 0.0
			for q := 0; q < n && q < k; q++ {
				dcg += gains[perm[q]] / math.Log2(float64(q)+2)
			}
			sum += dcg / idcg
			count++
			return
		}
		for i := range n {
			if used[i] || p > 0 && scores[i] > scores[perm[p-1]] {
				continue
			}
			used[i] = true
			perm[p] = i
			rec(p + 1)
			used[i] = false
		}
	}
	rec(0)
	return sum / float64(count)
}

func TestNDCGMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := range 300 {
		n := 1 + rng.IntN(6)
		scores := make([]float32, n)
		gains := make([]float64, n)
		for i := range n {
			scores[i] = float32(rng.IntN(3)) // few values: many ties
			gains[i] = float64(rng.IntN(5)) / 2
		}
		gains[rng.IntN(n)] = 2 // IDCG > 0
		k := 1 + rng.IntN(n+1)
		got, want := NDCG(scores, gains, k), bruteNDCG(scores, gains, k)
		if math.Abs(got-want) > 1e-12 {
			t.Fatalf("trial %d: NDCG(%v, %v, %d) = %v, brute force %v", trial, scores, gains, k, got, want)
		}
	}
}

// scoreFunc adapts a function to a Scorer for tests.
type scoreFunc func(it Item) float32

func (f scoreFunc) Fit(context.Context, []Query) error { return nil }
func (f scoreFunc) ScoreTo(dst []float32, q Query) {
	for i, it := range q.Items {
		dst[i] = f(it)
	}
}

func items(rels ...float64) []Item {
	out := make([]Item, len(rels))
	for i, r := range rels {
		out[i] = Item{ProductUID: string(rune('a' + i)), Relevance: r}
	}
	return out
}

func TestEvaluate(t *testing.T) {
	qs := []Query{
		{Text: "three grades", Items: items(3, 2, 1)},
		{Text: "one grade only", Items: items(2, 2, 2)},
		{Text: "single item", Items: items(3)},
		{Text: "two grades", Items: items(1, 3)},
	}
	oracle := scoreFunc(func(it Item) float32 { return float32(it.Relevance) })
	inverse := scoreFunc(func(it Item) float32 { return -float32(it.Relevance) })
	constant := scoreFunc(func(Item) float32 { return 0 })
	tests := []struct {
		name string
		s    Scorer
		want float64
	}{
		{"oracle", oracle, 1},
		// Gains (2,1,0) reversed, and (0,2) reversed: 2/log2(3) over 2.
		{"inverse", inverse, ((l3+2*l4)/(2+l3) + l3) / 2},
		// Ties everywhere: the expected NDCG of a random order.
		{"constant", constant, (((1 + l3 + l4) / (2 + l3)) + (1+l3)/2) / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n := Evaluate(qs, tt.s, 10)
			if n != 2 {
				t.Errorf("n = %d, want 2 (the single-grade queries are excluded)", n)
			}
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Evaluate = %.15f, want %.15f", got, tt.want)
			}
			at, nAt := EvaluateAt(qs, tt.s, []int{1, 10})
			if nAt != n || at[1] != got {
				t.Errorf("EvaluateAt(…, [1 10]) = %v, %d; want [_ %v], %d", at, nAt, got, n)
			}
		})
	}
	if got, n := Evaluate(qs[1:3], oracle, 10); got != 0 || n != 0 {
		t.Errorf("Evaluate(no evaluable query) = %v, %d; want 0, 0", got, n)
	}
}

func TestQueryGrades(t *testing.T) {
	tests := []struct {
		q    Query
		want int
	}{
		{Query{}, 0},
		{Query{Items: items(2)}, 1},
		{Query{Items: items(2, 2)}, 1},
		{Query{Items: items(2.33, 2.67, 2.33, 1)}, 3},
	}
	for _, tt := range tests {
		if got := tt.q.Grades(); got != tt.want {
			t.Errorf("Grades(%v) = %d, want %d", tt.q.Items, got, tt.want)
		}
	}
}
