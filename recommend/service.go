package recommend

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/features/text"
	"github.com/fusionrank/fusionrank/internal/kernel"
	"github.com/fusionrank/fusionrank/internal/memo"
	"github.com/fusionrank/fusionrank/internal/touch"
	"github.com/fusionrank/fusionrank/ranking"
	"github.com/fusionrank/fusionrank/recommend/retrieval"
)

// Options are the knobs of the ranking use cases. Zero values take the defaults.
type Options struct {
	// DefaultCount is the answer length when a request gives none. Default 10.
	DefaultCount int
	// MaxCount caps count. Default 200.
	MaxCount int
	// MaxCandidates caps the items of one rerank request. Default 1000.
	MaxCandidates int
	// MaxExclude caps the exclude list of a recommendation request. Default 1000.
	MaxExclude int
	// MaxPerCategory is the diversity rule of recommendations: at most this many items
	// of one category in the answer while other items are available; a negative value
	// turns it off. Default 3.
	MaxPerCategory int
	// RetrievalK is how many items each retrieval source proposes (at least the
	// answer's count). Default 50.
	RetrievalK int
	// CovisK is how many of each recent item's most frequent followers a
	// recommendation considers. Default 20.
	CovisK int
	// TrendingK is how many trending items a recommendation considers. Default 50.
	TrendingK int
	// RetrievalEf is the search effort of the approximate indexes when proposing
	// candidates (see retrieval.HNSW.SearchEfTo): each search keeps max(RetrievalEf,
	// RetrievalK) candidates. A recommendation merges several sources and rescores
	// them, so it needs less recall from each than a stand-alone search. Default 64.
	RetrievalEf int
	// MaxQueryText caps the query text in bytes. Default 1000.
	MaxQueryText int
	// CandidateTTL is how long a shopper's recommendation candidates (the merged
	// retrieval, co-visitation and trending pool, before scoring) are kept for the
	// shopper's next plain request (no query, exclusions or filters). Events
	// invalidate them: an entry is used only for a profile of the same event count and
	// the same live model. Scoring always runs on fresh features. Default 60s;
	// negative: off.
	CandidateTTL time.Duration
	// CandidateCacheMax bounds the shoppers whose candidates are kept. Default 100,000.
	CandidateCacheMax int
	// Logger receives warnings. Default: discard.
	Logger *slog.Logger
	// Searches, when not nil, logs every rerank and search answer (the query, the
	// items shown with their positions and engine scores) for training.
	Searches *features.SearchLog
	// SearchLogDepth is how many positions of an answer are logged (the top of the
	// list, which is what a shop shows; a click further down is attributed to no
	// impression). Logging every position of a 100-candidate rerank at hundreds of
	// requests a second writes tens of thousands of rows a second into Postgres, on
	// the machine's own cores. Default 20.
	SearchLogDepth int
	// CatalogGraphs, when not nil, stores the catalogue's retrieval graphs and loads
	// them at start (see CatalogGraphs); nil: every start builds them.
	CatalogGraphs *CatalogGraphs
}

