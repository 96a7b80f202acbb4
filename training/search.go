package training

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"

	"github.com/fusionrank/fusionrank/ranking"
)

// Search is one logged search as training sees it: the query, the items shown
// (position 0 first), the engine's score and what followed each.
type Search struct {
	// User is the searching user's index in Data.Users, −1 when anonymous; the
	// user's events before Time fill the recent and profile slots.
	User int32
	// Time is the search's Unix time in seconds.
	Time int64
	// Words are the query's words as indices into Data.Vocab, in query order.
	Words []int32
	// Vectors are the query's vectors by fixed modality name (a photo's image
	// vector); nil when none.
	Vectors map[string][]float32
	// Items are the shown items, position 0 first.
	Items []int32
	// Engine is the search engine's score of each shown item, NaN when none was
	// given.
	Engine []float32
	// Outcome is what followed each shown item: 0 nothing, more is better (a
	// click, a cart, a purchase; the grade of a judged search).
	Outcome []float32
	// Match holds the lexical match features of each shown item against
	// the query (ranking.NMatch values per item, from ranking.FeatMatchShare
	// on; features/text Match.Features), nil for none: they are 0 then, as
	// for the catalogue pseudo-queries.
	Match []float32
	// Judged marks a judgement set: every shown item was examined, so every
	// item is compared with every item of a lower outcome, whatever its
	// position.
	Judged bool
}

// validateSearches checks the search fields of d.
func (d *Data) validateSearches() error {
	for k, v := range d.Vocab {
		if len(v) == 0 {
			return fmt.Errorf("training: vocab word %d has no vector", k)
		}
	}
	if d.ItemWords != nil && len(d.ItemWords) != d.NumItems {
		return fmt.Errorf("training: %d item word lists for %d items", len(d.ItemWords), d.NumItems)
	}
	for i, ws := range d.ItemWords {
		for _, w := range ws {
			if w < 0 || int(w) >= len(d.Vocab) {
				return fmt.Errorf("training: item %d: word %d out of range [0,%d)", i, w, len(d.Vocab))
			}
		}
	}
	for k, s := range d.Searches {
		if s.User < -1 || int(s.User) >= len(d.Users) {
			return fmt.Errorf("training: search %d: user %d out of range", k, s.User)
		}
		if len(s.Engine) != len(s.Items) || len(s.Outcome) != len(s.Items) {
			return fmt.Errorf("training: search %d: %d items, %d engine scores, %d outcomes", k, len(s.Items), len(s.Engine), len(s.Outcome))
		}
		if s.Match != nil && len(s.Match) != len(s.Items)*ranking.NMatch {
			return fmt.Errorf("training: search %d: %d match values for %d items", k, len(s.Match), len(s.Items))
		}
		for _, it := range s.Items {
			if it < 0 || int(it) >= d.NumItems {
				return fmt.Errorf("training: search %d: item %d out of range [0,%d)", k, it, d.NumItems)
			}
		}
		for _, w := range s.Words {
			if w < 0 || int(w) >= len(d.Vocab) {
				return fmt.Errorf("training: search %d: word %d out of range [0,%d)", k, w, len(d.Vocab))
			}
		}
		for _, o := range s.Outcome {
			if math.IsNaN(float64(o)) || math.IsInf(float64(o), 0) {
				return fmt.Errorf("training: search %d: outcome %v", k, o)
			}
		}
	}
	return nil
}

// hasBehaviour reports whether some user has an event after the first (a
// behavioural example).
func (d *Data) hasBehaviour() bool {
	for _, seq := range d.Users {
		if len(seq) >= 2 {
			return true
		}
	}
	return false
}

// searchEx is one search example: impression Pos of search S is the positive,
// the impressions Negs the negatives.
type searchEx struct {
	s, pos int32
	negs   []int32
}

// pseudoEx is one catalogue pseudo-query: words of Item (and its vector in
// modality Mod when Mod ≥ 0), against Negs.
type pseudoEx struct {
	item  int32
	words []int32
	mod   int // Data.Fixed index of the query vector, −1 none
	negs  []int32
}

