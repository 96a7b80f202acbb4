package training

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/internal/kernel"
	"github.com/fusionrank/fusionrank/ranking"
)

// SeqOptions configure the sequence encoder (see SeqModel). A zero field
// takes its default.
type SeqOptions struct {
	// Dim is the dimension of the item embeddings and of the query; default 64.
	Dim int
	// Window is the number of most recent history events pooled; default 20.
	Window int
	// Negatives is the number of items drawn uniformly per batch and shared
	// by its examples as negatives, beside the batch's positives; default 1024.
	Negatives int
	// NegPower, when positive, draws the negatives with probability ∝
	// (1+count)^NegPower instead of uniformly, and subtracts log(Negatives·q_c)
	// from every candidate's training logit (q_c its draw probability: the
	// sampled-softmax correction); default 0 (uniform, no correction needed).
	NegPower float64
	// BatchSize is the number of examples per step; default 256.
	BatchSize int
	// LR is the AdamW learning rate; default 1e-3.
	LR float64
	// WeightDecay is AdamW's decoupled weight decay on the rows a step
	// touches; default 0.
	WeightDecay float64
	// Dropout is the probability of zeroing each component of the pooled
	// query during training (inverted dropout); default 0.
	Dropout float64
	// Epochs is the maximum number of passes; default 20.
	Epochs int
	// Patience stops training after this many epochs without a better
	// validation NDCG@10; default 2.
	Patience int
	// EmbedStd is the standard deviation of the initial embeddings; default 0.05.
	EmbedStd float64
	// Members is the number of SeqModels trained (seeds Seed, Seed+1, …)
	// whose mean score is the feature (Options.Seq); default 1.
	Members int
}

func (o SeqOptions) withDefaults() SeqOptions {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&o.Dim, 64)
	def(&o.Window, 20)
	def(&o.Negatives, 1024)
	def(&o.BatchSize, 256)
	def(&o.Epochs, 20)
	def(&o.Patience, 2)
	if o.LR <= 0 {
		o.LR = 1e-3
	}
	if o.WeightDecay < 0 {
		o.WeightDecay = 0
	}
	if o.NegPower < 0 {
		o.NegPower = 0
	}
	if o.Dropout < 0 || o.Dropout >= 1 {
		o.Dropout = 0
	}
	if o.EmbedStd <= 0 {
		o.EmbedStd = 0.05
	}
	return o
}

// SeqModel is the sequence encoder of the query side: a position-aware
// pooling of the user's last Window distinct items. With r_k the k-th most
// recent distinct item (k = 0 the latest; an item seen twice counts at its
// latest position, as in the feature store's recent items), E the item
// embeddings (one table for the pooled history and the scored item), g_k
// the learned gate of position k and b_c an item bias,
//
//	h      = Σ_{k < min(Window, |H|)} g_k ⊙ E[r_k]
//	seq(c) = h · E[c] + b_c
//
// which is what the service computes (ranking.SeqEncoder). It is trained alone, before the fusion scorer, with the softmax
// cross-entropy of each example's positive over the batch's positives and
// Negatives shared uniform negatives (the history excluded, as in
// evaluation), at every position of every training sequence. Its score
// enters the fusion scorer as a scalar feature (see Options.Seq).
type SeqModel struct {
	// Dim and Window are the query dimension and the pooled window.
	Dim, Window int
	// Items are the item embeddings E (NumItems × Dim).
	Items *Embeddings
	// Gate is Window × Dim: row k weighs the k-th most recent item.
	Gate *Embeddings
	// Bias is NumItems × 1.
	Bias *Embeddings
}

// seqScratch holds a query's intermediates for the backward pass.
type seqScratch struct {
	items []int32 // the distinct recent items, most recent first
}

func newSeqModel(numItems int, o SeqOptions, rng *rand.Rand) *SeqModel {
	s := &SeqModel{Dim: o.Dim, Window: o.Window,
		Items: NewEmbeddings(numItems, o.Dim, o.EmbedStd, rng),
		Gate:  NewEmbeddings(o.Window, o.Dim, 0, nil),
		Bias:  NewEmbeddings(numItems, 1, 0, nil),
	}
	// The seed's stream then skips a second table's draws, so every later
	// draw (negatives, dropout, example order) is the one the registered
	// models of a seed were trained with.
	for range numItems * o.Dim {
		rng.NormFloat64()
	}
	for k := range o.Window {
		w := float32(math.Pow(0.5, float64(k)))
		for e := range s.Gate.Row(k) {
			s.Gate.Row(k)[e] = w
		}
	}
	return s
}

