package rerank

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank/features/text"
)

// tinyCorpus is the training data of the BM25 hand computation: three
// distinct products (one judged twice) with 2, 3 and 2 title tokens.
func tinyCorpus() []Query {
	return []Query{
		{Text: "drill", Items: []Item{
			{ProductUID: "d1", Title: "Red Drill", Relevance: 3},
			{ProductUID: "d2", Title: "blue drill-kit", Relevance: 2},
		}},
		{Text: "paint", Items: []Item{
			{ProductUID: "d3", Title: "red paint", Relevance: 3},
			{ProductUID: "d1", Title: "Red Drill", Relevance: 1},
		}},
	}
}

func TestBM25ByHand(t *testing.T) {
	m, err := NewBM25(DefaultBM25)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Fit(context.Background(), tinyCorpus()); err != nil {
		t.Fatal(err)
	}
	// N = 3 products, avgdl = (2+3+2)/3 = 7/3.
	// df: red 2, drill 2, blue 1, kit 1, paint 1.
	idfRed := math.Log(1 + (3-2+0.5)/(2+0.5))  // ln 1.6
	idfBlue := math.Log(1 + (3-1+0.5)/(1+0.5)) // ln(8/3)
	idfNew := math.Log(1 + (3-0+0.5)/(0+0.5))  // ln 8, a term no title has
	for term, want := range map[string]float64{"red": idfRed, "drill": idfRed, "blue": idfBlue, "kit": idfBlue, "hammer": idfNew} {
		if got := m.IDF(term); math.Abs(got-want) > 1e-12 {
			t.Errorf("IDF(%s) = %v, want %v", term, got, want)
		}
	}
	// A title of length |d|, term frequency tf: tf·2.2 / (tf + 1.2·(0.25 + 0.75·|d|/(7/3))).
	sat := func(tf, dl float64) float64 { return tf * 2.2 / (tf + 1.2*(0.25+0.75*dl*3/7)) }
	tests := []struct {
		query, title string
		want         float64
	}{
		{"red drill", "Red Drill", idfRed*sat(1, 2) + idfRed*sat(1, 2)},
		{"red drill", "blue drill-kit", idfRed * sat(1, 3)},
		{"drill", "drill drill drill", idfRed * sat(3, 3)},
		{"drill drill", "red drill", 2 * idfRed * sat(1, 2)}, // a repeated query term counts twice
		{"blue hammer", "blue hammer", idfBlue*sat(1, 2) + idfNew*sat(1, 2)},
		{"paint", "Red Drill", 0},
		{"", "red drill", 0},
		{"red", "", 0},
	}
	for _, tt := range tests {
		if got := m.Score(tt.query, tt.title); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Score(%q, %q) = %v, want %v", tt.query, tt.title, got, tt.want)
		}
	}

	// ScoreTo agrees with Score, and scoring a test query does not change
	// the training statistics.
	q := Query{Text: "red drill", Items: []Item{{Title: "blue drill-kit"}, {Title: "Red Drill"}, {Title: "red red paint"}}}
	dst := make([]float32, 3)
	m.ScoreTo(dst, q)
	for i, it := range q.Items {
		if want := float32(m.Score(q.Text, it.Title)); dst[i] != want {
			t.Errorf("ScoreTo[%d] = %v, want %v", i, dst[i], want)
		}
	}
	if math.Abs(m.IDF("paint")-idfBlue) > 1e-12 {
		t.Error("ScoreTo changed the statistics")
	}
	if v := m.Version(); v != "bm25 k1=1.2 b=0.75 docs=3 avgdl=2.33" {
		t.Errorf("Version = %q", v)
	}
}

