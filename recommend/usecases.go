package recommend

import (
	"context"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/ranking"
	"github.com/fusionrank/fusionrank/recommend/retrieval"
)

// Rerank reorders a search engine's candidates for a query and a shopper. Duplicates are
// dropped (the first one counts); ids that are not active items of the catalogue are
// kept at the end, in their given order, and listed in unknown_items.
func (s *Service) Rerank(ctx context.Context, req fusionrank.RerankRequest) (fusionrank.Ranking, error) {
	if len(req.Items) > s.opt.MaxCandidates {
		return fusionrank.Ranking{}, fusionrank.Errorf(fusionrank.TooLarge, "items: %d candidates is over the limit of %d", len(req.Items), s.opt.MaxCandidates)
	}
	count := len(req.Items)
	if req.Count != 0 {
		var err error
		if count, err = s.count(req.Count); err != nil {
			return fusionrank.Ranking{}, err
		}
	}
	if err := s.validateQuery(&req.Query, "query"); err != nil {
		return fusionrank.Ranking{}, err
	}
	// Duplicates are found by catalogue slot (a set of the request's slots), and
	// only ids outside the catalogue, which are rare, by a map.
	dd := s.marks.Get().(*slotSet)
	defer s.marks.Put(dd)
	var seenUnknown map[string]bool
	// 100 candidates are 8 KB, about an eighth of what a rerank would otherwise allocate.
	mem := s.takeCands(len(req.Items))
	defer s.giveCands(mem)
	cands := *mem
	for i, it := range req.Items {
		if !fusionrank.ValidID(it.ID) {
			return fusionrank.Ranking{}, fusionrank.ValidateID("items["+strconv.Itoa(i)+"].id", it.ID)
		}
		if it.Score != nil && (math.IsNaN(*it.Score) || math.IsInf(*it.Score, 0)) {
			return fusionrank.Ranking{}, fusionrank.Errorf(fusionrank.Invalid, "items[%d].score: not a finite number", i)
		}
	}
	var unknown []string
	s.catalog.RLock()
	dd.start(len(req.Items))
	s.catalog.SlotsOf(len(req.Items), func(i int) string { return req.Items[i].ID }, func(i int, slot int32, ok, active bool) {
		it := &req.Items[i]
		if ok && !dd.mark(slot) {
			return
		}
		if !ok {
			if seenUnknown[it.ID] {
				return
			}
			if seenUnknown == nil {
				seenUnknown = map[string]bool{}
			}
			seenUnknown[it.ID] = true
		}
		if !active {
			unknown = append(unknown, it.ID)
			return
		}
		c := cand{slot: slot, id: it.ID, order: i}
		if it.Score != nil {
			c.engine, c.hasEngine = *it.Score, true
		}
		cands = append(cands, c)
	})
	*mem = cands
	s.catalog.RUnlock()
	l := s.models.current()
	rc, err := s.context(ctx, l, req.UserID, &req.Query)
	if err != nil {
		return fusionrank.Ranking{}, err
	}
	s.score(ctx, l, rc, cands, req.Explain)
	r := s.answer(ctx, "rerank", l, rc, cands, count, req.UserID)
	for _, id := range unknown {
		if len(r.Items) >= count {
			break
		}
		r.Items = append(r.Items, fusionrank.RankedItem{ID: id, Score: 0, Source: "unknown"})
	}
	if unknown != nil {
		r.UnknownItems = unknown
	}
	// The answer's first items are the scored candidates in order, each the first
	// occurrence of its id; the rest are the unknown ids, found in the request.
	s.logSearch(features.SearchFromRerank, r, req.UserID, &req.Query, func(p int, id string) (float64, bool) {
		if p < len(cands) {
			c := cands[p]
			return c.engine, c.hasEngine
		}
		for _, it := range req.Items {
			if it.ID == id { // the first occurrence counts
				if it.Score == nil {
					return 0, false
				}
				return *it.Score, true
			}
		}
		return 0, false
	})
	return r, nil
}

// filter says whether a slot may be recommended.
type filter struct {
	s *Service
	// exclude holds the excluded slots: a request's few bought and excluded items,
	// scanned in a loop; bigExclude holds them instead when there are more than
	// maxScanExclude (a map lookup costs more than scanning a few).
	exclude    []int32
	bigExclude map[int32]bool
	f          *fusionrank.Filters
	cats       map[string]bool
}

