package retrieval

// cand is a graph node with its similarity to the current query (or, in
// the candidate heap, the negated similarity, so one min-heap serves both).
type cand struct {
	id  int32
	sim float32
}

// workspace is the per-search scratch memory of HNSW, reused through a free
// list so that steady-state searches do not allocate.
type workspace struct {
	visited []uint32 // visited[id] == epoch: seen in this search
	epoch   uint32
	cand    []cand // min-heap on -sim: best candidate first
	res     []cand // min-heap on sim: worst kept result first
	entries []cand
	sorted  []cand
	sel     []cand
	prune   []cand
	prune2  []cand
	nbuf    []int32
	fresh   []int32 // unvisited neighbours of the node being expanded
	sink    float32 // keeps the prefetching loads of searchLayer alive
}

func (h *HNSW) getWS() *workspace {
	h.wsMu.Lock()
	defer h.wsMu.Unlock()
	if n := len(h.free); n > 0 {
		ws := h.free[n-1]
		h.free = h.free[:n-1]
		return ws
	}
	return &workspace{}
}

func (h *HNSW) putWS(ws *workspace) {
	h.wsMu.Lock()
	h.free = append(h.free, ws)
	h.wsMu.Unlock()
}

// newEpoch starts a search over n slots: a fresh visited mark without
// clearing the array, except when it must grow or the epoch wraps.
func (ws *workspace) newEpoch(n int) {
	if len(ws.visited) < n {
		ws.visited = make([]uint32, n)
		ws.epoch = 0
	}
	ws.epoch++
	if ws.epoch == 0 {
		clear(ws.visited)
		ws.epoch = 1
	}
}

// takeSorted empties ws.res into ws.sorted, best first, and returns it.
func (ws *workspace) takeSorted() []cand {
	n := len(ws.res)
	out := ws.sorted[:0]
	for range n {
		out = append(out, cand{})
	}
	res := ws.res
	for i := n - 1; i >= 0; i-- {
		var c cand
		res, c = resPop(res)
		out[i] = c
	}
	ws.res = res
	ws.sorted = out
	return out
}

func candPush(h []cand, c cand) []cand {
	h = append(h, c)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].sim <= h[i].sim {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func candPop(h []cand) ([]cand, cand) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	siftDown(h, 0)
	return h, top
}

func siftDown(h []cand, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].sim < h[l].sim {
			m = r
		}
		if h[i].sim <= h[m].sim {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// resPushBounded keeps the ef best (highest sim) in the min-heap h.
func resPushBounded(h []cand, c cand, ef int) []cand {
	if len(h) < ef {
		return candPush(h, c)
	}
	if c.sim > h[0].sim {
		h[0] = c
		siftDown(h, 0)
	}
	return h
}

func resPop(h []cand) ([]cand, cand) { return candPop(h) }
