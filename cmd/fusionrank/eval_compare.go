package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fusionrank/fusionrank/evaluation"
)

// runEvalCompare runs `fusionrank eval compare A B`: two report directories
// of the same dataset, compared case by case (HR@k and NDCG@k, mean
// difference A − B with a 95% bootstrap interval), from their ranks.tsv
// (one target per case: s3rec, photos) or else their values.tsv (several
// targets per case: retail; NDCG only: eval rerank --model served).
func runEvalCompare(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := evalFlags("compare", "[--k 10] [--resamples 10000] DIR_A DIR_B",
		"Compares two runs of the same protocol and dataset on the same test cases: the mean\n"+
			"difference A − B of HR@k and NDCG@k with a 95% paired bootstrap interval, and the share\n"+
			"of cases each model ranks better. Reads DIR/metrics.json and DIR/"+evaluation.RanksFile+
			" (s3rec, photos) or DIR/"+evaluation.ValuesFile+" (retail, rerank --model served: NDCG only).", stderr)
	k := fs.Int("k", 10, "cutoff")
	resamples := fs.Int("resamples", 10000, "bootstrap resamples")
	seed := fs.Uint64("seed", 1, "bootstrap seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("eval compare: want two report directories")
	}
	if *k <= 0 || *resamples <= 0 {
		return fmt.Errorf("eval compare: --k %d, --resamples %d: want positive numbers", *k, *resamples)
	}
	var names [2]string
	var sums [2]string
	var ranks [2][]evaluation.Rank
	var vals [2][]evaluation.Metrics
	for i, dir := range fs.Args() {
		b, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
		if err != nil {
			return fmt.Errorf("eval compare: %w", err)
		}
		var m struct {
			Dataset      string `json:"dataset"`
			SHA256       string `json:"sha256"`
			Model        string `json:"model"`
			ModelVersion string `json:"model_version"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("eval compare: %s: %w", dir, err)
		}
		names[i], sums[i] = m.Model, m.SHA256
		if m.ModelVersion != "" {
			names[i] += " " + m.ModelVersion
		}
		rp, vp := filepath.Join(dir, evaluation.RanksFile), filepath.Join(dir, evaluation.ValuesFile)
		if _, err := os.Stat(rp); err == nil {
			if ranks[i], err = evaluation.ReadRanks(rp); err != nil {
				return fmt.Errorf("eval compare: %w", err)
			}
		} else if vals[i], err = evaluation.ReadCaseValues(vp); err != nil {
			return fmt.Errorf("eval compare: %s has neither %s nor a readable %s: %w", dir, evaluation.RanksFile, evaluation.ValuesFile, err)
		}
	}
	if sums[0] != sums[1] {
		return fmt.Errorf("eval compare: the runs are of different data (sha256 %.12s… and %.12s…)", sums[0], sums[1])
	}
	var ps []evaluation.Paired
	var err error
	var cases int
	switch {
	case ranks[0] != nil && ranks[1] != nil:
		ps, err = evaluation.ComparePaired(ranks[0], ranks[1], *k, evaluation.TiesExpected, *resamples, *seed)
		cases = len(ranks[0])
	case vals[0] != nil && vals[1] != nil:
		ps, err = evaluation.ComparePairedValues(vals[0], vals[1], caseMetrics(vals[0], *k), *resamples, *seed)
		for _, v := range vals[0] {
			if v != nil {
				cases++
			}
		}
	default:
		return errors.New("eval compare: one run has ranks.tsv, the other values.tsv: runs of different protocols")
	}
	if err != nil {
		return fmt.Errorf("eval compare: %w", err)
	}
	fmt.Fprintf(stdout, "A = %s (%s), B = %s (%s), %d test cases, %d bootstrap resamples\n\n",
		names[0], fs.Arg(0), names[1], fs.Arg(1), cases, *resamples)
	fmt.Fprintln(stdout, "| metric | A | B | A − B | 95% interval | users A better | users B better |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|")
	for _, p := range ps {
		fmt.Fprintf(stdout, "| %s | %.4f | %.4f | %+.4f | [%+.4f, %+.4f] | %.1f%% | %.1f%% |\n",
			p.Metric, p.A, p.B, p.Diff, p.Lo, p.Hi, 100*p.Better, 100*p.Worse)
	}
	return nil
}

// caseMetrics returns those of HR@k and NDCG@k that the first case with values in
// vals has (retail runs write both, served rerank runs NDCG only).
func caseMetrics(vals []evaluation.Metrics, k int) []string {
	var names []string
	for _, v := range vals {
		if v == nil {
			continue
		}
		for _, name := range []string{fmt.Sprintf("HR@%d", k), fmt.Sprintf("NDCG@%d", k)} {
			if _, ok := v.Get(name); ok {
				names = append(names, name)
			}
		}
		break
	}
	return names
}
