package retrieval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fusionrank/fusionrank/internal/kernel"
	"github.com/fusionrank/fusionrank/internal/yield"
)

// HNSW defaults, chosen from the measurements recorded in doc.go: with them
// a 1M × 128 clustered catalogue reached recall@100 0.975 (0.966 at
// EfSearch 200), and EfConstruction 100 built as good a graph as 200 at
// 100k in half the time.
const (
	DefaultM              = 16
	DefaultEfConstruction = 100
	DefaultEfSearch       = 250
)

// maxLevel caps the random level; with M = 16 a level above 6 is drawn once
// in 16^6 ≈ 17M nodes, so the cap only guards against degenerate M.
const maxLevelCap = 16

// lockStripes is the number of mutexes ordering writers of neighbour lists
// during a parallel SetBatch. A node's list is written under stripe
// node%lockStripes; a worker never holds two stripes, so they cannot
// deadlock.
const lockStripes = 1 << 12

// HNSWConfig holds the knobs of an HNSW index. A zero field takes its
// default.
type HNSWConfig struct {
	// M is the number of links a node gets on each upper layer; layer 0
	// keeps up to 2M. Larger M raises recall and memory (8M bytes per item
	// on layer 0) and slows building. Default DefaultM (16).
	M int
	// EfConstruction is the candidate list length used to find a new
	// node's neighbours. Larger builds a better graph, more slowly.
	// Default DefaultEfConstruction (100).
	EfConstruction int
	// EfSearch is the candidate list length of a search, the recall/speed
	// knob; a search uses max(EfSearch, k). It can be changed later with
	// SetEfSearch. Default DefaultEfSearch (250).
	EfSearch int
	// Seed seeds the level generator. Default 1.
	Seed uint64
	// Workers is the number of goroutines SetBatch inserts with. Default
	// runtime.GOMAXPROCS(0).
	Workers int
}

func (c HNSWConfig) withDefaults() HNSWConfig {
	if c.M == 0 {
		c.M = DefaultM
	}
	if c.EfConstruction == 0 {
		c.EfConstruction = DefaultEfConstruction
	}
	if c.EfSearch == 0 {
		c.EfSearch = DefaultEfSearch
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	return c
}

// HNSW is an approximate index: a hierarchical navigable small-world graph
// (Malkov and Yashunin, 2016) over L2-normalised vectors with inner-product
// similarity. Nodes are the caller's slots; vectors are stored in one
// contiguous block like Exact.
//
// Updates are incremental. Set on a new slot inserts it; Set on an existing
// slot overwrites its vector and re-links it (new outgoing links and reverse
// links from its new neighbours), so it is found at its new place at once.
// Delete marks a tombstone: the node keeps routing searches but is never
// returned. Tombstones cost memory and a little search time; rebuild the
// index when they exceed about a fifth of the slots (see Tombstones).
//
// Locking: an RWMutex. SearchTo takes the read lock, so searches run in
// parallel; Set, SetBatch and Delete take the write lock. A single Set costs
// about one search with EfConstruction, so searches wait at most that long.
type HNSW struct {
	dim       int
	m, m0     int
	efC       int
	efSearch  atomic.Int32
	levelMult float64
	workers   int

	mu       sync.RWMutex
	vecs     []float32 // slot*dim, normalised
	levels   []int8    // top layer of each slot; -1: never set
	deleted  []bool    // tombstones
	links0   []int32   // layer 0: per slot m0+1 ints: count, then links
	upper    [][]int32 // layers 1..levels[s]: (m+1) ints each: count, links
	n        int       // live slots
	nodes    int       // slots in the graph (live + tombstones)
	entry    int32     // entry point, -1 when the graph is empty
	topLevel int
	rng      *rand.Rand

	// concurrent is true while SetBatch workers run: neighbour lists are
	// then written under stripe locks with atomic stores and read with
	// atomic loads, and entry is guarded by epMu.
	concurrent bool
	stripes    [lockStripes]sync.Mutex
	epMu       sync.Mutex

	wsMu sync.Mutex
	free []*workspace
}

// NewHNSW returns an empty HNSW index for vectors of length dim.
func NewHNSW(dim int, cfg HNSWConfig) *HNSW {
	if dim <= 0 {
		panic(fmt.Sprintf("retrieval: dimension %d must be positive", dim))
	}
	cfg = cfg.withDefaults()
	if cfg.M < 2 || cfg.M > 127 || cfg.EfConstruction < 1 || cfg.EfSearch < 1 || cfg.Workers < 1 {
		panic(fmt.Sprintf("retrieval: invalid HNSW config %+v", cfg))
	}
	h := &HNSW{
		dim:       dim,
		m:         cfg.M,
		m0:        2 * cfg.M,
		efC:       max(cfg.EfConstruction, cfg.M),
		levelMult: 1 / math.Log(float64(cfg.M)),
		workers:   cfg.Workers,
		entry:     -1,
		rng:       rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
	}
	h.efSearch.Store(int32(cfg.EfSearch))
	return h
}

// Dim returns the vector length the index was created with.
func (h *HNSW) Dim() int { return h.dim }

// SetEfSearch sets the search candidate list length (see
// HNSWConfig.EfSearch). It is safe to call during searches.
func (h *HNSW) SetEfSearch(ef int) {
	if ef < 1 {
		panic(fmt.Sprintf("retrieval: efSearch %d must be positive", ef))
	}
	h.efSearch.Store(int32(min(ef, math.MaxInt32)))
}

// EfSearch returns the current search candidate list length.
func (h *HNSW) EfSearch() int { return int(h.efSearch.Load()) }

// Len returns the number of live slots.
func (h *HNSW) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.n
}