// QueryTo writes the query h of a history (oldest first) to h (len Dim).
func (s *SeqModel) QueryTo(h []float32, hist []Event) {
	var sc seqScratch
	s.query(h, hist, &sc)
}

func (s *SeqModel) query(h []float32, hist []Event, sc *seqScratch) {
	clear(h)
	sc.items = recentItems(sc.items, hist, s.Window)
	for k, it := range sc.items {
		kernel.AddMul(h, s.Gate.Row(k), s.Items.Row(int(it)))
	}
}

// Score returns seq(c) for the query h.
func (s *SeqModel) Score(h []float32, c int32) float32 {
	return kernel.Dot(h, s.Items.Row(int(c))) + s.Bias.Data[c]
}

// ScoreTo writes seq(c) of every item c for hist to dst (len NumItems).
func (s *SeqModel) ScoreTo(dst []float32, hist []Event) {
	h := make([]float32, s.Dim)
	s.QueryTo(h, hist)
	for c := range dst {
		dst[c] = s.Score(h, int32(c))
	}
}

func (s *SeqModel) clone() *SeqModel {
	cp := func(e *Embeddings) *Embeddings {
		return &Embeddings{Dim: e.Dim, Data: append([]float32(nil), e.Data...)}
	}
	return &SeqModel{Dim: s.Dim, Window: s.Window, Items: cp(s.Items), Gate: cp(s.Gate), Bias: cp(s.Bias)}
}

// seqShard accumulates one part of a batch's gradients.
type seqShard struct {
	dOut  []float32 // nC × Dim
	dBias []float64 // nC
	dIn   *SparseGrad
	dGate []float64 // Window × Dim
	loss  float64
	count int
	// scratch: the examples, their queries Q (n × Dim), their logits and
	// then ∂L/∂logit (L, n × nC), ∂L/∂q (dQ, n × Dim), one seqScratch each
	exs        []seqExample
	scs        []seqScratch
	live       []bool
	qm, lg, dq []float32
	dh         []float32
	logit      []float64
	g64        []float64
}

// seqExample is one training example of a shard: the history before the
// target (point in time), the target and the query's dropout mask (nil
// without dropout).
type seqExample struct {
	hist   []Event
	target int32
	mask   []float32
}

func (s *SeqModel) newShard() *seqShard {
	return &seqShard{dIn: NewSparseGrad(s.Dim), dGate: make([]float64, s.Window*s.Dim),
		dh: make([]float32, s.Dim), g64: make([]float64, s.Dim)}
}

// gather writes the rows of e listed in items to dst (len(items) × e.Dim).
func gather(dst []float32, e *Embeddings, items []int32) {
	D := e.Dim
	for c, it := range items {
		copy(dst[c*D:(c+1)*D], e.Row(int(it)))
	}
}

