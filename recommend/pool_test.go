package recommend

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestFilterExclusions: a slot is excluded exactly when it was excluded, whether the
// filter scans its few exclusions or has moved them to a map.
func TestFilterExclusions(t *testing.T) {
	for _, n := range []int{0, 1, maxScanExclude, maxScanExclude + 1, 500} {
		fl := &filter{}
		want := map[int32]bool{}
		r := rand.New(rand.NewPCG(1, uint64(n)))
		for range n {
			slot := int32(r.IntN(2000))
			fl.excludeSlot(slot)
			want[slot] = true
		}
		for slot := int32(0); slot < 2000; slot++ {
			if fl.excluded(slot) != want[slot] {
				t.Fatalf("%d exclusions: slot %d excluded %v, want %v", n, slot, fl.excluded(slot), want[slot])
			}
		}
	}
}

// diversifyReference is diversify's rule written plainly: walk the ranking, hold back
// an item whose category already has k items among the first count places while
// those places are being filled, and append the held items at the end.
func diversifyReference(cands []cand, cat func(cand) string, k, count int) []cand {
	var out, held []cand
	per := map[string]int{}
	for _, c := range cands {
		if cat(c) != "" && per[cat(c)] >= k && len(out) < count {
			held = append(held, c)
			continue
		}
		per[cat(c)]++
		out = append(out, c)
	}
	return append(out, held...)
}

// TestSlotSet: mark reports a slot new exactly once per request, through growth far
// past the size given to start, and start forgets the last request's slots.
func TestSlotSet(t *testing.T) {
	var m slotSet
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{0, 10, 100, 3000} {
		m.start(n / 4)
		seen := map[int32]bool{}
		for range n {
			slot := int32(r.IntN(1 << 20))
			if got := m.mark(slot); got != !seen[slot] {
				t.Fatalf("n %d: mark(%d) = %v, seen before %v", n, slot, got, seen[slot])
			}
			seen[slot] = true
		}
		for slot := range seen {
			if m.mark(slot) {
				t.Fatalf("n %d: slot %d forgotten after growth", n, slot)
			}
		}
	}
	m.start(1)
	if !m.mark(0) || !m.mark(1<<30) || m.mark(0) {
		t.Fatal("start must forget the last request's slots; slot 0 is a slot like another")
	}
}

// TestDiversify: diversifyBy gives the reference's first count places on random
// rankings.
func TestDiversify(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	cats := []string{"", "a", "b", "c"}
	for trial := range 500 {
		n := r.IntN(40)
		cands := make([]cand, n)
		catOf := map[int32]string{}
		for i := range cands {
			cands[i] = cand{slot: int32(i), order: i}
			catOf[int32(i)] = cats[r.IntN(len(cats))]
		}
		k, count := 1+r.IntN(3), r.IntN(n+2)
		got := diversifyBy(slices.Clone(cands), func(s int32) string { return catOf[s] }, k, count)
		want := diversifyReference(cands, func(c cand) string { return catOf[c.slot] }, k, count)
		want = want[:min(count, len(want))] // the places an answer shows
		if !slices.EqualFunc(got, want, func(a, b cand) bool { return a.slot == b.slot }) {
			t.Fatalf("trial %d (k %d, count %d): %v, want %v", trial, k, count, got, want)
		}
	}
}

// BenchmarkSlotSet: a rerank's duplicate check, 100 slots spread over a catalogue of
// 100,000.
func BenchmarkSlotSet(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	slots := make([]int32, 100)
	for i := range slots {
		slots[i] = int32(r.IntN(100_000))
	}
	var m slotSet
	b.ReportAllocs()
	for b.Loop() {
		m.start(len(slots))
		for _, s := range slots {
			m.mark(s)
		}
	}
}

// TestSortByScore: the same order as a stable sort by score, best first, with many
// ties, NaN and infinities, and with the scratch reused across calls.
func TestSortByScore(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	values := []float64{0, 1, 2, -1, math.Inf(1), math.Inf(-1), math.NaN()}
	sc := &scratch{}
	for trial := range 500 {
		cands := make([]cand, r.IntN(300))
		for i := range cands {
			cands[i] = cand{slot: int32(i), id: strconv.Itoa(i), score: values[r.IntN(len(values))]}
			if r.IntN(2) == 0 {
				cands[i].score = r.Float64()
			}
		}
		want := slices.Clone(cands)
		slices.SortStableFunc(want, func(a, b cand) int { return cmp.Compare(b.score, a.score) })
		sortByScore(cands, sc)
		if !slices.EqualFunc(cands, want, func(a, b cand) bool { return a.slot == b.slot && a.id == b.id }) {
			t.Fatalf("trial %d: the order differs from a stable sort", trial)
		}
	}
}

// BenchmarkSortByScore: a recommendation pool of 250 candidates with tied scores,
// against slices.SortStableFunc, which gives the same order.
func BenchmarkSortByScore(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	base := make([]cand, 250)
	for i := range base {
		base[i] = cand{slot: int32(i), id: strconv.Itoa(i), score: float64(r.IntN(100)) / 10}
	}
	cands := make([]cand, len(base))
	b.Run("perm", func(b *testing.B) {
		sc := &scratch{}
		for b.Loop() {
			copy(cands, base)
			sortByScore(cands, sc)
		}
	})
	b.Run("stable", func(b *testing.B) {
		for b.Loop() {
			copy(cands, base)
			slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(b.score, a.score) })
		}
	})
}