func (o *Options) defaults() {
	if o.SearchLogDepth <= 0 {
		o.SearchLogDepth = 20
	}
	if o.DefaultCount == 0 {
		o.DefaultCount = 10
	}
	if o.MaxCount == 0 {
		o.MaxCount = 200
	}
	if o.MaxCandidates == 0 {
		o.MaxCandidates = 1000
	}
	if o.MaxExclude == 0 {
		o.MaxExclude = 1000
	}
	if o.MaxPerCategory == 0 {
		o.MaxPerCategory = 3
	}
	if o.RetrievalK == 0 {
		o.RetrievalK = 50
	}
	if o.CovisK == 0 {
		o.CovisK = 20
	}
	if o.TrendingK == 0 {
		o.TrendingK = 50
	}
	if o.RetrievalEf == 0 {
		o.RetrievalEf = 64
	}
	if o.MaxQueryText == 0 {
		o.MaxQueryText = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CandidateTTL == 0 {
		o.CandidateTTL = time.Minute
	}
	if o.CandidateCacheMax == 0 {
		o.CandidateCacheMax = 100_000
	}
}

// Service answers rerank, recommendation, similar-item and search requests with the
// fusion scorer (or the fallback while no model is active).
type Service struct {
	fs      FeatureStore
	catalog *features.Catalog
	models  *LiveModel
	ix      *indexes
	opt     Options
	attrib  *Attribution
	pool    sync.Pool
	marks   sync.Pool             // *slotSet
	candMem sync.Pool             // *[]cand: a request's candidates (takeCands, giveCands)
	cands   *memo.Map[*candEntry] // by user id; nil when CandidateTTL is negative
}

// New returns the service. attrib may be nil (no attribution records).
func New(fs FeatureStore, models *LiveModel, attrib *Attribution, opt Options) *Service {
	opt.defaults()
	s := &Service{fs: fs, catalog: fs.Catalog(), models: models, opt: opt, attrib: attrib}
	s.ix = newIndexes(fs.Catalog(), opt.CatalogGraphs)
	s.pool.New = func() any { return &scratch{ws: ranking.NewWorkspace()} }
	s.marks.New = func() any { return &slotSet{} }
	s.candMem.New = func() any { return new([]cand) }
	if opt.CandidateTTL > 0 {
		s.cands = memo.New[*candEntry](opt.CandidateCacheMax)
	}
	return s
}

// CatalogIndexes says how the retrieval index of each catalogue modality was made:
// "exact", "stored graph (N items changed since)", "built", "built (why)" or "empty"
// (no item has the modality).
func (s *Service) CatalogIndexes() map[string]string { return s.ix.made() }

// scratch is one request's reusable memory.
type scratch struct {
	ws     *ranking.Workspace
	q      ranking.Query
	labels []string
	rows   []int
	feats  []float32
	scores []float32
	ex     ranking.Explanations
	con    []float32 // early and late fusion: the modalities' contributions
	hits   []retrieval.Hit
	pops   []features.Popularity
	slots  []int32
	engine []float64
	// features' candidate ids, co-visitation counts (recent × candidates) and one
	// candidate's column of them
	ids      []string
	covis    []float64
	covisCol []float64
	perm     []int32 // sortByScore's permutation and its copy of the candidates
	sorted   []cand
	// the sequence encoder's recent rows and query
	seqRecent [][]float32
	seqH      []float32
}

// cand is one candidate item of a request.
type cand struct {
	slot      int32
	id        string
	source    string
	engine    float64
	hasEngine bool
	score     float64
	expl      *fusionrank.Explanation
	order     int
}

// reqctx is what a request knows about its shopper and query.
type reqctx struct {
	profile   *features.Profile
	recent    []string
	parts     ranking.QueryParts
	warnings  []string
	personal  bool
	queryText []float32   // the query text pooled like item text (fallback and retrieval)
	match     text.Match  // the query's words for the match features (empty without text)
	rawRecent [][]float32 // the recent items' learned vectors before the query encoder
	// The query photo: its bytes and the image encoder version of its vector (in
	// parts.Vectors under features.PhotoModality); "" without a photo.
	photo        []byte
	photoVersion string
}

func (r *reqctx) warn(w string) {
	if !slices.Contains(r.warnings, w) {
		r.warnings = append(r.warnings, w)
	}
}

// withOptionalBudget returns a context for work a request can do without (features, the
// profile): half of what is left of the deadline, so a slow store leaves time to answer.
func withOptionalBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithTimeout(ctx, time.Until(dl)/2)
	}
	return context.WithTimeout(ctx, 100*time.Millisecond)
}

// syncPhoto makes the query photo's vector come from the image encoder whose vectors
// the catalogue's photo block holds now: when the encoder was switched since the
// photo was encoded, it is encoded again with the new one (or, when that cannot be
// done, left out with a warning). Callers hold the catalogue's RLock, under which the
// block cannot change, for as long as they use the photo's vector with the block.
func (s *Service) syncPhoto(rc *reqctx) {
	if rc.photoVersion == "" {
		return
	}
	cur := s.catalog.PhotoVersion()
	if cur == rc.photoVersion {
		return
	}
	if v, ok := s.fs.EncodePhotoWith(cur, rc.photo); ok && cur != "" {
		rc.parts.Vectors[features.PhotoModality], rc.photoVersion = v, cur
		return
	}
	delete(rc.parts.Vectors, features.PhotoModality)
	rc.photoVersion = ""
	rc.warn("the image encoder changed during the request: answered without the photo")
}

