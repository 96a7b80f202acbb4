package training

import "runtime"

// Options are the knobs of Train. A zero field takes its default.
type Options struct {
	// Seed seeds every random choice (initial weights, negatives, example
	// order); the same Seed and Data give identical weights. Default 0 is a
	// valid seed.
	Seed uint64
	// CollabDim is the dimension of the learned collab item vectors;
	// default 64.
	CollabDim int
	// AttrDim is the dimension of the learned attribute embeddings; default
	// 64.
	AttrDim int
	// DModel and DAttn are the scorer's d and d_a; defaults 64 and 32.
	DModel, DAttn int
	// Recent is the number of recent-item query slots; default 5.
	Recent int
	// Epochs is the maximum number of passes over the examples; default 30.
	// Negative: no pass (the initial model is the result; with Seq, the
	// mix of covis and seq chosen on validation).
	Epochs int
	// Patience stops training after this many validated epochs without a
	// better validation NDCG@10; default 3.
	Patience int
	// BatchSize is the number of examples per optimizer step; default 256.
	BatchSize int
	// Negatives is the number of negatives sampled per batch and shared by
	// its examples, beside the batch's other positives (in-batch
	// negatives); default 256.
	Negatives int
	// NegPower is the exponent α of popularity-smoothed sampling: an item is
	// drawn with probability ∝ (1+count)^α; default 0.75 (negative: 0, that
	// is uniform).
	NegPower float64
	// HardNegatives adds, for each example of a batch, up to this many
	// items that followed the example's most recent item in other
	// histories (drawn ∝ the direct-follow count) to the batch's shared
	// candidates: the items full ranking must tell apart, which random
	// negatives rarely are; default 0.
	HardNegatives int
	// InitCovis is the initial weight of the covis feature, so training
	// starts from the counting model and learns what it misses; default 0.
	InitCovis float64
	// LR is the AdamW learning rate; default 1e-3.
	LR float64
	// WeightDecay is AdamW's decoupled weight decay λ; default 0 (negative:
	// 0). Applied to the scorer and to the rows of the embedding tables a
	// step touches.
	WeightDecay float64
	// EmbedWeightDecay, when positive, replaces WeightDecay for the
	// embedding tables (collab, attr, encoder), whose rows are updated
	// lazily and so decay only when touched; default 0 (use WeightDecay).
	EmbedWeightDecay float64
	// EmbedStd is the standard deviation of the initial collab and attr
	// embeddings; default 0.1.
	EmbedStd float64
	// ProfileHalfLife is the half-life in seconds of the profile's time
	// decay, as the feature store's; default 7 days.
	ProfileHalfLife int64
	// NoCollab drops the collab modality; the recent slots then hold the
	// first fixed modality's vectors (a candidate of ServeCandidates).
	NoCollab bool
	// NoAttr drops the attr modality even when Data has attributes (the
	// fusion-collab comparison model of `fusionrank eval`).
	NoAttr bool
	// Workers is the number of goroutines; default GOMAXPROCS. Results do not
	// depend on it.
	Workers int
	// MaxValidation caps the validation cases evaluated per epoch (an
	// evenly spaced subset); default 3000.
	MaxValidation int
	// ChooseValidation caps the validation cases the start weights
	// (SeqWeights, PopWeights) are chosen on (an evenly spaced subset);
	// default 8000. Choosing a weight needs more cases than early
	// stopping: near the best weight the candidates differ by a few
	// thousandths of NDCG@10, and all of them together cost one scoring
	// per case.
	ChooseValidation int
	// Fusion is how the scorer's learned part combines the query tokens
	// with a candidate's modality vectors: FusionAttention (default),
	// FusionEarly, FusionLate or FusionOff (see FusionModes). Only
	// attention is served; the others are the comparison models of the
	// offline evaluations.
	Fusion string
	// RecencyEmbedding adds the query-side ranking.RecencyEmbedding (a
	// learned embedding of each recent slot's position, added to the recent
	// slots' collab tokens); default false.
	RecencyEmbedding bool
	// Seq, when not nil, trains a SeqModel (the sequence encoder) before
	// the scorer and feeds its score seq(c) to the scorer as the seq
	// feature; default nil.
	Seq *SeqOptions
	// SeqModels, when not empty, are trained encoders used instead of
	// training them from Seq: Choose shares one fit among a shop's
	// candidates, and evaluation/fusion's encoder cache (--seq-cache)
	// between models; default nil.
	SeqModels []*SeqModel
	// SeqWeights are the candidate initial weights u of the seq feature:
	// each is scored on the validation cases (up to ChooseValidation)
	// before training (epoch 0) and the best is kept; default {1}.
	SeqWeights []float64
	// PopWeights are candidate initial weights of the pop_7d feature
	// (timed data only), scored on the validation cases (up to
	// ChooseValidation) before training
	// with covis at InitCovis; the best is kept, so training starts from
	// counting plus recent popularity. Default nil: 0.
	PopWeights []float64
	// Words is the number of query word slots of models trained on data
	// with a vocabulary (Data.Vocab) and the "text" modality; default 8
	// (negative: none). Such models also get one query slot per other fixed
	// modality (a photo's vector). Data without a vocabulary gets neither.
	Words int
	// SearchMix are the candidate weights of the search loss (logged
	// searches and pseudo-queries) against the behavioural loss: with
	// both kinds of examples and more than one candidate, a model is trained
	// per candidate and the best on the held-out cases (behavioural plus
	// search validation NDCG@10) is kept; default {1}.
	SearchMix []float64
	// PseudoQueries is the number of catalogue pseudo-queries per epoch
	// (an item's own words, and its photo vector, against other items);
	// they fill up to this number when the logs give fewer search
	// examples; default min(NumItems, 20000) (negative: none).
	PseudoQueries int
	// PseudoShare is the least number of pseudo-queries per epoch as a share
	// of the logged search examples; default 0.25 (negative: 0).
	PseudoShare float64
	// SearchNegatives is the number of random negatives of a pseudo-query;
	// default 15.
	SearchNegatives int
	// SearchBatch is the number of search examples per optimizer step;
	// default 64.
	SearchBatch int
	// EngineWeights are the candidate initial weights of engine_score,
	// chosen on the validation searches before training; default
	// {0, 0.5, 1, 2, 4}.
	EngineWeights []float64
	// MatchWeights are the candidate initial weights of match_share (the
	// share of a search's words in the candidate's title), chosen on the
	// validation searches after the engine weight, when the logged searches
	// carry match features; default {0, 0.5, 1, 2}.
	MatchWeights []float64
	// OnSeqEpoch, when not nil, gets the SeqModel's training progress.
	OnSeqEpoch func(epoch int, loss, validation float64)
	// OnEpoch, when not nil, is called after each epoch with its number
	// (1-based), mean training loss and validation NDCG@10, for progress
	// reports; and once before training with epoch 0, loss NaN and the
	// initial model's validation NDCG@10. It must not modify anything Train uses.
	OnEpoch func(epoch int, loss, validation float64)
	// Stop, when not nil, stops training once it is closed: Train (and the
	// sequence encoder's training within it) checks it before every batch
	// of behavioural examples and after every epoch, and returns ErrStopped.
	Stop <-chan struct{}
}