const maxScanExclude = 32

func (s *Service) newFilter(rc *reqctx, exclude []string, f *fusionrank.Filters) (*filter, error) {
	if len(exclude) > s.opt.MaxExclude {
		return nil, fusionrank.Errorf(fusionrank.TooLarge, "exclude: %d ids is over the limit of %d", len(exclude), s.opt.MaxExclude)
	}
	fl := &filter{s: s, f: f}
	for i, id := range exclude {
		if !fusionrank.ValidID(id) {
			return nil, fusionrank.ValidateID("exclude["+strconv.Itoa(i)+"]", id)
		}
	}
	// Ids are resolved to slots once, so that the check on every item a retrieval
	// index visits is an integer lookup.
	s.catalog.RLock()
	for _, id := range exclude {
		fl.excludeID(id)
	}
	if rc.profile != nil {
		for _, id := range rc.profile.BoughtIDs() {
			fl.excludeID(id)
		}
	}
	s.catalog.RUnlock()
	if f != nil {
		if len(f.Category) > 100 {
			return nil, fusionrank.Errorf(fusionrank.Invalid, "filters.category: more than 100 categories")
		}
		for _, p := range []*float64{f.PriceMin, f.PriceMax} {
			if p != nil && (math.IsNaN(*p) || math.IsInf(*p, 0) || *p < 0) {
				return nil, fusionrank.Errorf(fusionrank.Invalid, "filters: price bounds must be finite numbers ≥ 0")
			}
		}
		if f.PriceMin != nil && f.PriceMax != nil && *f.PriceMin > *f.PriceMax {
			return nil, fusionrank.Errorf(fusionrank.Invalid, "filters: price_min is above price_max")
		}
		if len(f.Category) > 0 {
			fl.cats = map[string]bool{}
			for _, c := range f.Category {
				fl.cats[c] = true
			}
		}
	}
	return fl, nil
}

// excludeID excludes an item; ids not in the catalogue are never candidates anyway.
// Callers hold the catalogue's RLock.
func (fl *filter) excludeID(id string) {
	if slot, ok := fl.s.catalog.Slot(id); ok {
		fl.excludeSlot(slot)
	}
}

func (fl *filter) excludeSlot(slot int32) {
	switch {
	case fl.bigExclude != nil:
		fl.bigExclude[slot] = true
	case len(fl.exclude) < maxScanExclude:
		fl.exclude = append(fl.exclude, slot)
	default:
		fl.bigExclude = make(map[int32]bool, 2*len(fl.exclude))
		for _, e := range fl.exclude {
			fl.bigExclude[e] = true
		}
		fl.bigExclude[slot] = true
		fl.exclude = nil
	}
}

// excluded reports whether slot was excluded.
func (fl *filter) excluded(slot int32) bool {
	if fl.bigExclude != nil {
		return fl.bigExclude[slot]
	}
	return slices.Contains(fl.exclude, slot)
}

// allow reports whether slot passes; callers hold the catalogue's RLock.
func (fl *filter) allow(slot int32) bool {
	if !fl.s.catalog.Active(slot) || fl.excluded(slot) {
		return false
	}
	if fl.f == nil {
		return true
	}
	m := fl.s.catalog.Meta(slot)
	if fl.cats != nil && !fl.cats[m.Category] {
		return false
	}
	if fl.f.PriceMin != nil && !(m.Price >= *fl.f.PriceMin) {
		return false
	}
	if fl.f.PriceMax != nil && !(m.Price <= *fl.f.PriceMax) {
		return false
	}
	return true
}

// pool gathers candidates from several sources, keeping each item once with the first
// source that proposed it.
type pool struct {
	s     *Service
	k     int // items per retrieval source: max(RetrievalK, the answer's count)
	fl    *filter
	seen  *slotSet // the slots added or refused
	cands []cand
	mem   *[]cand // where cands live (takeCands); the caller hands it back with giveCands
}

