package retrieval

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestGraphRoundTrip: an index loaded from another's graph, under other slot numbers,
// answers every query with the same items and similarities, and takes later updates
// like a built one.
func TestGraphRoundTrip(t *testing.T) {
	const n, dim, k = 3000, 16, 20
	items, queries := mixtureSplit(n, 50, dim, 12, 0.6, 5)
	built := NewHNSW(dim, HNSWConfig{EfSearch: 64})
	built.SetBatch(seqSlots(n), items)

	// The exporter's order is a permutation of its slots; the loader maps node i to
	// slot 7+2*order[i] (other numbers, with gaps).
	order := seqSlots(n)
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	graph, err := built.AppendGraph([]byte("prefix"), order)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(graph), "prefix") {
		t.Fatal("AppendGraph did not append")
	}
	graph = graph[len("prefix"):]
	loadSlot := func(s int32) int32 { return 7 + 2*s }
	slots := make([]int32, n)
	vecs := make([]float32, 0, n*dim)
	for i, s := range order {
		slots[i] = loadSlot(s)
		vecs = append(vecs, items[int(s)*dim:int(s+1)*dim]...)
	}
	loaded := NewHNSW(dim, HNSWConfig{EfSearch: 64})
	if err := loaded.LoadGraph(slots, rows(vecs, dim), graph); err != nil {
		t.Fatal(err)
	}
	if loaded.Len() != n || loaded.Tombstones() != 0 {
		t.Fatalf("loaded %d live, %d tombstones; want %d, 0", loaded.Len(), loaded.Tombstones(), n)
	}
	search := func(h *HNSW, q []float32, mapSlot func(int32) int32) []Hit {
		hits := h.SearchTo(nil, q, k, nil)
		for i := range hits {
			hits[i].Slot = mapSlot(hits[i].Slot)
		}
		return hits
	}
	for i := range len(queries) / dim {
		q := queries[i*dim : (i+1)*dim]
		want := search(built, q, loadSlot)
		got := search(loaded, q, func(s int32) int32 { return s })
		if !slices.Equal(got, want) {
			t.Fatalf("query %d: loaded graph answers %v, built %v", i, got[:3], want[:3])
		}
	}
	// Updates after a load: a new slot is found, a deleted one is not.
	v := items[:dim]
	loaded.Set(1, v)
	loaded.Delete(loadSlot(0))
	hits := loaded.SearchTo(nil, v, 3, nil)
	if hits[0].Slot != 1 || slices.ContainsFunc(hits, func(h Hit) bool { return h.Slot == loadSlot(0) }) {
		t.Errorf("after Set(1) and Delete(%d) of the same vector: %v", loadSlot(0), hits)
	}
}