// Tombstones returns the number of deleted slots still in the graph.
func (h *HNSW) Tombstones() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.nodes - h.n
}

// Contains reports whether slot is live.
func (h *HNSW) Contains(slot int32) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return slot >= 0 && int(slot) < len(h.levels) && h.levels[slot] >= 0 && !h.deleted[slot]
}

// Delete marks slot deleted; it is never returned until Set again.
// Deleting an absent slot does nothing.
func (h *HNSW) Delete(slot int32) {
	checkSlot(slot)
	h.mu.Lock()
	defer h.mu.Unlock()
	if int(slot) < len(h.levels) && h.levels[slot] >= 0 && !h.deleted[slot] {
		h.deleted[slot] = true
		h.n--
	}
}

// Set stores v normalised under slot, inserting it or, if present,
// replacing its vector and re-linking it. A deleted slot is revived. v is
// not modified. It panics if len(v) != Dim() or slot < 0.
func (h *HNSW) Set(slot int32, v []float32) {
	checkSlot(slot)
	checkDim("vector", len(v), h.dim)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ensure(int(slot) + 1)
	ws := h.getWS()
	h.setLocked(ws, slot, v)
	h.putWS(ws)
}

// SetBatch is Set for many slots: slot slots[i] gets
// vecs[i*Dim():(i+1)*Dim()]. Slots new to the index are inserted in
// parallel by HNSWConfig.Workers goroutines (this is how a service builds
// the index at start); slots already present, and repeats within the
// batch, are then applied one by one in order, so the last vector given
// for a slot wins. Searches wait until the whole batch is in. The inserts give
// way to other goroutines about every 100 µs (package yield): a serving
// process builds an index in the background, before it serves it, and its
// requests come first.
func (h *HNSW) SetBatch(slots []int32, vecs []float32) {
	checkDim("vecs", len(vecs), len(slots)*h.dim)
	maxSlot := int32(-1)
	for _, s := range slots {
		checkSlot(s)
		maxSlot = max(maxSlot, s)
	}
	if len(slots) == 0 {
		return
	}
	// Reject a bad vector before changing anything, so that a panic does
	// not leave claimed but unlinked nodes behind.
	for i := range slots {
		checkFinite(vecs[i*h.dim : (i+1)*h.dim])
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ensure(int(maxSlot) + 1)
	d := h.dim
	var fresh, later []int // indices into slots
	for i, s := range slots {
		if h.levels[s] >= 0 {
			later = append(later, i)
			continue
		}
		// Claim the slot now so that a repeat in the batch goes to later.
		h.addNode(s, vecs[i*d:i*d+d])
		fresh = append(fresh, i)
	}
	ws := h.getWS()
	if h.entry < 0 && len(fresh) > 0 {
		s := slots[fresh[0]]
		h.entry, h.topLevel = s, int(h.levels[s])
		fresh = fresh[1:]
	}
	workers := min(h.workers, max(1, len(fresh)/64))
	if workers <= 1 {
		y := yield.Yielder{Stride: 1}
		for _, i := range fresh {
			h.insert(ws, slots[i])
			y.Maybe()
		}
	} else {
		h.concurrent = true
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := h.getWS()
				y := yield.Yielder{Stride: 1}
				for {
					j := int(next.Add(1)) - 1
					if j >= len(fresh) {
						break
					}
					h.insert(w, slots[fresh[j]])
					y.Maybe()
				}
				h.putWS(w)
			}()
		}
		wg.Wait()
		h.concurrent = false
	}
	for _, i := range later {
		h.setLocked(ws, slots[i], vecs[i*d:i*d+d])
	}
	h.putWS(ws)
}