// counterWait is how long a request waits for a counter set being rebuilt from
// Postgres; the rebuild goes on in the background and the next request finds it.
// Counters are secondary features: a request without them is answered, not delayed.
const counterWait = 10 * time.Millisecond

// withCounterBudget returns a context for counter reads: the optional budget, capped so that
// a cold set delays a request by counterWait at most.
func withCounterBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	octx, cancel := withOptionalBudget(ctx)
	cctx, ccancel := context.WithTimeout(octx, counterWait+5*time.Millisecond)
	return cctx, func() { ccancel(); cancel() }
}

func (s *Service) count(n int) (int, error) {
	switch {
	case n == 0:
		return s.opt.DefaultCount, nil
	case n < 0:
		return 0, fusionrank.Errorf(fusionrank.Invalid, "count: must be positive, got %d", n)
	case n > s.opt.MaxCount:
		return 0, fusionrank.Errorf(fusionrank.Invalid, "count: %d is over the limit of %d", n, s.opt.MaxCount)
	}
	return n, nil
}

// validateQuery checks a query's text and vectors.
func (s *Service) validateQuery(q *fusionrank.Query, field string) error {
	if len(q.Text) > s.opt.MaxQueryText {
		return fusionrank.Errorf(fusionrank.Invalid, "%s.text: longer than %d bytes", field, s.opt.MaxQueryText)
	}
	for name, v := range q.Vectors {
		if name == features.PhotoModality {
			return fusionrank.Errorf(fusionrank.Invalid, "%s.vectors.%s: computed by the image encoder; send the photo as %s.image", field, name, field)
		}
		var dim int
		for _, m := range s.fs.Modalities() {
			if m.Name == name {
				dim = m.Dim
			}
		}
		if dim == 0 {
			var known []string
			for _, m := range s.fs.Modalities() {
				known = append(known, m.Name)
			}
			return fusionrank.Errorf(fusionrank.Invalid, "%s.vectors.%s: unknown modality (known: %v)", field, name, known)
		}
		if err := fusionrank.ValidateVector(field+".vectors."+name, v, dim); err != nil {
			return err
		}
	}
	return nil
}

// context builds what the request knows: the profile of userID (if any) and the query.
func (s *Service) context(ctx context.Context, l *live, userID string, q *fusionrank.Query) (*reqctx, error) {
	rc := &reqctx{parts: ranking.QueryParts{Profile: map[string][]float32{}, Vectors: map[string][]float32{}}}
	if userID != "" {
		if err := fusionrank.ValidateID("user_id", userID); err != nil {
			return nil, err
		}
		octx, cancel := withOptionalBudget(ctx)
		p, src, err := s.fs.ServingProfile(octx, userID)
		cancel()
		switch {
		case err != nil:
			rc.warn("user profile unavailable: answered without personalisation")
			s.opt.Logger.Warn("profile unavailable", "user_id", userID, "err", err)
		default:
			rc.profile, rc.personal = p, true
			if src == features.SourcePostgres {
				rc.warn("online store unavailable: profile rebuilt from Postgres")
			}
		}
	}
	if rc.profile != nil {
		rc.recent = rc.profile.RecentIDs()
		for m, mp := range rc.profile.Modalities {
			rc.parts.Profile[m] = mp.Mean
		}
	}
	if l != nil && l.spec.Layout.Recent > 0 {
		s.catalog.RLock()
		b := l.recentBlock(s.catalog)
		recent := rc.recent[:min(len(rc.recent), l.spec.Layout.Recent)]
		var rows [][]float32
		var block []float32
		if b != nil {
			// Copies (a catalogue block changes under writers once unlocked), in one block
			// with room after them for the encoder's rows: four allocations a request,
			// however many recent items.
			encDim := 0
			if l.enc != nil {
				encDim = l.enc.Dim
			}
			rows = make([][]float32, len(recent))
			block = make([]float32, len(recent)*(b.Dim+encDim))
			for k, id := range recent {
				if slot, ok := s.catalog.Slot(id); ok && int(slot) < len(b.Has) {
					if v := b.Vector(slot); v != nil { // nil: the item has none
						rows[k] = block[k*b.Dim : (k+1)*b.Dim : (k+1)*b.Dim]
						copy(rows[k], v)
					}
				}
			}
		}
		s.catalog.RUnlock()
		if b != nil {
			rc.parts.Recent, rc.rawRecent = rows, rows
			if l.enc != nil {
				enc := make([][]float32, len(recent))
				for k := range enc {
					o := len(recent)*b.Dim + k*l.enc.Dim
					enc[k] = block[o : o : o+l.enc.Dim]
				}
				rc.parts.Recent = l.enc.ApplyTo(enc, rows)
			}
		}
	}
	if q != nil {
		for m, v := range q.Vectors {
			c := slices.Clone(v)
			fusionrank.Normalize(c)
			rc.parts.Vectors[m] = c
		}
		if q.Image != nil {
			v, version, err := s.fs.EncodePhoto("query.image", q.Image)
			if err != nil {
				return nil, err
			}
			rc.parts.Vectors[features.PhotoModality] = v
			rc.photo, rc.photoVersion = q.Image, version
		}
		rc.match = text.NewMatch(q.Text)
		if enc := s.fs.Text(); enc != nil && q.Text != "" {
			words, vecs, _ := enc.Tokens(q.Text)
			rc.parts.Words, rc.parts.WordIDs = vecs, words
			// The query's retrieval vector is pooled like the items' text vectors (SIF).
			mean := make([]float32, enc.Dim())
			if known, _ := enc.EncodeTo(mean, q.Text); known > 0 {
				rc.queryText = mean
			}
		}
	}
	return rc, nil
}