// batchGrad runs examples against the candidates items (idx maps an item to
// its candidate index; outG holds their output rows, gathered): it adds the
// gradients of their summed loss to sh and returns that loss and the number
// of examples counted (those with a history whose target is a candidate).
// corr, when not nil, is subtracted from the candidates' logits (the
// sampled-softmax correction). History items other than the target are
// excluded from each example's softmax. The output side of the gradient
// (∂L/∂E[c] of the scored items) goes to sh.dOut, the input side (the
// pooled rows) to sh.dIn; the step sums them into the one table.
//
// The three products of the pass (logits Q·Outᵀ, ∂L/∂Q = P·Out and
// ∂L/∂Out += Pᵀ·Q, P the logits' gradients) are matrix products of the
// shard's examples against the candidates (kernel.MatMulTo; see
// BenchmarkSeqProducts); the logits take the transposed output rows, outT
// (Dim × nC, transposed once per batch; nil: the product reads outG
// transposed).
func (s *SeqModel) batchGrad(sh *seqShard, items, idx []int32, outG, outT []float32, corr []float64, exs []seqExample) (float64, int) {
	D, nC, n := s.Dim, len(items), len(exs)
	if n == 0 {
		return 0, 0
	}
	if cap(sh.scs) < n {
		sh.scs = append(sh.scs[:cap(sh.scs)], make([]seqScratch, n-cap(sh.scs))...)
	}
	sh.scs = sh.scs[:n]
	if cap(sh.live) < n {
		sh.live = make([]bool, n)
	}
	sh.live = sh.live[:n]
	sh.qm = zeroedF32(sh.qm, n*D)
	sh.lg = zeroedF32(sh.lg, n*nC)
	sh.dq = zeroedF32(sh.dq, n*D)
	for j, ex := range exs {
		q := sh.qm[j*D : (j+1)*D]
		sh.live[j] = idx[ex.target] >= 0 && len(ex.hist) > 0
		if !sh.live[j] {
			clear(q)
			continue
		}
		s.query(q, ex.hist, &sh.scs[j])
		if ex.mask != nil {
			for i := range q {
				q[i] *= ex.mask[i]
			}
		}
	}
	qm := kernel.Mat{Rows: n, Cols: D, Stride: D, Data: sh.qm}
	lg := kernel.Mat{Rows: n, Cols: nC, Stride: nC, Data: sh.lg}
	out := kernel.Mat{Rows: nC, Cols: D, Stride: D, Data: outG[:nC*D]}
	if outT != nil {
		kernel.MatMulTo(lg, qm, kernel.NoTrans, kernel.Mat{Rows: D, Cols: nC, Stride: nC, Data: outT}, kernel.NoTrans)
	} else {
		kernel.MatMulTo(lg, qm, kernel.NoTrans, out, kernel.Trans)
	}
	sh.logit = zeroedF64(sh.logit, nC)
	var loss float64
	count := 0
	for j, ex := range exs {
		row := sh.lg[j*nC : (j+1)*nC]
		if !sh.live[j] {
			clear(row)
			continue
		}
		pos := idx[ex.target]
		logit := sh.logit
		for c, it := range items {
			z := float64(row[c] + s.Bias.Data[it])
			if corr != nil {
				z -= corr[c]
			}
			logit[c] = z
		}
		for _, e := range ex.hist {
			if c := idx[e.Item]; c >= 0 && c != pos {
				logit[c] = math.Inf(-1)
			}
		}
		mx := math.Inf(-1)
		for _, z := range logit {
			mx = max(mx, z)
		}
		var sum float64
		for c, z := range logit {
			logit[c] = math.Exp(z - mx) // −Inf → 0
			sum += logit[c]
		}
		// logit[pos] now holds exp(z_pos − mx).
		loss += math.Log(sum) - math.Log(logit[pos])
		count++
		for c := range logit {
			delta := logit[c] / sum
			if int32(c) == pos {
				delta--
			}
			row[c] = float32(delta)
			sh.dBias[c] += delta
		}
	}
	kernel.MatMulTo(kernel.Mat{Rows: n, Cols: D, Stride: D, Data: sh.dq}, lg, kernel.NoTrans, out, kernel.NoTrans)
	kernel.MatMulAddTo(kernel.Mat{Rows: nC, Cols: D, Stride: D, Data: sh.dOut}, lg, kernel.Trans, qm, kernel.NoTrans)
	for j, ex := range exs {
		if !sh.live[j] {
			continue
		}
		dh := sh.dh
		copy(dh, sh.dq[j*D:(j+1)*D])
		if ex.mask != nil {
			for i := range dh {
				dh[i] *= ex.mask[i]
			}
		}
		sc := &sh.scs[j]
		for k, it := range sc.items {
			r := int(it)
			g, e := s.Gate.Row(k), s.Items.Row(r)
			dg := sh.dGate[k*D : (k+1)*D]
			for i := range D {
				sh.g64[i] = float64(g[i] * dh[i])
				dg[i] += float64(e[i] * dh[i])
			}
			sh.dIn.Add(r, sh.g64, 1)
		}
	}
	return loss, count
}

