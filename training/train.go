package training

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/fusionrank/fusionrank/internal/kernel"
	"github.com/fusionrank/fusionrank/ranking"
)

// Curve is the training curve: one entry per epoch.
type Curve struct {
	// Loss is the mean training loss of each epoch.
	Loss []float64
	// Validation is the validation NDCG@10 after each epoch (NaN when there
	// are no validation cases).
	Validation []float64
	// SearchValidation is the validation searches' NDCG@10 after each epoch
	// (NaN when there are none).
	SearchValidation []float64
}

// Result is what Train returns: the scorer at its best validated epoch,
// the query layout it was trained with and the learned item vectors.
type Result struct {
	// Model is the fusion scorer.
	Model *ranking.Model
	// Layout is the query layout the model was trained with; serving must
	// build queries with it.
	Layout ranking.Layout
	// Collab is the learned collab table (NumItems × CollabDim), nil when
	// the collab modality was dropped. Row i is item i's "collab" vector.
	Collab *Embeddings
	// Attr is the learned attribute table (NumAttributes × AttrDim), nil
	// without attributes.
	Attr *Embeddings
	// RecencyEmbedding is the learned recency embedding added to the
	// recent slots' tokens, nil unless Options.RecencyEmbedding. Serving
	// applies it to the recent slots' vectors before Layout.Build (see
	// ranking.RecencyEmbedding.ApplyTo).
	RecencyEmbedding *ranking.RecencyEmbedding
	// Seq are the sequence encoders whose mean score is the seq feature,
	// nil unless Options.Seq (see SeqEncoder for its served form).
	Seq []*SeqModel
	// SeqWeight is the seq feature's initial weight (chosen among
	// Options.SeqWeights on the held-out cases).
	SeqWeight float64
	// PopWeight is the pop_7d feature's initial weight (chosen among
	// Options.PopWeights on the held-out cases; 0 without them).
	PopWeight float64
	// SeqCurve is the first SeqModel's training curve (empty without Seq).
	SeqCurve Curve
	// Curve is the training curve.
	Curve Curve
	// BestEpoch is the epoch (1-based) whose weights were kept.
	BestEpoch int
	// BestValidation is its validation NDCG@10 (NaN without validation).
	BestValidation float64
	// SearchValidation is its NDCG@10 on the validation searches (every
	// tenth logged search with two distinct outcomes; NaN without), and
	// EngineValidation that of the engine's own order on them.
	SearchValidation, EngineValidation float64
	// SearchMix is the search loss weight kept (see Options.SearchMix), and
	// MixValidation the criterion of each candidate (the sum of the
	// behavioural and search validation NDCG@10), in Options.SearchMix order.
	SearchMix     float64
	MixValidation []float64
	// SearchExamples is the number of training examples from logged
	// searches, PseudoQueries the catalogue pseudo-queries per epoch.
	SearchExamples, PseudoQueries int
	// EngineWeight is engine_score's initial weight (chosen among
	// Options.EngineWeights on the validation searches); the learned weight
	// is Model.U[ranking.FeatEngine].
	EngineWeight float64
	// MatchWeight is match_share's initial weight (chosen among
	// Options.MatchWeights on the validation searches when the logged
	// searches carry match features); the learned weight is
	// Model.U[ranking.FeatMatchShare].
	MatchWeight float64

	n *net
}

// ItemVectors returns the learned per-item vectors of modality mod
// ("collab" or "attr"; the attr vector is the mean of the item's attribute
// embeddings), nil entries for items without one. Serving stores them as
// the item vectors of the model version.
func (r *Result) ItemVectors(mod string) [][]float32 {
	j := r.n.cfg.ModalityIndex(mod)
	if j < 0 || r.n.fixedOf[j] >= 0 {
		return nil
	}
	out := make([][]float32, r.n.d.NumItems)
	for i := range out {
		buf := make([]float32, r.n.cfg.Modalities[j].Dim)
		if v := r.n.itemToken(int32(i), j, buf); v != nil {
			out[i] = append([]float32(nil), v...)
		}
	}
	return out
}