// newPool returns an empty candidate pool sized for a typical request's sources.
// Callers hold the catalogue's RLock, call release when done adding, and hand the
// candidates' memory back (giveCands(p.mem)) once they have answered.
func (s *Service) newPool(fl *filter, count int) *pool {
	k := max(s.opt.RetrievalK, count)
	n := 4*k + ranking.CovisItems*s.opt.CovisK + s.opt.TrendingK
	seen := s.marks.Get().(*slotSet)
	seen.start(n)
	mem := s.takeCands(n)
	return &pool{s: s, fl: fl, k: k, seen: seen, cands: *mem, mem: mem}
}

// release returns the pool's marks; the candidates stay the caller's until it hands
// back p.mem.
func (p *pool) release() {
	p.s.marks.Put(p.seen)
	p.seen = nil
	*p.mem = p.cands
}

func (p *pool) add(slot int32, source string) {
	if !p.seen.mark(slot) || !p.fl.allow(slot) {
		return // already in, or refused (and the filter's answer does not change)
	}
	p.cands = append(p.cands, cand{slot: slot, id: p.s.catalog.ID(slot), source: source, order: len(p.cands)})
}

func (p *pool) addID(id, source string) {
	if slot, ok := p.s.catalog.Slot(id); ok {
		p.add(slot, source)
	}
}

// retrieve adds the nearest items to v in a modality's index.
func (s *Service) retrieve(p *pool, mod string, v []float32, source string, hits []retrieval.Hit) []retrieval.Hit {
	idx := s.ix.get(mod)
	if mod == features.PhotoModality {
		// Photo vectors of the block's encoder only; the caller synced the query's.
		idx = s.ix.getVersion(mod, s.catalog.PhotoVersion())
	}
	if idx == nil || v == nil {
		return hits
	}
	hits = idx.SearchEfTo(hits, v, p.k, s.opt.RetrievalEf, p.fl.allow)
	for _, h := range hits {
		p.add(h.Slot, source)
	}
	return hits
}

// collabQuery is the recency-weighted mean of the recent items' learned vectors.
func collabQuery(l *live, recent [][]float32) []float32 {
	if l == nil || len(recent) == 0 {
		return nil
	}
	var out []float32
	w := 1.0
	for _, v := range recent {
		if v == nil {
			continue
		}
		if out == nil {
			out = make([]float32, len(v))
		}
		for i, x := range v {
			out[i] += float32(w) * x
		}
		w *= 0.8
	}
	return out
}