// text.Match writes the ranking.NMatch match features (a compile error when the two differ).
const _ = uint(ranking.NMatch-text.MatchFeatures) + uint(text.MatchFeatures-ranking.NMatch)

// features computes every candidate's scalar features into feats (len(cands) ×
// ranking.NFeatures).
func (s *Service) features(ctx context.Context, rc *reqctx, cands []cand, sc *scratch) {
	feats := sc.feats
	clear(feats)
	if len(cands) == 0 {
		return
	}
	sc.ids = slices.Grow(sc.ids[:0], len(cands))
	for _, c := range cands {
		sc.ids = append(sc.ids, c.id)
	}
	ids := sc.ids
	defer clear(sc.ids) // the pool keeps no ids alive
	octx, cancel := withCounterBudget(ctx)
	defer cancel()
	pops, err := s.popularities(octx, cands, ids, sc)
	if err != nil {
		rc.warn("popularity counters unavailable")
	} else {
		for i, p := range pops {
			f := feats[i*ranking.NFeatures:]
			f[ranking.FeatPop1h] = float32(math.Log1p(p.Hour))
			f[ranking.FeatPop1d] = float32(math.Log1p(p.Day))
			f[ranking.FeatPop7d] = float32(math.Log1p(p.Week))
		}
	}
	if recent := rc.recent[:min(len(rc.recent), ranking.CovisItems)]; len(recent) > 0 {
		n := len(cands)
		sc.covis = slices.Grow(sc.covis[:0], len(recent)*n)[:len(recent)*n]
		if err := s.fs.CovisitationTo(octx, recent, ids, sc.covis); err != nil {
			rc.warn("co-visitation counters unavailable")
		} else {
			sc.covisCol = slices.Grow(sc.covisCol[:0], len(recent))[:len(recent)]
			col := sc.covisCol
			for i := range cands {
				for j := range recent {
					col[j] = sc.covis[j*n+i]
				}
				feats[i*ranking.NFeatures+ranking.FeatCovis] = ranking.CovisFeature(col)
			}
		}
	}
	// The engine's scores, standardised within the request.
	sc.engine = sc.engine[:0]
	for _, c := range cands {
		if c.hasEngine {
			sc.engine = append(sc.engine, c.engine)
		}
	}
	if len(sc.engine) > 0 {
		standardize(sc.engine)
		k := 0
		for i, c := range cands {
			if c.hasEngine {
				feats[i*ranking.NFeatures+ranking.FeatEngine] = float32(sc.engine[k])
				feats[i*ranking.NFeatures+ranking.FeatHasEngine] = 1
				k++
			}
		}
	}
	// The query's words against each candidate's title.
	if !rc.match.Empty() {
		s.catalog.RLock()
		for i, c := range cands {
			rc.match.FeaturesOf(feats[i*ranking.NFeatures+ranking.FeatMatchShare:], &s.catalog.Meta(c.slot).TitleStems)
		}
		s.catalog.RUnlock()
	}
}

