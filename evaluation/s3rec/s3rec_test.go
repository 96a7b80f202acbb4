package s3rec

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	seqfile "github.com/fusionrank/fusionrank/dataset/s3rec"
	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/evaluation/baseline"
)

// beautyPath is the real Beauty file, relative to this package; CI clones
// the repository with shared/ beside it.
const beautyPath = "../../../shared/datasets/amazon-beauty/Beauty.txt"

func loadBeauty(t *testing.T) *seqfile.Dataset {
	t.Helper()
	d, err := seqfile.Load(beautyPath)
	if err != nil {
		t.Fatalf("the real Beauty file is needed for this test: %v", err)
	}
	return d
}

func TestSplit(t *testing.T) {
	d, err := seqfile.Read(strings.NewReader("a 1 2 3 4\nb 5 6\nc 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		stage Stage
		train [][]int32
		cases []evaluation.Case
	}{
		{Test, [][]int32{{0, 1, 2}, {4}, {}}, []evaluation.Case{{History: []int32{0, 1, 2}, Target: 3}, {History: []int32{4}, Target: 5}}},
		{Validation, [][]int32{{0, 1}, {}, {}}, []evaluation.Case{{History: []int32{0, 1}, Target: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.stage.String(), func(t *testing.T) {
			train, cases := Split(d, tt.stage)
			if !slices.EqualFunc(train.Users, tt.train, slices.Equal[[]int32]) {
				t.Fatalf("train %v, want %v", train.Users, tt.train)
			}
			if len(cases) != len(tt.cases) {
				t.Fatalf("cases %v, want %v", cases, tt.cases)
			}
			for i, c := range cases {
				if c.Target != tt.cases[i].Target || !slices.Equal(c.History, tt.cases[i].History) {
					t.Fatalf("case %d: %v, want %v", i, c, tt.cases[i])
				}
				// The target never appears in the training data of its own stage.
				for _, it := range train.Users[i] {
					if it == c.Target {
						t.Fatalf("target %d leaked into training", c.Target)
					}
				}
			}
			// Appending to a training sequence must not overwrite the held-out items.
			_ = append(train.Users[0], 99)
			if d.Seqs[0][len(d.Seqs[0])-1] != 3 {
				t.Fatal("training slice aliases the held-out items")
			}
		})
	}
}

// TestPopRecReproduced checks the published PopRec row on the real file:
// popularity over all interactions, history masked, under every tie rule.
func TestPopRecReproduced(t *testing.T) {
	d := loadBeauty(t)
	if len(d.Seqs) != 22363 || d.NumItems() != 12101 || d.Interactions() != 198502 {
		t.Fatalf("Beauty.txt: %d users, %d items, %d interactions; want 22363, 12101, 198502", len(d.Seqs), d.NumItems(), d.Interactions())
	}
	_, cases := Split(d, Test)
	want := PublishedBeauty[0].Metrics
	for _, rule := range []evaluation.TieRule{evaluation.TiesExpected, evaluation.TiesPessimistic, evaluation.TiesOptimistic, evaluation.TiesByIndex} {
		t.Run(rule.String(), func(t *testing.T) {
			got, err := Evaluate(context.Background(), &baseline.Pop{}, All(d), cases, Options{Tie: rule}, "pop")
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range want {
				v, _ := got.Get(w.Key())
				if math.Round(v*1e4) != math.Round(w.Value*1e4) {
					t.Errorf("%s = %.6f, published %.4f", w.Key(), v, w.Value)
				}
			}
		})
	}
}

// TestMarkovBeatsPopOnValidation checks that the sequential baseline is
// worth its name: on the validation targets, with training data that ends
// before them, the first-order chain and the selected-looking decayed
// window both beat popularity by a wide margin at every cutoff.
func TestMarkovBeatsPopOnValidation(t *testing.T) {
	d := loadBeauty(t)
	train, cases := Split(d, Validation)
	ctx := context.Background()
	pop, err := Evaluate(ctx, &baseline.Pop{}, train, cases, Options{}, "pop")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*baseline.Markov{{Order: 1}, {Order: 5, Decay: 0.3}} {
		t.Run(m.Version(), func(t *testing.T) {
			got, err := Evaluate(ctx, m, train, cases, Options{}, "markov")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pop {
				v, _ := got.Get(p.Key())
				if v < 3*p.Value {
					t.Errorf("%s: markov %.4f is not 3× pop %.4f", p.Key(), v, p.Value)
				}
			}
		})
	}
}

// TestRunFixture runs the whole s3rec protocol on a tiny file and checks
// the report's shape and that markov selection happened on validation.
func TestRunFixture(t *testing.T) {
	path := t.TempDir() + "/seq.txt"
	var b strings.Builder
	// Every user walks the chain 1→2→3→4→5 from some offset, so a Markov chain is perfect.
	for u := range 30 {
		b.WriteString("u" + itoa(u))
		for i := range 5 {
			b.WriteString(" " + itoa(1+(u+i)%8))
		}
		b.WriteString("\n")
	}
	if err := writeFile(path, b.String()); err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{"pop", "markov"} {
		t.Run(model, func(t *testing.T) {
			rep, err := Run(context.Background(), Config{Sequences: path, Model: model})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Count != 30 || rep.CountKey != evaluation.CountUsers || len(rep.SHA256) != 64 || rep.ModelVersion == "" {
				t.Fatalf("report header %+v", rep)
			}
			if len(rep.Metrics) != 6 || len(rep.Published) == 0 || len(rep.Extra) == 0 {
				t.Fatalf("report rows %+v", rep)
			}
			if hr, _ := rep.Metrics.Get("HR@5"); model == "markov" && hr != 1 {
				t.Fatalf("markov HR@5 = %v on a deterministic chain", hr)
			}
		})
	}
	if _, err := Run(context.Background(), Config{Sequences: path, Model: "nope"}); err == nil {
		t.Fatal("unknown model accepted")
	}
}
