package recommend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/internal/yield"
	"github.com/fusionrank/fusionrank/postgres"
	"github.com/fusionrank/fusionrank/ranking"
	"github.com/fusionrank/fusionrank/recommend/retrieval"
)

// Spec is what the registry stores beside a model's weights: how to build its queries
// and features. It is the "config" column of the models table.
type Spec struct {
	Ranking  ranking.Config `json:"ranking"`
	Layout   ranking.Layout `json:"layout"`
	Features []string       `json:"features"`
	// Learned lists the modalities whose item vectors were learned by training and are
	// stored in item_vectors under the model's version (collab, attr).
	Learned []string `json:"learned"`
	// Seq is the sequence encoder whose score is the seq feature, nil
	// without one; its item rows are stored in item_vectors as modality
	// SeqModality (dim+1 floats: the vector, then the bias).
	Seq *ranking.SeqEncoder `json:"seq,omitempty"`
	// PhotoEncoder is the image encoder version whose photo vectors the model was
	// trained with ("" when it has no photo modality). The model reads photo vectors
	// of that version only: after a switch of encoder its photo modality stays
	// masked until a model trained with the new encoder is activated.
	PhotoEncoder string         `json:"photo_encoder,omitempty"`
	Notes        map[string]any `json:"notes,omitempty"`
}

// encoderOf returns the encoder version a model expects of a catalogue modality's
// vectors: PhotoEncoder for the photo modality, "" for the others.
func (s Spec) encoderOf(mod string) string {
	if mod == features.PhotoModality {
		return s.PhotoEncoder
	}
	return ""
}

// SeqModality names the sequence encoder's item rows in item_vectors.
const SeqModality = "seq"

// Registry is the model registry in Postgres: every trained version with its config,
// weights, training-data checksum and offline metrics; at most one is active.
type Registry struct{ db *postgres.DB }

// NewRegistry returns the registry in db.
func NewRegistry(db *postgres.DB) *Registry { return &Registry{db: db} }

// Register stores a new version: its weights (safetensors, with the query encoder's
// tensors when enc is not nil), spec, metrics, and the item vectors it learned (item id
// → modality → vector).
func (r *Registry) Register(ctx context.Context, version string, m *ranking.Model, enc *ranking.RecencyEmbedding, spec Spec, metrics map[string]float64, dataSHA string, learned map[string]map[string][]float32) error {
	if err := fusionrank.ValidateID("version", version); err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := ranking.WriteModelTo(&buf, m, enc); err != nil {
		return err
	}
	cfg, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if metrics == nil {
		metrics = map[string]float64{}
	}
	mj, err := json.Marshal(metrics)
	if err != nil {
		return err
	}
	return r.db.Transact(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO models (version, config, weights, metrics, data_sha256) VALUES ($1, $2, $3, $4, $5)`,
			version, cfg, buf.Bytes(), mj, dataSHA); err != nil {
			if fusionrank.ErrorCode(postgres.Translate(err)) == fusionrank.Conflict {
				return fusionrank.Errorf(fusionrank.Conflict, "model version %q already exists", version)
			}
			return err
		}
		var rows [][]any
		for id, mods := range learned {
			for mod, v := range mods {
				rows = append(rows, []any{id, mod, version, int32(len(v)), features.AppendFloats(make([]byte, 0, 4*len(v)), v)})
			}
		}
		if len(rows) == 0 {
			return nil
		}
		// Learned vectors exist only for items in the catalogue (foreign key): the
		// ones for unknown ids are skipped through a staging table.
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE staged_vectors (LIKE item_vectors) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"staged_vectors"}, []string{"item_id", "modality", "model_version", "dim", "data"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO item_vectors SELECT s.* FROM staged_vectors s JOIN items i ON i.id = s.item_id`); err != nil {
			return err
		}
		_, err := storeGraph(ctx, tx, version, spec)
		return err
	})
}

