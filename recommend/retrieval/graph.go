package retrieval

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/fusionrank/fusionrank/internal/yield"
)

// A graph is an HNSW's structure without its vectors: which node links to which on
// each layer. Built once where the vectors are made (training), it lets every serving
// process load the index in the time it takes to read it, instead of spending about a
// search with EfConstruction per item to build it again.
//
// Nodes are numbered 0..n-1 in an order the caller chooses (AppendGraph's slots); the
// loader gives each node its own slot and vector (LoadGraph), so the two processes
// need not share slot numbers, only the order.
//
// Encoding, little-endian: the magic "FRHNSW01", then uint32 M, uint32 n, int32 entry
// node (-1 for an empty graph); n bytes of levels; for each node and each of its
// layers 0..level, a uint8 count and count uint32 node numbers; then the CRC-32
// (IEEE) of everything before it.
const graphMagic = "FRHNSW01"

// AppendGraph appends the encoding of the index's graph to dst, node i standing for
// slots[i]. slots must hold every node of the index exactly once (Nodes), deleted ones
// too: a deleted node still routes searches, and the encoding has no mark for it, so
// the loader deletes it again.
func (h *HNSW) AppendGraph(dst []byte, slots []int32) ([]byte, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(slots) != h.nodes {
		return dst, fmt.Errorf("retrieval: %d slots given for a graph of %d nodes", len(slots), h.nodes)
	}
	node := make(map[int32]uint32, len(slots))
	for i, s := range slots {
		if s < 0 || int(s) >= len(h.levels) || h.levels[s] < 0 {
			return dst, fmt.Errorf("retrieval: slot %d is not in the index", s)
		}
		if _, dup := node[s]; dup {
			return dst, fmt.Errorf("retrieval: slot %d given twice", s)
		}
		node[s] = uint32(i)
	}
	start := len(dst)
	dst = append(dst, graphMagic...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(h.m))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(slots)))
	entry := int32(-1)
	if h.entry >= 0 {
		entry = int32(node[h.entry])
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(entry))
	for _, s := range slots {
		dst = append(dst, byte(h.levels[s]))
	}
	for _, s := range slots {
		for l := 0; l <= int(h.levels[s]); l++ {
			ll := h.linkList(s, l)
			dst = append(dst, byte(ll[0]))
			for _, t := range ll[1 : 1+ll[0]] {
				dst = binary.LittleEndian.AppendUint32(dst, node[t])
			}
		}
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:])), nil
}

// Nodes appends to dst every slot that is a node of the graph, live or deleted, in
// slot order: the slots AppendGraph needs.
func (h *HNSW) Nodes(dst []int32) []int32 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s, l := range h.levels {
		if l >= 0 {
			dst = append(dst, int32(s))
		}
	}
	return dst
}

// errGraph is the error of a graph that does not decode.
var errGraph = errors.New("retrieval: malformed graph")

// LoadGraph fills an empty index from a graph of AppendGraph: node i gets slot
// slots[i] and vector vec(i), read while loading (the index keeps its own normalised
// copy, as Set does), so the caller need not gather the vectors first. They must be
// those the graph was built from; the graph's M must be the index's. On an error the
// index is left empty. It panics, as SetBatch does, on a vector of the wrong length or
// with NaN or Inf. Like SetBatch it gives way to other goroutines about every 100 µs
// (package yield).
func (h *HNSW) LoadGraph(slots []int32, vec func(i int) []float32, graph []byte) error {
	maxSlot := int32(-1)
	for i, s := range slots {
		checkSlot(s)
		v := vec(i)
		checkDim("vector", len(v), h.dim)
		checkFinite(v)
		maxSlot = max(maxSlot, s)
	}
	y := &yield.Yielder{}
	g, err := decodeGraph(graph, h.m, len(slots), y)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nodes != 0 {
		return errors.New("retrieval: LoadGraph needs an empty index")
	}
	h.ensure(int(maxSlot) + 1)
	seen := make([]bool, len(h.levels))
	for _, s := range slots {
		if seen[s] {
			return fmt.Errorf("retrieval: slot %d given twice", s)
		}
		seen[s] = true
	}
	p := g.links
	for i, s := range slots {
		normaliseTo(h.vec(s), vec(i))
		lvl := int(g.levels[i])
		h.levels[s] = int8(lvl)
		if lvl > 0 {
			h.upper[s] = make([]int32, lvl*(h.m+1))
		}
		for l := 0; l <= lvl; l++ {
			ll := h.linkList(s, l)
			c := int(p[0])
			ll[0] = int32(c)
			for j := range c {
				ll[1+j] = slots[binary.LittleEndian.Uint32(p[1+4*j:])]
			}
			p = p[1+4*c:]
		}
		y.Maybe()
	}
	h.n, h.nodes = len(slots), len(slots)
	if g.entry >= 0 {
		h.entry, h.topLevel = slots[g.entry], int(g.levels[g.entry])
	}
	return nil
}