type trainer struct {
	n        *net
	x        *counts
	timed    bool
	examples []example
	negCDF   []float64
	opt      *Adam
	embOpt   *Adam // the embedding tables' optimizer (own weight decay)
	g        *Grads
	collabG  *SparseGrad
	attrG    *SparseGrad
	mixG     *SparseGrad // the mixer's parameters (non-attention modes)
	bi       batchItems
	shards   [shards]*shard
	search   *searchTrainer // nil without query slots
	searchG  *Grads
}

// Train learns the fusion scorer, the collab item vectors and the attribute
// embeddings from d, validating on val (NDCG@10 over the whole catalogue,
// history masked) after each epoch and keeping the best epoch's weights.
// Every user event after the first is a training example; with query slots
// (Data.Vocab), so is every taken item of a logged search and every
// catalogue pseudo-query (see Search). The result depends only on d, val and
// o (not on o.Workers or scheduling).
func Train(d *Data, val []Case, o Options) (*Result, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	if o.PseudoQueries == 0 {
		o.PseudoQueries = min(d.NumItems, 20000)
	} else if o.PseudoQueries < 0 {
		o.PseudoQueries = 0
	}
	if d.searchable() && !d.hasBehaviour() {
		// Searches only: no behaviour to learn collab vectors or a sequence
		// encoder from, and room for the exact cosine start (d = d_a = the
		// text dimension; see searchStart).
		o.NoCollab = true
		o.Seq, o.SeqModels = nil, nil
		o.DModel, o.DAttn = d.textDim(), d.textDim()
	}
	mix := o.SearchMix
	if !d.searchable() || !d.hasBehaviour() || len(mix) == 1 {
		o.SearchMix = mix[:1]
		return train(d, val, o)
	}
	// One model per mix; the best on the held-out cases is kept.
	var best *Result
	var crits []float64
	for _, w := range mix {
		o.SearchMix = []float64{w}
		res, err := train(d, val, o)
		if err != nil {
			return nil, err
		}
		c := criterion(res.BestValidation, res.SearchValidation)
		crits = append(crits, c)
		if best == nil || c > criterion(best.BestValidation, best.SearchValidation) {
			best = res
		}
	}
	best.MixValidation = crits
	return best, nil
}

// ErrStopped is Train's error when Options.Stop was closed.
var ErrStopped = errors.New("training: stopped")

// stopped reports whether stop is closed (never, for nil).
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// criterion is what early stopping and the mix choice maximise: the sum of the
// behavioural and the search validation NDCG@10 (those that exist; NaN when
// neither does).
func criterion(behaviour, search float64) float64 {
	switch {
	case math.IsNaN(behaviour):
		return search
	case math.IsNaN(search):
		return behaviour
	}
	return behaviour + search
}

