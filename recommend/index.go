package recommend

import (
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
// version.
type indexes struct {
	catalog *features.Catalog
	mu      sync.RWMutex
	by      map[string]indexEntry
}

type indexEntry struct {
	idx     retrieval.Index
	version string // the block's Version when the index was built
}

func newIndexes(c *features.Catalog) *indexes {
	ix := &indexes{catalog: c, by: map[string]indexEntry{}}
	c.RLock()
	for _, b := range c.Blocks() {
		ix.by[b.Name] = indexEntry{ix.build(b, 0), b.Version}
	}
	c.RUnlock()
	c.OnPhotoSwap(func(b *features.Block) func() {
		c.RLock()
		e := indexEntry{ix.build(b, servingWorkers()), b.Version}
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

// build returns an index of every active item that has b's modality, a graph built by
// workers goroutines (0: the index default). Callers hold the catalogue's RLock.
func (ix *indexes) build(b *features.Block, workers int) retrieval.Index {
	c := ix.catalog
	n := c.Len()
	if n <= ExactLimit {
		e := retrieval.NewExact(b.Dim)
		for s := range int32(n) {
			if v := b.Vector(s); v != nil && c.Meta(s).Active {
				e.Set(s, v)
			}
		}
		return e
	}
	// The graph is built in parallel from every active item that has the modality.
	h := retrieval.NewHNSW(b.Dim, retrieval.HNSWConfig{Workers: workers})
	var slots []int32
	var vecs []float32
	for s := range int32(n) {
		if v := b.Vector(s); v != nil && c.Meta(s).Active {
			slots = append(slots, s)
			vecs = append(vecs, v...)
		}
	}
	h.SetBatch(slots, vecs)
	return h
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