// standardize replaces the finite values xs with their z-scores (x − mean) / sd, 0 for
// all when they are equal (sd below 1e-12 of the largest magnitude). It never
// overflows: the values are first divided by their largest magnitude, so the sums run
// over numbers in [−1, 1] whatever the engine's scale (a score of 1e200 or 2e154 squared
// would overflow float64), and the two-pass variance is never negative. Every result
// lies within ±sqrt(len(xs)−1) (up to rounding, which grows as the spread nears the
// cut), and the order of the values is kept.
func standardize(xs []float64) {
	var m float64
	for _, x := range xs {
		m = math.Max(m, math.Abs(x))
	}
	if m == 0 || math.IsInf(m, 0) || math.IsNaN(m) {
		clear(xs)
		return
	}
	var sum float64
	for i, x := range xs {
		xs[i] = x / m
		sum += xs[i]
	}
	mean := sum / float64(len(xs))
	var sq float64
	for _, y := range xs {
		sq += (y - mean) * (y - mean)
	}
	sd := math.Sqrt(sq / float64(len(xs)))
	if sd < 1e-12 {
		clear(xs)
		return
	}
	for i, y := range xs {
		xs[i] = (y - mean) / sd
	}
}

// seqFeature writes the live model's sequence-encoder score of every candidate
// (ranking.SeqEncoder over the user's distinct recent items) into the seq feature;
// models without an encoder leave it 0.
func (s *Service) seqFeature(l *live, rc *reqctx, cands []cand, sc *scratch) {
	e, b := l.spec.Seq, l.learned[SeqModality]
	if e == nil || b == nil {
		return
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	sc.seqRecent = sc.seqRecent[:0]
	s.catalog.RLock()
	for _, id := range rc.recent[:min(len(rc.recent), e.Window)] {
		var v []float32
		if slot, ok := s.catalog.Slot(id); ok {
			v = b.Vector(slot)
		}
		sc.seqRecent = append(sc.seqRecent, v)
	}
	s.catalog.RUnlock()
	var x uint64
	for _, c := range cands { // a look-ahead loop (package touch) over the rows scored below
		if v := b.Vector(c.slot); len(v) > 0 {
			x += uint64(math.Float32bits(v[0]))
		}
	}
	touch.Keep(x)
	sc.seqH = resize32(sc.seqH, e.Dim)
	e.QueryTo(sc.seqH, sc.seqRecent)
	for i, c := range cands {
		sc.feats[i*ranking.NFeatures+ranking.FeatSeq] = e.Score(sc.seqH, b.Vector(c.slot))
	}
	clear(sc.seqRecent) // no reference to the model's rows outlives the request
}

// popularities returns the candidates' popularity windows: from the feature store's
// in-process snapshot when it is being kept, else from Redis.
// The slices are the request's scratch memory.
func (s *Service) popularities(ctx context.Context, cands []cand, ids []string, sc *scratch) ([]features.Popularity, error) {
	sc.pops = slices.Grow(sc.pops[:0], len(cands))[:len(cands)]
	sc.slots = slices.Grow(sc.slots[:0], len(cands))[:len(cands)]
	for i, c := range cands {
		sc.slots[i] = c.slot
	}
	if s.fs.PopularitiesOf(sc.pops, sc.slots) {
		return sc.pops, nil
	}
	return s.fs.Popularities(ctx, ids, s.fs.Now())
}

// score scores the candidates in place with the live model, or the fallback when l is
// nil, and sorts them best first (ties keep their given order).
func (s *Service) score(ctx context.Context, l *live, rc *reqctx, cands []cand, explain bool) {
	sc := s.pool.Get().(*scratch)
	defer s.pool.Put(sc)
	sc.feats = resize32(sc.feats, len(cands)*ranking.NFeatures)
	s.catalog.RLock()
	s.touchMeta(cands)
	s.catalog.RUnlock()
	s.features(ctx, rc, cands, sc)
	if l != nil {
		s.seqFeature(l, rc, cands, sc)
		s.scoreModel(l, rc, cands, sc, explain)
	} else {
		s.scoreFallback(rc, cands, sc.feats, explain)
	}
	sortByScore(cands, sc)
}

// sortByScore sorts cands best first, ties in their given order: what
// slices.SortStableFunc does, without its many moves of whole 80-byte candidates
// (about 3 times the time at 250 candidates, BenchmarkSortByScore). It sorts the
// positions, breaking ties by position, then moves each candidate once.
func sortByScore(cands []cand, sc *scratch) {
	sc.perm = slices.Grow(sc.perm[:0], len(cands))
	for i := range cands {
		sc.perm = append(sc.perm, int32(i))
	}
	slices.SortFunc(sc.perm, func(a, b int32) int {
		if c := cmp.Compare(cands[b].score, cands[a].score); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	sc.sorted = slices.Grow(sc.sorted[:0], len(cands))
	for _, i := range sc.perm {
		sc.sorted = append(sc.sorted, cands[i])
	}
	copy(cands, sc.sorted)
	clear(sc.sorted) // the scratch outlives the request: keep no ids or explanations
}

// resize32 returns s with length n, reusing its memory when it can; the contents are
// not cleared.
func resize32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func (s *Service) scoreModel(l *live, rc *reqctx, cands []cand, sc *scratch, explain bool) {
	cfg := l.spec.Ranking
	l.mu.RLock()
	defer l.mu.RUnlock()
	parts := rc.parts
	if _, ok := parts.Vectors[features.PhotoModality]; ok && (rc.photoVersion != l.spec.PhotoEncoder || rc.photoVersion != l.photoVersion) {
		// The model reads photo vectors of one image encoder only (the one it was
		// trained with, whose vectors its item keys hold): a photo of another encoder
		// is left out rather than compared across encoders.
		parts.Vectors = maps.Clone(parts.Vectors)
		delete(parts.Vectors, features.PhotoModality)
		rc.warn("the model was trained with another image encoder: the photo did not reach it")
	}
	sc.labels = l.spec.Layout.Build(&sc.q, cfg, parts, sc.labels)
	l.model.QueryTo(sc.ws, sc.q)
	// Items newer than the model's key/value store wait for the catalogue listener;
	// they score on their features only (rows are never out of range).
	sc.rows = sc.rows[:0]
	feats := sc.feats
	if cfg.NFeatures == 0 {
		feats = nil
	}
	for _, c := range cands {
		if int(c.slot) < l.kv.Len() {
			sc.rows = append(sc.rows, int(c.slot))
		} else {
			sc.rows = append(sc.rows, 0)
		}
	}
	sc.scores = resize32(sc.scores, len(cands))
	var ex *ranking.Explanations
	M, Lq := len(cfg.Modalities), cfg.MaxQueryTokens
	fusion := cfg.FusionMode()
	mixed := fusion == ranking.FusionEarly || fusion == ranking.FusionLate
	if explain {
		sc.ex.Modality = resize32(sc.ex.Modality, len(cands)*M)
		sc.ex.Token = resize32(sc.ex.Token, len(cands)*Lq)
		sc.ex.Contribution = nil
		if mixed {
			sc.con = resize32(sc.con, len(cands)*M)
			sc.ex.Contribution = sc.con
		}
		ex = &sc.ex
	}
	l.model.ScoreTo(sc.scores, sc.ws, l.kv, sc.rows, feats, ex)
	for i := range cands {
		cands[i].score = float64(sc.scores[i])
		if int(cands[i].slot) >= l.kv.Len() {
			cands[i].score = math.Inf(-1)
		}
		if explain {
			e := &fusionrank.Explanation{Fusion: fusion, Modalities: map[string]float64{}, Features: map[string]float64{}}
			for j, m := range cfg.Modalities {
				if w := sc.ex.Modality[i*M+j]; w > 0 {
					e.Modalities[m.Name] = round4(float64(w))
				}
				if mixed && sc.ex.Modality[i*M+j] > 0 {
					if e.Contributions == nil {
						e.Contributions = map[string]float64{}
					}
					e.Contributions[m.Name] = round4(float64(sc.con[i*M+j]))
				}
			}
			for t := 0; t < Lq; t++ {
				if w := sc.ex.Token[i*Lq+t]; w > 0.01 && sc.labels[t] != "" {
					e.Tokens = append(e.Tokens, fusionrank.TokenWeight{Token: sc.labels[t], Weight: round4(float64(w))})
				}
			}
			sort.Slice(e.Tokens, func(a, b int) bool { return e.Tokens[a].Weight > e.Tokens[b].Weight })
			for k, name := range ranking.FeatureNames {
				e.Features[name] = round4(float64(sc.feats[i*ranking.NFeatures+k]))
			}
			cands[i].expl = e
		}
	}
}

// Fallback weights: the documented scoring while no model is active.
const (
	fallbackQuery   = 1.0 // cosine of the query (mean word vector; caller vectors) with the item
	fallbackProfile = 0.5 // cosine of the shopper's profile with the item, per modality
	fallbackCovis   = 0.3 // co-visitation with the recent items
	fallbackPop     = 0.1 // log(1 + 7-day popularity)
	fallbackEngine  = 1.0 // the search engine's standardised score
)

// scoreFallback scores without a model: similarity to the query and to the profile,
// co-visitation, popularity and the engine's score, with fixed weights.
func (s *Service) scoreFallback(rc *reqctx, cands []cand, feats []float32, explain bool) {
	s.catalog.RLock()
	defer s.catalog.RUnlock()
	s.syncPhoto(rc)
	for i := range cands {
		c := &cands[i]
		f := feats[i*ranking.NFeatures : (i+1)*ranking.NFeatures]
		contrib := map[string]float64{}
		add := func(mod string, v []float32, w float64) float64 {
			b := s.catalog.Block(mod)
			if b == nil || v == nil {
				return 0
			}
			if iv := b.Vector(c.slot); iv != nil && len(iv) == len(v) {
				x := w * float64(kernel.Dot(iv, v))
				c.score += x
				contrib[mod] += math.Max(x, 0)
				return x
			}
			return 0
		}
		// What each query token carried: the photo its cosine with the item's photo,
		// each word its cosine with the item's text (the pooled query text scores as a
		// whole; the words' shares split it).
		var tokens []fusionrank.TokenWeight
		if rc.queryText != nil {
			add("text", rc.queryText, fallbackQuery)
			if explain {
				if b := s.catalog.Block("text"); b != nil {
					if iv := b.Vector(c.slot); iv != nil {
						for k, w := range rc.parts.Words {
							if len(w) == len(iv) && k < len(rc.parts.WordIDs) {
								tokens = append(tokens, fusionrank.TokenWeight{Token: "word:" + rc.parts.WordIDs[k], Weight: math.Max(float64(kernel.Dot(iv, w))/norm32(w), 0)})
							}
						}
					}
				}
			}
		}
		for m, v := range rc.parts.Vectors {
			if x := add(m, v, fallbackQuery); m == features.PhotoModality {
				tokens = append(tokens, fusionrank.TokenWeight{Token: "query:" + m, Weight: math.Max(x, 0)})
			}
		}
		for m, v := range rc.parts.Profile {
			add(m, v, fallbackProfile)
		}
		c.score += fallbackCovis*float64(f[ranking.FeatCovis]) + fallbackPop*float64(f[ranking.FeatPop7d]) + fallbackEngine*float64(f[ranking.FeatEngine])
		if explain {
			var total float64
			for _, x := range contrib {
				total += x
			}
			e := &fusionrank.Explanation{Modalities: map[string]float64{}, Features: map[string]float64{}}
			for m, x := range contrib {
				if total > 0 && x > 0 {
					e.Modalities[m] = round4(x / total)
				}
			}
			var ttotal float64
			for _, t := range tokens {
				ttotal += t.Weight
			}
			for _, t := range tokens {
				if ttotal > 0 && t.Weight > 0 {
					e.Tokens = append(e.Tokens, fusionrank.TokenWeight{Token: t.Token, Weight: round4(t.Weight / ttotal)})
				}
			}
			sort.Slice(e.Tokens, func(a, b int) bool { return e.Tokens[a].Weight > e.Tokens[b].Weight })
			for k, name := range ranking.FeatureNames {
				e.Features[name] = round4(float64(f[k]))
			}
			c.expl = e
		}
	}
}

func norm32(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return 1
	}
	return math.Sqrt(s)
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// answer turns scored candidates into the API answer.
func (s *Service) answer(ctx context.Context, kind string, l *live, rc *reqctx, cands []cand, count int, userID string) fusionrank.Ranking {
	r := fusionrank.Ranking{RequestID: requestID(ctx), ModelVersion: "none", Personalized: rc.personal, Warnings: rc.warnings, UnknownItems: []string{}}
	if l != nil {
		r.ModelVersion = l.version
	}
	if len(cands) > count {
		cands = cands[:count]
	}
	r.Items = newRankedItems(len(cands))
	r.ImageEncoder = rc.photoVersion
	s.catalog.RLock()
	for i, c := range cands {
		sc := c.score
		if math.IsInf(sc, 0) || math.IsNaN(sc) {
			sc = -1e9
		}
		r.Items[i] = fusionrank.RankedItem{ID: c.id, Score: round6(sc), Source: c.source, ImageURL: s.catalog.Meta(c.slot).ImageURL, Explanation: c.expl}
	}
	s.catalog.RUnlock()
	if s.attrib != nil {
		s.attrib.Record(r.RequestID, kind, r.ModelVersion, userID, len(r.Items))
	}
	return r
}

// takeCands returns memory for a request's candidates: an empty slice of capacity at
// least n, from the pool when one there is long enough. A recommendation gathers
// several hundred candidates (40 KB and more), most of what it would allocate; nothing
// keeps them past the request (the answer and the search log copy what they show), so
// the caller hands the memory back with giveCands once it has answered.
func (s *Service) takeCands(n int) *[]cand {
	h := s.candMem.Get().(*[]cand)
	*h = slices.Grow((*h)[:0], n)
	return h
}

// maxPooledCands bounds the candidate memory kept: an unusually large request's is
// left to the GC.
const maxPooledCands = 1 << 13

// giveCands hands back the memory in h (the slice the request last held there),
// cleared so that it keeps no ids or explanations alive.
func (s *Service) giveCands(h *[]cand) {
	if cap(*h) > maxPooledCands {
		return
	}
	clear((*h)[:cap(*h)])
	*h = (*h)[:0]
	s.candMem.Put(h)
}

// rankedItems holds answers' item slices handed back by Release (*[]RankedItem, each
// cleared): 100 items are 6.4 KB of pointers a rerank would otherwise allocate.
var rankedItems sync.Pool

// maxPooledItems bounds the slices kept: an unusually long answer's is left to the GC.
const maxPooledItems = 1024

// newRankedItems returns n zero items, from the pool when one there is long enough.
func newRankedItems(n int) []fusionrank.RankedItem {
	if p, ok := rankedItems.Get().(*[]fusionrank.RankedItem); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]fusionrank.RankedItem, n, max(n, 128))
}

// Release hands back an answer's items once the caller has written it out and keeps
// nothing of it (nor of its items' explanations): the next answer reuses their memory.
// Not calling it is correct too; the GC then takes them.
func (s *Service) Release(r *fusionrank.Ranking) {
	items := r.Items[:cap(r.Items)]
	r.Items = nil
	if len(items) == 0 || len(items) > maxPooledItems {
		return
	}
	clear(items)
	rankedItems.Put(&items)
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

func requestID(ctx context.Context) string {
	if id := fusionrank.RequestID(ctx); id != "" {
		return id
	}
	return fmt.Sprintf("r%x", time.Now().UnixNano())
}

// touchMeta reads ahead, for the candidates, the catalogue memory that scoring and the
// answer read later: the item's active flag, its metadata (the id at its start, the
// photo address and the title's stems further on) and the stems themselves, in a
// look-ahead loop (package touch). Callers hold the catalogue's read lock.
func (s *Service) touchMeta(cands []cand) {
	var x int
	for _, c := range cands {
		sl := c.slot
		m := s.catalog.Meta(sl)
		x += len(m.ID) + len(m.ImageURL)
		if h := m.TitleStems.Hashes; len(h) > 0 {
			x += int(h[0])
		}
		if s.catalog.Active(sl) {
			x++
		}
	}
	touch.Keep(uint64(x))
}
