package fusion

import "github.com/fusionrank/fusionrank/training"

// Options returns the training options chosen on the Beauty validation
// split (see docs/evaluation.md, section "Fusion"): 64-d collab and attr
// vectors, d = 64, d_a = 16, five recent slots with the recency encoder,
// batches of 128 with 128 shared popularity-smoothed negatives (no logQ
// correction), AdamW at 1e-3 without weight decay, at most 6 epochs with
// early stopping on the held-out NDCG@10 (patience 2).
func Options() training.Options {
	return training.Options{
		Seed: 1, CollabDim: 64, AttrDim: 64, DModel: 64, DAttn: 16, Recent: 5,
		Epochs: 6, Patience: 2, Encoder: true, BatchSize: 128, Negatives: 128, NegPower: 0.75,
		LR: 1e-3, EmbedStd: 0.1, MaxValidation: 1500,
	}
}