func train(d *Data, val []Case, o Options) (*Result, error) {
	rng := rand.New(rand.NewPCG(o.Seed, 0x66757369))
	n, err := newNet(d, o, rng)
	if err != nil {
		return nil, err
	}
	n.model.U[ranking.FeatCovis] = float32(o.InitCovis)
	tr := &trainer{n: n, x: newCounts(d), timed: d.timed()}
	tr.opt = NewAdam(AdamConfig{LR: o.LR, WeightDecay: o.WeightDecay})
	tr.embOpt = tr.opt
	if o.EmbedWeightDecay > 0 {
		tr.embOpt = NewAdam(AdamConfig{LR: o.LR, WeightDecay: o.EmbedWeightDecay})
	}
	tr.g = NewGrads(n.model)
	if n.collab != nil {
		tr.collabG = NewSparseGrad(o.CollabDim)
	}
	if n.attr != nil {
		tr.attrG = NewSparseGrad(o.AttrDim)
	}
	cnt := make([]float64, d.NumItems)
	for u, seq := range d.Users {
		for t := range seq {
			cnt[seq[t].Item]++
			if t > 0 && histEnd(seq, t, tr.timed) > 0 {
				tr.examples = append(tr.examples, example{int32(u), int32(t)})
			}
		}
	}
	tr.negCDF = make([]float64, d.NumItems)
	var acc float64
	for i, c := range cnt {
		acc += math.Pow(1+c, o.NegPower)
		tr.negCDF[i] = acc
	}
	tr.bi.idx = make([]int32, d.NumItems)
	for i := range tr.bi.idx {
		tr.bi.idx[i] = -1
	}
	// The start weights are chosen on up to ChooseValidation held-out
	// cases, early stopping looks at up to MaxValidation (evenly spaced
	// subsets).
	choice := spaced(val, o.ChooseValidation)
	val = spaced(val, o.MaxValidation)
	var seqCurve Curve
	if len(o.SeqModels) > 0 {
		n.seq = o.SeqModels
	} else if o.Seq != nil {
		for k := range max(o.Seq.Members, 1) {
			on := func(epoch int, loss, v float64) {
				if k == 0 {
					seqCurve.Loss = append(seqCurve.Loss, loss)
					seqCurve.Validation = append(seqCurve.Validation, v)
				}
				if o.OnSeqEpoch != nil {
					o.OnSeqEpoch(epoch, loss, v)
				}
			}
			sm, err := trainSeq(d, val, *o.Seq, o.Seed+uint64(k), o.Workers, on, o.Stop)
			if err != nil {
				return nil, err
			}
			n.seq = append(n.seq, sm)
		}
	}
	if stopped(o.Stop) {
		return nil, ErrStopped
	}
	// chooseU sets the initial weight of scalar feature f to the best of
	// ws on the held-out cases (the first without them); Result reports
	// the weights.
	chosen := make([]float64, len(n.model.U))
	for f, u := range n.model.U {
		chosen[f] = float64(u)
	}
	// One scorer serves every choice: it reads the weights U when it scores,
	// so a later choice sees an earlier one.
	var chooser *Scorer
	chooseU := func(f int, ws []float64) {
		n.model.U[f], chosen[f] = float32(ws[0]), ws[0]
		if len(ws) > 1 && len(choice) > 0 {
			if chooser == nil {
				chooser = newScorer(n, tr.x)
			}
			chosen[f] = chooser.chooseWeight(choice, f, ws, o.Workers)
			n.model.U[f] = float32(chosen[f])
		}
	}
	if len(o.PopWeights) > 0 && tr.timed {
		chooseU(ranking.FeatPop7d, o.PopWeights)
	}
	if len(n.seq) > 0 {
		ws := o.SeqWeights
		if len(ws) == 0 {
			ws = []float64{1}
		}
		chooseU(ranking.FeatSeq, ws)
	}
	if stopped(o.Stop) {
		return nil, ErrStopped
	}
	for s := range tr.shards {
		sh := &shard{g: NewGrads(n.model), f: newFeaturizer(tr.x), ws: n.newExampleWS()}
		if n.collab != nil {
			sh.collab = NewSparseGrad(o.CollabDim)
		}
		tr.shards[s] = sh
	}

	res := &Result{Layout: n.layout, BestValidation: math.NaN(), Seq: n.seq, SeqWeight: chosen[ranking.FeatSeq], PopWeight: chosen[ranking.FeatPop7d], SeqCurve: seqCurve,
		SearchValidation: math.NaN(), EngineValidation: math.NaN(), SearchMix: o.SearchMix[0]}
	if n.layout.Words > 0 {
		n.searchStart(rng)
		tr.search = newSearchTrainer(n, tr.x)
		tr.search.weight = o.SearchMix[0]
		tr.searchG = NewGrads(n.model)
		res.SearchExamples, res.PseudoQueries = len(tr.search.examples), tr.search.pseudoCount()
		res.EngineWeight = float64(n.model.U[ranking.FeatEngine])
		if len(tr.search.val) > 0 {
			res.EngineWeight = tr.search.chooseWeight(ranking.FeatEngine, o.EngineWeights)
			if tr.search.hasMatch() {
				res.MatchWeight = tr.search.chooseWeight(ranking.FeatMatchShare, o.MatchWeights)
			}
		}
	}
	// validate returns the behavioural and the search validation NDCG@10 (NaN
	// when there are no such cases).
	validate := func() (float64, float64) {
		v, sv := math.NaN(), math.NaN()
		if len(val) > 0 {
			v = newScorer(n, tr.x).NDCG(val, 10, o.Workers)
		}
		if tr.search != nil {
			sv, res.EngineValidation = tr.search.validate()
		}
		return v, sv
	}
	var best *net
	bad := 0
	bestCrit := math.NaN()
	if v, sv := validate(); !math.IsNaN(criterion(v, sv)) {
		// Epoch 0: the initial model (the counting model when InitCovis is
		// set) is kept unless training beats it.
		best = n.snapshot()
		res.BestValidation, res.SearchValidation, bestCrit = v, sv, criterion(v, sv)
		if o.OnEpoch != nil {
			o.OnEpoch(0, math.NaN(), v)
		}
	}
	for epoch := 1; epoch <= o.Epochs; epoch++ {
		if stopped(o.Stop) {
			return nil, ErrStopped
		}
		loss := tr.epoch(epoch)
		if stopped(o.Stop) {
			return nil, ErrStopped
		}
		res.Curve.Loss = append(res.Curve.Loss, loss)
		v, sv := validate()
		res.Curve.Validation = append(res.Curve.Validation, v)
		res.Curve.SearchValidation = append(res.Curve.SearchValidation, sv)
		if o.OnEpoch != nil {
			o.OnEpoch(epoch, loss, v)
		}
		if c := criterion(v, sv); math.IsNaN(c) || math.IsNaN(bestCrit) || c > bestCrit {
			best = n.snapshot()
			res.BestEpoch, res.BestValidation, res.SearchValidation, bestCrit = epoch, v, sv, c
			bad = 0
		} else if bad++; bad >= o.Patience {
			break
		}
	}
	if best == nil { // no validation and no epoch
		best = n.snapshot()
	}
	res.n = best
	res.Model, res.Collab, res.Attr, res.RecencyEmbedding = best.model, best.collab, best.attr, best.enc
	return res, nil
}

