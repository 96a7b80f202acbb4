package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/evaluation/rerank"
	"github.com/fusionrank/fusionrank/features"
)

// servedModel reports whether the eval rerank arguments ask for the served model.
func servedModel(args []string) bool {
	for i, a := range args {
		if a == "--model=served" || a == "-model=served" || ((a == "--model" || a == "-model") && i+1 < len(args) && args[i+1] == "served") {
			return true
		}
	}
	return false
}

// runEvalServed runs `fusionrank eval rerank --model served`: the held-out searches of
// the feature store (fusionrank import searches --holdout) reranked by the service's
// own scoring (recommend's Rerank with the registered, active model version), each
// with its query text and its engine scores as a shop's engine would send them. NDCG@k
// uses the searches' grades as gains, over the searches with at least two grades; the
// engine's own order on the same searches is the baseline row, and the paired bootstrap
// of the per-search NDCG@10 difference is in the notes. Each search's NDCG@k goes to
// values.tsv, for eval compare against another served run of the same searches.
func runEvalServed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval rerank", "eval rerank --model served --out DIR", stderr)
	_ = fs.String("model", "served", "served: the active model version, through the service's rerank")
	out := fs.String("out", "", "output directory for metrics.json, report.md and plots (required)")
	resamples := fs.Int("resamples", 10000, "bootstrap resamples of the paired comparison")
	seed := fs.Uint64("seed", 1, "bootstrap seed")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	cfg, err := loadConfig(os.Getenv, fs, args)
	if err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errors.New("eval rerank: --out is required")
	}
	start := time.Now()
	m := &Main{Config: cfg, Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if err := m.Open(ctx); err != nil {
		return err
	}
	defer m.Close()
	version := m.Models.Version()
	if version == "none" {
		return fusionrank.Errorf(fusionrank.Conflict, "eval rerank --model served: no active model: fusionrank train --activate first")
	}
	var searches []features.LoggedSearch
	h := sha256.New()
	if _, err := features.ExportSearches(ctx, m.DB, true, func(s features.LoggedSearch) error {
		fmt.Fprintf(h, "%s\x00%s\n", s.ID, s.Text)
		for p, im := range s.Impressions {
			fmt.Fprintf(h, "%s\x00%g\n", im.ItemID, s.Outcomes[p])
		}
		if distinctValues(s.Outcomes) >= 2 {
			searches = append(searches, s)
		}
		return nil
	}); err != nil {
		return err
	}
	if len(searches) == 0 {
		return fusionrank.Errorf(fusionrank.Conflict, "eval rerank --model served: no held-out searches with two grades: fusionrank import searches --holdout FRACTION first")
	}
	ks := rerank.Ks
	served := make([][]float64, len(ks))
	engine := make([][]float64, len(ks))
	bar := evaluation.NewProgress(progressWriter(stderr, *quiet), len(searches), "rerank: scoring the served model "+version)
	for _, s := range searches {
		req := fusionrank.RerankRequest{Query: fusionrank.Query{Text: s.Text, Vectors: s.Vectors}, Count: len(s.Impressions)}
		eng := make([]float32, len(s.Impressions))
		for p, im := range s.Impressions {
			req.Items = append(req.Items, fusionrank.Candidate{ID: im.ItemID, Score: im.EngineScore})
			eng[p] = float32(math.Inf(-1))
			if im.EngineScore != nil {
				eng[p] = float32(*im.EngineScore)
			}
		}
		ans, err := m.Rank.Rerank(ctx, req)
		if err != nil {
			return fmt.Errorf("search %s: %w", s.ID, err)
		}
		if ans.ModelVersion != version {
			return fmt.Errorf("search %s: answered by %q, not the active model %s", s.ID, ans.ModelVersion, version)
		}
		// The answer's order is the served ranking: scores by rank, so that ties are
		// the service's (none: the answer is a total order).
		rank := make(map[string]float32, len(ans.Items))
		for r, it := range ans.Items {
			rank[it.ID] = float32(len(ans.Items) - r)
		}
		sc := make([]float32, len(s.Impressions))
		for p, im := range s.Impressions {
			sc[p] = rank[im.ItemID]
		}
		for i, k := range ks {
			served[i] = append(served[i], rerank.NDCG(sc, s.Outcomes, k))
			engine[i] = append(engine[i], rerank.NDCG(eng, s.Outcomes, k))
		}
		bar.Add(1)
	}
	bar.Finish()
	mean := func(xs []float64) float64 {
		var s float64
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	var ms, es evaluation.Metrics
	cases := make([]evaluation.Metrics, len(searches))
	for i, k := range ks {
		for j := range searches {
			cases[j] = append(cases[j], evaluation.Metric{Name: "NDCG", K: k, Value: served[i][j]})
		}
		ms = append(ms, evaluation.Metric{Name: "NDCG", K: k, Value: mean(served[i])})
		es = append(es, evaluation.Metric{Name: "NDCG", K: k, Value: mean(engine[i])})
	}
	k10 := 1 // rerank.Ks = 5, 10, 20
	p, err := evaluation.PairedValues("NDCG@10", served[k10], engine[k10], *resamples, *seed)
	if err != nil {
		return err
	}
	rep := evaluation.Report{
		Dataset: "held-out searches of " + redact(cfg.DatabaseURL), SHA256: hex.EncodeToString(h.Sum(nil)), Model: "served", ModelVersion: version,
		CountKey: evaluation.CountQueries, Count: len(searches), Metrics: ms, CaseValues: cases,
		Title:   "Held-out searches, reranked by the served model " + version,
		Command: "fusionrank eval rerank " + strings.Join(args, " "),
		Extra:   []evaluation.Row{{Label: "engine order (the engine scores sent in the requests; same searches)", Metrics: es}},
		Notes: []string{
			fmt.Sprintf("Each held-out search (fusionrank import searches --holdout) with at least two grades is sent through recommend's Rerank "+
				"with its query text and the engine's scores, answered by the active model %s; NDCG@k uses the search's grades as gains, "+
				"ties in the engine's scores count as the expectation over their order.", version),
			fmt.Sprintf("Paired over the %d searches: NDCG@10 served − engine = %+.4f, 95%% bootstrap interval [%+.4f, %+.4f] (%d resamples, seed %d); "+
				"served better on %.1f%% of the searches, worse on %.1f%%.", len(searches), p.Diff, p.Lo, p.Hi, *resamples, *seed, 100*p.Better, 100*p.Worse),
		},
		Seconds: time.Since(start).Seconds(),
	}
	fmt.Fprintf(stdout, "paired NDCG@10: served %.4f, engine %.4f, difference %+.4f [%+.4f, %+.4f]\n", p.A, p.B, p.Diff, p.Lo, p.Hi)
	return writeEval(rep, *out, stdout, stderr)
}

// distinctValues counts the distinct values of xs.
func distinctValues(xs []float64) int {
	seen := map[float64]bool{}
	for _, x := range xs {
		seen[x] = true
	}
	return len(seen)
}
