package rerank

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/features/text"
)

// Ks are the protocol's cutoffs; NDCG@10 is the headline.
var Ks = []int{5, 10, 20}

// DefaultTestFraction is the share of queries held out for testing when no
// separate test file is given.
const DefaultTestFraction = 0.2

// DefaultSeed seeds the split and the random model unless Config says
// otherwise.
const DefaultSeed = 1

// RunConfig is what `fusionrank eval rerank` passes to [Run].
type RunConfig struct {
	// Train is the path of the judgements to fit on (required).
	Train string
	// Test is the path of the judgements to evaluate on. Empty means: split
	// Train by query (TestFraction of the queries held out, seeded by Seed).
	// It must not be the same file as Train.
	Test string
	// TestFraction is the held-out share when Test is empty; 0 means
	// DefaultTestFraction (0.2).
	TestFraction float64
	// Seed seeds the split and the random model; 0 means DefaultSeed (1).
	Seed uint64
	// Model is one of Models or a name in Extra.
	Model string
	// Extra maps further model names (the fusion scorer) to constructors.
	Extra map[string]func() (Scorer, error)
	// Encoder holds the word vectors of the glove models; when nil and one
	// is needed, it is loaded from Vectors.
	Encoder *text.Encoder
	// Vectors is the path of GloVe-format word vectors (FUSIONRANK_TEXT_VECTORS).
	Vectors string
	// BM25 holds the bm25 parameters; the zero value means DefaultBM25.
	BM25 BM25Params
	// Ks are the cutoffs; nil means Ks (5, 10, 20).
	Ks []int
	// Command is the command line, recorded in report.md.
	Command string
	// Progress, when not nil, receives progress messages and a bar
	// (normally os.Stderr).
	Progress io.Writer
}