// searchTrainer trains the scorer on search examples between the behavioural
// batches of an epoch.
type searchTrainer struct {
	n         *net
	x         *counts
	examples  []searchEx
	val       []int32 // validation searches (indices into Data.Searches)
	photo     []int   // Data.Fixed indices of the query-vector modalities
	canPseudo []int32 // items with words
	weight    float64 // the mix: the search loss's weight against the behavioural loss
	shards    [shards]*searchShard
	// userTimes[u] are the event times of user u (for the history before a search).
	userTimes [][]int64
	// mixG is the mixer's gradient of a step (non-attention modes).
	mixG *SparseGrad
}

type searchShard struct {
	g     *Grads
	mix   mixSearchWS // the non-attention modes' scratch and mixer gradient
	ws    *exampleWS
	f     *featurizer
	idx   []int32
	feats []float32
	loss  float64
	count int
}

// newSearchTrainer builds the search examples of d.Searches (every tenth search
// with two distinct outcomes is kept for validation).
func newSearchTrainer(n *net, x *counts) *searchTrainer {
	d := n.d
	st := &searchTrainer{n: n, x: x}
	for fi, f := range d.Fixed {
		if f.Name != "text" && n.cfg.ModalityIndex(f.Name) >= 0 && slices.Contains(n.layout.QueryMods, f.Name) {
			st.photo = append(st.photo, fi)
		}
	}
	st.userTimes = make([][]int64, len(d.Users))
	for u, seq := range d.Users {
		ts := make([]int64, len(seq))
		for k, e := range seq {
			ts[k] = e.Time
		}
		st.userTimes[u] = ts
	}
	graded := 0
	for k, s := range d.Searches {
		if distinct(s.Outcome) >= 2 {
			graded++
			if graded%10 == 0 {
				st.val = append(st.val, int32(k))
				continue
			}
		}
		for p, o := range s.Outcome {
			if o <= 0 {
				continue
			}
			var negs []int32
			for q, o2 := range s.Outcome {
				switch {
				case o2 >= o:
				case s.Judged, q < p:
					// Judged: every item was examined. Live: what was shown above
					// the taken item and passed over.
					negs = append(negs, int32(q))
				case q == p+1 && o2 == 0:
					// The item right below a taken one was likely seen too.
					negs = append(negs, int32(q))
				}
			}
			if len(negs) > 0 {
				st.examples = append(st.examples, searchEx{int32(k), int32(p), negs})
			}
		}
	}
	for i, ws := range d.ItemWords {
		if len(ws) > 0 {
			st.canPseudo = append(st.canPseudo, int32(i))
		}
	}
	for s := range st.shards {
		st.shards[s] = &searchShard{g: NewGrads(n.model), ws: n.newExampleWS(), f: newFeaturizer(x), idx: make([]int32, d.NumItems)}
		for i := range st.shards[s].idx {
			st.shards[s].idx[i] = -1
		}
	}
	return st
}

// distinct counts the distinct values of xs.
func distinct(xs []float32) int {
	seen := map[float32]bool{}
	for _, x := range xs {
		seen[x] = true
	}
	return len(seen)
}

// pseudoCount is the number of catalogue pseudo-queries per epoch: they fill up
// to Options.PseudoQueries examples when the logs have fewer, and are at least
// Options.PseudoShare of the logged examples (requests without an engine score,
// and with a photo, are learned from them).
func (st *searchTrainer) pseudoCount() int {
	if len(st.canPseudo) == 0 || st.n.layout.Words == 0 || st.n.o.PseudoQueries == 0 {
		return 0
	}
	return max(st.n.o.PseudoQueries-len(st.examples), int(st.n.o.PseudoShare*float64(len(st.examples))))
}

// history returns user u's events strictly before t.
func (st *searchTrainer) history(u int32, t int64) []Event {
	if u < 0 {
		return nil
	}
	seq := st.n.d.Users[u]
	return seq[:before(st.userTimes[u], t)]
}

