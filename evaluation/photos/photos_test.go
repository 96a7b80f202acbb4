package photos

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/vision"
	"github.com/fusionrank/fusionrank/vision/photoset/photosettest"
)

// tinyEncoder are training options small enough for a test.
var tinyEncoder = vision.TrainOptions{
	Config: vision.Config{Size: 16, Widths: []int{8, 16}, Depth: 1, Dim: 16, TextHidden: 16},
	Epochs: 20, Batch: 16, Shards: 4, Iconic: 4, Texts: 16, LR: 1e-2, Seed: 1,
}

// TestRun runs the whole protocol, both tasks and both built-in models, on
// a small synthetic catalogue whose products differ by colour and pattern,
// and checks what a reader of the report relies on: every metric, fine and
// coarse, in range; one rank per query; the variants as extra rows; and
// that both models find the products far better than chance.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	words, err := photosettest.Write(dir, photosettest.Options{Products: 12, Train: 8, Val: 3, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		model   string
		task    Task
		cases   int
		minHR1  float64 // fine accuracy@1 at least (chance is 1/12)
		minHR5c float64
	}{
		{"descriptor", TaskPhoto, 36, 0.8, 1},
		{"encoder", TaskPhoto, 36, 0.6, 0.9},
		{"descriptor", TaskWords, 36, 0.3, 0.6},
		{"encoder", TaskWords, 36, 0.3, 0.6},
	}
	for _, tt := range tests {
		t.Run(tt.model+" "+tt.task.String(), func(t *testing.T) {
			rep, err := Run(context.Background(), Config{
				Data: dir, Task: tt.task, Model: tt.model, Vectors: words, Train: tinyEncoder, Command: "test",
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Count != tt.cases || len(rep.Ranks) != tt.cases {
				t.Fatalf("%d cases and %d ranks, want %d", rep.Count, len(rep.Ranks), tt.cases)
			}
			for _, key := range []string{"HR@1", "HR@5", "HR@10", "NDCG@5", "NDCG@10", "MRR", "coarse_HR@1", "coarse_HR@5", "coarse_HR@10", "coarse_NDCG@5", "coarse_NDCG@10", "coarse_MRR"} {
				v, ok := rep.Metrics.Get(key)
				if !ok || v < 0 || v > 1 {
					t.Errorf("%s = %v (present %v)", key, v, ok)
				}
			}
			hr1, _ := rep.Metrics.Get("HR@1")
			hr5c, _ := rep.Metrics.Get("coarse_HR@5")
			if hr1 < tt.minHR1 || hr5c < tt.minHR5c {
				t.Errorf("HR@1 %.3f (want ≥ %.2f), coarse HR@5 %.3f (want ≥ %.2f)", hr1, tt.minHR1, hr5c, tt.minHR5c)
			}
			coarse1, _ := rep.Metrics.Get("coarse_HR@1")
			if coarse1 < hr1 {
				t.Errorf("coarse HR@1 %.3f below fine %.3f: a right product is always a right coarse class", coarse1, hr1)
			}
			if len(rep.Extra) == 0 {
				t.Error("no variant rows")
			}
			if tt.task == TaskWords {
				last := rep.Extra[len(rep.Extra)-1]
				if !strings.Contains(last.Label, "unseen") {
					t.Errorf("the words run lacks the unseen-products row (last row %q)", last.Label)
				} else if v, ok := last.Metrics.Get("coarse_HR@10"); !ok || v <= 0 {
					t.Errorf("unseen-products coarse HR@10 = %v", v)
				}
			}
			if rep.ModelVersion == "none" || rep.SHA256 == "" {
				t.Errorf("version %q, sha256 %q", rep.ModelVersion, rep.SHA256)
			}
			out := filepath.Join(t.TempDir(), "out")
			if _, err := rep.WriteDir(out); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"metrics.json", "report.md", "hr_by_k.png", "coarse_hr_by_k.png", evaluation.RanksFile} {
				if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
		})
	}
}

func TestRunRefusesTrainingSplit(t *testing.T) {
	dir := t.TempDir()
	if _, err := photosettest.Write(dir, photosettest.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Config{Data: dir, Split: "train", Model: "descriptor"}); err == nil {
		t.Error("Run evaluated on the training split")
	}
	if _, err := Run(context.Background(), Config{Data: dir, Model: "nope"}); err == nil {
		t.Error("Run accepted an unknown model")
	}
	if _, err := Run(context.Background(), Config{Data: dir, Model: "descriptor", Task: TaskWords}); err == nil {
		t.Error("the words task ran without word vectors")
	}
}