// TestGraphRejected: a graph that does not fit the index, or is damaged, is an error
// and leaves the index empty; an export must name every node, deleted ones too.
func TestGraphRejected(t *testing.T) {
	const n, dim = 200, 8
	items := mixture(n, dim, 4, 0.5, 9)
	built := NewHNSW(dim, HNSWConfig{})
	built.SetBatch(seqSlots(n), items)
	graph, err := built.AppendGraph(nil, seqSlots(n))
	if err != nil {
		t.Fatal(err)
	}
	// resum recomputes the checksum of a graph changed on purpose, so that the
	// structural checks, not the checksum, must catch it.
	resum := func(g []byte) []byte {
		binary.LittleEndian.PutUint32(g[len(g)-4:], crc32.ChecksumIEEE(g[:len(g)-4]))
		return g
	}
	head := len(graphMagic) + 12
	firstLinks := head + n // node 0, layer 0: count byte, then links
	cases := []struct {
		name  string
		m     int
		slots []int32
		graph []byte
		want  string
	}{
		{"truncated", 0, seqSlots(n), graph[:len(graph)-9], "checksum"},
		{"flipped bit", 0, seqSlots(n), func() []byte { g := slices.Clone(graph); g[firstLinks+2] ^= 1; return g }(), "checksum"},
		{"not a graph", 0, seqSlots(n), []byte("FRHNSW00 and more bytes than a header"), "malformed"},
		{"other M", 8, seqSlots(n), graph, "M=16"},
		{"fewer slots", 0, seqSlots(n - 1), graph, "200 nodes, 199 slots"},
		{"link out of range", 0, seqSlots(n), func() []byte {
			g := slices.Clone(graph)
			binary.LittleEndian.PutUint32(g[firstLinks+1:], n)
			return resum(g)
		}(), "links to 200"},
		{"link to itself", 0, seqSlots(n), func() []byte {
			g := slices.Clone(graph)
			binary.LittleEndian.PutUint32(g[firstLinks+1:], 0)
			return resum(g)
		}(), "links to 0"},
		{"count over capacity", 0, seqSlots(n), func() []byte { g := slices.Clone(graph); g[firstLinks] = 33; return resum(g) }(), "node 0, layer 0"},
		{"entry below the top", 0, seqSlots(n), func() []byte {
			g := slices.Clone(graph)
			for i := range n {
				if g[head+i] == 0 {
					binary.LittleEndian.PutUint32(g[len(graphMagic)+8:], uint32(i))
					break
				}
			}
			return resum(g)
		}(), "top layer"},
		{"slot twice", 0, append(seqSlots(n-1), 3), graph, "slot 3 given twice"},
	}
	for _, c := range cases {
		h := NewHNSW(dim, HNSWConfig{M: c.m})
		err := h.LoadGraph(c.slots, rows(items, dim), c.graph)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one with %q", c.name, err, c.want)
		}
		if h.Len() != 0 || len(h.SearchTo(nil, items[:dim], 1, nil)) != 0 {
			t.Errorf("%s: the index holds %d items after a failed load", c.name, h.Len())
		}
	}

	full := NewHNSW(dim, HNSWConfig{})
	full.SetBatch(seqSlots(n), items)
	if err := full.LoadGraph(seqSlots(n), rows(items, dim), graph); err == nil {
		t.Error("LoadGraph into a filled index: no error")
	}
	built.Delete(5)
	if _, err := built.AppendGraph(nil, slices.DeleteFunc(seqSlots(n), func(s int32) bool { return s == 5 })); err == nil {
		t.Error("AppendGraph without its deleted node: no error")
	}
}

// TestGraphWithTombstones: an index with deleted slots exports them as nodes; loaded
// and the same slots deleted again, it answers as the index it came from.
func TestGraphWithTombstones(t *testing.T) {
	const n, dim = 2000, 8
	items, queries := mixtureSplit(n, 30, dim, 6, 0.5, 3)
	built := NewHNSW(dim, HNSWConfig{EfSearch: 64})
	built.SetBatch(seqSlots(n), items)
	deleted := []int32{0, 5, 77, 1999}
	for _, s := range deleted {
		built.Delete(s)
	}
	nodes := built.Nodes(nil)
	if !slices.Equal(nodes, seqSlots(n)) {
		t.Fatalf("Nodes: %d slots, want all %d, deleted ones too", len(nodes), n)
	}
	graph, err := built.AppendGraph(nil, nodes)
	if err != nil {
		t.Fatal(err)
	}
	loaded := NewHNSW(dim, HNSWConfig{EfSearch: 64})
	if err := loaded.LoadGraph(nodes, rows(items, dim), graph); err != nil {
		t.Fatal(err)
	}
	for _, s := range deleted {
		loaded.Delete(s)
	}
	if loaded.Len() != built.Len() || loaded.Tombstones() != len(deleted) {
		t.Fatalf("loaded %d live, %d tombstones; want %d, %d", loaded.Len(), loaded.Tombstones(), built.Len(), len(deleted))
	}
	for i := range len(queries) / dim {
		q := queries[i*dim : (i+1)*dim]
		if got, want := loaded.SearchTo(nil, q, 10, nil), built.SearchTo(nil, q, 10, nil); !slices.Equal(got, want) {
			t.Fatalf("query %d: loaded answers %v, built %v", i, got, want)
		}
	}
}

// rows gives LoadGraph the i-th dim-long row of flat.
func rows(flat []float32, dim int) func(i int) []float32 {
	return func(i int) []float32 { return flat[i*dim : (i+1)*dim] }
}