func TestBM25Params(t *testing.T) {
	train := tinyCorpus()
	noLength, _ := NewBM25(BM25Params{K1: 1.2, B: 0})
	binary, _ := NewBM25(BM25Params{K1: 0, B: 0.75})
	for _, m := range []*BM25{noLength, binary} {
		if err := m.Fit(context.Background(), train); err != nil {
			t.Fatal(err)
		}
	}
	// b = 0: the title length does not matter.
	if a, b := noLength.Score("drill", "drill"), noLength.Score("drill", "drill a b c d e f"); a != b {
		t.Errorf("b = 0: scores %v and %v differ with title length", a, b)
	}
	// k1 = 0: a term counts once however often it occurs: the score is its IDF.
	if got := binary.Score("drill", "drill drill drill"); math.Abs(got-binary.IDF("drill")) > 1e-12 {
		t.Errorf("k1 = 0: Score = %v, want IDF %v", got, binary.IDF("drill"))
	}
	for _, p := range []BM25Params{{K1: -1, B: 0.5}, {K1: 1, B: 1.5}, {K1: math.NaN(), B: 0.5}, {K1: math.Inf(1), B: 0.5}} {
		if _, err := NewBM25(p); err == nil {
			t.Errorf("NewBM25(%+v): no error", p)
		}
	}
	m, _ := NewBM25(DefaultBM25)
	if err := m.Fit(context.Background(), nil); err == nil {
		t.Error("Fit(no training queries): no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Fit(ctx, train); err == nil {
		t.Error("Fit(cancelled context): no error")
	}
}

func TestRandom(t *testing.T) {
	q := Query{Text: "angle bracket", Items: items(1, 2, 3, 2, 1)}
	score := func(seed uint64, q Query) []float32 {
		dst := make([]float32, len(q.Items))
		NewRandom(seed).ScoreTo(dst, q)
		return dst
	}
	a, b, c := score(1, q), score(1, q), score(2, q)
	if !slices.Equal(a, b) {
		t.Error("same seed, different scores")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 1 and 2 gave the same scores")
	}
	for _, s := range a {
		if !(s >= 0 && s < 1) {
			t.Errorf("score %v outside [0, 1)", s)
		}
	}
	// A product's score does not depend on where it is in the list.
	rev := Query{Text: q.Text, Items: slices.Clone(q.Items)}
	slices.Reverse(rev.Items)
	r := score(1, rev)
	slices.Reverse(r)
	if !slices.Equal(a, r) {
		t.Errorf("scores depend on position: %v vs %v", a, r)
	}

	// Over many queries its mean NDCG approaches the expectation of random
	// order, which a constant scorer measures exactly.
	var qs []Query
	for i := range 2000 {
		qs = append(qs, Query{Text: strings.Repeat("q", i%7) + string(rune('a'+i%26)) + string(rune(i)), Items: items(3, 2.33, 1.67, 1, 2, 3)})
	}
	got, _ := Evaluate(qs, NewRandom(1), 10)
	want, _ := Evaluate(qs, scoreFunc(func(Item) float32 { return 0 }), 10)
	if math.Abs(got-want) > 0.01 {
		t.Errorf("random NDCG@10 = %.4f, expected %.4f", got, want)
	}
}

// fixtureVectors is a tiny GloVe-format vocabulary for the glove model.
const fixtureVectors = `the 1 0 0
drill 0 1 0
cordless 0 1 1
paint 0 0 1
red 1 1 0
`

func TestGlove(t *testing.T) {
	enc, err := text.Load(strings.NewReader(fixtureVectors))
	if err != nil {
		t.Fatal(err)
	}
	q := Query{Text: "Cordless", Items: []Item{{Title: "drill"}, {Title: "paint"}, {Title: "the"}, {Title: "unknown words"}, {Title: "red drill"}}}
	s := 1 / math.Sqrt2
	tests := []struct {
		name string
		p    Pooling
		want []float64
	}{
		// One-word texts encode to their unit vectors whatever the weight.
		// "red drill" mean: (1,2,0)/√5, so cos with (0,1,1)/√2 = 2/√10.
		{"mean", PoolMean, []float64{s, s, 0, 0, 2 / math.Sqrt(10)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGlove(enc, tt.p)
			dst := make([]float32, len(q.Items))
			g.ScoreTo(dst, q)
			for i := range dst {
				if math.Abs(float64(dst[i])-tt.want[i]) > 1e-6 {
					t.Errorf("score of %q = %v, want %v", q.Items[i].Title, dst[i], tt.want[i])
				}
			}
		})
	}

	// SIF pooling uses the encoder: the score is the dot product of EncodeTo's vectors.
	g := NewGlove(enc, PoolSIF)
	dst := make([]float32, len(q.Items))
	g.ScoreTo(dst, q)
	qv, tv := make([]float32, 3), make([]float32, 3)
	enc.EncodeTo(qv, q.Text)
	for i, it := range q.Items {
		enc.EncodeTo(tv, it.Title)
		want := float64(qv[0]*tv[0] + qv[1]*tv[1] + qv[2]*tv[2])
		if math.Abs(float64(dst[i])-want) > 1e-6 {
			t.Errorf("SIF score of %q = %v, want %v", it.Title, dst[i], want)
		}
	}
	// A query without a known word ties every product at 0.
	g.ScoreTo(dst, Query{Text: "xyzzy", Items: q.Items})
	if slices.ContainsFunc(dst, func(x float32) bool { return x != 0 }) {
		t.Errorf("unknown query scores = %v, want all 0", dst)
	}
}

func TestNew(t *testing.T) {
	enc, err := text.Load(strings.NewReader(fixtureVectors))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Models {
		s, err := New(name, Config{Seed: 3, Encoder: enc})
		if err != nil {
			t.Errorf("New(%q): %v", name, err)
			continue
		}
		if err := s.Fit(context.Background(), tinyCorpus()); err != nil {
			t.Errorf("%s: Fit: %v", name, err)
		}
		if v, ok := s.(interface{ Version() string }); !ok || !strings.HasPrefix(v.Version(), strings.TrimSuffix(name, "-mean")) {
			t.Errorf("%s: missing or odd Version", name)
		}
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"fusion", Config{}, "unknown model"},
		{"glove", Config{}, "needs word vectors"},
		{"bm25", Config{BM25: BM25Params{K1: -1}}, "k1"},
	}
	for _, tt := range tests {
		if _, err := New(tt.name, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q) error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestScoreToPanicsOnShape(t *testing.T) {
	bm, _ := NewBM25(DefaultBM25)
	bm.Fit(context.Background(), tinyCorpus())
	for _, s := range []Scorer{NewRandom(1), bm} {
		func() {
			defer func() {
				if msg, _ := recover().(string); !strings.HasPrefix(msg, "rerank: ") {
					t.Errorf("%T: recover() = %q, want a rerank panic", s, msg)
				}
			}()
			s.ScoreTo(make([]float32, 1), Query{Items: items(1, 2)})
		}()
	}
}
