package rerank

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/fusionrank/fusionrank/features/text"
	"github.com/fusionrank/fusionrank/ranking"
	"github.com/fusionrank/fusionrank/training"
)

// FusionOptions are the knobs of the fusion reranker. Zero values take the defaults.
type FusionOptions struct {
	Seed        uint64  // default 0
	Epochs      int     // maximum epochs; default 30
	Patience    int     // epochs without a better validation NDCG@10 before stopping; default 4
	LR          float64 // Adam learning rate; default 5e-4 (chosen on validation queries)
	DModel      int     // default 32
	DAttn       int     // default 16
	Batch       int     // examples per step; default 32
	ValFraction float64 // training queries held out for early stopping; default 0.15
	Words       int     // query word slots; default 8
	// RandomInit starts from random weights instead of the cosine start (see Fusion).
	RandomInit bool
	// WeightDecay is AdamW's decoupled weight decay; default 0.
	WeightDecay float64
}

// Fusion reranks with the fusion scorer (package ranking): the query's words, one text
// token each, attend over the product title's text vector (SIF-pooled, as the service
// encodes items), and the BM25 score, standardised within the query, enters as the
// scorer's engine_score feature — exactly how the service's rerank sees a search
// engine's score. Fit learns the scorer on the training queries with softmax
// cross-entropy (training.TrainStep, the float64 reference pass): for every grade
// level of a query, each product of that grade against the query's products of lower
// grades. Epochs are chosen on held-out training queries.
//
// Training starts from the "cosine start": d = d_a = the word vectors' dimension,
// P_text = Wv = Wo = I and small random Wq, Wk, so that at first every word attends
// alike and R_i·V = x_i·y is the cosine of word i with the title: the score begins as
// the mean word–title cosine (the glove baseline's signal) plus u·f (BM25), and
// training moves it from there. A random start overfits these small data within an
// epoch or two.
type Fusion struct {
	enc  *text.Encoder
	opt  FusionOptions
	bm25 *BM25

	model  *ranking.Model
	layout ranking.Layout
	curve  []float64 // validation NDCG@10 by epoch
	best   int
	pool   sync.Pool
}

// NewFusion returns an untrained fusion reranker.
func NewFusion(enc *text.Encoder, opt FusionOptions) (*Fusion, error) {
	if enc == nil {
		return nil, fmt.Errorf("rerank: fusion needs word vectors")
	}
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&opt.Epochs, 30)
	def(&opt.Patience, 4)
	def(&opt.DModel, 32)
	def(&opt.DAttn, 16)
	def(&opt.Batch, 32)
	def(&opt.Words, 8)
	if opt.LR <= 0 {
		opt.LR = 5e-4
	}
	if opt.ValFraction <= 0 {
		opt.ValFraction = 0.15
	}
	bm, err := NewBM25(DefaultBM25)
	if err != nil {
		return nil, err
	}
	return &Fusion{enc: enc, opt: opt, bm25: bm, layout: ranking.Layout{Words: opt.Words}}, nil
}

// prepared is one query in the scorer's form.
type prepared struct {
	q     ranking.Query
	cands []ranking.Candidate
}

func (f *Fusion) prepare(q Query) prepared {
	var p prepared
	_, words, _ := f.enc.Tokens(q.Text)
	f.layout.Build(&p.q, f.model.Config(), ranking.QueryParts{Words: words}, nil)
	bm := make([]float64, len(q.Items))
	var sum, sq float64
	for i, it := range q.Items {
		bm[i] = f.bm25.Score(q.Text, it.Title)
		sum += bm[i]
		sq += bm[i] * bm[i]
	}
	n := float64(len(q.Items))
	mean := sum / n
	sd := math.Sqrt(math.Max(sq/n-mean*mean, 0))
	if sd == 0 {
		sd = 1
	}
	p.cands = make([]ranking.Candidate, len(q.Items))
	for i, it := range q.Items {
		v := make([]float32, f.enc.Dim())
		known, _ := f.enc.EncodeTo(v, it.Title)
		feats := make([]float32, ranking.NFeatures)
		feats[ranking.FeatEngine] = float32((bm[i] - mean) / sd)
		feats[ranking.FeatHasEngine] = 1
		p.cands[i] = ranking.Candidate{Tokens: [][]float32{v}, Mask: []bool{known > 0}, Features: feats}
	}
	return p
}

