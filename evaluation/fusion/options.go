package fusion

import "github.com/fusionrank/fusionrank/training"

// Options returns the training options chosen on the Beauty validation
// split (see docs/evaluation.md, section "Fusion"): 64-d collab and attr
// vectors, d = 64, d_a = 16, five recent slots with the recency encoder,
// batches of 128 with 128 shared popularity-smoothed negatives plus 2 hard
// negatives per example (followers of its most recent item), the covis
// weight started at 1 (training starts from the counting model), AdamW at
// 2e-4 without weight decay, at most 8 epochs with early stopping on the
// held-out NDCG@10 (patience 3; epoch 0, the initial model, counts). On
// timed data (retail) the counting start also has recent popularity: the
// initial pop_7d weight is the best of PopWeights on the held-out cases.
func Options() training.Options {
	return training.Options{
		Seed: 1, CollabDim: 64, AttrDim: 64, DModel: 64, DAttn: 16, Recent: 5,
		Epochs: 8, Patience: 3, Encoder: true, BatchSize: 128, Negatives: 128, NegPower: 0.75,
		HardNegatives: 2, InitCovis: 1, LR: 2e-4, EmbedStd: 0.1, MaxValidation: 1500,
		PopWeights: []float64{0, 0.25, 0.5, 1, 2, 4},
	}
}

// SeqOptions returns Options plus the sequence encoder (training.Options.Seq),
// the configuration of `fusionrank eval s3rec --model fusion`, chosen on the
// Beauty validation split (docs/evaluation.md, "Fusion": third round, one
// table for the encoder's input and output embeddings; fourth round, 4,096
// negatives and two members; fifth round, a third member, affordable with the
// AVX-512 kernel): the scorer starts from the counting model and the mean score of
// the SeqModels enters as the seq feature with the weight that scores best on
// the held-out cases; the scorer is not trained further (Epochs < 0).
// `fusionrank train` uses ServeOptions, which trains the scorer too.
func SeqOptions() training.Options {
	o := Options()
	o.Epochs = -1
	o.Seq = &training.SeqOptions{Dim: 128, Window: 20, Negatives: 4096, BatchSize: 256, LR: 1e-3, Dropout: 0.5, Epochs: 20, Patience: 2, Members: 3, Tied: true}
	o.SeqWeights = []float64{0.06, 0.125, 0.18, 0.25, 0.35, 0.5, 0.7, 1}
	return o
}

// ServeOptions are the options of `fusionrank train`: Options (the scorer
// trained from the counting start with early stopping, so that the attention
// part can learn a shop's text and image modalities, and keeps its start
// when training does not help) plus the sequence encoder and seq weights of
// SeqOptions, which the service computes (ranking.SeqEncoder).
func ServeOptions() training.Options {
	o, s := Options(), SeqOptions()
	o.Seq, o.SeqWeights = s.Seq, s.SeqWeights
	return o
}
