package evaluation

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// PairedValues compares two models' per-case values of one metric (a[i] and b[i]
// are the same case): the means, the mean difference a − b with the central 95%
// of its bootstrap distribution (cases resampled with replacement, resamples
// draws, seeded), and the shares of cases where a is higher and lower. It is the
// paired comparison for metrics that are not a single target's rank (graded
// NDCG of a search, say).
func PairedValues(metric string, a, b []float64, resamples int, seed uint64) (Paired, error) {
	if len(a) != len(b) || len(a) == 0 {
		return Paired{}, fmt.Errorf("evaluation: %d and %d cases: want the same, non-zero number", len(a), len(b))
	}
	if resamples <= 0 {
		return Paired{}, fmt.Errorf("evaluation: %d resamples: want a positive number", resamples)
	}
	n := len(a)
	p := Paired{Metric: metric}
	d := make([]float64, n)
	for i := range n {
		p.A += a[i]
		p.B += b[i]
		d[i] = a[i] - b[i]
		if d[i] > 0 {
			p.Better++
		} else if d[i] < 0 {
			p.Worse++
		}
	}
	p.A /= float64(n)
	p.B /= float64(n)
	p.Diff = p.A - p.B
	p.Better /= float64(n)
	p.Worse /= float64(n)
	rng := rand.New(rand.NewPCG(seed, 0x70616972))
	means := make([]float64, resamples)
	for r := range means {
		var s float64
		for range n {
			s += d[rng.IntN(n)]
		}
		means[r] = s / float64(n)
	}
	slices.Sort(means)
	p.Lo, p.Hi = means[int(0.025*float64(resamples))], means[min(resamples-1, int(0.975*float64(resamples)))]
	return p, nil
}
