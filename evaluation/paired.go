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
	return pairedDiffs([]string{fmt.Sprintf("HR@%d", k), fmt.Sprintf("NDCG@%d", k)}, [][2][]float64{{hitA, hitB}, {ndA, ndB}}, resamples, seed), nil
}

// ComparePairedValues compares two models' per-case metrics on the same
// cases (Report.CaseValues, read back with ReadCaseValues): for each named
// metric ("HR@10", "NDCG@10", …) the mean difference with a 95% bootstrap
// interval, as ComparePaired. Cases without values in either run (no
// targets) are left out.
func ComparePairedValues(a, b []Metrics, metrics []string, resamples int, seed uint64) ([]Paired, error) {
	if len(a) != len(b) || len(a) == 0 {
		return nil, fmt.Errorf("evaluation: %d and %d cases: want the same, non-zero number", len(a), len(b))
	}
	pairs := make([][2][]float64, len(metrics))
	for i := range a {
		if a[i] == nil || b[i] == nil {
			continue
		}
		for j, name := range metrics {
			x, okA := a[i].Get(name)
			y, okB := b[i].Get(name)
			if !okA || !okB {
				return nil, fmt.Errorf("evaluation: case %d has no %s", i, name)
			}
			pairs[j][0] = append(pairs[j][0], x)
			pairs[j][1] = append(pairs[j][1], y)
		}
	}
	if len(metrics) == 0 || len(pairs[0][0]) == 0 {
		return nil, fmt.Errorf("evaluation: no case with values in both runs")
	}
	return pairedDiffs(metrics, pairs, resamples, seed), nil
}

// pairedDiffs returns, for each metric j with per-case values pairs[j][0]
// (model A) and pairs[j][1] (model B), the Paired summary; the bootstrap
// resamples are drawn once (seeded) and shared by the metrics.
func pairedDiffs(names []string, pairs [][2][]float64, resamples int, seed uint64) []Paired {
	n := len(pairs[0][0])
	rng := rand.New(rand.NewPCG(seed, 0x70616972))
	idx := make([][]int32, resamples)
	for r := range idx {
		idx[r] = make([]int32, n)
		for i := range n {
			idx[r][i] = int32(rng.IntN(n))
		}
	}
	one := func(name string, x, y []float64) Paired {
		p := Paired{Metric: name}
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
	out := make([]Paired, len(names))
	for j, name := range names {
		out[j] = one(name, pairs[j][0], pairs[j][1])
	}
	return out
}

// ValuesFile is the file of a report's per-case test metrics
// (Report.CaseValues): a header line "case" followed by the metric names,
// then one line per case (empty fields for a case without values).
const ValuesFile = "values.tsv"

// WriteCaseValues writes per-case metrics in the ValuesFile format; every
// non-nil entry must have the metrics of the first non-nil one, in order.
func WriteCaseValues(w io.Writer, vals []Metrics) error {
	var names []string
	for _, v := range vals {
		if v != nil {
			for _, m := range v {
				names = append(names, m.Key())
			}
			break
		}
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, strings.Join(append([]string{"case"}, names...), "\t"))
	for i, v := range vals {
		fields := make([]string, 1, 1+len(names))
		fields[0] = strconv.Itoa(i)
		for j := range names {
			if v == nil {
				fields = append(fields, "")
				continue
			}
			if j >= len(v) || v[j].Key() != names[j] {
				return fmt.Errorf("evaluation: case %d: metrics differ from the first case's", i)
			}
			fields = append(fields, strconv.FormatFloat(v[j].Value, 'g', -1, 64))
		}
		fmt.Fprintln(bw, strings.Join(fields, "\t"))
	}
	return bw.Flush()
}

// ReadCaseValues reads a ValuesFile.
func ReadCaseValues(path string) ([]Metrics, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var names []Metric
	var vals []Metrics
	line := 0
	for sc.Scan() {
		line++
		parts := strings.Split(sc.Text(), "\t")
		if line == 1 {
			if parts[0] != "case" {
				return nil, fmt.Errorf("%s: line 1: want a header starting with case", path)
			}
			for _, p := range parts[1:] {
				name, k, err := ParseMetricKey(p)
				if err != nil {
					return nil, fmt.Errorf("%s: line 1: %w", path, err)
				}
				names = append(names, Metric{Name: name, K: k})
			}
			continue
		}
		if len(parts) != 1+len(names) {
			return nil, fmt.Errorf("%s: line %d: want %d fields", path, line, 1+len(names))
		}
		if n, err := strconv.Atoi(parts[0]); err != nil || n != len(vals) {
			return nil, fmt.Errorf("%s: line %d: case %q out of order", path, line, parts[0])
		}
		if parts[1] == "" {
			vals = append(vals, nil)
			continue
		}
		ms := make(Metrics, len(names))
		for j, p := range parts[1:] {
			v, err := strconv.ParseFloat(p, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: line %d: field %d: %w", path, line, j+2, err)
			}
			ms[j] = names[j]
			ms[j].Value = v
		}
		vals = append(vals, ms)
	}
	return vals, sc.Err()
}