// storeGraph builds the retrieval graph (HNSW) of the model's learned recent-item
// vectors as stored in item_vectors (vectors of items the catalogue lacks were
// skipped) and stores it in model_graphs, replacing any, when there are more than
// ExactLimit of them: a serving process then loads the graph with the model instead of
// building it, which costs about a search per item (tens of seconds of CPU at 100k
// items) in every process at every switch. It reports whether it stored one: not when
// the recent modality is not learned, there are at most ExactLimit vectors, or one
// does not fit the model (loading then builds the index).
func storeGraph(ctx context.Context, tx pgx.Tx, version string, spec Spec) (bool, error) {
	mod := spec.Layout.RecentMod
	j := spec.Ranking.ModalityIndex(mod)
	if !slices.Contains(spec.Learned, mod) || j < 0 {
		return false, nil
	}
	dim := spec.Ranking.Modalities[j].Dim
	rows, err := tx.Query(ctx, `SELECT item_id, data FROM item_vectors WHERE model_version = $1 AND modality = $2 ORDER BY item_id`, version, mod)
	if err != nil {
		return false, err
	}
	var ids []string
	var vecs []float32
	var id string
	var data []byte
	fits := true
	_, err = pgx.ForEachRow(rows, []any{&id, &data}, func() error {
		if len(data) != 4*dim {
			fits = false
			return nil
		}
		ids = append(ids, id)
		vecs = append(vecs, make([]float32, dim)...)
		features.ReadFloats(vecs[len(vecs)-dim:], data)
		return nil
	})
	if err != nil || !fits || len(ids) <= ExactLimit {
		return false, err
	}
	if slices.ContainsFunc(vecs, func(x float32) bool { return math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) }) {
		return false, nil
	}
	slots := make([]int32, len(ids))
	for i := range slots {
		slots[i] = int32(i)
	}
	h := retrieval.NewHNSW(dim, retrieval.HNSWConfig{})
	h.SetBatch(slots, vecs)
	graph, err := h.AppendGraph(nil, slots)
	if err != nil {
		return false, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO model_graphs (model_version, modality, item_ids, graph) VALUES ($1, $2, $3, $4)
		ON CONFLICT (model_version, modality) DO UPDATE SET item_ids = excluded.item_ids, graph = excluded.graph`, version, mod, ids, graph)
	return err == nil, err
}

// IndexModel builds and stores the retrieval graph of a registered model, as Register
// does for a new one (a model registered without it then loads faster). It reports
// whether the model has such a graph now; a model whose recent-item vectors are not
// learned, or at most ExactLimit, has none.
func (r *Registry) IndexModel(ctx context.Context, version string) (bool, error) {
	if err := fusionrank.ValidateID("version", version); err != nil {
		return false, err
	}
	stored := false
	err := r.db.Transact(ctx, func(tx pgx.Tx) error {
		var cfg []byte
		if err := tx.QueryRow(ctx, `SELECT config FROM models WHERE version = $1 FOR SHARE`, version).Scan(&cfg); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fusionrank.Errorf(fusionrank.NotFound, "model version %q does not exist", version)
			}
			return err
		}
		var spec Spec
		if err := json.Unmarshal(cfg, &spec); err != nil {
			return fmt.Errorf("config: %w", err)
		}
		var err error
		stored, err = storeGraph(ctx, tx, version, spec)
		return err
	})
	return stored, postgres.Translate(err)
}

const modelColumns = `version, active, created_at, activated_at, data_sha256, metrics, config`

func scanModel(row pgx.Row) (fusionrank.ModelInfo, error) {
	var m fusionrank.ModelInfo
	var metrics, cfg []byte
	if err := row.Scan(&m.Version, &m.Active, &m.CreatedAt, &m.ActivatedAt, &m.DataSHA256, &metrics, &cfg); err != nil {
		return m, postgres.Translate(err)
	}
	_ = json.Unmarshal(metrics, &m.Metrics)
	_ = json.Unmarshal(cfg, &m.Config)
	var spec Spec
	_ = json.Unmarshal(cfg, &spec)
	m.Fusion = spec.Ranking.FusionMode()
	return m, nil
}

// ListModels returns every version, newest first.
func (r *Registry) ListModels(ctx context.Context) ([]fusionrank.ModelInfo, error) {
	rows, err := r.db.Pool.Query(ctx, `SELECT `+modelColumns+` FROM models ORDER BY created_at DESC, version`)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []fusionrank.ModelInfo
	for rows.Next() {
		m, err := scanModel(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, postgres.Translate(rows.Err())
}

// ActivateModel makes version the active model, atomically.
func (r *Registry) ActivateModel(ctx context.Context, version string) (fusionrank.ModelInfo, error) {
	if err := fusionrank.ValidateID("version", version); err != nil {
		return fusionrank.ModelInfo{}, err
	}
	var m fusionrank.ModelInfo
	err := r.db.Transact(ctx, func(tx pgx.Tx) error {
		// Serialise activations so the unique "one active" index never trips.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7002)`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE models SET active = false WHERE active AND version <> $1`, version); err != nil {
			return err
		}
		var err error
		m, err = scanModel(tx.QueryRow(ctx, `UPDATE models SET active = true,
			activated_at = CASE WHEN active THEN activated_at ELSE now() END
			WHERE version = $1 RETURNING `+modelColumns, version))
		if fusionrank.ErrorCode(err) == fusionrank.NotFound {
			return fusionrank.Errorf(fusionrank.NotFound, "model version %q: not found", version)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify('fusionrank_models', $1)`, version)
		return err
	})
	return m, err
}