// Run reads the judgements, fits the configured model on the training
// queries, evaluates it on the test queries and returns the report: NDCG@k
// for each cutoff as the headline (over the test queries with at least two
// grades), the random and bm25 baselines on the same queries as extra rows,
// and the protocol as a note. It writes nothing.
func Run(ctx context.Context, cfg RunConfig) (evaluation.Report, error) {
	start := time.Now()
	var rep evaluation.Report
	if cfg.Train == "" {
		return rep, errors.New("rerank: no training file")
	}
	if cfg.Test != "" && sameFile(cfg.Train, cfg.Test) {
		return rep, fmt.Errorf("rerank: the test file %s is the training file: leave Test empty to split it by query", cfg.Test)
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = DefaultSeed
	}
	frac := cfg.TestFraction
	if frac == 0 {
		frac = DefaultTestFraction
	}
	if !(frac > 0 && frac < 1) {
		return rep, fmt.Errorf("rerank: test fraction %v: want a number in (0, 1)", frac)
	}
	ks := cfg.Ks
	if ks == nil {
		ks = Ks
	}
	if len(ks) == 0 || slices.ContainsFunc(ks, func(k int) bool { return k < 1 }) {
		return rep, fmt.Errorf("rerank: cutoffs %v: want one or more k >= 1", ks)
	}

	s, err := newModel(cfg, seed)
	if err != nil {
		return rep, err
	}

	logf(cfg.Progress, "rerank: reading %s\n", cfg.Train)
	all, err := ReadFile(cfg.Train)
	if err != nil {
		return rep, err
	}
	dataset := cfg.Train
	var train, test []Query
	var protocol string
	if cfg.Test == "" {
		train, test = SplitByQuery(all, frac, seed)
		protocol = fmt.Sprintf("%d queries (%d judgements) of %s split by query with seed %d: %d training queries, %d test queries (%.0f%%).",
			len(all), Judgements(all), filepath.Base(cfg.Train), seed, len(train), len(test), 100*frac)
	} else {
		logf(cfg.Progress, "rerank: reading %s\n", cfg.Test)
		train = all
		if test, err = ReadFile(cfg.Test); err != nil {
			return rep, err
		}
		dataset = cfg.Test
		protocol = fmt.Sprintf("Trained on %s (%d queries), tested on %s (%d queries); %d test queries also occur in the training file.",
			filepath.Base(cfg.Train), len(train), filepath.Base(cfg.Test), len(test), sharedQueries(train, test))
	}
	sum, err := evaluation.FileSHA256(dataset)
	if err != nil {
		return rep, fmt.Errorf("rerank: %w", err)
	}
	logf(cfg.Progress, "rerank: %s\n", protocol)

	logf(cfg.Progress, "rerank: fitting %s on %d queries\n", cfg.Model, len(train))
	if err := s.Fit(ctx, train); err != nil {
		return rep, fmt.Errorf("rerank: fit %s: %w", cfg.Model, err)
	}
	bar := evaluation.NewProgress(cfg.Progress, evaluable(test), "rerank: scoring "+cfg.Model)
	ndcg, n, err := evaluateAt(ctx, test, s, ks, func() { bar.Add(1) })
	bar.Finish()
	if err != nil {
		return rep, err
	}
	rep = evaluation.Report{
		Dataset: filepath.Base(dataset), SHA256: sum, Model: cfg.Model, ModelVersion: versionOf(s),
		CountKey: evaluation.CountQueries, Count: n, Metrics: metrics(ndcg, ks),
		Title:   "Home Depot search relevance, rerank: " + cfg.Model,
		Command: cfg.Command,
	}
	if cfg.Test != "" {
		trainSum, err := evaluation.FileSHA256(cfg.Train)
		if err != nil {
			return rep, fmt.Errorf("rerank: %w", err)
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("Training file %s, SHA-256 %s.", filepath.Base(cfg.Train), trainSum))
	}

	// The cheap baselines on the same test queries, for comparison.
	for _, name := range []string{"random", "bm25"} {
		if name == cfg.Model {
			continue
		}
		b, err := New(name, Config{Seed: seed, BM25: cfg.BM25})
		if err != nil {
			return rep, err
		}
		if err := b.Fit(ctx, train); err != nil {
			return rep, fmt.Errorf("rerank: fit %s: %w", name, err)
		}
		bn, _, err := evaluateAt(ctx, test, b, ks, nil)
		if err != nil {
			return rep, err
		}
		rep.Extra = append(rep.Extra, evaluation.Row{Label: name + " (same test queries)", Metrics: metrics(bn, ks)})
	}
	rep.Notes = append(rep.Notes, protocol+fmt.Sprintf(
		" Each test query's judged products are reordered by the model; NDCG@k uses the gain relevance − 1 "+
			"(relevance the raters' mean grade, 1…3) and is averaged over the %d test queries with at least two distinct grades. "+
			"Tied scores count as the expectation over a random order of the tied products. "+
			"Models are fitted on the training queries only.", n))
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// newModel builds cfg.Model, loading word vectors if it needs them.
func newModel(cfg RunConfig, seed uint64) (Scorer, error) {
	if newExtra, ok := cfg.Extra[cfg.Model]; ok {
		return newExtra()
	}
	mc := Config{Seed: seed, BM25: cfg.BM25, Encoder: cfg.Encoder}
	if strings.HasPrefix(cfg.Model, "glove") && mc.Encoder == nil {
		if cfg.Vectors == "" {
			return nil, fmt.Errorf("rerank: model %s needs word vectors: give their path", cfg.Model)
		}
		logf(cfg.Progress, "rerank: loading word vectors %s\n", cfg.Vectors)
		enc, err := text.LoadFile(cfg.Vectors)
		if err != nil {
			return nil, err
		}
		mc.Encoder = enc
	}
	return New(cfg.Model, mc)
}

// versionOf returns the model's Version, or "none".
func versionOf(s Scorer) string {
	if v, ok := s.(evaluation.Versioner); ok {
		return v.Version()
	}
	return "none"
}

func metrics(ndcg []float64, ks []int) evaluation.Metrics {
	ms := make(evaluation.Metrics, len(ks))
	for i, k := range ks {
		ms[i] = evaluation.Metric{Name: "NDCG", K: k, Value: ndcg[i]}
	}
	return ms
}

// evaluable counts the queries with at least two grades.
func evaluable(qs []Query) int {
	n := 0
	for _, q := range qs {
		if q.Grades() >= 2 {
			n++
		}
	}
	return n
}

// sharedQueries counts the test queries whose text is also a training query.
func sharedQueries(train, test []Query) int {
	seen := make(map[string]bool, len(train))
	for _, q := range train {
		seen[q.Text] = true
	}
	n := 0
	for _, q := range test {
		if seen[q.Text] {
			n++
		}
	}
	return n
}

// sameFile reports whether two paths name the same file.
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}
