package recommend

import (
	"math/rand/v2"
	"slices"
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

// TestMarkPoolReuse: marks come back cleared for the next request (a slot marked in
// one request is unmarked in the next), and grow with the catalogue.
func TestMarkPoolReuse(t *testing.T) {
	var p markPool
	m := p.get()
	m.start(10)
	if !m.mark(3) || m.mark(3) {
		t.Fatal("a slot is new once per request")
	}
	p.put(m)
	m2 := p.get()
	if m2 != m {
		t.Fatal("the marks were not reused")
	}
	m2.start(20)
	if !m2.mark(3) || !m2.mark(19) {
		t.Fatal("marks of the last request leaked into this one")
	}
}

// TestDiversify: diversifyBy gives the reference's order on random rankings.
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
		if !slices.EqualFunc(got, want, func(a, b cand) bool { return a.slot == b.slot }) {
			t.Fatalf("trial %d (k %d, count %d): %v, want %v", trial, k, count, got, want)
		}
	}
}