// RollbackModel reactivates the version that was active before the current one.
func (r *Registry) RollbackModel(ctx context.Context) (fusionrank.ModelInfo, error) {
	var prev string
	err := r.db.Pool.QueryRow(ctx, `SELECT version FROM models WHERE NOT active AND activated_at IS NOT NULL
		ORDER BY activated_at DESC LIMIT 1`).Scan(&prev)
	if err != nil {
		err = postgres.Translate(err)
		if fusionrank.ErrorCode(err) == fusionrank.NotFound {
			return fusionrank.ModelInfo{}, fusionrank.Errorf(fusionrank.Conflict, "no previously active model to roll back to")
		}
		return fusionrank.ModelInfo{}, err
	}
	return r.ActivateModel(ctx, prev)
}

// activeVersion returns the active version, or "" when none is.
func (r *Registry) activeVersion(ctx context.Context) (string, error) {
	var v string
	err := r.db.Pool.QueryRow(ctx, `SELECT version FROM models WHERE active`).Scan(&v)
	if err = postgres.Translate(err); fusionrank.ErrorCode(err) == fusionrank.NotFound {
		return "", nil
	}
	return v, err
}

// live is a loaded model: its weights, its spec, the vectors it learned per catalogue
// slot and every item's precomputed keys and values. A request takes the pointer once
// and uses that model to the end, so a swap never changes a model under a request.
type live struct {
	version string
	model   *ranking.Model
	enc     *ranking.RecencyEmbedding // optional query encoder of the recent slots
	spec    Spec
	learned map[string]*features.Block // modality → vectors by catalogue slot

	mu sync.RWMutex // guards kv, learned and photoVersion against catalogue updates
	kv *ranking.ItemKV
	// photoVersion is the image encoder version of the photo vectors in kv ("" when kv
	// holds none).
	photoVersion string

	// recentIndex finds the nearest items in the learned recent-item modality (exact up
	// to ExactLimit items, HNSW above): the graph stored with the model (storeGraph),
	// or built when the model loads. recentFrom says which, for the log.
	recentIndex retrieval.Index
	recentFrom  string
}

// LiveModel holds the model the serving process answers with: the registry's active
// version, loaded, or none.
type LiveModel struct {
	reg     *Registry
	catalog *features.Catalog
	cur     atomic.Pointer[live]
	// syncMu makes each Sync's read of the active version, load and store one step, so
	// a slow Sync that read an older activation cannot store its model after a newer
	// Sync stored the current one.
	syncMu sync.Mutex
	synced bool // Sync has run before (guarded by syncMu)
}

// NewLiveModel returns an empty holder (the fallback answers until Sync loads a model).
func NewLiveModel(reg *Registry, catalog *features.Catalog) *LiveModel {
	m := &LiveModel{reg: reg, catalog: catalog}
	catalog.OnChange(m.itemsChanged)
	return m
}

// Current returns the live model, or nil when none is active.
func (m *LiveModel) current() *live { return m.cur.Load() }