// Recommend answers "what should this shopper see?": candidates from retrieval (the
// profile's nearest items per modality, the query's when given), co-visitation with the
// recent items and trending items, merged; never bought, excluded or inactive items;
// filtered; ranked by the scorer; with at most MaxPerCategory items per category while
// others are available.
func (s *Service) Recommend(ctx context.Context, req fusionrank.RecommendRequest) (fusionrank.Ranking, error) {
	if err := fusionrank.ValidateID("user_id", req.UserID); err != nil {
		return fusionrank.Ranking{}, err
	}
	count, err := s.count(req.Count)
	if err != nil {
		return fusionrank.Ranking{}, err
	}
	if req.Query != nil {
		if err := s.validateQuery(req.Query, "query"); err != nil {
			return fusionrank.Ranking{}, err
		}
	}
	l := s.models.current()
	// An anonymous request knows nothing of its user: no profile, hence no recent items,
	// co-visitation with them or bought items left out.
	known := req.UserID
	if req.Anonymous {
		known = ""
	}
	rc, err := s.context(ctx, l, known, req.Query)
	if err != nil {
		return fusionrank.Ranking{}, err
	}
	fl, err := s.newFilter(rc, req.Exclude, req.Filters)
	if err != nil {
		return fusionrank.Ranking{}, err
	}
	// A plain request of a shopper seen lately reuses the candidates gathered then,
	// unless events (the profile's count) or the model changed since.
	var cgen uint64
	cacheable := s.cands != nil && rc.profile != nil && req.Query == nil && len(req.Exclude) == 0 && req.Filters == nil && count <= s.opt.RetrievalK
	if cacheable {
		e, gen, ok := s.cands.Get(known, time.Now().UnixNano())
		cgen = gen
		if ok && e.events == rc.profile.Events && e.model == versionOf(l) {
			s.catalog.RLock()
			p := s.newPool(fl, count)
			defer s.giveCands(p.mem)
			for _, c := range e.cands {
				p.add(c.slot, c.source)
			}
			cands := p.cands
			p.release()
			s.catalog.RUnlock()
			s.score(ctx, l, rc, cands, req.Explain)
			cands = s.diversify(cands, count)
			return s.answer(ctx, "recommendations", l, rc, cands, count, known), nil
		}
	}
	// Counters first (they are Redis calls; the catalogue lock is not held meanwhile).
	octx, cancel := withCounterBudget(ctx)
	var covis [][]string
	if recent := rc.recent[:min(len(rc.recent), ranking.CovisItems)]; len(recent) > 0 {
		if zs, err := s.fs.CovisNeighbours(octx, recent, s.opt.CovisK); err != nil {
			rc.warn("co-visitation counters unavailable")
			s.opt.Logger.Debug("co-visitation unavailable", "err", err)
		} else {
			for _, list := range zs {
				var ids []string
				for _, z := range list {
					ids = append(ids, z.ItemID)
				}
				covis = append(covis, ids)
			}
		}
	}
	// Trending gets its own budget: a slow co-visitation rebuild must not starve it.
	cancel()
	trendingSlots, ok := s.fs.TrendingOf(s.opt.TrendingK)
	var trending []string
	if !ok {
		octx, cancel = withCounterBudget(ctx)
		var terr error
		trending, _, terr = s.fs.Trending(octx, s.opt.TrendingK, s.fs.Now())
		cancel()
		if terr != nil {
			rc.warn("trending counters unavailable")
		}
	}

	s.catalog.RLock()
	s.syncPhoto(rc)
	p := s.newPool(fl, count)
	defer s.giveCands(p.mem)
	var hits []retrieval.Hit
	if rc.queryText != nil {
		hits = s.retrieve(p, "text", rc.queryText, "context", hits)
	}
	for m, v := range rc.parts.Vectors {
		hits = s.retrieve(p, m, v, "context", hits)
	}
	// Interleave co-visitation lists, most recent item first.
	for k := 0; k < s.opt.CovisK; k++ {
		for _, list := range covis {
			if k < len(list) {
				p.addID(list[k], "covisitation")
			}
		}
	}
	for _, m := range s.fs.Modalities() {
		hits = s.retrieve(p, m.Name, rc.parts.Profile[m.Name], "retrieval:"+m.Name, hits)
	}
	if l != nil {
		if cq := collabQuery(l, rc.rawRecent); cq != nil {
			s.retrieveLearned(p, l, cq)
		}
	}
	for _, slot := range trendingSlots {
		p.add(slot, "trending")
	}
	for _, id := range trending {
		p.addID(id, "trending")
	}
	if len(p.cands) < count { // a new shop: no events yet
		for slot := int32(0); int(slot) < s.catalog.Len() && len(p.cands) < max(count, 50); slot++ {
			p.add(slot, "catalogue")
		}
	}
	cands := p.cands
	p.release()
	s.catalog.RUnlock()
	if cacheable && len(rc.warnings) == 0 { // a pool short of a source is not kept
		e := &candEntry{events: rc.profile.Events, model: versionOf(l), cands: make([]candRef, len(cands))}
		for i, c := range cands {
			e.cands[i] = candRef{c.slot, c.source}
		}
		s.cands.Put(known, e, cgen, time.Now().Add(s.opt.CandidateTTL).UnixNano())
	}

	s.score(ctx, l, rc, cands, req.Explain)
	cands = s.diversify(cands, count)
	return s.answer(ctx, "recommendations", l, rc, cands, count, known), nil
}

// candEntry is a shopper's candidate pool as gathered for a plain recommendation
// request: valid for a profile of events events and the live model model.
type candEntry struct {
	events int64
	model  string // the live model's version, "" for the fallback
	cands  []candRef
}

func versionOf(l *live) string {
	if l == nil {
		return ""
	}
	return l.version
}

type candRef struct {
	slot   int32
	source string
}

// retrieveLearned adds the nearest items in the live model's learned recent-item
// modality. Callers hold the catalogue's RLock.
func (s *Service) retrieveLearned(p *pool, l *live, q []float32) {
	if l.recentIndex == nil {
		return
	}
	hits := l.recentIndex.SearchEfTo(nil, q, p.k, s.opt.RetrievalEf, p.fl.allow)
	source := "retrieval:" + l.spec.Layout.RecentMod
	for _, h := range hits {
		p.add(h.Slot, source)
	}
}