// seqTrainer trains a SeqModel.
type seqTrainer struct {
	s        *SeqModel
	d        *Data
	o        SeqOptions
	seed     uint64
	workers  int
	timed    bool
	examples []example
	shards   [shards]*seqShard
	opt      *Adam
	items    []int32
	idx      []int32
	outG     []float32 // the batch's candidates' output rows
	outT     []float32 // outG transposed (Dim × nC), the logits' right operand
	masks    []float32 // the batch's dropout masks
	gOut     *SparseGrad
	gBias    *SparseGrad
	gIn      *SparseGrad
	gGate    *SparseGrad
	// negCDF and logq (log of Negatives × the draw probability) when
	// NegPower > 0; corr is the batch's candidates' logq.
	negCDF, logq, corr []float64
}

// TrainSeq trains a SeqModel on d, validating on val (NDCG@10 over the
// whole catalogue, history masked) after each epoch and keeping the best
// epoch. onEpoch, when not nil, gets each epoch's number, mean loss and
// validation NDCG@10. The result depends only on d, val, o and seed.
func TrainSeq(d *Data, val []Case, o SeqOptions, seed uint64, workers int, onEpoch func(epoch int, loss, validation float64)) (*SeqModel, error) {
	return trainSeq(d, val, o, seed, workers, onEpoch, nil)
}

// trainSeq is TrainSeq stopping with ErrStopped once stop is closed (checked
// before every batch and after every epoch).
func trainSeq(d *Data, val []Case, o SeqOptions, seed uint64, workers int, onEpoch func(epoch int, loss, validation float64), stop <-chan struct{}) (*SeqModel, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	workers = max(workers, 1)
	rng := rand.New(rand.NewPCG(seed, 0x736571))
	tr := &seqTrainer{s: newSeqModel(d.NumItems, o, rng), d: d, o: o, seed: seed, workers: workers, timed: d.timed()}
	for u, seq := range d.Users {
		for t := range seq {
			if t > 0 && histEnd(seq, t, tr.timed) > 0 {
				tr.examples = append(tr.examples, example{int32(u), int32(t)})
			}
		}
	}
	for k := range tr.shards {
		tr.shards[k] = tr.s.newShard()
	}
	if o.NegPower > 0 {
		cnt := make([]float64, d.NumItems)
		for _, seq := range d.Users {
			for _, e := range seq {
				cnt[e.Item]++
			}
		}
		tr.negCDF = make([]float64, d.NumItems)
		tr.logq = make([]float64, d.NumItems)
		var acc float64
		for i, c := range cnt {
			w := math.Pow(1+c, o.NegPower)
			acc += w
			tr.negCDF[i] = acc
			tr.logq[i] = w
		}
		for i := range tr.logq {
			tr.logq[i] = math.Log(float64(o.Negatives) * tr.logq[i] / acc)
		}
	}
	tr.opt = NewAdam(AdamConfig{LR: o.LR, WeightDecay: o.WeightDecay})
	tr.idx = make([]int32, d.NumItems)
	for i := range tr.idx {
		tr.idx[i] = -1
	}
	tr.gOut, tr.gIn = NewSparseGrad(o.Dim), NewSparseGrad(o.Dim)
	tr.gGate, tr.gBias = NewSparseGrad(o.Dim), NewSparseGrad(1)
	best, bestV, bad := tr.s.clone(), math.Inf(-1), 0
	for epoch := 1; epoch <= o.Epochs; epoch++ {
		loss := tr.epoch(epoch, stop)
		if stopped(stop) {
			return nil, ErrStopped
		}
		v := math.NaN()
		if len(val) > 0 {
			v = tr.validate(val)
		}
		if onEpoch != nil {
			onEpoch(epoch, loss, v)
		}
		if math.IsNaN(v) || v > bestV {
			best, bestV, bad = tr.s.clone(), v, 0
		} else if bad++; bad >= o.Patience {
			break
		}
	}
	return best, nil
}

func (tr *seqTrainer) epoch(epoch int, stop <-chan struct{}) float64 {
	return runEpoch(tr.examples, tr.seed, epoch, tr.o.BatchSize, stop, tr.step)
}