// Version returns the active version, or "none".
func (m *LiveModel) Version() string {
	if l := m.cur.Load(); l != nil {
		return l.version
	}
	return "none"
}

// RecentIndex says how the live model's recent-item index was made: "stored graph",
// "exact", "built (why)", or "" without a model or index.
func (m *LiveModel) RecentIndex() string {
	if l := m.cur.Load(); l != nil {
		return l.recentFrom
	}
	return ""
}

// Sync loads the active model when it differs from the one being served. It returns
// whether the live model changed.
func (m *LiveModel) Sync(ctx context.Context) (bool, error) {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	// The first Sync runs at start, before the server listens: the index it builds may
	// take every processor. Later ones load while requests are served.
	workers := 0
	if m.synced {
		workers = servingWorkers()
	}
	m.synced = true
	v, err := m.reg.activeVersion(ctx)
	if err != nil {
		return false, err
	}
	cur := m.cur.Load()
	if (cur == nil && v == "") || (cur != nil && cur.version == v) {
		return false, nil
	}
	if v == "" {
		m.cur.Store(nil)
		return true, nil
	}
	l, err := m.load(ctx, v, workers)
	if err != nil {
		return false, fmt.Errorf("loading model %s: %w", v, err)
	}
	m.cur.Store(l)
	return true, nil
}

func (m *LiveModel) load(ctx context.Context, version string, workers int) (*live, error) {
	var cfg, weights []byte
	if err := m.reg.db.Pool.QueryRow(ctx, `SELECT config, weights FROM models WHERE version = $1`, version).Scan(&cfg, &weights); err != nil {
		return nil, postgres.Translate(err)
	}
	var spec Spec
	if err := json.Unmarshal(cfg, &spec); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	model, enc, err := ranking.ReadModelRecency(bytes.NewReader(weights))
	if err != nil {
		return nil, err
	}
	if f := model.Config().NFeatures; f != 0 && f < ranking.NFeatures && slices.Equal(spec.Features, ranking.FeatureNames[:f]) {
		// Trained before features were appended: the new ones weigh 0.
		model = model.WithFeatures(ranking.NFeatures)
	}
	spec.Ranking = model.Config()
	if spec.Ranking.NFeatures != ranking.NFeatures && spec.Ranking.NFeatures != 0 {
		return nil, fmt.Errorf("model has %d scalar features; this server computes %d", spec.Ranking.NFeatures, ranking.NFeatures)
	}
	if spec.Seq != nil {
		if err := spec.Seq.Validate(); err != nil {
			return nil, err
		}
	}
	if spec.Ranking.MaxQueryTokens != spec.Layout.Tokens() {
		return nil, fmt.Errorf("model has %d query slots; its layout needs %d", spec.Ranking.MaxQueryTokens, spec.Layout.Tokens())
	}
	if enc != nil && (enc.Recent() > spec.Layout.Recent || enc.Dim != spec.Ranking.Modalities[max(0, spec.Ranking.ModalityIndex(spec.Layout.RecentMod))].Dim) {
		return nil, fmt.Errorf("query encoder shape %d×%d does not fit the layout", enc.Recent(), enc.Dim)
	}
	l := &live{version: version, model: model, enc: enc, spec: spec, learned: map[string]*features.Block{}}
	for _, mod := range spec.Learned {
		j := spec.Ranking.ModalityIndex(mod)
		if j < 0 {
			return nil, fmt.Errorf("learned modality %q is not in the model", mod)
		}
		l.learned[mod] = &features.Block{Name: mod, Dim: spec.Ranking.Modalities[j].Dim}
	}
	if spec.Seq != nil {
		l.learned[SeqModality] = &features.Block{Name: SeqModality, Dim: spec.Seq.Dim + 1}
	}
	// Learned vectors, straight into their blocks by catalogue slot (an item the
	// catalogue lacks, or added after n was read, is left out). Reading them, like every
	// step of a load that takes time, gives way to requests (package yield): a model may
	// load while the process serves. The catalogue's read lock is taken per row, never
	// across the read.
	y := &yield.Yielder{}
	m.catalog.RLock()
	n := m.catalog.Len()
	m.catalog.RUnlock()
	for _, b := range l.learned {
		b.Data = make([]float32, n*b.Dim)
		b.Has = make([]bool, n)
	}
	rows, err := m.reg.db.Pool.Query(ctx, `SELECT item_id, modality, data FROM item_vectors WHERE model_version = $1`, version)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	var id, mod string
	var data []byte
	for rows.Next() {
		if err := rows.Scan(&id, &mod, &data); err != nil {
			rows.Close()
			return nil, postgres.Translate(err)
		}
		if b := l.learned[mod]; b != nil && len(data) == 4*b.Dim {
			m.catalog.RLock()
			s, ok := m.catalog.Slot(id)
			m.catalog.RUnlock()
			if ok && int(s) < n {
				features.ReadFloats(b.Data[int(s)*b.Dim:int(s+1)*b.Dim], data)
				b.Has[s] = true
			}
		}
		y.Maybe()
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, postgres.Translate(err)
	}
	// The recent slots' index. Its vectors are copied out of the block only to build an
	// index; a stored graph is loaded from the block itself, which is the model's own.
	m.catalog.RLock()
	b := l.recentBlock(m.catalog)
	learned := b != nil && b == l.learned[l.spec.Layout.RecentMod]
	var rslots []int32
	var rvecs []float32
	if b != nil && (n <= ExactLimit || !learned) {
		rslots, rvecs = vectorsOf(b, n)
	}
	m.catalog.RUnlock()
	switch {
	case b == nil:
	case n <= ExactLimit:
		e := retrieval.NewExact(b.Dim)
		for i, s := range rslots {
			e.Set(s, rvecs[i*b.Dim:(i+1)*b.Dim])
		}
		l.recentIndex, l.recentFrom = e, "exact"
	case !learned:
		h := retrieval.NewHNSW(b.Dim, retrieval.HNSWConfig{Workers: workers})
		h.SetBatch(rslots, rvecs)
		l.recentIndex, l.recentFrom = h, "built (the catalogue's vectors)"
	default:
		h := retrieval.NewHNSW(b.Dim, retrieval.HNSWConfig{Workers: workers})
		l.recentFrom = "stored graph"
		if err := m.loadGraph(ctx, h, version, b); err != nil {
			l.recentFrom = "built (" + err.Error() + ")"
			h = retrieval.NewHNSW(b.Dim, retrieval.HNSWConfig{Workers: workers})
			h.SetBatch(vectorsOf(b, n))
		}
		l.recentIndex = h
	}
	l.kv = model.NewItemKV(n)
	slots := make([]int32, n)
	for s := range slots {
		slots[s] = int32(s)
	}
	m.fillKV(l, slots, &yield.Yielder{Stride: 1})
	return l, nil
}

