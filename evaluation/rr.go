package evaluation

import "fmt"

// ReciprocalRank returns 1/(rank+1) of a single target with rank r (0-based),
// the per-case term of the mean reciprocal rank (MRR). Under TiesExpected it
// is the mean of 1/(p+1) over the tie positions p = Above … Above+Tied.
func ReciprocalRank(r Rank, rule TieRule) float64 {
	switch rule {
	case TiesPessimistic:
		return 1 / float64(r.Above+r.Tied+1)
	case TiesOptimistic:
		return 1 / float64(r.Above+1)
	case TiesByIndex:
		return 1 / float64(r.Above+r.TiedBefore+1)
	case TiesExpected:
		var s float64
		for p := r.Above; p <= r.Above+r.Tied; p++ {
			s += 1 / float64(p+1)
		}
		return s / float64(r.Tied+1)
	}
	panic(fmt.Sprintf("evaluation: unknown tie rule %d", int(rule)))
}