func (o Options) withDefaults() Options {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&o.CollabDim, 64)
	def(&o.AttrDim, 64)
	def(&o.DModel, 64)
	def(&o.DAttn, 32)
	def(&o.Recent, 5)
	if o.Epochs == 0 {
		o.Epochs = 30
	}
	def(&o.Patience, 3)
	def(&o.BatchSize, 256)
	def(&o.Negatives, 256)
	def(&o.Workers, runtime.GOMAXPROCS(0))
	def(&o.MaxValidation, 3000)
	def(&o.ChooseValidation, 8000)
	if o.NegPower == 0 {
		o.NegPower = 0.75
	} else if o.NegPower < 0 {
		o.NegPower = 0
	}
	if o.Fusion == "" {
		o.Fusion = FusionAttention
	}
	if o.LR <= 0 {
		o.LR = 1e-3
	}
	if o.WeightDecay < 0 {
		o.WeightDecay = 0
	}
	if o.EmbedStd <= 0 {
		o.EmbedStd = 0.1
	}
	if o.Words == 0 {
		o.Words = 8
	} else if o.Words < 0 {
		o.Words = 0
	}
	if len(o.SearchMix) == 0 {
		o.SearchMix = []float64{1}
	}
	def(&o.SearchNegatives, 15)
	if o.PseudoShare == 0 {
		o.PseudoShare = 0.25
	} else if o.PseudoShare < 0 {
		o.PseudoShare = 0
	}
	def(&o.SearchBatch, 64)
	if len(o.EngineWeights) == 0 {
		o.EngineWeights = []float64{0, 0.5, 1, 2, 4}
	}
	if len(o.MatchWeights) == 0 {
		o.MatchWeights = []float64{0, 0.5, 1, 2}
	}
	if o.ProfileHalfLife <= 0 {
		o.ProfileHalfLife = 7 * 86400
	}
	return o
}