// vectorsOf returns the slots below n that have a vector in b, and those vectors
// copied in slot order. Callers hold the catalogue's read lock when b is one of its
// blocks.
func vectorsOf(b *features.Block, n int) ([]int32, []float32) {
	var slots []int32
	var vecs []float32
	for s := range int32(n) {
		if v := b.Vector(s); v != nil {
			slots = append(slots, s)
			vecs = append(vecs, v...)
		}
	}
	return slots, vecs
}

// loadGraph fills the empty index h from the model's stored graph over the learned
// block b. It is an error when there is no stored graph or it does not cover exactly
// the slots that have a vector in b (an item deleted since training, or vectors that
// failed to load): the caller then builds the index.
func (m *LiveModel) loadGraph(ctx context.Context, h *retrieval.HNSW, version string, b *features.Block) error {
	n := 0
	for _, has := range b.Has {
		if has {
			n++
		}
	}
	var ids []string
	var graph []byte
	err := m.reg.db.Pool.QueryRow(ctx, `SELECT item_ids, graph FROM model_graphs WHERE model_version = $1 AND modality = $2`, version, b.Name).Scan(&ids, &graph)
	if errors.Is(err, pgx.ErrNoRows) {
		return errors.New("no stored graph")
	} else if err != nil {
		return postgres.Translate(err)
	}
	if len(ids) != n {
		return fmt.Errorf("the stored graph has %d items, the model's vectors %d", len(ids), n)
	}
	m.catalog.RLock()
	slots, err := graphSlots(m.catalog, b, ids)
	m.catalog.RUnlock()
	if err != nil {
		return err
	}
	// b is the model's own block, which nothing else writes while it loads.
	return h.LoadGraph(slots, func(i int) []float32 { return b.Vector(slots[i]) }, graph)
}