// diversify returns the first count places of the answer: cands in order, except that
// an item whose category already has MaxPerCategory items there waits until no item
// of another category remains. It reorders cands in place (the places after count are
// left unspecified: the answer does not show them).
func (s *Service) diversify(cands []cand, count int) []cand {
	k := s.opt.MaxPerCategory
	if k <= 0 || len(cands) <= 1 {
		return cands
	}
	s.catalog.RLock()
	defer s.catalog.RUnlock()
	return diversifyBy(cands, func(slot int32) string { return s.catalog.Meta(slot).Category }, k, count)
}

// diversifyBy is diversify with the categories given by category. Only the first
// count places are built: a recommendation's pool holds hundreds of candidates, and
// copying them all would cost more than choosing the places.
func diversifyBy(cands []cand, category func(slot int32) string, k, count int) []cand {
	count = min(count, len(cands))
	n := 0 // places filled, at the front of cands: each candidate moves forward, never back
	var held []cand
	per := make(map[string]int, count)
	for i := 0; i < len(cands) && n < count; i++ {
		c := cands[i]
		cat := category(c.slot)
		if cat != "" && per[cat] >= k {
			if len(held) < count {
				held = append(held, c)
			}
			continue
		}
		per[cat]++
		cands[n] = c
		n++
	}
	// Short of count: the held items follow, in order (the places from n on were read).
	n += copy(cands[n:count], held)
	return cands[:n]
}

// Similar returns items like one item: its nearest items in each modality and the items
// that followed it in shoppers' histories, ranked by the scorer with the item as the
// query (its learned vector as the one recent item, its other vectors as the profile).
func (s *Service) Similar(ctx context.Context, req fusionrank.SimilarRequest) (fusionrank.Ranking, error) {
	if err := fusionrank.ValidateID("id", req.ItemID); err != nil {
		return fusionrank.Ranking{}, err
	}
	count, err := s.count(req.Count)
	if err != nil {
		return fusionrank.Ranking{}, err
	}
	l := s.models.current()
	rc := &reqctx{parts: ranking.QueryParts{Profile: map[string][]float32{}, Vectors: map[string][]float32{}}, recent: []string{req.ItemID}}
	s.catalog.RLock()
	slot, ok := s.catalog.Slot(req.ItemID)
	if !ok {
		s.catalog.RUnlock()
		return fusionrank.Ranking{}, fusionrank.Errorf(fusionrank.NotFound, "item %q: not found", req.ItemID)
	}
	for _, b := range s.catalog.Blocks() {
		v := b.Vector(slot)
		switch {
		case v == nil:
		case b.Name == features.PhotoModality:
			// The item's photo is the query photo, tagged with its encoder version
			// like an uploaded one (it cannot be encoded again: a switch drops it).
			rc.parts.Vectors[b.Name], rc.photoVersion = slices.Clone(v), b.Version
		default:
			rc.parts.Profile[b.Name] = slices.Clone(v)
		}
	}
	if l != nil {
		if b := l.recentBlock(s.catalog); b != nil && int(slot) < len(b.Has) {
			if v := b.Vector(slot); v != nil {
				rc.parts.Recent = [][]float32{slices.Clone(v)}
				rc.rawRecent = rc.parts.Recent
				if l.enc != nil {
					rc.parts.Recent = l.enc.ApplyTo(nil, rc.parts.Recent)
				}
			}
		}
	}
	s.catalog.RUnlock()

	octx, cancel := withCounterBudget(ctx)
	zs, cerr := s.fs.CovisNeighbours(octx, []string{req.ItemID}, max(s.opt.CovisK, count))
	cancel()
	if cerr != nil {
		rc.warn("co-visitation counters unavailable")
	}
	fl := &filter{s: s, exclude: []int32{slot}}
	s.catalog.RLock()
	p := s.newPool(fl, count)
	defer s.giveCands(p.mem)
	if len(zs) > 0 {
		for _, z := range zs[0] {
			p.addID(z.ItemID, "covisitation")
		}
	}
	var hits []retrieval.Hit
	for _, m := range s.fs.Modalities() {
		hits = s.retrieve(p, m.Name, rc.parts.Profile[m.Name], "retrieval:"+m.Name, hits)
	}
	s.syncPhoto(rc)
	hits = s.retrieve(p, features.PhotoModality, rc.parts.Vectors[features.PhotoModality], "retrieval:"+features.PhotoModality, hits)
	if l != nil && len(rc.rawRecent) > 0 {
		s.retrieveLearned(p, l, rc.rawRecent[0])
	}
	cands := p.cands
	p.release()
	s.catalog.RUnlock()
	s.score(ctx, l, rc, cands, req.Explain)
	return s.answer(ctx, "similar", l, rc, cands, count, ""), nil
}

