package rerank

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/fusionrank/fusionrank/features/text"
)

// Scorer is a reranking model under evaluation: it learns from the training
// queries, then scores the judged products of a query.
//
// Fit is called once, before any ScoreTo, with the training queries only
// (never the test queries). ScoreTo writes one score per item of q into dst
// (len(dst) == len(q.Items)); higher ranks first, ties are allowed (see
// [NDCG]) and scores must not be NaN. ScoreTo must be safe for concurrent
// use after Fit returns and must not modify q.
type Scorer interface {
	Fit(ctx context.Context, train []Query) error
	ScoreTo(dst []float32, q Query)
}

// Models lists the model names [New] knows, in the order of the report.
var Models = []string{"random", "bm25", "glove", "glove-mean"}

// Config holds what [New] needs to build a model by name. The zero value is
// valid for random and bm25.
type Config struct {
	// Seed seeds the random model. Default 0.
	Seed uint64
	// BM25 holds the bm25 parameters; the zero value means DefaultBM25.
	BM25 BM25Params
	// Encoder is the word-vector encoder of the glove models (required for
	// them, unused by the others).
	Encoder *text.Encoder
}

// New returns the unfitted model called name (one of [Models]).
func New(name string, cfg Config) (Scorer, error) {
	switch name {
	case "random":
		return NewRandom(cfg.Seed), nil
	case "bm25":
		p := cfg.BM25
		if p == (BM25Params{}) {
			p = DefaultBM25
		}
		return NewBM25(p)
	case "glove", "glove-mean":
		if cfg.Encoder == nil {
			return nil, fmt.Errorf("rerank: model %s needs word vectors (Config.Encoder)", name)
		}
		w := PoolSIF
		if name == "glove-mean" {
			w = PoolMean
		}
		return NewGlove(cfg.Encoder, w), nil
	}
	return nil, fmt.Errorf("rerank: unknown model %q (known: %s)", name, strings.Join(Models, ", "))
}

// Random scores items in a random order that is fixed by its seed: the score
// of an item is a hash of the seed, the query text and the product id, so it
// does not depend on evaluation order or concurrency.
type Random struct {
	seed uint64
}

// NewRandom returns a random scorer with the given seed.
func NewRandom(seed uint64) *Random { return &Random{seed: seed} }

// Fit does nothing: random order learns nothing.
func (r *Random) Fit(context.Context, []Query) error { return nil }

// ScoreTo writes a pseudo-random score in [0, 1) for each item of q.
func (r *Random) ScoreTo(dst []float32, q Query) {
	checkDst("Random", dst, q)
	hq := fnv1a(fnvOffset, q.Text)
	for i, it := range q.Items {
		h := fnv1a(fnv1a(hq, "\x00"), it.ProductUID)
		x := splitmix64(h ^ r.seed)
		dst[i] = float32(x>>40) / (1 << 24) // 24 bits: exact in a float32
	}
}

// fnvOffset is the FNV-1a 64-bit offset basis.
const fnvOffset = 14695981039346656037

// fnv1a continues the 64-bit FNV-1a hash h over the bytes of s.
func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Version describes the fitted model, for model_version in metrics.json.
func (r *Random) Version() string { return fmt.Sprintf("random seed=%d", r.seed) }

// splitmix64 is the SplitMix64 finaliser, a good 64-bit mixer.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// BM25Params are the knobs of the BM25 lexical model.
type BM25Params struct {
	// K1 controls term-frequency saturation (>= 0; 0 counts a term once).
	K1 float64
	// B controls document-length normalisation, in [0, 1] (0: none).
	B float64
}

// DefaultBM25 holds the usual parameters, K1 = 1.2 and B = 0.75 (Robertson
// and Zaragoza, 2009; the Lucene defaults).
var DefaultBM25 = BM25Params{K1: 1.2, B: 0.75}

// BM25 is the Okapi BM25 lexical baseline over product titles. Its
// statistics (document count, document frequencies, mean title length) come
// from the distinct products of the training queries only; see the package
// documentation for the formula.
type BM25 struct {
	p     BM25Params
	n     int            // distinct training products
	avgdl float64        // mean title length in tokens
	df    map[string]int // training products whose title has the term
}

// NewBM25 returns an unfitted BM25 model, or an error if p is out of range.
func NewBM25(p BM25Params) (*BM25, error) {
	if !(p.K1 >= 0) || math.IsInf(p.K1, 0) || !(p.B >= 0 && p.B <= 1) {
		return nil, fmt.Errorf("rerank: BM25 parameters k1 = %v, b = %v: want k1 >= 0 and b in [0, 1]", p.K1, p.B)
	}
	return &BM25{p: p}, nil
}

// Fit collects the title statistics of the distinct products (by
// ProductUID, first title seen) of the training queries.
func (m *BM25) Fit(ctx context.Context, train []Query) error {
	df := map[string]int{}
	seen := map[string]bool{}
	total := 0
	for i, q := range train {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		for _, it := range q.Items {
			if seen[it.ProductUID] {
				continue
			}
			seen[it.ProductUID] = true
			toks := text.Tokenize(it.Title)
			total += len(toks)
			sort.Strings(toks)
			for j, t := range toks {
				if j == 0 || toks[j-1] != t {
					df[t]++
				}
			}
		}
	}
	if len(seen) == 0 {
		return errors.New("rerank: BM25: no training products")
	}
	m.n, m.df = len(seen), df
	m.avgdl = float64(total) / float64(len(seen))
	return nil
}