// build lays out the query of a search (words, vectors, the user's history
// before it) into q, and the candidates items (with their engine scores, NaN
// none; already z-scores when standardized, else standardised here) into
// cands, using sh's scratch; match, when not nil, holds the items' match
// features (ranking.NMatch each). It returns the candidates.
func (st *searchTrainer) build(sh *searchShard, q *ranking.Query, cands []ranking.Candidate, hist []Event, t int64,
	words []int32, vectors map[string][]float32, items []int32, engine []float32, standardized bool, match []float32) []ranking.Candidate {
	n, d := st.n, st.n.d
	L := n.layout.Tokens()
	if cap(q.Tokens) < L {
		q.Tokens, q.Modality, q.Mask = make([][]float32, L), make([]int, L), make([]bool, L)
	}
	q.Tokens, q.Modality, q.Mask = q.Tokens[:L], q.Modality[:L], q.Mask[:L]
	clear(q.Tokens)
	clear(q.Modality)
	clear(q.Mask)
	ws := sh.ws
	ws.recent = ws.recent[:0]
	if len(hist) > 0 {
		n.query(ws, hist)
		for k, slot := range ws.slot {
			q.Tokens[slot], q.Modality[slot], q.Mask[slot] = ws.tok[k], ws.mod[k], true
		}
	}
	s := n.layout.Recent + len(n.layout.ProfileMods)
	for _, m := range n.layout.QueryMods {
		if v := vectors[m]; len(v) > 0 {
			if j := n.cfg.ModalityIndex(m); j >= 0 && len(v) == n.cfg.Modalities[j].Dim {
				q.Tokens[s], q.Modality[s], q.Mask[s] = v, j, true
			}
		}
		s++
	}
	tj := n.cfg.ModalityIndex("text")
	for k := 0; k < min(len(words), n.layout.Words); k++ {
		q.Tokens[s+k], q.Modality[s+k], q.Mask[s+k] = d.Vocab[words[k]], tj, true
	}
	// Candidates: tokens and features.
	M := len(n.cfg.Modalities)
	F := ranking.NFeatures
	nC := len(items)
	sh.feats = zeroedF32(sh.feats, nC*F)
	if len(ws.recent) > 0 || st.x.timed {
		for c, it := range items {
			sh.idx[it] = int32(c)
		}
		now := t
		if !st.x.timed {
			now = math.MaxInt64
		}
		sh.f.features(sh.feats, nC, sh.idx, items, ws.recent, now, ownFuture{})
		for _, it := range items {
			sh.idx[it] = -1
		}
		if len(hist) > 0 {
			n.seqFeatures(sh.feats, items, hist, ws.seqH)
		}
	}
	if standardized {
		for c, e := range engine {
			if !math.IsNaN(float64(e)) {
				sh.feats[c*F+ranking.FeatEngine], sh.feats[c*F+ranking.FeatHasEngine] = e, 1
			}
		}
	} else {
		standardizeEngine(sh.feats, engine)
	}
	if match != nil {
		for c := range items {
			copy(sh.feats[c*F+ranking.FeatMatchShare:c*F+ranking.FeatMatchShare+ranking.NMatch], match[c*ranking.NMatch:])
		}
	}
	cands = cands[:0]
	for c, it := range items {
		toks := make([][]float32, M)
		for j := range M {
			var buf []float32
			if j == n.mAttr {
				buf = make([]float32, n.o.AttrDim)
			}
			toks[j] = n.itemToken(it, j, buf)
		}
		cands = append(cands, ranking.Candidate{Tokens: toks, Features: sh.feats[c*F : (c+1)*F]})
	}
	return cands
}

