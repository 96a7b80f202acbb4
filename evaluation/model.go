package evaluation

import (
	"context"
	"fmt"
)

// Sequences is what a model may learn from: the training part of a dataset
// as per-user item sequences over a dense catalogue of NumItems items
// (indices 0 … NumItems−1), plus whatever side information the dataset has.
// Models must treat it as read-only.
type Sequences struct {
	// NumItems is the catalogue size; every model scores this many items.
	NumItems int
	// Users holds one item sequence per user, oldest first. Repeats are
	// allowed (a customer may buy an item twice).
	Users [][]int32
	// Times, when not nil, parallels Users: the Unix time in nanoseconds of
	// each interaction. Interactions of one user with the same time form one
	// basket (one invoice in Online Retail). Beauty has no times.
	Times [][]int64
	// ItemIDs maps a dense index back to the dataset's item id.
	ItemIDs []string
	// ItemText, when not nil, holds a short description per item.
	ItemText []string
	// ItemAttributes, when not nil, holds attribute ids (0 … NumAttributes−1)
	// per item, such as Beauty's brand and categories.
	ItemAttributes [][]int32
	// NumAttributes is the number of distinct attribute ids.
	NumAttributes int
}

// Validate checks that every item index is in range and that Times, when
// present, parallels Users.
func (s *Sequences) Validate() error {
	if s.NumItems <= 0 {
		return fmt.Errorf("evaluation: sequences: %d items", s.NumItems)
	}
	if s.Times != nil && len(s.Times) != len(s.Users) {
		return fmt.Errorf("evaluation: sequences: %d time rows for %d users", len(s.Times), len(s.Users))
	}
	for u, seq := range s.Users {
		for _, it := range seq {
			if it < 0 || int(it) >= s.NumItems {
				return fmt.Errorf("evaluation: sequences: user %d: item %d out of range [0,%d)", u, it, s.NumItems)
			}
		}
		if s.Times != nil && len(s.Times[u]) != len(seq) {
			return fmt.Errorf("evaluation: sequences: user %d: %d times for %d items", u, len(s.Times[u]), len(seq))
		}
	}
	return nil
}

// Model is what every offline evaluation protocol (s3rec, retail) runs: a
// recommender that learns from training sequences and then scores the whole
// catalogue for one user's history. The fusion scorer plugs in by
// implementing it.
//
// Fit is called once, before any ScoreTo, with the training part only.
// ScoreTo writes a score for every item into dst (len(dst) == NumItems;
// higher is better) for a user whose interactions, oldest first, are
// history. It is called concurrently from several goroutines after Fit
// returns, so it must be safe for concurrent use (keep per-call workspace in
// a sync.Pool), must not retain or modify history, and should not allocate
// in steady state. The evaluator masks the history afterwards; the model need
// not. Scores must not be NaN.
type Model interface {
	Fit(ctx context.Context, train *Sequences) error
	ScoreTo(dst []float32, history []int32)
}

// Versioner is implemented by models that can name their fitted state (a
// registry version, or a baseline's settings); it fills model_version.
type Versioner interface {
	Version() string
}

// CurveReporter is implemented by models trained by epochs; its curve is
// drawn to training_curve.png.
type CurveReporter interface {
	TrainingCurve() *TrainingCurve
}

// VersionOf returns m's Version, or "none" when m does not report one.
func VersionOf(m Model) string {
	if v, ok := m.(Versioner); ok {
		return v.Version()
	}
	return "none"
}
