package features

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

// TestCovisSet checks the compact set against a map and a sort of the same followers:
// every member's count, absent ids at 0, and the order ZREVRANGE gives (count, then
// id, descending).
func TestCovisSet(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 7, 8, 9, 100, maxLocalCovis} {
		ids := make([]string, n)
		counts := make([]float64, n)
		want := map[string]float64{}
		for i := range ids {
			ids[i] = fmt.Sprintf("item-%d", r.IntN(1_000_000)*n+i) // distinct
			counts[i] = float64(r.IntN(4))                         // many ties, so the id breaks them
			want[ids[i]] = counts[i]
		}
		set := newCovisSet(ids, counts)
		if set.len() != n {
			t.Fatalf("n=%d: len %d", n, set.len())
		}
		for id, c := range want {
			if got := set.lookup(covisHash(id), id); got != c {
				t.Fatalf("n=%d: count of %s = %v, want %v", n, id, got, c)
			}
		}
		for i := range 50 {
			id := fmt.Sprintf("absent-%d", i)
			if got := set.lookup(covisHash(id), id); got != 0 {
				t.Fatalf("n=%d: count of absent %s = %v", n, id, got)
			}
		}
		order := append([]string(nil), ids...)
		sort.Slice(order, func(a, b int) bool {
			if want[order[a]] != want[order[b]] {
				return want[order[a]] > want[order[b]]
			}
			return order[a] > order[b]
		})
		for k, id := range order {
			if set.member(k) != id || set.count[k] != want[id] {
				t.Fatalf("n=%d: follower %d is %s (%v), want %s (%v)", n, k, set.member(k), set.count[k], id, want[id])
			}
		}
	}
}

// BenchmarkCovisLookup: a rerank's co-visitation feature, 100 candidates against 5
// recent items' sets of 200 followers, half the candidates among them.
func BenchmarkCovisLookup(b *testing.B) {
	var sets []*covisSet
	var cands []string
	for j := range 5 {
		ids := make([]string, 200)
		counts := make([]float64, 200)
		for i := range ids {
			ids[i] = fmt.Sprintf("it-%d-%d", j, i)
			counts[i] = float64(i % 7)
		}
		sets = append(sets, newCovisSet(ids, counts))
	}
	for i := range 100 {
		cands = append(cands, fmt.Sprintf("it-%d-%d", i%5, i*3%400))
	}
	hs := make([]uint64, len(cands))
	b.ReportAllocs()
	for b.Loop() {
		for i, c := range cands {
			hs[i] = covisHash(c)
		}
		for _, set := range sets {
			for i, c := range cands {
				_ = set.lookup(hs[i], c)
			}
		}
	}
}