// ensure grows the per-slot arrays to hold n slots. Called with mu held
// for writing and no workers running.
func (h *HNSW) ensure(n int) {
	if n <= len(h.levels) {
		return
	}
	c := max(n, 2*len(h.levels), 64)
	vecs := make([]float32, c*h.dim)
	copy(vecs, h.vecs)
	levels := make([]int8, c)
	copy(levels, h.levels)
	for i := len(h.levels); i < c; i++ {
		levels[i] = -1
	}
	deleted := make([]bool, c)
	copy(deleted, h.deleted)
	links0 := make([]int32, c*(h.m0+1))
	copy(links0, h.links0)
	upper := make([][]int32, c)
	copy(upper, h.upper)
	h.vecs, h.levels, h.deleted, h.links0, h.upper = vecs, levels, deleted, links0, upper
}

// addNode gives a new slot its level, link storage and vector. It does not
// link it into the graph.
func (h *HNSW) addNode(slot int32, v []float32) {
	normaliseTo(h.vec(slot), v) // first: it panics on NaN or Inf
	lvl := min(int(-math.Log(1-h.rng.Float64())*h.levelMult), maxLevelCap)
	h.levels[slot] = int8(lvl)
	if lvl > 0 {
		h.upper[slot] = make([]int32, lvl*(h.m+1))
	}
	h.n++
	h.nodes++
}

// setLocked is Set with mu held for writing and capacity ensured.
func (h *HNSW) setLocked(ws *workspace, slot int32, v []float32) {
	if h.levels[slot] < 0 {
		h.addNode(slot, v)
		if h.entry < 0 {
			h.entry, h.topLevel = slot, int(h.levels[slot])
			return
		}
		h.insert(ws, slot)
		return
	}
	normaliseTo(h.vec(slot), v)
	if h.deleted[slot] {
		h.deleted[slot] = false
		h.n++
	}
	h.relink(ws, slot)
}

// floatsPerLine is the float32s of one 64-byte cache line.
const floatsPerLine = 16

func (h *HNSW) vec(id int32) []float32 {
	off := int(id) * h.dim
	return h.vecs[off : off+h.dim : off+h.dim]
}

// linkList returns node's list on layer l: element 0 is the count, then
// the capacity (m0 or m) of link slots.
func (h *HNSW) linkList(id int32, l int) []int32 {
	if l == 0 {
		off := int(id) * (h.m0 + 1)
		return h.links0[off : off+h.m0+1 : off+h.m0+1]
	}
	off := (l - 1) * (h.m + 1)
	return h.upper[id][off : off+h.m+1 : off+h.m+1]
}

// neighbours returns node's links on layer l. While SetBatch workers run,
// lists change under readers' feet: it then copies them into ws.nbuf with
// atomic loads. Writers store the new links before the new count, and a
// pruned list only shrinks its count, so a reader always sees valid ids
// (possibly a mix of the old and new list, which is harmless to a search).
func (h *HNSW) neighbours(ws *workspace, id int32, l int) []int32 {
	ll := h.linkList(id, l)
	if !h.concurrent {
		return ll[1 : 1+ll[0]]
	}
	c := int(atomic.LoadInt32(&ll[0]))
	buf := ws.nbuf[:0]
	for i := 1; i <= c; i++ {
		buf = append(buf, atomic.LoadInt32(&ll[i]))
	}
	ws.nbuf = buf
	return buf
}

// writeLinks replaces the list ll (count, then links) with sel. While
// SetBatch workers run the caller holds the node's stripe lock, which
// orders writers, and the stores are atomic for the lock-free readers.
func (h *HNSW) writeLinks(ll []int32, sel []cand) {
	if !h.concurrent {
		ll[0] = int32(len(sel))
		for i, s := range sel {
			ll[1+i] = s.id
		}
		return
	}
	for i, s := range sel {
		atomic.StoreInt32(&ll[1+i], s.id)
	}
	atomic.StoreInt32(&ll[0], int32(len(sel)))
}

// insert links a node that has its vector and level into the graph.
func (h *HNSW) insert(ws *workspace, node int32) {
	lvl := int(h.levels[node])
	if h.concurrent {
		h.epMu.Lock()
	}
	ep, top := h.entry, h.topLevel
	if h.concurrent {
		h.epMu.Unlock()
	}
	h.connect(ws, node, lvl, ep, top)
	if h.concurrent {
		h.epMu.Lock()
	}
	if lvl > h.topLevel {
		h.entry, h.topLevel = node, lvl
	}
	if h.concurrent {
		h.epMu.Unlock()
	}
}