// recentBlock returns the vectors the recent slots hold: the model's learned
// block of the layout's recent modality, or, when that modality is one of the
// catalogue's (a model trained without collab, training.Options.NoCollab),
// the catalogue's block of the dimension and encoder the model expects; nil
// when neither. Callers hold the catalogue's read lock.
func (l *live) recentBlock(c *features.Catalog) *features.Block {
	mod := l.spec.Layout.RecentMod
	if b := l.learned[mod]; b != nil {
		return b
	}
	j := l.spec.Ranking.ModalityIndex(mod)
	if j < 0 {
		return nil
	}
	if b := c.Block(mod); b != nil && b.Dim == l.spec.Ranking.Modalities[j].Dim && b.Version == l.spec.encoderOf(mod) {
		return b
	}
	return nil
}

// servingWorkers is how many goroutines build a retrieval index in the background of
// a process that serves requests meanwhile (a model or an encoder switch): one
// processor fewer than there are, at least one. The inserts give way to requests
// (package yield), but a processor busy with background work does not poll the
// network for new requests; one left free does.
func servingWorkers() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// kvChunk is how many rows a model being loaded computes under one hold of the
// catalogue's read lock.
const kvChunk = 32

// fillKV computes the keys and values of the given slots. Callers hold l.mu for writing
// or own l exclusively. With y nil it holds the catalogue's read lock throughout. With
// y (a model being loaded, not yet served) it holds it for kvChunk rows at a time and
// gives way to requests between (y.Maybe): a catalogue refresh that waits for the write
// lock stops new readers, so one hold over a whole catalogue would stop the requests
// until the last row. Each row reads one state of the catalogue; l.photoVersion is the
// photo block's at the last hold.
func (m *LiveModel) fillKV(l *live, slots []int32, y *yield.Yielder) {
	cfg := l.spec.Ranking
	M := len(cfg.Modalities)
	tokens := make([][]float32, M)
	mask := make([]bool, M)
	locked := false
	defer func() {
		if locked {
			m.catalog.RUnlock()
		}
	}()
	lock := func() {
		m.catalog.RLock()
		locked = true
		l.photoVersion = ""
		if b := m.catalog.Block(features.PhotoModality); b != nil && b.Version != "" && b.Version == l.spec.PhotoEncoder {
			l.photoVersion = b.Version
		}
	}
	lock()
	for i, s := range slots {
		if y != nil && i > 0 && i%kvChunk == 0 {
			m.catalog.RUnlock()
			locked = false
			y.Maybe()
			lock()
		}
		for j, md := range cfg.Modalities {
			tokens[j], mask[j] = nil, false
			var v []float32
			if b := l.learned[md.Name]; b != nil {
				v = b.Vector(s)
			} else if b := m.catalog.Block(md.Name); b != nil && b.Dim == md.Dim && b.Version == l.spec.encoderOf(md.Name) {
				v = b.Vector(s)
			}
			if v != nil {
				tokens[j], mask[j] = v, true
			}
		}
		l.model.ItemKVTo(l.kv, int(s), tokens, mask)
	}
}

// itemsChanged recomputes the keys and values of changed catalogue slots, growing the
// store for new items (which have no learned vectors until the next training).
func (m *LiveModel) itemsChanged(slots []int32) {
	l := m.cur.Load()
	if l == nil {
		return
	}
	m.catalog.RLock()
	n := m.catalog.Len()
	m.catalog.RUnlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kv.Len() < n {
		l.kv.Resize(n)
		for _, b := range l.learned {
			b.Data = append(b.Data, make([]float32, (n-len(b.Has))*b.Dim)...)
			b.Has = append(b.Has, make([]bool, n-len(b.Has))...)
		}
	}
	m.fillKV(l, slots, nil)
}
