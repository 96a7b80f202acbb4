package retrieval

import (
	"fmt"
	"math"

	"github.com/fusionrank/fusionrank/internal/kernel"
)

// Hit is one search result: the caller's slot and its score, the inner
// product of the query with the stored (L2-normalised) item vector.
type Hit struct {
	Slot  int32
	Score float32
}

// Index is the contract shared by Exact and HNSW, so a caller can pick one by
// catalogue size. Implementations are safe for concurrent use.
type Index interface {
	// Set adds the vector for slot, or replaces it if the slot is present.
	Set(slot int32, v []float32)
	// Delete removes slot; it is never returned again until it is Set.
	Delete(slot int32)
	// Len reports the number of live (set and not deleted) slots.
	Len() int
	// SearchTo appends to dst[:0] the best k live slots accepted by allow
	// (nil accepts all), best first, and returns it.
	SearchTo(dst []Hit, q []float32, k int, allow func(slot int32) bool) []Hit
	// SearchEfTo is SearchTo with the search effort of this call: an approximate
	// index keeps max(ef, k) candidates (ef ≤ 0: its default); an exact one ignores ef.
	SearchEfTo(dst []Hit, q []float32, k, ef int, allow func(slot int32) bool) []Hit
}

var (
	_ Index = (*Exact)(nil)
	_ Index = (*HNSW)(nil)
)

// normaliseTo writes v/|v| into dst (len(dst) == len(v)). A zero vector is
// written as zeros: it scores 0 against every query.
func normaliseTo(dst, v []float32) {
	n := math.Sqrt(float64(kernel.Dot(v, v)))
	if n == 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		clear(dst)
		if math.IsNaN(n) || math.IsInf(n, 0) {
			panic("retrieval: vector has a NaN or infinite component")
		}
		return
	}
	inv := float32(1 / n)
	for i, x := range v {
		dst[i] = x * inv
	}
}

func checkFinite(v []float32) {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			panic("retrieval: vector has a NaN or infinite component")
		}
	}
}

func checkDim(what string, got, want int) {
	if got != want {
		panic(fmt.Sprintf("retrieval: %s has length %d, want %d", what, got, want))
	}
}

func checkSlot(slot int32) {
	if slot < 0 {
		panic(fmt.Sprintf("retrieval: negative slot %d", slot))
	}
}

// worse reports whether a ranks below b: lower score, ties broken so that
// the smaller slot wins, which makes results deterministic.
func worse(a, b Hit) bool {
	return a.Score < b.Score || (a.Score == b.Score && a.Slot > b.Slot)
}

// The hit heap is a bounded min-heap on h: h[0] is the worst kept hit.

func hitUp(h []Hit, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !worse(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func hitDown(h []Hit, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && worse(h[r], h[l]) {
			m = r
		}
		if !worse(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// pushBounded offers x to the min-heap h of capacity k and returns h.
func pushBounded(h []Hit, x Hit, k int) []Hit {
	if len(h) < k {
		h = append(h, x)
		hitUp(h, len(h)-1)
		return h
	}
	if worse(h[0], x) {
		h[0] = x
		hitDown(h, 0)
	}
	return h
}

// sortHeapBestFirst turns the min-heap h into a slice sorted best first, in
// place, by repeatedly moving the worst element to the end.
func sortHeapBestFirst(h []Hit) {
	for n := len(h) - 1; n > 0; n-- {
		h[0], h[n] = h[n], h[0]
		hitDown(h[:n], 0)
	}
}
