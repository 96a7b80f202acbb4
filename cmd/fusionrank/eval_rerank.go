package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/fusionrank/fusionrank/evaluation/rerank"
	"github.com/fusionrank/fusionrank/features/text"
)

func runEvalRerank(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if servedModel(args) {
		return runEvalServed(ctx, args, stdout, stderr)
	}
	// rerank.Models, and the fusion scorer, built here from the flags.
	names := append(slices.Clone(rerank.Models), "fusion")
	fs := evalFlags("rerank", "--train FILE [--test FILE] --model "+strings.Join(names, "|")+" --out DIR\n       fusionrank eval rerank --model served --out DIR   (the held-out searches of the feature store, through the service's rerank with the active model)",
		"Search relevance (Home Depot CSV: id, product_uid, product_title, search_term, relevance): fit on the\n"+
			"training file's queries, then rerank each test query's judged products; NDCG@k with gain = relevance − 1\n"+
			"over queries with at least two distinct grades. Without --test, --test-fraction of the training\n"+
			"file's queries are held out (split by query, seeded).", stderr)
	train := fs.String("train", "", "judgements to fit on, e.g. search_relevance.csv.gz (required)")
	test := fs.String("test", "", "judgements to evaluate on (default: hold out queries of --train)")
	frac := fs.Float64("test-fraction", 0, "held-out share of queries without --test (0: 0.2)")
	seed := fs.Uint64("seed", 0, "seed of the split and the random model (0: 1)")
	model := fs.String("model", "", "model: "+strings.Join(names, "|")+" (required)")
	vectors := fs.String("vectors", os.Getenv("FUSIONRANK_TEXT_VECTORS"), "GloVe-format word vectors for the glove models (FUSIONRANK_TEXT_VECTORS)")
	out := fs.String("out", "", "output directory for metrics.json, report.md and plots (required)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *train == "" || *out == "" {
		fs.Usage()
		return errors.New("eval rerank: --train and --out are required")
	}
	extra := map[string]func() (rerank.Scorer, error){}
	extra["fusion"] = func() (rerank.Scorer, error) {
		if *vectors == "" {
			return nil, errors.New("model fusion needs word vectors: --vectors or FUSIONRANK_TEXT_VECTORS")
		}
		enc, err := text.LoadFile(*vectors)
		if err != nil {
			return nil, err
		}
		return rerank.NewFusion(enc, rerank.FusionOptions{Seed: *seed})
	}
	if !slices.Contains(names, *model) {
		return fmt.Errorf("eval rerank: --model %q: want %s", *model, strings.Join(names, "|"))
	}
	rep, err := rerank.Run(ctx, rerank.RunConfig{
		Train: *train, Test: *test, TestFraction: *frac, Seed: *seed, Model: *model, Extra: extra,
		Vectors: *vectors, Command: "fusionrank eval rerank " + strings.Join(args, " "), Progress: progressWriter(stderr, *quiet),
	})
	if err != nil {
		return fmt.Errorf("eval rerank: %w", err)
	}
	return writeEval(rep, *out, stdout, stderr)
}
