package recommend

import (
	"fmt"
	"slices"
	"sync"

	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/recommend/retrieval"
)

// ExactLimit is the catalogue size up to which retrieval scans every item exactly;
// larger catalogues use the HNSW graph. An exact scan costs about 56 ns per item and
// a recommendation runs one per modality, so beyond ~20k items the graph (recall@100
// ≈ 0.98, ~0.3 ms at 100k) is what keeps answers within a few milliseconds.
const ExactLimit = 20_000

// indexes keeps one retrieval index per model-independent modality of the catalogue,
// holding the active items that have that modality. The photo modality's index is
// rebuilt when the image encoder changes; each index records the encoder version of
// the vectors it holds, so a query is only ever searched against vectors of its own
// version. With graphs, an approximate index is loaded from the modality's stored
// graph when one fits, and a built one is stored for the next process.
type indexes struct {
	catalog *features.Catalog
	graphs  *CatalogGraphs // nil: every index is built and none stored
	mu      sync.RWMutex
	by      map[string]indexEntry
}

type indexEntry struct {
	idx     retrieval.Index
	version string // the block's Version when the index was built
	how     string // how it was made: "exact", "stored graph (…)", "built", "built (why)" or "empty"
}

func newIndexes(c *features.Catalog, graphs *CatalogGraphs) *indexes {
	ix := &indexes{catalog: c, graphs: graphs, by: map[string]indexEntry{}}
	c.RLock()
	blocks := slices.Clone(c.Blocks())
	c.RUnlock()
	since := map[int64]*changes{}
	for _, b := range blocks {
		sg, why := ix.stored(b, since)
		c.RLock()
		ix.by[b.Name] = ix.build(b, 0, sg, why)
		c.RUnlock()
	}
	c.OnPhotoSwap(func(b *features.Block) func() {
		sg, why := ix.stored(b, map[int64]*changes{})
		c.RLock()
		e := ix.build(b, servingWorkers(), sg, why)
		c.RUnlock()
		return func() {
			ix.mu.Lock()
			ix.by[b.Name] = e
			ix.mu.Unlock()
		}
	})
	c.OnChange(ix.update)
	return ix
}

// stored reads block b's stored graph when its index will be approximate and not
// empty, without holding the catalogue's lock (a refresh waiting for the write lock
// would stop the requests); since shares the changed items read between the graphs of
// one start. It gives nil and why when there is none to use.
func (ix *indexes) stored(b *features.Block, since map[int64]*changes) (*storedGraph, string) {
	if ix.graphs == nil {
		return nil, ""
	}
	ix.catalog.RLock()
	n, some := ix.catalog.Len(), slices.Contains(b.Has, true)
	ix.catalog.RUnlock()
	if n <= ExactLimit || !some {
		return nil, ""
	}
	sg, err := ix.graphs.load(b.Name, since)
	switch {
	case err != nil:
		return nil, "reading the stored graph: " + err.Error()
	case sg == nil:
		return nil, "no stored graph"
	}
	return sg, ""
}

// build returns the index of every active item that has b's modality: an exact one
// for a catalogue of at most ExactLimit items, else an HNSW loaded from the stored
// graph sg when it fits, or built by workers goroutines (0: the index default), why
// saying why it was not loaded. A built graph, or a loaded one that had to catch up,
// is stored for the next process (in the background). Callers hold the catalogue's
// RLock.
func (ix *indexes) build(b *features.Block, workers int, sg *storedGraph, why string) indexEntry {
	c := ix.catalog
	n := c.Len()
	if n <= ExactLimit {
		e := retrieval.NewExact(b.Dim)
		for s := range int32(n) {
			if v := b.Vector(s); v != nil && c.Active(s) {
				e.Set(s, v)
			}
		}
		return indexEntry{e, b.Version, "exact"}
	}
	if sg != nil {
		h, k, err := ix.fromStored(b, sg, workers)
		if err == nil {
			// Caught up, the graph is stored again, so the next start catches up only
			// on what changes from now on.
			if k > 0 {
				ix.save(b, h, min(c.Seq(), sg.upTo))
			}
			return indexEntry{h, b.Version, fmt.Sprintf("stored graph (%d items changed since)", k)}
		}
		why = err.Error()
	}
	// The graph is built in parallel from every active item that has the modality.
	h := retrieval.NewHNSW(b.Dim, retrieval.HNSWConfig{Workers: workers})
	var slots []int32
	var vecs []float32
	for s := range int32(n) {
		if v := b.Vector(s); v != nil && c.Active(s) {
			slots = append(slots, s)
			vecs = append(vecs, v...)
		}
	}
	h.SetBatch(slots, vecs)
	if len(slots) > 0 {
		ix.save(b, h, c.Seq())
	}
	how := "built"
	switch {
	case len(slots) == 0:
		how = "empty"
	case why != "":
		how += " (" + why + ")"
	}
	return indexEntry{h, b.Version, how}
}

// save stores h, the index of b's vectors up to date to catalogue seq, for the next
// process (in the background): every node of its graph, those of items no longer
// served too (the loader deletes them again). Callers hold the catalogue's RLock.
func (ix *indexes) save(b *features.Block, h *retrieval.HNSW, seq int64) {
	if ix.graphs == nil {
		return
	}
	c := ix.catalog
	slots := h.Nodes(nil)
	ids := make([]string, len(slots))
	for i, s := range slots {
		ids[i] = c.ID(s)
	}
	graph, err := h.AppendGraph(nil, slots)
	if err != nil {
		ix.graphs.log.Warn("the catalogue's retrieval graph could not be encoded", "modality", b.Name, "err", err)
		return
	}
	go ix.graphs.store(b.Name, b.Version, b.Dim, seq, ids, graph)
}

func (ix *indexes) update(slots []int32) {
	ix.catalog.RLock()
	defer ix.catalog.RUnlock()
	for _, b := range ix.catalog.Blocks() {
		idx := ix.getVersion(b.Name, b.Version)
		if idx == nil {
			continue // a swapped block: its rebuilt index comes with the swap
		}
		for _, s := range slots {
			if v := b.Vector(s); v != nil && ix.catalog.Meta(s).Active {
				idx.Set(s, v)
			} else {
				idx.Delete(s)
			}
		}
	}
}

// get returns the index of a modality whose vectors do not depend on a changing
// encoder.
func (ix *indexes) get(mod string) retrieval.Index { return ix.getVersion(mod, "") }

// getVersion returns the index of a modality when it holds vectors of version.
func (ix *indexes) getVersion(mod, version string) retrieval.Index {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	e, ok := ix.by[mod]
	if !ok || e.version != version {
		return nil
	}
	return e.idx
}

// made says how each modality's index was made, by modality ("exact", "stored graph
// (N items changed since)", "built (why)").
func (ix *indexes) made() map[string]string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make(map[string]string, len(ix.by))
	for mod, e := range ix.by {
		out[mod] = e.how
	}
	return out
}