// standardizeEngine writes the engine_score features of the candidates into feats:
// the z-scores of the given scores within the search (serving's rule, so a
// model sees the same numbers in training and in a rerank request) and
// has_engine_score 1; candidates without a score (NaN) keep 0 for both.
func standardizeEngine(feats []float32, engine []float32) {
	F := ranking.NFeatures
	var mx float64
	var xs []float64
	for _, e := range engine {
		if !math.IsNaN(float64(e)) {
			xs = append(xs, float64(e))
			mx = math.Max(mx, math.Abs(float64(e)))
		}
	}
	if len(xs) == 0 {
		return
	}
	var z []float64
	if mx > 0 && !math.IsInf(mx, 0) {
		var sum float64
		for i := range xs {
			xs[i] /= mx
			sum += xs[i]
		}
		mean := sum / float64(len(xs))
		var sq float64
		for _, y := range xs {
			sq += (y - mean) * (y - mean)
		}
		if sd := math.Sqrt(sq / float64(len(xs))); sd >= 1e-12 {
			z = make([]float64, len(xs))
			for i, y := range xs {
				z[i] = (y - mean) / sd
			}
		}
	}
	k := 0
	for c, e := range engine {
		if math.IsNaN(float64(e)) {
			continue
		}
		if z != nil {
			feats[c*F+ranking.FeatEngine] = float32(z[k])
		}
		feats[c*F+ranking.FeatHasEngine] = 1
		k++
	}
}

// epochBatches returns this epoch's search batches: the logged examples and
// the pseudo-queries, shuffled with a generator seeded by (seed, epoch).
func (st *searchTrainer) epochBatches(epoch int) [][]any {
	o := st.n.o
	rng := rand.New(rand.NewPCG(o.Seed^0x736561726368, uint64(epoch)))
	var all []any
	for k := range st.examples {
		all = append(all, &st.examples[k])
	}
	d := st.n.d
	for range st.pseudoCount() {
		it := st.canPseudo[rng.IntN(len(st.canPseudo))]
		words := slices.Clone(d.ItemWords[it])
		rng.Shuffle(len(words), func(a, b int) { words[a], words[b] = words[b], words[a] })
		words = words[:1+rng.IntN(min(4, len(words)))]
		ex := &pseudoEx{item: it, words: words, mod: -1}
		for _, fi := range st.photo {
			if len(d.Fixed[fi].Vectors[it]) > 0 {
				switch rng.IntN(3) {
				case 0: // words only
				case 1: // the photo only
					ex.mod, ex.words = fi, nil
				default:
					ex.mod = fi
				}
				break
			}
		}
		for range o.SearchNegatives {
			if neg := rng.Int32N(int32(d.NumItems)); neg != it {
				ex.negs = append(ex.negs, neg)
			}
		}
		if len(ex.negs) > 0 {
			all = append(all, ex)
		}
	}
	rng.Shuffle(len(all), func(a, b int) { all[a], all[b] = all[b], all[a] })
	var batches [][]any
	for s := 0; s < len(all); s += o.SearchBatch {
		batches = append(batches, all[s:min(s+o.SearchBatch, len(all))])
	}
	return batches
}

