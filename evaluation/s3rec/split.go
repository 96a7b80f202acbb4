package s3rec

import (
	seqfile "github.com/fusionrank/fusionrank/dataset/s3rec"
	"github.com/fusionrank/fusionrank/evaluation"
)

// Stage selects which held-out item is the target.
type Stage int

const (
	// Validation targets each user's second-to-last item; the user's items
	// before it are the history and the training data.
	Validation Stage = iota
	// Test targets each user's last item; every item before it, the
	// validation item included, is history and training data.
	Test
)

// String returns "validation" or "test".
func (s Stage) String() string {
	if s == Validation {
		return "validation"
	}
	return "test"
}

// Split returns d's training sequences and the evaluation cases of a stage.
// For Test, user u's training sequence and history are Seqs[u][:n−1] and
// the target Seqs[u][n−1]; for Validation they are Seqs[u][:n−2] and
// Seqs[u][n−2]. A user with fewer than 2 (Test) or 3 (Validation) items has
// no case, but the items it has before the held-out positions still train.
// The returned slices share memory with d; do not modify them.
func Split(d *seqfile.Dataset, s Stage) (*evaluation.Sequences, []evaluation.Case) {
	hold := 1
	if s == Validation {
		hold = 2
	}
	train := sequences(d, make([][]int32, len(d.Seqs)))
	cases := make([]evaluation.Case, 0, len(d.Seqs))
	for u, seq := range d.Seqs {
		end := max(len(seq)-hold, 0)
		train.Users[u] = seq[:end:end]
		if len(seq) >= hold+1 {
			cases = append(cases, evaluation.Case{History: seq[:end:end], Target: seq[end]})
		}
	}
	return train, cases
}

// All returns every interaction of d as training sequences, held-out items
// included. Only the PopRec-compatible popularity uses it.
func All(d *seqfile.Dataset) *evaluation.Sequences {
	return sequences(d, d.Seqs)
}

func sequences(d *seqfile.Dataset, users [][]int32) *evaluation.Sequences {
	return &evaluation.Sequences{
		NumItems:       d.NumItems(),
		Users:          users,
		ItemIDs:        d.ItemIDs,
		ItemAttributes: d.ItemAttributes,
		NumAttributes:  d.NumAttributes,
	}
}
