package rerank

import (
	"context"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank/features/text"
)

// The shared datasets live beside the repository (../shared from the project
// root, so ../../../shared from this package). Missing files fail the tests.
const (
	homeDepotFile = "../../../shared/datasets/homedepot/search_relevance.csv.gz"
	glove50kFile  = "../../../shared/datasets/glove/glove-6B-100d-top50k.txt.gz"
)

// TestHomeDepot runs the protocol on the real file: an 80/20 split by query
// with seed 1, every model fitted on the training part and evaluated on the
// held-out queries. bm25 and glove must beat random order.
func TestHomeDepot(t *testing.T) {
	start := time.Now()
	qs, err := ReadFile(homeDepotFile)
	if err != nil {
		t.Fatalf("reading the shared Home Depot file: %v", err)
	}
	if len(qs) != 8219 || Judgements(qs) != 51845 {
		t.Fatalf("read %d queries, %d judgements; want 8219, 51845", len(qs), Judgements(qs))
	}
	t.Logf("read %d queries, %d judgements in %v", len(qs), Judgements(qs), time.Since(start).Round(time.Millisecond))
	train, test := SplitByQuery(qs, 0.2, 1)

	start = time.Now()
	enc, err := text.LoadFile(glove50kFile)
	if err != nil {
		t.Fatalf("loading the shared GloVe file: %v", err)
	}
	t.Logf("loaded %d word vectors in %v", enc.Len(), time.Since(start).Round(time.Millisecond))

	got := map[string]float64{}
	for _, name := range Models {
		start := time.Now()
		s, err := New(name, Config{Seed: 1, Encoder: enc})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Fit(context.Background(), train); err != nil {
			t.Fatalf("%s: Fit: %v", name, err)
		}
		ndcg, n := EvaluateAt(test, s, []int{5, 10})
		got[name] = ndcg[1]
		t.Logf("%-10s NDCG@10 = %.4f  NDCG@5 = %.4f  over %d test queries (%d train queries)  %.2fs",
			name, ndcg[1], ndcg[0], n, len(train), time.Since(start).Seconds())
	}
	// A constant scorer measures the exact expectation of random order.
	exp, _ := Evaluate(test, scoreFunc(func(Item) float32 { return 0 }), 10)
	t.Logf("expected NDCG@10 of random order: %.4f", exp)
	for _, name := range []string{"bm25", "glove"} {
		if got[name] <= got["random"] {
			t.Errorf("%s NDCG@10 = %.4f, not above random's %.4f", name, got[name], got["random"])
		}
	}

	// Run, as `fusionrank eval rerank --train FILE --model bm25` calls it,
	// makes the same split (seed 1, 20%) and so the same number.
	rep, err := Run(context.Background(), RunConfig{Train: homeDepotFile, Model: "bm25"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if v, _ := rep.Metrics.Get("NDCG@10"); v != got["bm25"] || rep.Count != 1388 {
		t.Errorf("Run: NDCG@10 = %v over %d queries; want %v over 1388", v, rep.Count, got["bm25"])
	}
	t.Logf("Run(bm25): %s, sha256 %s…, %d queries, %.2fs", rep.Dataset, rep.SHA256[:12], rep.Count, rep.Seconds)
}