// IDF returns the inverse document frequency of a (tokenised) term,
// ln(1 + (N − df + 0.5)/(df + 0.5)); a term no training title has gets the
// largest value.
func (m *BM25) IDF(term string) float64 {
	df := float64(m.df[term])
	return math.Log(1 + (float64(m.n)-df+0.5)/(df+0.5))
}

// Score returns the BM25 score of a title for a query; both are tokenised
// with text.Tokenize.
func (m *BM25) Score(query, title string) float64 {
	return m.score(text.Tokenize(query), text.Tokenize(title))
}

func (m *BM25) score(qt, dt []string) float64 {
	if len(qt) == 0 || len(dt) == 0 {
		return 0
	}
	norm := m.p.K1 * (1 - m.p.B + m.p.B*float64(len(dt))/m.avgdl)
	s := 0.0
	for _, t := range qt {
		tf := 0
		for _, d := range dt {
			if d == t {
				tf++
			}
		}
		if tf == 0 {
			continue
		}
		f := float64(tf)
		s += m.IDF(t) * f * (m.p.K1 + 1) / (f + norm)
	}
	return s
}

// ScoreTo writes the BM25 score of each item's title for q.
func (m *BM25) ScoreTo(dst []float32, q Query) {
	checkDst("BM25", dst, q)
	if m.df == nil {
		panic("rerank: BM25.ScoreTo before Fit")
	}
	qt := text.Tokenize(q.Text)
	for i, it := range q.Items {
		dst[i] = float32(m.score(qt, text.Tokenize(it.Title)))
	}
}

// Version describes the fitted model, for model_version in metrics.json.
func (m *BM25) Version() string {
	return fmt.Sprintf("bm25 k1=%g b=%g docs=%d avgdl=%.2f", m.p.K1, m.p.B, m.n, m.avgdl)
}

// Pooling says how the glove model pools word vectors into a text vector.
type Pooling int

const (
	// PoolSIF is the text encoder's own pooling (text.Encoder.EncodeTo):
	// SIF-weighted sum of word vectors, unit length.
	PoolSIF Pooling = iota
	// PoolMean is the plain mean of the word vectors of the known tokens.
	PoolMean
)

// Glove scores an item by the cosine between the pooled word vectors of the
// query and of the product title. It learns nothing from training data.
// A text without a known word pools to the zero vector, and its cosine is 0.
type Glove struct {
	enc     *text.Encoder
	pooling Pooling
	pool    sync.Pool // *[2][]float32 workspaces
}

// NewGlove returns a glove model over enc's vocabulary.
func NewGlove(enc *text.Encoder, p Pooling) *Glove {
	g := &Glove{enc: enc, pooling: p}
	g.pool.New = func() any {
		return &[2][]float32{make([]float32, enc.Dim()), make([]float32, enc.Dim())}
	}
	return g
}

// Fit does nothing: the word vectors are pre-trained.
func (g *Glove) Fit(context.Context, []Query) error { return nil }

// ScoreTo writes cos(pool(query), pool(title)) for each item of q.
func (g *Glove) ScoreTo(dst []float32, q Query) {
	checkDst("Glove", dst, q)
	ws := g.pool.Get().(*[2][]float32)
	defer g.pool.Put(ws)
	qv, tv := ws[0], ws[1]
	g.encode(qv, q.Text)
	for i, it := range q.Items {
		g.encode(tv, it.Title)
		dot := 0.0
		for d := range qv {
			dot += float64(qv[d]) * float64(tv[d])
		}
		dst[i] = float32(dot)
	}
}

// encode writes the unit-length pooled vector of s into dst (zero when s
// has no known word).
func (g *Glove) encode(dst []float32, s string) {
	if g.pooling == PoolSIF {
		g.enc.EncodeTo(dst, s)
		return
	}
	clear(dst)
	for _, t := range text.Tokenize(s) {
		v, ok := g.enc.Vector(t)
		if !ok {
			continue
		}
		for d := range dst {
			dst[d] += v[d]
		}
	}
	// The mean's 1/n factor does not change a cosine: normalise directly.
	ss := 0.0
	for _, x := range dst {
		ss += float64(x) * float64(x)
	}
	if ss > 0 {
		inv := float32(1 / math.Sqrt(ss))
		for d := range dst {
			dst[d] *= inv
		}
	}
}

// Version describes the model, for model_version in metrics.json.
func (g *Glove) Version() string {
	p := "mean"
	if g.pooling == PoolSIF {
		p = fmt.Sprintf("sif a=%g", g.enc.SIF())
	}
	return fmt.Sprintf("glove pooling=%s words=%d dim=%d", p, g.enc.Len(), g.enc.Dim())
}

func checkDst(model string, dst []float32, q Query) {
	if len(dst) != len(q.Items) {
		panic(fmt.Sprintf("rerank: %s.ScoreTo: len(dst) = %d for %d items", model, len(dst), len(q.Items)))
	}
}
