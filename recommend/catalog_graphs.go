package recommend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/postgres"
	"github.com/fusionrank/fusionrank/recommend/retrieval"
)

// CatalogGraphs keeps the catalogue's retrieval graphs in Postgres (catalog_graphs):
// a serving process that builds the HNSW of a catalogue modality stores its graph, and
// the next one to start loads it and re-inserts only the items changed since, instead
// of spending about a search per item on every item (docs/benchmarks.md, "Start-up:
// the catalogue's retrieval graphs").
type CatalogGraphs struct {
	db  *postgres.DB
	log *slog.Logger
}

// graphTimeout bounds reading a stored graph at start and storing one.
const graphTimeout = 2 * time.Minute

// NewCatalogGraphs returns the store of the catalogue's graphs in db; log (nil:
// discard) gets a line for every graph stored or not.
func NewCatalogGraphs(db *postgres.DB, log *slog.Logger) *CatalogGraphs {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CatalogGraphs{db: db, log: log}
}

// storedGraph is a stored graph of one modality and the items changed since it was
// stored.
type storedGraph struct {
	version  string
	dim      int
	seq      int64
	ids      []string
	graph    []byte
	*changes // the items changed since seq
}

// changes are the items whose seq is above a graph's.
type changes struct {
	changed []string
	// upTo is the highest seq the read of the changed items saw (the graph's own when
	// none): the loaded index is up to date to there.
	upTo int64
}

// load reads modality mod's stored graph and the items changed since it was stored;
// (nil, nil) when there is none. since holds the changes already read for a seq (the
// graphs stored together share theirs), and gets those this read makes.
func (g *CatalogGraphs) load(mod string, since map[int64]*changes) (*storedGraph, error) {
	ctx, cancel := context.WithTimeout(context.Background(), graphTimeout)
	defer cancel()
	var sg storedGraph
	err := g.db.Pool.QueryRow(ctx, `SELECT version, dim, seq, item_ids, graph FROM catalog_graphs WHERE modality = $1`, mod).
		Scan(&sg.version, &sg.dim, &sg.seq, &sg.ids, &sg.graph)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, postgres.Translate(err)
	}
	if sg.changes = since[sg.seq]; sg.changes != nil {
		return &sg, nil
	}
	rows, err := g.db.Pool.Query(ctx, `SELECT id, seq FROM items WHERE seq > $1`, sg.seq)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	ch := &changes{upTo: sg.seq}
	var id string
	var seq int64
	_, err = pgx.ForEachRow(rows, []any{&id, &seq}, func() error {
		ch.changed = append(ch.changed, id)
		ch.upTo = max(ch.upTo, seq)
		return nil
	})
	if err != nil {
		return nil, postgres.Translate(err)
	}
	since[sg.seq], sg.changes = ch, ch
	return &sg, nil
}

// store writes a graph built at catalogue seq, unless a graph of a later seq is there
// already (another process stored it first).
func (g *CatalogGraphs) store(mod, version string, dim int, seq int64, ids []string, graph []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), graphTimeout)
	defer cancel()
	start := time.Now()
	tag, err := g.db.Pool.Exec(ctx, `INSERT INTO catalog_graphs (modality, version, dim, seq, item_ids, graph) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (modality) DO UPDATE SET version = excluded.version, dim = excluded.dim, seq = excluded.seq,
			item_ids = excluded.item_ids, graph = excluded.graph, stored_at = now()
		WHERE catalog_graphs.seq <= excluded.seq`, mod, version, dim, seq, ids, graph)
	switch {
	case err != nil:
		g.log.Warn("the catalogue's retrieval graph could not be stored; the next start builds it again", "modality", mod, "err", postgres.Translate(err))
	case tag.RowsAffected() == 0:
		g.log.Info("the catalogue's retrieval graph was not stored: a later one is there", "modality", mod, "seq", seq)
	default:
		g.log.Info("catalogue retrieval graph stored", "modality", mod, "items", len(ids), "bytes", len(graph), "seq", seq,
			"seconds", time.Since(start).Seconds())
	}
}

