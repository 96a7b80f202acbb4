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
package fusion
