package retrieval

import (
	"fmt"
	"sync"

	"github.com/fusionrank/fusionrank/internal/kernel"
)

// Exact is a brute-force index: every search scores every live item. The
// vectors are L2-normalised on Set and kept in one contiguous []float32 block
// indexed by slot (row slot starts at slot*dim), so a scan streams through
// memory in order.
//
// Locking: an RWMutex. SearchTo takes the read lock, so any number of
// searches run in parallel; Set and Delete take the write lock and wait for
// running searches. Exact is the right choice up to about 100k items and
// whenever the allow filter rejects most of the catalogue.
type Exact struct {
	dim int

	mu   sync.RWMutex
	vecs []float32 // len = len(live)*dim
	live []bool    // live[slot]: set and not deleted
	n    int       // number of live slots
}

// NewExact returns an empty exact index for vectors of length dim.
func NewExact(dim int) *Exact {
	if dim <= 0 {
		panic(fmt.Sprintf("retrieval: dimension %d must be positive", dim))
	}
	return &Exact{dim: dim}
}

// Dim returns the vector length the index was created with.
func (e *Exact) Dim() int { return e.dim }

// Set stores v normalised under slot, adding or replacing it. v is not
// modified. It panics if len(v) != Dim() or slot < 0.
func (e *Exact) Set(slot int32, v []float32) {
	checkSlot(slot)
	checkDim("vector", len(v), e.dim)
	e.mu.Lock()
	defer e.mu.Unlock()
	if int(slot) >= len(e.live) {
		e.grow(int(slot) + 1)
	}
	off := int(slot) * e.dim
	normaliseTo(e.vecs[off:off+e.dim], v)
	if !e.live[slot] {
		e.live[slot] = true
		e.n++
	}
}

// grow makes room for n slots, at least doubling so that adding items one by
// one costs amortised O(dim).
func (e *Exact) grow(n int) {
	c := max(n, 2*len(e.live), 64)
	live := make([]bool, c)
	copy(live, e.live)
	vecs := make([]float32, c*e.dim)
	copy(vecs, e.vecs)
	e.live, e.vecs = live, vecs
}

// Delete removes slot. Deleting an absent slot does nothing.
func (e *Exact) Delete(slot int32) {
	checkSlot(slot)
	e.mu.Lock()
	defer e.mu.Unlock()
	if int(slot) < len(e.live) && e.live[slot] {
		e.live[slot] = false
		off := int(slot) * e.dim
		clear(e.vecs[off : off+e.dim])
		e.n--
	}
}

// Len returns the number of live slots.
func (e *Exact) Len() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.n
}

// Contains reports whether slot is live.
func (e *Exact) Contains(slot int32) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return slot >= 0 && int(slot) < len(e.live) && e.live[slot]
}

// SearchTo returns the k live slots with the highest q·v accepted by allow
// (nil accepts every slot), best first, ties broken by the smaller slot. It
// reuses dst's storage (dst[:0]) and does not allocate when cap(dst) >= k.
// Fewer than k hits are returned when fewer slots qualify. q is not
// modified and need not be normalised (the ranking is the same). It panics
// if len(q) != Dim().
func (e *Exact) SearchTo(dst []Hit, q []float32, k int, allow func(slot int32) bool) []Hit {
	checkDim("query", len(q), e.dim)
	h := dst[:0]
	if k <= 0 {
		return h
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	d := e.dim
	vecs := e.vecs
	for s, ok := range e.live {
		if !ok {
			continue
		}
		slot := int32(s)
		if allow != nil && !allow(slot) {
			continue
		}
		sc := kernel.Dot(q, vecs[s*d:s*d+d])
		if len(h) == k && !worse(h[0], Hit{slot, sc}) {
			continue
		}
		h = pushBounded(h, Hit{slot, sc}, k)
	}
	sortHeapBestFirst(h)
	return h
}

// SearchEfTo is SearchTo: an exact scan has no effort knob.
func (e *Exact) SearchEfTo(dst []Hit, q []float32, k, _ int, allow func(slot int32) bool) []Hit {
	return e.SearchTo(dst, q, k, allow)
}
