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
// ServeOptions is the configuration `fusionrank train` starts from
// (training.ServeOptions: the scorer and the sequence encoder, whose score
// is the scalar feature seq, computed by the service too); SeqOptions is it
// with the scorer not trained (the counting start plus the encoder); the
// comparison models of cmd/fusionrank/eval.go change the fusion mode
// (training.Options.Fusion) or the modalities. SeqCache lets models that
// share an encoder configuration train it once.
package fusion