// snapshot returns a deep copy of the learned state.
func (n *net) snapshot() *net {
	c := *n
	c.model = n.model.Clone()
	if n.collab != nil {
		c.collab = &Embeddings{Dim: n.collab.Dim, Data: append([]float32(nil), n.collab.Data...)}
	}
	if n.attr != nil {
		c.attr = &Embeddings{Dim: n.attr.Dim, Data: append([]float32(nil), n.attr.Data...)}
	}
	if n.enc != nil {
		c.enc = &ranking.RecencyEmbedding{Dim: n.enc.Dim, Pos: append([]float32(nil), n.enc.Pos...)}
		c.encEmb = nil
	}
	if n.mix != nil {
		c.mix = n.mix.cloneFor(c.model)
	}
	return &c
}

// epoch runs one pass over the examples in a seeded order and returns the
// mean loss (the behavioural loss; the search loss when there is no
// behaviour). The search batches are spread evenly between the behavioural
// ones.
func (tr *trainer) epoch(epoch int) float64 {
	var sb [][]any
	if tr.search != nil {
		sb = tr.search.epochBatches(epoch)
	}
	var sloss float64
	var scount, done int
	runSearch := func(upTo int) {
		for ; done < upTo; done++ {
			l, c := tr.search.step(tr.opt, tr.searchG, sb[done])
			sloss += l
			scount += c
		}
	}
	if len(tr.examples) == 0 {
		runSearch(len(sb))
		if scount == 0 {
			return math.NaN()
		}
		return sloss / float64(scount)
	}
	bs := tr.n.o.BatchSize
	nb := (len(tr.examples) + bs - 1) / bs
	k := 0
	loss := runEpoch(tr.examples, tr.n.o.Seed, epoch, bs, tr.n.o.Stop, func(batch []example, rng *rand.Rand) (float64, int) {
		l, c := tr.step(batch, rng)
		k++
		runSearch(k * len(sb) / nb)
		return l, c
	})
	runSearch(len(sb))
	return loss
}

