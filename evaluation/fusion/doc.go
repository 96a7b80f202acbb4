// Package fusion runs the fusion scorer in the offline evaluations: Model
// adapts package training to evaluation.Model.
//
// Fit converts the training sequences to training.Data (times in seconds,
// attributes as the attr modality), holds out each user's last training
// item as the validation case of early stopping (so a protocol's own
// validation and test targets are never seen), trains, and keeps a
// training.Scorer whose features count every training interaction.
// ScoreTo scores the catalogue through the serving path (ranking.Layout,
// ItemKV, QueryTo, ScoreTo).
//
// Options is the servable configuration (what `fusionrank train` uses);
// SeqOptions adds the sequence encoder (training.SeqModel), whose score
// enters the scorer as its engine_score feature: `eval s3rec --model
// fusion`. The service cannot compute that feature yet, so SeqOptions is
// for offline evaluation only.
package fusion