// step trains on one batch: the batch's candidates (its positives and the
// drawn negatives), the dropout masks, the shards' passes, then one AdamW
// step of the summed gradients.
func (tr *seqTrainer) step(batch []example, rng *rand.Rand) (float64, int) {
	tr.candidates(batch, rng)
	defer func() {
		for _, it := range tr.items {
			tr.idx[it] = -1
		}
	}()
	masks := tr.dropout(len(batch), rng)
	tr.shardPasses(batch, masks)
	var loss float64
	var count int
	for _, sh := range tr.shards {
		loss += sh.loss
		count += sh.count
	}
	if count == 0 {
		return 0, 0
	}
	tr.apply(1 / float64(count))
	return loss, count
}

// candidates sets tr.items (and tr.idx) to the batch's positives and
// Negatives drawn items, each once, and tr.corr to their logq when the
// draw is not uniform.
func (tr *seqTrainer) candidates(batch []example, rng *rand.Rand) {
	d, o := tr.d, tr.o
	tr.items = tr.items[:0]
	add := func(it int32) {
		if tr.idx[it] < 0 {
			tr.idx[it] = int32(len(tr.items))
			tr.items = append(tr.items, it)
		}
	}
	for _, ex := range batch {
		add(d.Users[ex.u][ex.t].Item)
	}
	if tr.negCDF == nil {
		for range o.Negatives {
			add(int32(rng.IntN(d.NumItems)))
		}
	} else {
		total := tr.negCDF[len(tr.negCDF)-1]
		for range o.Negatives {
			add(int32(sort.SearchFloat64s(tr.negCDF, rng.Float64()*total)))
		}
	}
	if tr.logq != nil {
		tr.corr = zeroedF64(tr.corr, len(tr.items))
		for c, it := range tr.items {
			tr.corr[c] = tr.logq[it]
		}
	}
}

// dropout returns the n examples' dropout masks (n × Dim), drawn in
// example order so results do not depend on the number of goroutines; nil
// without dropout.
func (tr *seqTrainer) dropout(n int, rng *rand.Rand) []float32 {
	o := tr.o
	if o.Dropout <= 0 {
		return nil
	}
	tr.masks = zeroedF32(tr.masks, n*tr.s.Dim)
	keep := float32(1 / (1 - o.Dropout))
	for i := range tr.masks {
		if rng.Float64() >= o.Dropout {
			tr.masks[i] = keep
		}
	}
	return tr.masks
}

// shardPasses runs the batch's examples, split into the fixed shards,
// against the candidates' output rows on up to tr.workers goroutines.
func (tr *seqTrainer) shardPasses(batch []example, masks []float32) {
	s, d := tr.s, tr.d
	D, nC := s.Dim, len(tr.items)
	tr.outG = zeroedF32(tr.outG, nC*D)
	gather(tr.outG, s.Items, tr.items)
	tr.outT = zeroedF32(tr.outT, nC*D)
	kernel.TransposeTo(kernel.Mat{Rows: D, Cols: nC, Stride: nC, Data: tr.outT}, kernel.Mat{Rows: nC, Cols: D, Stride: D, Data: tr.outG})
	var wg sync.WaitGroup
	workers := min(tr.workers, shards)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < shards; k += workers {
				sh := tr.shards[k]
				sh.dOut = zeroedF32(sh.dOut, nC*D)
				sh.dBias = zeroedF64(sh.dBias, nC)
				clear(sh.dGate)
				sh.dIn.Reset()
				lo, hi := k*len(batch)/shards, (k+1)*len(batch)/shards
				exs := sh.exs[:0]
				for e := lo; e < hi; e++ {
					ex := batch[e]
					seq := d.Users[ex.u]
					hist, _, _ := pointInTime(seq, int(ex.t), tr.timed)
					se := seqExample{hist: hist, target: seq[ex.t].Item}
					if masks != nil {
						se.mask = masks[e*D : (e+1)*D]
					}
					exs = append(exs, se)
				}
				sh.exs = exs
				sh.loss, sh.count = s.batchGrad(sh, tr.items, tr.idx, tr.outG, tr.outT, tr.corr, exs)
			}
		}()
	}
	wg.Wait()
}

