package features

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestIDIndexMatchesMap: the id index answers as a map does, for short (inlined) and
// long ids, across growth, and for absent ids close to present ones.
func TestIDIndexMatchesMap(t *testing.T) {
	var ids []string
	x := newIDIndex(func(slot int32) string { return ids[slot] })
	want := map[string]int32{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50_000 {
		id := fmt.Sprintf("sku-%d", rng.Uint64())
		switch i % 5 {
		case 0:
			id += strings.Repeat("x", 30) // longer than idInline
		case 1:
			id = (id + strings.Repeat("y", idInline))[:idInline] // exactly at the limit
		}
		if _, dup := want[id]; dup {
			continue
		}
		slot := int32(len(ids))
		ids = append(ids, id)
		x.put(id, slot)
		want[id] = slot
	}
	for id, slot := range want {
		if got, ok := x.get(id); !ok || got != slot {
			t.Fatalf("get(%q) = %d, %v; want %d", id, got, ok, slot)
		}
		for _, miss := range []string{id + "0", id[:len(id)-1], strings.ToUpper(id), ""} {
			if _, present := want[miss]; present {
				continue
			}
			if got, ok := x.get(miss); ok {
				t.Fatalf("get(%q) = %d for an absent id", miss, got)
			}
		}
	}
	// getAll answers as get, in order, over a run longer than its look-ahead with
	// present and absent ids mixed.
	var run []string
	for id := range want {
		run = append(run, id, id+"0")
		if len(run) >= 3*lookAhead+5 {
			break
		}
	}
	next := 0
	x.getAll(len(run), func(i int) string { return run[i] }, func(i int, slot int32, ok bool) {
		if i != next {
			t.Fatalf("getAll gave index %d, want %d", i, next)
		}
		next++
		want, wantOK := x.get(run[i])
		if slot != want || ok != wantOK {
			t.Fatalf("getAll(%q) = %d, %v; get gives %d, %v", run[i], slot, ok, want, wantOK)
		}
	})
	if next != len(run) {
		t.Fatalf("getAll gave %d of %d ids", next, len(run))
	}
	if x.n != len(want) || 2*x.n > len(x.entries) {
		t.Fatalf("%d entries in a table of %d", x.n, len(x.entries))
	}
}

// BenchmarkIDIndexScattered looks up 100 random ids of a 100k catalogue per
// "request", as a rerank does, with the ids' bytes scattered through a large heap and
// other work evicting the caches between requests (the setting of a serving process).
// The Go map is the baseline, measured in the same run.
func BenchmarkIDIndexScattered(b *testing.B) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, n)
	keep := make([][]byte, 0, n)
	for i := range ids {
		keep = append(keep, make([]byte, 2048+rng.IntN(4096)))
		ids[i] = fmt.Sprintf("lt-%d", i)
	}
	m := make(map[string]int32)
	x := newIDIndex(func(slot int32) string { return ids[slot] })
	for i, id := range ids {
		m[id] = int32(i)
		x.put(id, int32(i))
	}
	q := make([]string, 100*1000)
	for i := range q {
		q[i] = fmt.Sprintf("lt-%d", rng.IntN(n))
	}
	evict := make([]byte, 32<<20)
	// run times lookup over a request's 100 ids, with the caches evicted between
	// requests.
	run := func(b *testing.B, lookup func(req []string) int32) {
		var sum int32
		r := 0
		for b.Loop() {
			b.StopTimer()
			for k := 0; k < len(evict); k += 64 {
				evict[k]++
			}
			b.StartTimer()
			sum += lookup(q[r*100 : r*100+100])
			r = (r + 1) % 1000
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/lookup")
		_ = sum
	}
	oneByOne := func(get func(string) int32) func([]string) int32 {
		return func(req []string) (sum int32) {
			for _, s := range req {
				sum += get(s)
			}
			return sum
		}
	}
	b.Run("map", func(b *testing.B) { run(b, oneByOne(func(s string) int32 { return m[s] })) })
	b.Run("index", func(b *testing.B) {
		run(b, oneByOne(func(s string) int32 { v, _ := x.get(s); return v }))
	})
	b.Run("getAll", func(b *testing.B) {
		run(b, func(req []string) (sum int32) {
			x.getAll(len(req), func(i int) string { return req[i] }, func(_ int, slot int32, _ bool) { sum += slot })
			return sum
		})
	})
	_ = keep
}
