package baseline

import (
	"context"
	"fmt"
	"time"

	"github.com/fusionrank/fusionrank/evaluation"
)

// Pop scores every item by its popularity in the training data, the same
// list for every user. The zero value counts every interaction of every
// user.
type Pop struct {
	// Since, when not 0, counts only interactions at or after this Unix time
	// in nanoseconds (a recent window); it needs Sequences.Times. Default 0.
	Since int64
	// Distinct counts each user at most once per item (buyers rather than
	// purchases). Default false.
	Distinct bool

	counts []float32
	max    float32
}

// Fit counts the interactions in train.
func (p *Pop) Fit(_ context.Context, train *evaluation.Sequences) error {
	if err := train.Validate(); err != nil {
		return err
	}
	if p.Since != 0 && train.Times == nil {
		return fmt.Errorf("baseline: pop: a time window needs interaction times")
	}
	p.counts = make([]float32, train.NumItems)
	seen := make([]int32, train.NumItems) // last user (1-based) that counted each item
	for u, seq := range train.Users {
		for i, it := range seq {
			if p.Since != 0 && train.Times[u][i] < p.Since {
				continue
			}
			if p.Distinct {
				if seen[it] == int32(u+1) {
					continue
				}
				seen[it] = int32(u + 1)
			}
			p.counts[it]++
		}
	}
	p.max = 0
	for _, c := range p.counts {
		p.max = max(p.max, c)
	}
	return nil
}

// ScoreTo writes each item's count into dst.
func (p *Pop) ScoreTo(dst []float32, _ []int32) {
	if len(dst) != len(p.counts) {
		panic(fmt.Sprintf("baseline: pop: dst has %d scores for %d items", len(dst), len(p.counts)))
	}
	copy(dst, p.counts)
}

// Counts returns the fitted popularity per item (shared; do not modify).
func (p *Pop) Counts() []float32 { return p.counts }

// Version describes the fitted settings.
func (p *Pop) Version() string {
	since := "all"
	if p.Since != 0 {
		since = time.Unix(0, p.Since).UTC().Format(time.DateOnly)
	}
	return fmt.Sprintf("pop(since=%s,distinct=%t)", since, p.Distinct)
}

// normalized returns counts scaled to [0, 1] by the largest count.
func (p *Pop) normalized() []float32 {
	out := make([]float32, len(p.counts))
	if p.max == 0 {
		return out
	}
	for i, c := range p.counts {
		out[i] = c / p.max
	}
	return out
}