// apply sums the shards' gradients in shard order, times inv (1 / the
// examples counted), and steps AdamW on the item table (the pooled rows'
// gradient plus the scored rows'), the biases and the gates.
func (tr *seqTrainer) apply(inv float64) {
	s := tr.s
	D := s.Dim
	tr.gOut.Reset()
	tr.gBias.Reset()
	tr.gIn.Reset()
	tr.gGate.Reset()
	g := make([]float64, D)
	for c, it := range tr.items {
		clear(g)
		var gb float64
		for _, sh := range tr.shards {
			for i, v := range sh.dOut[c*D : (c+1)*D] {
				g[i] += float64(v)
			}
			gb += sh.dBias[c]
		}
		tr.gOut.Add(int(it), g, inv)
		tr.gBias.Add(int(it), []float64{gb}, inv)
	}
	for _, sh := range tr.shards {
		for k, r := range sh.dIn.Rows() {
			tr.gIn.Add(r, sh.dIn.Grad(k), inv)
		}
		for k := range s.Window {
			tr.gGate.Add(k, sh.dGate[k*D:(k+1)*D], inv)
		}
	}
	tr.opt.Step(nil, nil) // advances the step count only
	for k, r := range tr.gOut.Rows() {
		tr.gIn.Add(r, tr.gOut.Grad(k), 1)
	}
	tr.opt.StepEmbeddings(s.Bias, tr.gBias)
	tr.opt.StepEmbeddings(s.Items, tr.gIn)
	tr.opt.StepEmbeddings(s.Gate, tr.gGate)
}

// validate returns the mean NDCG@10 of the cases under the encoder, the
// whole catalogue scored.
func (tr *seqTrainer) validate(cases []Case) float64 {
	return seqNDCG(tr.s, cases, 10, tr.workers)
}

// seqNDCG returns the mean NDCG@k of the cases under s alone, the whole
// catalogue scored, history masked (the target excepted), ties at their expected rank (ndcgOf).
func seqNDCG(s *SeqModel, cases []Case, k, workers int) float64 {
	return meanNDCG(cases, k, workers, s.Items.Rows(), func(dst []float32, cs *Case) { s.ScoreTo(dst, cs.History) })
}

// ndcgOf masks the case's history in scores (the target excepted) and
// returns the NDCG@k of its target: evaluation's metric, ties at their
// expected rank (evaluation.TiesExpected), the one eval reports.
func ndcgOf(scores []float32, cs *Case, k int) float64 {
	for _, e := range cs.History {
		if e.Item != cs.Target {
			scores[e.Item] = float32(math.Inf(-1))
		}
	}
	_, nd := evaluation.HitNDCG(evaluation.TargetRank(scores, int(cs.Target)), k, evaluation.TiesExpected)
	return nd
}

// SeqEncoder returns the served form of the trained sequence encoder and
// every item's row [e_c, b_c] (ranking.SeqEncoder), or nil, nil, nil when
// the model has none. Several members (SeqOptions.Members) become one
// encoder of the summed dimension whose score is their mean. It fails for
// members of different windows or catalogues.
func (r *Result) SeqEncoder() (*ranking.SeqEncoder, [][]float32, error) {
	if len(r.Seq) == 0 {
		return nil, nil, nil
	}
	M := len(r.Seq)
	s0 := r.Seq[0]
	for _, s := range r.Seq {
		if s.Window != s0.Window || s.Items.Rows() != s0.Items.Rows() {
			return nil, nil, fmt.Errorf("training: sequence encoders of different windows or catalogues")
		}
	}
	// Members side by side: with gates g_k/M and rows [e¹_c … eᴹ_c, mean b_c],
	// h·row_c + bias = (1/M) Σ_m (h_m·e^m_c + b^m_c), the members' mean.
	D := 0
	for _, s := range r.Seq {
		D += s.Dim
	}
	e := &ranking.SeqEncoder{Dim: D, Window: s0.Window, Gates: make([]float32, s0.Window*D)}
	rows := make([][]float32, s0.Items.Rows())
	for c := range rows {
		rows[c] = make([]float32, D+1)
	}
	inv := 1 / float32(M)
	off := 0
	for _, s := range r.Seq {
		for k := range s.Window {
			g := e.Gates[k*D+off : k*D+off+s.Dim]
			for i, v := range s.Gate.Row(k) {
				g[i] = v * inv
			}
		}
		for c, row := range rows {
			copy(row[off:off+s.Dim], s.Items.Row(c))
			row[D] += s.Bias.Data[c] * inv
		}
		off += s.Dim
	}
	return e, rows, nil
}