// A stored graph is loaded while at most 1/maxGraphChanges of its items changed or are
// no longer served: changed items are re-inserted one by one (new items in parallel),
// and past a tenth a fresh parallel build costs less and stores a graph that needs no
// catch-up at the next start.
const maxGraphChanges = 10

// fromStored returns the index of block b loaded from its stored graph g, with the
// items changed since (or added, or deactivated) brought up to date, and how many
// those were. The graph's nodes of items no longer served are deleted again; they
// count towards the tenth, so that a graph full of them is built afresh. An error says
// why g does not serve (the caller then builds the index). Callers hold the
// catalogue's read lock.
func (ix *indexes) fromStored(b *features.Block, g *storedGraph, workers int) (*retrieval.HNSW, int, error) {
	c := ix.catalog
	if g.version != b.Version {
		return nil, 0, fmt.Errorf("the stored graph holds vectors of encoder version %q, the catalogue %q", g.version, b.Version)
	}
	if g.dim != b.Dim {
		return nil, 0, fmt.Errorf("the stored graph holds %d-dimensional vectors, the catalogue %d", g.dim, b.Dim)
	}
	n := c.Len()
	slots, err := graphSlots(c, b, g.ids)
	if err != nil {
		return nil, 0, err
	}
	node := make([]bool, n)
	for _, s := range slots {
		node[s] = true
	}
	changed := make([]bool, n)
	for _, id := range g.changed {
		if s, ok := c.Slot(id); ok {
			changed[s] = true
		}
	}
	// An item is re-inserted when it changed since (its vector may have) or the graph
	// lacks it, and deleted when the graph has it but it is no longer served (newly,
	// when it changed since).
	var set, del []int32
	removed := 0
	for s := range int32(n) {
		want := c.Active(s) && b.Vector(s) != nil
		switch {
		case want && (changed[s] || !node[s]):
			set = append(set, s)
		case !want && node[s]:
			del = append(del, s)
			if changed[s] {
				removed++
			}
		}
	}
	if k := len(set) + len(del); k*maxGraphChanges > len(g.ids) {
		return nil, 0, fmt.Errorf("%d of the stored graph's %d items changed or are no longer served", k, len(g.ids))
	}
	h := retrieval.NewHNSW(b.Dim, retrieval.HNSWConfig{Workers: workers})
	if err := h.LoadGraph(slots, func(i int) []float32 { return b.Vector(slots[i]) }, g.graph); err != nil {
		return nil, 0, err
	}
	sv := make([]float32, 0, len(set)*b.Dim)
	for _, s := range set {
		sv = append(sv, b.Vector(s)...)
	}
	h.SetBatch(set, sv)
	for _, s := range del {
		h.Delete(s)
	}
	return h, len(set) + removed, nil
}

// graphSlots maps a stored graph's item ids, in node order, to the catalogue slots
// HNSW.LoadGraph takes: every id must be an item of the catalogue with a vector in b
// (a catalogue block, or a model's learned one), and appear once. Both kinds of stored
// graph, the catalogue's and a model's, are mapped by it. Callers hold the catalogue's
// read lock.
func graphSlots(c *features.Catalog, b *features.Block, ids []string) ([]int32, error) {
	slots := make([]int32, len(ids))
	seen := make([]bool, len(b.Has))
	for i, id := range ids {
		s, ok := c.Slot(id)
		if !ok {
			return nil, fmt.Errorf("the stored graph's item %q is not in the catalogue", id)
		}
		if b.Vector(s) == nil {
			return nil, fmt.Errorf("the stored graph's item %q has no %s vector", id, b.Name)
		}
		if seen[s] {
			return nil, fmt.Errorf("the stored graph holds item %q twice", id)
		}
		seen[s] = true
		slots[i] = s
	}
	return slots, nil
}