// step trains on one batch of search examples: the gradient of the mean
// softmax cross-entropy of each positive against its negatives, times the
// mix weight. It returns the summed loss and the number of examples.
func (st *searchTrainer) step(opt *Adam, g *Grads, batch []any) (float64, int) {
	n := st.n
	d := n.d
	var wg sync.WaitGroup
	workers := min(n.o.Workers, shards)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var q ranking.Query
			var cands []ranking.Candidate
			var items []int32
			var engine, match []float32
			for s := w; s < shards; s += workers {
				sh := st.shards[s]
				sh.g.Zero()
				if n.mix != nil {
					sh.mix.g = growF64(sh.mix.g, len(n.model.Mix))
				}
				sh.loss, sh.count = 0, 0
				lo, hi := s*len(batch)/shards, (s+1)*len(batch)/shards
				for _, e := range batch[lo:hi] {
					items, engine, match = items[:0], engine[:0], match[:0]
					switch ex := e.(type) {
					case *searchEx:
						sr := &d.Searches[ex.s]
						items = append(items, sr.Items[ex.pos])
						for _, k := range ex.negs {
							items = append(items, sr.Items[k])
						}
						// The engine's scores are standardised over the whole list shown.
						engine = standardizedSubset(engine, sr.Engine, ex)
						var m []float32
						if sr.Match != nil {
							for _, k := range append([]int32{ex.pos}, ex.negs...) {
								match = append(match, sr.Match[int(k)*ranking.NMatch:(int(k)+1)*ranking.NMatch]...)
							}
							m = match
						}
						cands = st.build(sh, &q, cands, st.history(sr.User, sr.Time), sr.Time, sr.Words, sr.Vectors, items, engine, true, m)
					case *pseudoEx:
						items = append(append(items, ex.item), ex.negs...)
						for range items {
							engine = append(engine, float32(math.NaN()))
						}
						var vecs map[string][]float32
						if ex.mod >= 0 {
							f := &d.Fixed[ex.mod]
							vecs = map[string][]float32{f.Name: f.Vectors[ex.item]}
						}
						cands = st.build(sh, &q, cands, nil, 0, ex.words, vecs, items, engine, false, nil)
					}
					if !slices.Contains(q.Mask, true) {
						continue
					}
					if n.mix != nil {
						sh.loss += n.mixLossAndGrad(&sh.mix, sh.g, q, cands, 0)
					} else {
						sh.loss += LossAndGrad(n.model, sh.g, nil, q, cands, 0)
					}
					sh.count++
				}
			}
		}()
	}
	wg.Wait()
	g.Zero()
	var loss float64
	var count int
	for _, sh := range st.shards {
		g.Add(sh.g)
		loss += sh.loss
		count += sh.count
	}
	if count == 0 {
		return 0, 0
	}
	g.Scale(st.weight / float64(count))
	opt.Step(n.model, g)
	if n.mix != nil && n.mix.p != nil {
		// The mixer's parameters, stepped as the behavioural batches step them.
		mg := make([]float64, len(n.model.Mix))
		for _, sh := range st.shards {
			for k, v := range sh.mix.g {
				mg[k] += v
			}
		}
		if st.mixG == nil {
			st.mixG = NewSparseGrad(n.mix.p.Dim)
		}
		st.mixG.Reset()
		for r := range n.mix.p.Rows() {
			st.mixG.Add(r, mg[r*n.mix.p.Dim:(r+1)*n.mix.p.Dim], st.weight/float64(count))
		}
		opt.StepEmbeddings(n.mix.p, st.mixG)
	}
	return loss, count
}

// standardizedSubset returns, for the example's candidates (positive, then
// negatives), the engine scores standardised over every shown item of the
// search, so that a candidate's engine feature does not depend on which
// other candidates the example holds (z-scores, NaN for none).
func standardizedSubset(dst []float32, all []float32, ex *searchEx) []float32 {
	F := ranking.NFeatures
	feats := make([]float32, len(all)*F)
	standardizeEngine(feats, all)
	pick := func(k int32) float32 {
		if feats[int(k)*F+ranking.FeatHasEngine] == 0 {
			return float32(math.NaN())
		}
		return feats[int(k)*F+ranking.FeatEngine]
	}
	dst = dst[:0]
	dst = append(dst, pick(ex.pos))
	for _, k := range ex.negs {
		dst = append(dst, pick(k))
	}
	return dst
}

// scores writes the model's score of every shown item of search k to dst.
func (st *searchTrainer) scores(sh *searchShard, dst []float64, k int32) {
	sr := &st.n.d.Searches[k]
	var q ranking.Query
	cands := st.build(sh, &q, nil, st.history(sr.User, sr.Time), sr.Time, sr.Words, sr.Vectors, sr.Items, sr.Engine, false, sr.Match)
	if !slices.Contains(q.Mask, true) {
		// No query token: the score is the scalar features' part alone.
		for c := range cands {
			dst[c] = float64(st.n.model.B[0])
			for f, u := range st.n.model.U {
				dst[c] += float64(u) * float64(cands[c].Features[f])
			}
		}
		return
	}
	if st.n.mix != nil {
		st.n.mixLossAndGrad(&sh.mix, nil, q, cands, 0)
		copy(dst, sh.mix.logit)
		return
	}
	ScoresTo(dst, st.n.model, q, cands)
}

