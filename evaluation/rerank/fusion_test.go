package rerank

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank/features/text"
)

// synonymWorld builds word vectors where every query word q<k> has a synonym s<k> with
// a nearby vector, and queries whose relevant products are titled with the synonym
// only: BM25 sees no overlap, the fusion scorer must match meaning.
func synonymWorld(t *testing.T, n int) (*text.Encoder, []Query) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	vec := func() []float64 {
		v := make([]float64, 16)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	write := func(w string, v []float64) {
		b.WriteString(w)
		for _, x := range v {
			fmt.Fprintf(&b, " %.5f", x)
		}
		b.WriteByte('\n')
	}
	for k := range n {
		v := vec()
		write(fmt.Sprintf("q%d", k), v)
		for i := range v {
			v[i] += 0.2 * rng.NormFloat64()
		}
		write(fmt.Sprintf("s%d", k), v)
	}
	write("thing", vec())
	enc, err := text.Load(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var qs []Query
	for k := range n {
		q := Query{Text: fmt.Sprintf("q%d", k)}
		q.Items = append(q.Items, Item{ProductUID: fmt.Sprint(k), Title: fmt.Sprintf("s%d thing", k), Relevance: 3})
		for j := 1; j <= 4; j++ {
			o := (k + j*7) % n
			q.Items = append(q.Items, Item{ProductUID: fmt.Sprint(o), Title: fmt.Sprintf("s%d thing", o), Relevance: 1})
		}
		// Shuffle so that the relevant product is not always first.
		rng.Shuffle(len(q.Items), func(i, j int) { q.Items[i], q.Items[j] = q.Items[j], q.Items[i] })
		qs = append(qs, q)
	}
	return enc, qs
}

func TestFusionLearnsMeaningBM25Misses(t *testing.T) {
	enc, qs := synonymWorld(t, 120)
	train, test := SplitByQuery(qs, 0.25, 1)
	f, err := NewFusion(enc, FusionOptions{Seed: 1, Epochs: 8, LR: 2e-3})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Fit(context.Background(), train); err != nil {
		t.Fatal(err)
	}
	fusion, n := Evaluate(test, f, 10)
	bm, _ := NewBM25(DefaultBM25)
	bm.Fit(context.Background(), train)
	lexical, _ := Evaluate(test, bm, 10)
	if n == 0 || fusion < 0.95 || fusion <= lexical+0.1 {
		t.Fatalf("held-out NDCG@10: fusion %.3f, bm25 %.3f over %d queries; fusion must find the synonyms", fusion, lexical, n)
	}
	// Reproducible: the same seed gives the same scores.
	g, _ := NewFusion(enc, FusionOptions{Seed: 1, Epochs: 8, LR: 2e-3})
	if err := g.Fit(context.Background(), train); err != nil {
		t.Fatal(err)
	}
	a, b := make([]float32, len(test[0].Items)), make([]float32, len(test[0].Items))
	f.ScoreTo(a, test[0])
	g.ScoreTo(b, test[0])
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed, different scores: %v vs %v", a, b)
	}
}

// TestFusionTrainsFromRandom proves the training itself works: from random weights the
// scorer must learn the synonym matching.
func TestFusionTrainsFromRandom(t *testing.T) {
	enc, qs := synonymWorld(t, 160)
	train, test := SplitByQuery(qs, 0.25, 2)
	f, _ := NewFusion(enc, FusionOptions{Seed: 2, Epochs: 40, Patience: 40, LR: 3e-3, RandomInit: true, DModel: 16, DAttn: 16})
	before := 0.0
	{
		g, _ := NewFusion(enc, FusionOptions{Seed: 2, Epochs: 1, LR: 1e-9, RandomInit: true, DModel: 16, DAttn: 16})
		if err := g.Fit(context.Background(), train); err != nil {
			t.Fatal(err)
		}
		before, _ = Evaluate(test, g, 10)
	}
	if err := f.Fit(context.Background(), train); err != nil {
		t.Fatal(err)
	}
	after, _ := Evaluate(test, f, 10)
	if after < 0.8 || after < before+0.2 {
		t.Fatalf("held-out NDCG@10 from a random start: untrained %.3f, trained %.3f", before, after)
	}
}