// checkedGraph is a graph that decodeGraph checked: its nodes' levels, its entry node,
// and its link lists as encoded (each node's layers 0..level in node order: a count
// byte, then that many uint32 node numbers), which LoadGraph reads in place.
type checkedGraph struct {
	levels []int8
	entry  int32
	links  []byte
}

// decodeGraph checks a graph of n nodes built with M = m: its checksum, counts within
// each layer's capacity, links to nodes that exist, have that layer and are not the
// node itself, and an entry node on the top layer. It copies nothing but the levels.
// y (nil: none) gives way between nodes.
func decodeGraph(b []byte, m, n int, y *yield.Yielder) (*checkedGraph, error) {
	const head = len(graphMagic) + 12
	if len(b) < head+4 || string(b[:len(graphMagic)]) != graphMagic {
		return nil, errGraph
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum", errGraph)
	}
	p := body[len(graphMagic):]
	if gm := int(binary.LittleEndian.Uint32(p)); gm != m {
		return nil, fmt.Errorf("retrieval: graph built with M=%d, index has M=%d", gm, m)
	}
	if gn := int(binary.LittleEndian.Uint32(p[4:])); gn != n {
		return nil, fmt.Errorf("retrieval: graph of %d nodes, %d slots given", gn, n)
	}
	g := &checkedGraph{entry: int32(binary.LittleEndian.Uint32(p[8:]))}
	p = p[12:]
	if len(p) < n || g.entry < -1 || int(g.entry) >= n || (g.entry == -1) != (n == 0) {
		return nil, errGraph
	}
	g.levels = make([]int8, n)
	top := -1
	for i := range n {
		lvl := int(int8(p[i]))
		if lvl < 0 || lvl > maxLevelCap {
			return nil, fmt.Errorf("%w: level %d", errGraph, lvl)
		}
		g.levels[i] = int8(lvl)
		top = max(top, lvl)
	}
	if n > 0 && int(g.levels[g.entry]) != top {
		return nil, fmt.Errorf("%w: the entry node is not on the top layer", errGraph)
	}
	p = p[n:]
	g.links = p
	for i := range n {
		for l := 0; l <= int(g.levels[i]); l++ {
			capL := m
			if l == 0 {
				capL = 2 * m
			}
			if len(p) < 1 || int(p[0]) > capL || len(p) < 1+4*int(p[0]) {
				return nil, fmt.Errorf("%w: node %d, layer %d", errGraph, i, l)
			}
			c := int(p[0])
			for j := range c {
				t := binary.LittleEndian.Uint32(p[1+4*j:])
				// A link goes to another node that has this layer.
				if int(t) >= n || int(t) == i || int(g.levels[t]) < l {
					return nil, fmt.Errorf("%w: node %d, layer %d links to %d", errGraph, i, l, t)
				}
			}
			p = p[1+4*c:]
		}
		y.Maybe()
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last node", errGraph, len(p))
	}
	return g, nil
}
