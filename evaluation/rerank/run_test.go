package rerank

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank/evaluation"
)

// writeJudgements writes a synthetic judgements file of n queries: query i
// is "tool i" and its products' titles share more words with the query the
// more relevant they are, so bm25 can do well.
func writeJudgements(t *testing.T, dir, name string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,product_uid,product_title,search_term,relevance\n")
	id := 0
	for i := range n {
		q := fmt.Sprintf("tool%d widget", i)
		for j, rel := range []string{"1", "2.33", "3", "1.67"} {
			id++
			title := fmt.Sprintf("product %d", j)
			switch rel {
			case "3":
				title += fmt.Sprintf(" tool%d widget", i)
			case "2.33":
				title += " widget"
			}
			fmt.Fprintf(&b, "%d,%d,%s,%s,%s\n", id, 1000+10*i+j, title, q, rel)
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	train := writeJudgements(t, dir, "train.csv", 50)
	other := writeJudgements(t, dir, "other.csv", 10)
	var progress strings.Builder
	rep, err := Run(context.Background(), RunConfig{Train: train, Model: "bm25", Command: "fusionrank eval rerank --train train.csv --model bm25", Progress: &progress})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	sum, _ := evaluation.FileSHA256(train)
	if rep.Dataset != "train.csv" || rep.SHA256 != sum || rep.Model != "bm25" || rep.CountKey != evaluation.CountQueries || rep.Count != 10 {
		t.Errorf("report = %+v", rep)
	}
	if !strings.HasPrefix(rep.ModelVersion, "bm25 k1=1.2 b=0.75") {
		t.Errorf("ModelVersion = %q", rep.ModelVersion)
	}
	for _, k := range []string{"NDCG@5", "NDCG@10", "NDCG@20"} {
		if v, ok := rep.Metrics.Get(k); !ok || !(v > 0.9 && v <= 1) {
			t.Errorf("%s = %v, %v; want a value near 1 on this easy data", k, v, ok)
		}
	}
	if len(rep.Extra) != 1 || !strings.HasPrefix(rep.Extra[0].Label, "random") {
		t.Errorf("extra rows = %+v, want the random baseline only", rep.Extra)
	}
	if len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "split by query with seed 1: 40 training queries, 10 test queries") {
		t.Errorf("notes = %q", rep.Notes)
	}
	if !strings.Contains(progress.String(), "rerank: reading") {
		t.Errorf("no progress reported: %q", progress.String())
	}

	// The report writes a metrics.json in the agreed shape.
	out := filepath.Join(dir, "out")
	if _, err := rep.WriteDir(out); err != nil {
		t.Fatalf("WriteDir: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"dataset", "sha256", "model", "model_version", "queries", "metrics", "seconds"} {
		if _, ok := m[key]; !ok {
			t.Errorf("metrics.json lacks %q: %s", key, raw)
		}
	}

	// A separate test file: trained on all of train, tested on other.
	rep, err = Run(context.Background(), RunConfig{Train: train, Test: other, Model: "random"})
	if err != nil {
		t.Fatalf("Run with a test file: %v", err)
	}
	if rep.Dataset != "other.csv" || rep.Count != 10 || len(rep.Extra) != 1 || !strings.HasPrefix(rep.Extra[0].Label, "bm25") {
		t.Errorf("report = %+v", rep)
	}
	if !strings.Contains(strings.Join(rep.Notes, " "), "10 test queries also occur in the training file") {
		t.Errorf("notes = %q", rep.Notes)
	}

	// An extra model, as the fusion scorer will be wired.
	oracle := func() (Scorer, error) {
		return scoreFunc(func(it Item) float32 { return float32(it.Relevance) }), nil
	}
	rep, err = Run(context.Background(), RunConfig{Train: train, Model: "oracle", Extra: map[string]func() (Scorer, error){"oracle": oracle}, Ks: []int{10}})
	if err != nil {
		t.Fatalf("Run(oracle): %v", err)
	}
	if v, _ := rep.Metrics.Get("NDCG@10"); math.Abs(v-1) > 1e-12 || rep.ModelVersion != "none" || len(rep.Extra) != 2 {
		t.Errorf("oracle: NDCG@10 = %v, version %q, %d extra rows", v, rep.ModelVersion, len(rep.Extra))
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	train := writeJudgements(t, dir, "train.csv", 20)
	link := filepath.Join(dir, "link.csv")
	if err := os.Symlink(train, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  RunConfig
		want string
	}{
		{"no train", RunConfig{Model: "bm25"}, "no training file"},
		{"missing train", RunConfig{Train: filepath.Join(dir, "nope.csv"), Model: "bm25"}, "no such file"},
		{"test is train", RunConfig{Train: train, Test: dir + "/./train.csv", Model: "bm25"}, "is the training file"},
		{"test links to train", RunConfig{Train: train, Test: link, Model: "bm25"}, "is the training file"},
		{"unknown model", RunConfig{Train: train, Model: "fusion"}, "unknown model"},
		{"glove without vectors", RunConfig{Train: train, Model: "glove"}, "needs word vectors"},
		{"bad vectors", RunConfig{Train: train, Model: "glove", Vectors: train}, "line 1"},
		{"bad fraction", RunConfig{Train: train, Model: "bm25", TestFraction: 1}, "test fraction"},
		{"bad cutoff", RunConfig{Train: train, Model: "bm25", Ks: []int{0}}, "cutoffs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, RunConfig{Train: train, Model: "random"}); err == nil {
		t.Error("Run(cancelled): no error")
	}
}