// runEpoch shuffles the examples with a generator seeded by (seed, epoch), runs step on
// each batch with its own generator seeded by (seed, epoch, batch), and returns the
// mean loss over the examples that counted (NaN if none did). The seeding makes an
// epoch reproducible whatever the number of goroutines step uses. Once stop is
// closed it runs no further batch (the caller checks stop).
func runEpoch(examples []example, seed uint64, epoch, batchSize int, stop <-chan struct{}, step func([]example, *rand.Rand) (float64, int)) float64 {
	order := append([]example(nil), examples...)
	rng := rand.New(rand.NewPCG(seed, uint64(epoch)))
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	var loss float64
	var count int
	for b, start := 0, 0; start < len(order); b, start = b+1, start+batchSize {
		if stopped(stop) {
			break
		}
		batch := order[start:min(start+batchSize, len(order))]
		brng := rand.New(rand.NewPCG(seed^0x6e6567, uint64(epoch)<<32|uint64(b)))
		l, c := step(batch, brng)
		loss += l
		count += c
	}
	if count == 0 {
		return math.NaN()
	}
	return loss / float64(count)
}

// step trains on one batch and returns the summed loss and the number of
// examples that counted.
func (tr *trainer) step(batch []example, rng *rand.Rand) (float64, int) {
	n, d, o := tr.n, tr.n.d, tr.n.o
	bi := &tr.bi
	// Candidates: the batch's positives, then sampled negatives, each once.
	bi.items = bi.items[:0]
	add := func(it int32) {
		if bi.idx[it] < 0 {
			bi.idx[it] = int32(len(bi.items))
			bi.items = append(bi.items, it)
		}
	}
	for _, ex := range batch {
		add(d.Users[ex.u][ex.t].Item)
	}
	if o.HardNegatives > 0 {
		x := tr.x
		for _, ex := range batch {
			seq := d.Users[ex.u]
			hist, _, _ := pointInTime(seq, int(ex.t), tr.timed)
			if len(hist) == 0 {
				continue
			}
			r := hist[len(hist)-1].Item
			lo, hi := x.fStart[r], x.fStart[r+1]
			if lo == hi {
				continue
			}
			var tot int32
			for e := lo; e < hi; e++ {
				tot += x.fCount[e]
			}
			for range o.HardNegatives {
				k := rng.Int32N(tot)
				e := lo
				for ; k >= x.fCount[e]; e++ {
					k -= x.fCount[e]
				}
				add(x.fItem[e])
			}
		}
	}
	total := tr.negCDF[len(tr.negCDF)-1]
	for range o.Negatives {
		r := rng.Float64() * total
		add(int32(sort.SearchFloat64s(tr.negCDF, r)))
	}
	defer func() {
		for _, it := range bi.items {
			bi.idx[it] = -1
		}
	}()
	tr.itemForward()
	// Examples, in shards.
	M, da := len(n.cfg.Modalities), n.cfg.DAttn
	nC := len(bi.items)
	var wg sync.WaitGroup
	workers := min(o.Workers, shards)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := w; s < shards; s += workers {
				sh := tr.shards[s]
				sh.g.Zero()
				sh.dk = zeroedF32(sh.dk, nC*M*da)
				sh.dv = zeroedF32(sh.dv, nC*M*da)
				if sh.collab != nil {
					sh.collab.Reset()
				}
				if n.enc != nil {
					sh.enc = zeroedF64(sh.enc, len(n.enc.Pos))
				}
				sh.loss, sh.count = 0, 0
				if n.mix != nil {
					n.resetMixShard(sh, nC)
				}
				lo, hi := s*len(batch)/shards, (s+1)*len(batch)/shards
				for _, ex := range batch[lo:hi] {
					seq := d.Users[ex.u]
					hist, cutoff, own := pointInTime(seq, int(ex.t), tr.timed)
					l, ok := n.exampleStep(sh, bi, hist, seq[ex.t].Item, cutoff, own)
					if ok {
						sh.loss += l
						sh.count++
					}
				}
			}
		}()
	}
	wg.Wait()
	// Reduce in shard order.
	tr.g.Zero()
	bi.dk = zeroedF32(bi.dk, nC*M*da)
	bi.dv = zeroedF32(bi.dv, nC*M*da)
	var loss float64
	var count int
	if tr.collabG != nil {
		tr.collabG.Reset()
	}
	if tr.attrG != nil {
		tr.attrG.Reset()
	}
	for _, sh := range tr.shards {
		tr.g.Add(sh.g)
		kernel.Axpy(bi.dk, 1, sh.dk)
		kernel.Axpy(bi.dv, 1, sh.dv)
		loss += sh.loss
		count += sh.count
	}
	if count == 0 {
		return 0, 0
	}
	inv := 1 / float64(count)
	for _, sh := range tr.shards {
		if sh.collab == nil {
			continue
		}
		for k, r := range sh.collab.Rows() {
			tr.collabG.Add(r, sh.collab.Grad(k), inv)
		}
	}
	var encG *SparseGrad
	if n.enc != nil {
		encG = NewSparseGrad(n.enc.Dim)
		for _, sh := range tr.shards {
			for k := range n.enc.Recent() {
				encG.Add(k, sh.enc[k*n.enc.Dim:(k+1)*n.enc.Dim], inv)
			}
		}
	}
	if n.mix != nil {
		tr.mixBackward(inv)
	} else {
		tr.itemBackward(inv)
	}
	tr.g.Scale(inv)
	tr.opt.Step(n.model, tr.g)
	if n.mix != nil && n.mix.p != nil {
		tr.opt.StepEmbeddings(n.mix.p, tr.mixG)
	}
	if tr.embOpt != tr.opt {
		tr.embOpt.Step(nil, nil) // advances its step count only
	}
	if tr.collabG != nil {
		tr.embOpt.StepEmbeddings(n.collab, tr.collabG)
	}
	if tr.attrG != nil {
		tr.embOpt.StepEmbeddings(n.attr, tr.attrG)
	}
	if encG != nil {
		tr.embOpt.StepEmbeddings(n.encEmb, encG)
	}
	return loss, count
}

