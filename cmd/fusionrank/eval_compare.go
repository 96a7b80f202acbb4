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

// runEvalCompare runs `fusionrank eval compare A B`: two s3rec report
// directories of the same dataset, compared case by case (HR@k and NDCG@k,
// mean difference A − B with a 95% bootstrap interval).
func runEvalCompare(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := evalFlags("compare", "[--k 10] [--resamples 10000] DIR_A DIR_B",
		"Compares two `eval s3rec` runs of the same dataset on the same test users: the mean\n"+
			"difference A − B of HR@k and NDCG@k with a 95% paired bootstrap interval, and the share\n"+
			"of users each model ranks better. Reads DIR/metrics.json and DIR/"+evaluation.RanksFile+".", stderr)
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
		if ranks[i], err = evaluation.ReadRanks(filepath.Join(dir, evaluation.RanksFile)); err != nil {
			return fmt.Errorf("eval compare: %w (runs before per-user ranks were written have none)", err)
		}
	}
	if sums[0] != sums[1] {
		return fmt.Errorf("eval compare: the runs are of different data (sha256 %.12s… and %.12s…)", sums[0], sums[1])
	}
	ps, err := evaluation.ComparePaired(ranks[0], ranks[1], *k, evaluation.TiesExpected, *resamples, *seed)
	if err != nil {
		return fmt.Errorf("eval compare: %w", err)
	}
	fmt.Fprintf(stdout, "A = %s (%s), B = %s (%s), %d test users, %d bootstrap resamples\n\n",
		names[0], fs.Arg(0), names[1], fs.Arg(1), len(ranks[0]), *resamples)
	fmt.Fprintln(stdout, "| metric | A | B | A − B | 95% interval | users A better | users B better |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|")
	for _, p := range ps {
		fmt.Fprintf(stdout, "| %s | %.4f | %.4f | %+.4f | [%+.4f, %+.4f] | %.1f%% | %.1f%% |\n",
			p.Metric, p.A, p.B, p.Diff, p.Lo, p.Hi, 100*p.Better, 100*p.Worse)
	}
	return nil
}