// Search finds the catalogue's best items for a query (text and/or vectors): the nearest
// items to the query in each modality, ranked by the scorer, personalised when a user
// is given.
func (s *Service) Search(ctx context.Context, req fusionrank.SearchRequest) (fusionrank.Ranking, error) {
	if req.Query.Text == "" && len(req.Query.Vectors) == 0 && req.Query.Image == nil {
		return fusionrank.Ranking{}, fusionrank.Errorf(fusionrank.Invalid, "query: give text, an image or vectors")
	}
	if err := s.validateQuery(&req.Query, "query"); err != nil {
		return fusionrank.Ranking{}, err
	}
	count, err := s.count(req.Count)
	if err != nil {
		return fusionrank.Ranking{}, err
	}
	l := s.models.current()
	rc, err := s.context(ctx, l, req.UserID, &req.Query)
	if err != nil {
		return fusionrank.Ranking{}, err
	}
	fl, err := s.newFilter(&reqctx{}, nil, req.Filters)
	if err != nil {
		return fusionrank.Ranking{}, err
	}
	s.catalog.RLock()
	s.syncPhoto(rc)
	p := s.newPool(fl, count)
	defer s.giveCands(p.mem)
	var hits []retrieval.Hit
	if rc.queryText != nil {
		hits = s.retrieve(p, "text", rc.queryText, "retrieval:text", hits)
	}
	for m, v := range rc.parts.Vectors {
		hits = s.retrieve(p, m, v, "retrieval:"+m, hits)
	}
	cands := p.cands
	p.release()
	s.catalog.RUnlock()
	if len(cands) == 0 && rc.queryText == nil && len(rc.parts.Vectors) == 0 {
		rc.warn("no known word in query.text")
	}
	s.score(ctx, l, rc, cands, req.Explain)
	r := s.answer(ctx, "search", l, rc, cands, count, req.UserID)
	s.logSearch(features.SearchFromSearch, r, req.UserID, &req.Query, nil)
	return r, nil
}

// slotSet is the set of catalogue slots a request has seen: open addressing over a
// table sized to the request (twice its slots, grown when half full), so that it stays
// in the core's cache whatever the catalogue's size, and starting a request clears a
// few kilobytes. Slots are stored plus one, 0 marking an empty place.
type slotSet struct {
	keys  []int32
	n     int
	shift uint8
}

// start empties the set for a request that will mark about n slots.
func (m *slotSet) start(n int) {
	size := 64
	for size < 2*n {
		size *= 2
	}
	if cap(m.keys) >= size {
		m.keys = m.keys[:size]
		clear(m.keys)
	} else {
		m.keys = make([]int32, size)
	}
	m.n = 0
	m.shift = uint8(64 - bits.TrailingZeros(uint(size)))
}

// mark adds slot and reports whether it was not in the set yet.
func (m *slotSet) mark(slot int32) bool {
	if 2*(m.n+1) > len(m.keys) {
		m.grow()
	}
	k := slot + 1
	mask := len(m.keys) - 1
	for i := int(uint64(uint32(k))*0x9E3779B97F4A7C15>>m.shift) & mask; ; i = (i + 1) & mask {
		switch m.keys[i] {
		case k:
			return false
		case 0:
			m.keys[i] = k
			m.n++
			return true
		}
	}
}

// grow doubles the table and places the slots again.
func (m *slotSet) grow() {
	old := m.keys
	m.keys = make([]int32, 2*len(old))
	m.shift--
	m.n = 0
	for _, k := range old {
		if k != 0 {
			m.mark(k - 1)
		}
	}
}