// itemForward computes the candidates' tokens, projections, keys and values.
func (tr *trainer) itemForward() {
	n, bi := tr.n, &tr.bi
	m := n.model
	M, d, da := len(n.cfg.Modalities), n.cfg.DModel, n.cfg.DAttn
	nC := len(bi.items)
	bi.y = zeroedF32(bi.y, nC*M*d)
	bi.k = zeroedF32(bi.k, nC*M*da)
	bi.v = zeroedF32(bi.v, nC*M*da)
	if cap(bi.kmask) < nC*M {
		bi.kmask = make([]bool, nC*M)
		bi.tok = make([][]float32, nC*M)
	}
	bi.kmask, bi.tok = bi.kmask[:nC*M], bi.tok[:nC*M]
	if n.mAttr >= 0 {
		bi.attr = zeroedF32(bi.attr, nC*n.o.AttrDim)
	}
	for c, it := range bi.items {
		for j := range M {
			cj := c*M + j
			var buf []float32
			if j == n.mAttr {
				buf = bi.attr[c*n.o.AttrDim : (c+1)*n.o.AttrDim]
			}
			tok := n.itemToken(it, j, buf)
			bi.tok[cj] = tok
			bi.kmask[cj] = tok != nil
			if tok == nil {
				continue
			}
			y := bi.y[cj*d : (cj+1)*d]
			copy(y, m.ProjBias[j])
			kernel.VecMatAddTo(y, tok, m.Proj[j])
			kernel.VecMatTo(bi.k[cj*da:(cj+1)*da], y, m.Wk)
			kernel.VecMatTo(bi.v[cj*da:(cj+1)*da], y, m.Wv)
		}
	}
	if n.mix != nil {
		tr.mixItemForward()
	}
}