// Fit trains the scorer on the training queries.
func (f *Fusion) Fit(ctx context.Context, train []Query) error {
	if err := f.bm25.Fit(ctx, train); err != nil {
		return err
	}
	fit, val := SplitByQuery(train, f.opt.ValFraction, f.opt.Seed+1)
	dm, da := f.opt.DModel, f.opt.DAttn
	if !f.opt.RandomInit {
		dm, da = f.enc.Dim(), f.enc.Dim()
	}
	cfg := ranking.Config{Modalities: []ranking.Modality{{Name: "text", Dim: f.enc.Dim()}}, DModel: dm, DAttn: da,
		NFeatures: ranking.NFeatures, MaxQueryTokens: f.layout.Tokens()}
	rng := rand.New(rand.NewPCG(f.opt.Seed, 0x726572))
	f.model = ranking.NewRandomModel(cfg, rng)
	if !f.opt.RandomInit {
		for _, t := range f.model.Tensors() {
			switch t.Name {
			case "proj.0", "wv", "wo":
				clear(t.Data)
				for i := 0; i < t.Shape[0]; i++ {
					t.Data[i*t.Shape[1]+i] = 1
				}
			case "wq", "wk":
				for i := range t.Data {
					t.Data[i] *= 0.1
				}
			}
		}
	}
	var examples []training.Example
	for _, q := range fit {
		if q.Grades() < 2 {
			continue
		}
		p := f.prepare(q)
		for i, it := range q.Items {
			// it against every product graded below it.
			cands := []ranking.Candidate{p.cands[i]}
			for j, other := range q.Items {
				if other.Relevance < it.Relevance {
					cands = append(cands, p.cands[j])
				}
			}
			if len(cands) > 1 {
				examples = append(examples, training.Example{Query: p.q, Candidates: cands, Positive: 0})
			}
		}
	}
	if len(examples) == 0 {
		return fmt.Errorf("rerank: fusion: no training query has two grades")
	}
	opt := training.NewAdam(training.AdamConfig{LR: f.opt.LR, WeightDecay: f.opt.WeightDecay})
	g := training.NewGrads(f.model)
	bestScore := math.Inf(-1)
	var best *ranking.Model
	bad := 0
	for epoch := 1; epoch <= f.opt.Epochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rng.Shuffle(len(examples), func(i, j int) { examples[i], examples[j] = examples[j], examples[i] })
		for s := 0; s < len(examples); s += f.opt.Batch {
			training.TrainStep(f.model, opt, g, examples[s:min(s+f.opt.Batch, len(examples))], nil)
		}
		score, _ := Evaluate(val, f, 10)
		f.curve = append(f.curve, score)
		if score > bestScore {
			bestScore, best, f.best, bad = score, f.model.Clone(), epoch, 0
		} else if bad++; bad >= f.opt.Patience {
			break
		}
	}
	f.model = best
	return nil
}

// ScoreTo writes the fusion scorer's score of each judged product.
func (f *Fusion) ScoreTo(dst []float32, q Query) {
	checkDst("Fusion", dst, q)
	p := f.prepare(q)
	buf, _ := f.pool.Get().(*[]float64)
	if buf == nil {
		buf = new([]float64)
	}
	if cap(*buf) < len(q.Items) {
		*buf = make([]float64, len(q.Items))
	}
	s := (*buf)[:len(q.Items)]
	training.ScoresTo(s, f.model, p.q, p.cands)
	for i, x := range s {
		dst[i] = float32(x)
	}
	f.pool.Put(buf)
}

// Version names the fitted model.
func (f *Fusion) Version() string {
	c := f.model.Config()
	start := "cosine"
	if f.opt.RandomInit {
		start = "random"
	}
	return fmt.Sprintf("fusion d=%d d_a=%d words=%d start=%s lr=%g epochs=%d/%d seed=%d", c.DModel, c.DAttn, f.opt.Words, start, f.opt.LR, f.best, len(f.curve), f.opt.Seed)
}

// Curve returns the validation NDCG@10 of each epoch.
func (f *Fusion) Curve() []float64 { return f.curve }