// validate returns the mean NDCG@10 of the validation searches under the
// model (and, for comparison, under the engine's order), NaN without them.
func (st *searchTrainer) validate() (model, engine float64) {
	if len(st.val) == 0 {
		return math.NaN(), math.NaN()
	}
	d := st.n.d
	workers := min(st.n.o.Workers, shards)
	sums := make([][2]float64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh := st.shards[w]
			for v := w; v < len(st.val); v += workers {
				sr := &d.Searches[st.val[v]]
				s := make([]float64, len(sr.Items))
				st.scores(sh, s, st.val[v])
				sums[w][0] += GradedNDCG(s, sr.Outcome, 10)
				for c, e := range sr.Engine {
					s[c] = float64(e)
					if math.IsNaN(s[c]) {
						s[c] = math.Inf(-1)
					}
				}
				sums[w][1] += GradedNDCG(s, sr.Outcome, 10)
			}
		}()
	}
	wg.Wait()
	for _, s := range sums {
		model += s[0]
		engine += s[1]
	}
	return model / float64(len(st.val)), engine / float64(len(st.val))
}

// chooseWeight sets the weight of scalar feature f to the best of ws on the
// validation searches (the first on ties; ws[0] without them) and returns it.
func (st *searchTrainer) chooseWeight(f int, ws []float64) float64 {
	m := st.n.model
	best, bestV := ws[0], math.Inf(-1)
	for _, w := range ws {
		m.U[f] = float32(w)
		v, _ := st.validate()
		if math.IsNaN(v) {
			break
		}
		if v > bestV {
			best, bestV = w, v
		}
	}
	m.U[f] = float32(best)
	return best
}

// hasMatch reports whether some logged search carries match features.
func (st *searchTrainer) hasMatch() bool {
	return slices.ContainsFunc(st.n.d.Searches, func(s Search) bool { return s.Match != nil })
}

// GradedNDCG is NDCG@k of ordering items by scores (higher first; ties keep
// the given order) with gains: Σ_{p<k} gain_p / log2(p+2) over the ideal's.
// 0 when every gain is 0.
func GradedNDCG(scores []float64, gains []float32, k int) float64 {
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	ideal := slices.Clone(gains)
	slices.SortFunc(ideal, func(a, b float32) int { return cmp.Compare(b, a) })
	var dcg, idcg float64
	for p := 0; p < min(k, len(order)); p++ {
		w := 1 / math.Log2(float64(p)+2)
		dcg += float64(gains[order[p]]) * w
		idcg += float64(ideal[p]) * w
	}
	if idcg == 0 {
		return 0
	}
	return dcg / idcg
}

// searchStart gives a model with word slots its start (the "cosine start"):
// Wv = Wo = [I; 0] and the text projection the identity (when d and d_a hold
// the text dimension) or a random N(0, 1/k) map onto the first k = min(d, d_a)
// dimensions (which keeps dot products in expectation), and Wq, Wk scaled by
// 0.1 so that every valid pair starts with nearly the same attention. R_i·V_c of
// a query word and an item's text vector then starts as (about) their cosine,
// the signal a word carries about a title, and training moves it from there: a
// random start has to find that signal first, and on a few thousand searches it
// overfits before it does.
func (n *net) searchStart(rng *rand.Rand) {
	m := n.model
	d, da := n.cfg.DModel, n.cfg.DAttn
	k := min(d, da)
	for _, w := range [][]float32{m.Wv, m.Wo} {
		clear(w)
		for e := range k {
			w[e*da+e] = 1
		}
	}
	for _, w := range [][]float32{m.Wq, m.Wk} {
		for i := range w {
			w[i] *= 0.1
		}
	}
	tj := n.cfg.ModalityIndex("text")
	if tj < 0 {
		return
	}
	dim := n.cfg.Modalities[tj].Dim
	p := m.Proj[tj]
	clear(p)
	if dim <= k {
		for i := range dim {
			p[i*d+i] = 1
		}
		return
	}
	s := 1 / math.Sqrt(float64(k))
	for i := range dim {
		for e := range k {
			p[i*d+e] = float32(rng.NormFloat64() * s)
		}
	}
}

// textDim returns the dimension of the "text" fixed modality, 0 without one.
func (d *Data) textDim() int {
	for _, f := range d.Fixed {
		if f.Name == "text" {
			return f.Dim
		}
	}
	return 0
}