// itemBackward backpropagates the reduced ∂L/∂K and ∂L/∂V through the item
// side into tr.g and the embedding gradients, scaled by inv.
func (tr *trainer) itemBackward(inv float64) {
	n, bi := tr.n, &tr.bi
	m := n.model
	M, d, da := len(n.cfg.Modalities), n.cfg.DModel, n.cfg.DAttn
	dy := make([]float32, d)
	dtok := make([]float32, max(n.o.CollabDim, n.o.AttrDim))
	dtok64 := make([]float64, len(dtok))
	for c, it := range bi.items {
		for j := range M {
			cj := c*M + j
			if !bi.kmask[cj] {
				continue
			}
			dk, dv := bi.dk[cj*da:(cj+1)*da], bi.dv[cj*da:(cj+1)*da]
			y := bi.y[cj*d : (cj+1)*d]
			// tr.g is scaled by inv after this; the embedding gradients are
			// scaled here.
			kernel.AddOuter64(tr.g.Wk, y, dk)
			kernel.AddOuter64(tr.g.Wv, y, dv)
			kernel.MatVecTo(dy, m.Wk, dk)
			kernel.MatVecAddTo(dy, m.Wv, dv)
			tr.projectBack(j, it, bi.tok[cj], dy, dtok, dtok64, inv)
		}
	}
}

// projectBack takes ∂L/∂y of item it's modality-j row y = tok·Proj_j + bias_j into the
// projection's gradient in tr.g and, for a learned modality (collab, attributes), into
// the embedding gradients scaled by inv. dtok and dtok64 are scratch of at least the
// modality's dimension.
func (tr *trainer) projectBack(j int, it int32, tok, dy, dtok []float32, dtok64 []float64, inv float64) {
	n := tr.n
	kernel.AddOuter64(tr.g.Proj[j], tok, dy)
	kernel.Axpy64(tr.g.ProjBias[j], 1, dy)
	if n.fixedOf[j] >= 0 {
		return
	}
	dim := n.cfg.Modalities[j].Dim
	dt := dtok[:dim]
	kernel.MatVecTo(dt, n.model.Proj[j], dy)
	d64 := dtok64[:dim]
	for k, v := range dt {
		d64[k] = float64(v)
	}
	if j == n.mCollab {
		tr.collabG.Add(int(it), d64, inv)
		return
	}
	as := n.d.Attributes[it]
	w := inv / float64(len(as))
	for _, a := range as {
		tr.attrG.Add(int(a), d64, w)
	}
}

// pointInTime returns what the example at position t of seq may see: its
// history, the cutoff time of its features (interactions strictly before
// the target's time; every interaction in untimed data) and the part of its
// own sequence that untimed features must not count (its target and
// after).
func pointInTime(seq []Event, t int, timed bool) ([]Event, int64, ownFuture) {
	hist := seq[:histEnd(seq, t, timed)]
	if timed {
		return hist, seq[t].Time, ownFuture{seq, t}
	}
	return hist, math.MaxInt64, ownFuture{seq, t}
}

// spaced returns at most n cases of cs, evenly spaced (cs itself when it
// has no more).
func spaced(cs []Case, n int) []Case {
	if len(cs) <= n {
		return cs
	}
	sub := make([]Case, n)
	for k := range sub {
		sub[k] = cs[k*len(cs)/n]
	}
	return sub
}