// relink gives an existing node whose vector changed new links on each of
// its layers. Links other nodes hold to its old position stay; they are
// merely less useful for routing.
func (h *HNSW) relink(ws *workspace, node int32) {
	ep, top := h.entry, h.topLevel
	if ep == node {
		// Start from any other node: the node's own neighbours, highest
		// layer first, else a scan (only when the node was isolated).
		ep = -1
		for l := int(h.levels[node]); l >= 0 && ep < 0; l-- {
			if nb := h.neighbours(ws, node, l); len(nb) > 0 {
				ep, top = nb[0], l
			}
		}
		for s := range h.levels {
			if ep >= 0 {
				break
			}
			if int32(s) != node && h.levels[s] >= 0 {
				ep, top = int32(s), int(h.levels[s])
			}
		}
		if ep < 0 {
			return // the only node
		}
	}
	h.connect(ws, node, int(h.levels[node]), ep, top)
}

// connect finds node's neighbours on layers min(lvl, top)..0, starting from
// ep (whose top layer is top), sets node's links and adds reverse links.
func (h *HNSW) connect(ws *workspace, node int32, lvl int, ep int32, top int) {
	q := h.vec(node)
	cur, curSim := ep, kernel.Dot(q, h.vec(ep))
	for l := top; l > lvl; l-- {
		cur, curSim = h.greedy(ws, q, cur, curSim, l, node)
	}
	ws.entries = append(ws.entries[:0], cand{cur, curSim})
	for l := min(lvl, top); l >= 0; l-- {
		h.searchLayer(ws, q, h.efC, l, node, false, nil)
		found := ws.takeSorted()
		capL := h.m0
		if l > 0 {
			capL = h.m
		}
		sel := h.selectNeighbours(ws.sel[:0], found, h.m)
		ws.sel = sel
		h.setLinks(node, l, sel)
		for _, s := range sel {
			h.addLink(ws, s.id, node, l, s.sim, capL)
		}
		ws.entries = append(ws.entries[:0], found...)
	}
}

func (h *HNSW) setLinks(node int32, l int, sel []cand) {
	if h.concurrent {
		mu := &h.stripes[int(node)%lockStripes]
		mu.Lock()
		defer mu.Unlock()
	}
	h.writeLinks(h.linkList(node, l), sel)
}

// addLink adds node to target's list on layer l (sim is their similarity),
// pruning target's list with the neighbour heuristic when it is full.
func (h *HNSW) addLink(ws *workspace, target, node int32, l int, sim float32, capL int) {
	if h.concurrent {
		mu := &h.stripes[int(target)%lockStripes]
		mu.Lock()
		defer mu.Unlock()
	}
	ll := h.linkList(target, l)
	cnt := int(ll[0])
	if slices.Contains(ll[1:1+cnt], node) {
		return
	}
	if cnt < capL {
		if h.concurrent {
			atomic.StoreInt32(&ll[1+cnt], node)
			atomic.StoreInt32(&ll[0], int32(cnt+1))
		} else {
			ll[1+cnt] = node
			ll[0]++
		}
		return
	}
	tv := h.vec(target)
	cs := append(ws.prune[:0], cand{node, sim})
	for _, x := range ll[1 : 1+cnt] {
		cs = append(cs, cand{x, kernel.Dot(tv, h.vec(x))})
	}
	slices.SortFunc(cs, func(a, b cand) int {
		switch {
		case a.sim > b.sim:
			return -1
		case a.sim < b.sim:
			return 1
		}
		return 0
	})
	sel := h.selectNeighbours(ws.prune2[:0], cs, capL)
	h.writeLinks(ll, sel)
	ws.prune, ws.prune2 = cs, sel
}

// selectNeighbours is the HNSW neighbour heuristic: walking candidates best
// first, keep one only if it is closer to the base than to every neighbour
// kept so far. This spreads links over directions instead of spending them
// all inside one dense cluster, which keeps clusters connected.
func (h *HNSW) selectNeighbours(dst, sorted []cand, m int) []cand {
	for _, c := range sorted {
		if len(dst) >= m {
			break
		}
		cv := h.vec(c.id)
		good := true
		for _, s := range dst {
			if kernel.Dot(cv, h.vec(s.id)) > c.sim {
				good = false
				break
			}
		}
		if good {
			dst = append(dst, c)
		}
	}
	return dst
}

