package evaluation

import "fmt"

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
	return pairedDiffs([]string{metric}, [][2][]float64{{a, b}}, resamples, seed)[0], nil
}
