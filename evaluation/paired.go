package evaluation

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
)

// RanksFile is the file of a report's per-case test ranks (Report.Ranks):
// a header line, then one line "case<TAB>above<TAB>tied" per case, in case
// order, so that two runs of the same protocol can be compared case by case.
const RanksFile = "ranks.tsv"

// WriteRanks writes ranks in the RanksFile format.
func WriteRanks(w io.Writer, ranks []Rank) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "case\tabove\ttied")
	for i, r := range ranks {
		fmt.Fprintf(bw, "%d\t%d\t%d\n", i, r.Above, r.Tied)
	}
	return bw.Flush()
}

// ReadRanks reads a RanksFile.
func ReadRanks(path string) ([]Rank, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var ranks []Rank
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			if sc.Text() != "case\tabove\ttied" {
				return nil, fmt.Errorf("%s: line 1: want the header case, above, tied", path)
			}
			continue
		}
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%s: line %d: want 3 fields", path, line)
		}
		var v [3]int
		for k, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%s: line %d: field %d: want a count, got %q", path, line, k+1, p)
			}
			v[k] = n
		}
		if v[0] != len(ranks) {
			return nil, fmt.Errorf("%s: line %d: case %d out of order", path, line, v[0])
		}
		ranks = append(ranks, Rank{Above: v[1], Tied: v[2]})
	}
	return ranks, sc.Err()
}

// Paired is the comparison of two models on the same cases: the mean of
// the per-case difference a − b of one metric and its bootstrap interval.
type Paired struct {
	Metric string
	// A and B are the two models' means; Diff = A − B.
	A, B, Diff float64
	// Lo and Hi bound the central 95% of the bootstrap means of the
	// per-case differences (cases resampled with replacement).
	Lo, Hi float64
	// Better is the fraction of cases where a scored higher than b, Worse
	// where lower.
	Better, Worse float64
}

// ComparePaired compares per-case ranks of two models on the same cases at
// cutoff k under rule: HR@k and NDCG@k, each with a 95% bootstrap interval of
// the mean difference from resamples draws (seeded: the same inputs give the
// same interval).
func ComparePaired(a, b []Rank, k int, rule TieRule, resamples int, seed uint64) ([]Paired, error) {
	if len(a) != len(b) || len(a) == 0 {
		return nil, fmt.Errorf("evaluation: %d and %d cases: want the same, non-zero number", len(a), len(b))
	}
	n := len(a)
	hitA, hitB := make([]float64, n), make([]float64, n)
	ndA, ndB := make([]float64, n), make([]float64, n)
	for i := range n {
		hitA[i], ndA[i] = HitNDCG(a[i], k, rule)
		hitB[i], ndB[i] = HitNDCG(b[i], k, rule)
	}
	rng := rand.New(rand.NewPCG(seed, 0x70616972))
	idx := make([][]int32, resamples)
	for r := range idx {
		idx[r] = make([]int32, n)
		for i := range n {
			idx[r][i] = int32(rng.IntN(n))
		}
	}
	one := func(name string, x, y []float64) Paired {
		p := Paired{Metric: fmt.Sprintf("%s@%d", name, k)}
		d := make([]float64, n)
		for i := range n {
			p.A += x[i]
			p.B += y[i]
			d[i] = x[i] - y[i]
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
		means := make([]float64, resamples)
		for r, ix := range idx {
			var s float64
			for _, i := range ix {
				s += d[i]
			}
			means[r] = s / float64(n)
		}
		slices.Sort(means)
		if resamples > 0 {
			p.Lo, p.Hi = means[int(0.025*float64(resamples))], means[min(resamples-1, int(0.975*float64(resamples)))]
		}
		return p
	}
	return []Paired{one("HR", hitA, hitB), one("NDCG", ndA, ndB)}, nil
}