// greedy walks layer l from cur to a local maximum of similarity to q,
// never stepping onto skip.
func (h *HNSW) greedy(ws *workspace, q []float32, cur int32, curSim float32, l int, skip int32) (int32, float32) {
	for changed := true; changed; {
		changed = false
		for _, e := range h.neighbours(ws, cur, l) {
			if e == skip {
				continue
			}
			if s := kernel.Dot(q, h.vec(e)); s > curSim {
				cur, curSim, changed = e, s, true
			}
		}
	}
	return cur, curSim
}

// searchLayer is the beam search of HNSW on layer l from ws.entries,
// leaving up to ef results in the min-heap ws.res. skip is never visited.
// With filter set, only live slots accepted by allow enter the results;
// the others are still walked through.
func (h *HNSW) searchLayer(ws *workspace, q []float32, ef, l int, skip int32, filter bool, allow func(int32) bool) {
	ws.newEpoch(len(h.levels))
	vis, ep := ws.visited, ws.epoch
	if skip >= 0 {
		vis[skip] = ep
	}
	ws.cand, ws.res = ws.cand[:0], ws.res[:0]
	accept := func(id int32) bool {
		return !filter || (!h.deleted[id] && (allow == nil || allow(id)))
	}
	for _, c := range ws.entries {
		if vis[c.id] == ep {
			continue
		}
		vis[c.id] = ep
		ws.cand = candPush(ws.cand, cand{c.id, -c.sim})
		if accept(c.id) {
			ws.res = resPushBounded(ws.res, c, ef)
		}
	}
	for len(ws.cand) > 0 {
		var c cand
		ws.cand, c = candPop(ws.cand)
		if len(ws.res) >= ef && -c.sim < ws.res[0].sim {
			break
		}
		// Two passes over the neighbours: the first filters visited ones and
		// reads one word of every cache line of each new vector (a look-ahead
		// loop, see internal/touch), so that the cache misses for all of them
		// are in flight at once; the second scores them.
		fresh := ws.fresh[:0]
		var touch float32
		for _, e := range h.neighbours(ws, c.id, l) {
			if vis[e] == ep {
				continue
			}
			vis[e] = ep
			fresh = append(fresh, e)
			v := h.vec(e)
			for k := 0; k < len(v); k += floatsPerLine {
				touch += v[k]
			}
			touch += v[len(v)-1] // the last line, when the vector starts mid-line
		}
		ws.fresh, ws.sink = fresh, touch
		for _, e := range fresh {
			s := kernel.Dot(q, h.vec(e))
			if len(ws.res) < ef || s > ws.res[0].sim {
				ws.cand = candPush(ws.cand, cand{e, -s})
				if accept(e) {
					ws.res = resPushBounded(ws.res, cand{e, s}, ef)
				}
			}
		}
	}
}

// SearchTo returns up to k live slots accepted by allow (nil accepts
// all), approximately the k with the highest q·v, best first. It reuses
// dst's storage (dst[:0]) and does not allocate in steady state when
// cap(dst) >= k. The search keeps max(EfSearch, k) candidates. A selective
// allow filter makes the search walk much of the graph; prefer Exact for
// filters that reject most items. It panics if len(q) != Dim().
func (h *HNSW) SearchTo(dst []Hit, q []float32, k int, allow func(slot int32) bool) []Hit {
	return h.SearchEfTo(dst, q, k, 0, allow)
}

// SearchEfTo is SearchTo keeping max(ef, k) candidates instead of max(EfSearch, k);
// ef ≤ 0 means EfSearch.
func (h *HNSW) SearchEfTo(dst []Hit, q []float32, k, ef int, allow func(slot int32) bool) []Hit {
	checkDim("query", len(q), h.dim)
	if ef <= 0 {
		ef = h.EfSearch()
	}
	out := dst[:0]
	if k <= 0 {
		return out
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.entry < 0 || h.n == 0 {
		return out
	}
	ws := h.getWS()
	defer h.putWS(ws)
	cur, curSim := h.entry, kernel.Dot(q, h.vec(h.entry))
	for l := h.topLevel; l > 0; l-- {
		cur, curSim = h.greedy(ws, q, cur, curSim, l, -1)
	}
	ws.entries = append(ws.entries[:0], cand{cur, curSim})
	h.searchLayer(ws, q, max(k, ef), 0, -1, true, allow)
	res := ws.res
	for len(res) > k {
		res, _ = resPop(res)
	}
	for _, c := range res {
		out = append(out, Hit{c.id, c.sim})
	}
	// res is a min-heap on score; order best first with slot tie-break.
	slices.SortFunc(out, func(a, b Hit) int {
		switch {
		case worse(b, a):
			return -1
		case worse(a, b):
			return 1
		}
		return 0
	})
	ws.res = res
	return out
}
