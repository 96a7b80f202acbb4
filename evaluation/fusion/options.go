package fusion

import "github.com/fusionrank/fusionrank/training"

// Options returns the scorer's servable defaults without the sequence
// encoder (training.ScorerOptions).
func Options() training.Options { return training.ScorerOptions() }

// SeqOptions returns ServeOptions with the scorer not trained (Epochs < 0):
// the counting start plus the sequence encoder's score at the weight that
// scores best on the held-out cases (`eval s3rec|retail --model
// fusion-start`).
func SeqOptions() training.Options {
	o := training.ServeOptions()
	o.Epochs = -1
	return o
}

// ServeOptions returns the options of `fusionrank train`
// (training.ServeOptions).
func ServeOptions() training.Options { return training.ServeOptions() }
