package training

import (
	"math"
	"sync"

	"github.com/fusionrank/fusionrank/ranking"
)

// Scorer scores the whole catalogue for a history the way serving does, in
// every fusion mode: queries built with ranking.Layout.Build, items' keys
// and values precomputed in a ranking.ItemKV, scores from Model.QueryTo
// and ScoreTo, and the scalar features from the training interactions. It
// is safe for concurrent use.
type Scorer struct {
	n    *net
	x    *counts
	kv   *ranking.ItemKV
	rows []int
	idx  []int32
	its  []int32
	pool sync.Pool
}

type scoreWS struct {
	rw    *ranking.Workspace
	q     ranking.Query
	parts ranking.QueryParts
	ew    *exampleWS
	f     *featurizer
	feats []float32
	lab   []string
	raw   [][]float32
	enc   [][]float32
}

// NewScorer returns a Scorer for r's model whose features count the
// interactions of d (normally the training data).
func (r *Result) NewScorer(d *Data) *Scorer {
	n := *r.n
	n.d = d
	return newScorer(&n, newCounts(d))
}

func newScorer(n *net, x *counts) *Scorer {
	N := n.d.NumItems
	s := &Scorer{n: n, x: x, rows: make([]int, N), idx: make([]int32, N), its: make([]int32, N)}
	s.pool.New = func() any {
		return &scoreWS{rw: ranking.NewWorkspace(), ew: n.newExampleWS(), f: newFeaturizer(x),
			feats: make([]float32, N*ranking.NFeatures), parts: ranking.QueryParts{Profile: map[string][]float32{}}}
	}
	s.kv = n.model.NewItemKV(N)
	M := len(n.cfg.Modalities)
	toks := make([][]float32, M)
	bufs := make([][]float32, M)
	for j := range M {
		bufs[j] = make([]float32, n.cfg.Modalities[j].Dim)
	}
	for i := range N {
		s.rows[i], s.idx[i], s.its[i] = i, int32(i), int32(i)
		for j := range M {
			toks[j] = n.itemToken(int32(i), j, bufs[j])
		}
		n.model.ItemKVTo(s.kv, i, toks, nil)
	}
	return s
}

// ScoreTo writes a score for every item to dst (len NumItems) for a user
// whose events, oldest first, are history; now is the time of the request
// (the features count interactions before it; 0 means just after the
// latest training interaction).
// It does not mask the history.
func (s *Scorer) ScoreTo(dst []float32, history []Event, now int64) {
	s.score(dst, history, now, 0, nil)
}

// score is ScoreTo; when x is not nil, it also writes every item's value of
// scalar feature f to x.
func (s *Scorer) score(dst []float32, history []Event, now int64, f int, x []float32) {
	if len(dst) != len(s.rows) {
		panic("training: Scorer.ScoreTo dst length differs from NumItems")
	}
	ws := s.pool.Get().(*scoreWS)
	defer s.pool.Put(ws)
	n := s.n
	if now == 0 {
		now = math.MaxInt64
		if s.x.timed {
			now = s.x.maxTime + 1
		}
	}
	// The same slot contents as training, through the serving layout.
	n.query(ws.ew, history)
	ws.raw = ws.raw[:0]
	for k := 0; k < min(len(ws.ew.recent), n.layout.Recent); k++ {
		ws.raw = append(ws.raw, n.recentToken(ws.ew.recent[k]))
	}
	ws.parts.Recent = ws.raw
	if n.enc != nil {
		// What serving does: encode the recent vectors, then lay out.
		ws.enc = n.enc.ApplyTo(ws.enc, ws.raw)
		ws.parts.Recent = ws.enc
	}
	clear(ws.parts.Profile)
	for s2, slot := range ws.ew.slot {
		if slot >= n.layout.Recent {
			ws.parts.Profile[n.cfg.Modalities[ws.ew.mod[s2]].Name] = ws.ew.tok[s2]
		}
	}
	ws.lab = n.layout.Build(&ws.q, n.cfg, ws.parts, ws.lab)
	ws.f.features(ws.feats, len(s.rows), s.idx, s.its, ws.ew.recent, now, ownFuture{})
	n.seqFeatures(ws.feats, s.its, history, ws.ew.seqH)
	n.model.QueryTo(ws.rw, ws.q)
	n.model.ScoreTo(dst, ws.rw, s.kv, s.rows, ws.feats, nil)
	for c := range x {
		x[c] = ws.feats[c*ranking.NFeatures+f]
	}
}

// chooseWeight returns the weight of scalar feature f, among ws, under
// which the model has the best mean NDCG@10 over cases (the first on ties;
// ws[0] without cases).
func (s *Scorer) chooseWeight(cases []Case, f int, ws []float64, workers int) float64 {
	if len(ws) == 0 {
		return 0
	}
	best, bestW := math.Inf(-1), ws[0]
	if len(ws) == 1 || len(cases) == 0 {
		return bestW
	}
	for j, v := range s.weightNDCG(cases, f, ws, workers) {
		if v > best {
			best, bestW = v, ws[j]
		}
	}
	return bestW
}

// weightNDCG returns the mean NDCG@10 over cases with scalar feature f's
// weight set to each of ws. The score is linear in the weight (score_c = … +
// u_f·f_c): each case is scored once at the current weight u, and for every
// w the scores are score_c + (w − u)·f_c, so all the weights together cost
// one scoring per case.
func (s *Scorer) weightNDCG(cases []Case, f int, ws []float64, workers int) []float64 {
	u := float64(s.n.model.U[f])
	n := len(s.rows)
	type buf struct{ dst, x, mix []float32 }
	return meanOverCases(cases, workers, len(ws),
		func() *buf { return &buf{make([]float32, n), make([]float32, n), make([]float32, n)} },
		func(b *buf, cs *Case, acc []float64) {
			s.score(b.dst, cs.History, cs.Time, f, b.x)
			for j, wt := range ws {
				d := float32(wt - u)
				for i := range b.mix {
					b.mix[i] = b.dst[i] + d*b.x[i]
				}
				acc[j] += ndcgOf(b.mix, cs, 10)
			}
		})
}

// NDCG returns the mean NDCG@k of cases, scoring the whole catalogue with
// each case's history masked (the target excepted) and ties at their expected rank (ndcgOf),
// on the given number of goroutines.
func (s *Scorer) NDCG(cases []Case, k, workers int) float64 {
	return meanNDCG(cases, k, workers, len(s.rows), func(dst []float32, cs *Case) { s.ScoreTo(dst, cs.History, cs.Time) })
}

// meanNDCG scores every case's catalogue (n items) with score, which must be safe
// for concurrent use, on the given number of goroutines, and returns the mean of
// ndcgOf (NaN without cases).
func meanNDCG(cases []Case, k, workers, n int, score func(dst []float32, cs *Case)) float64 {
	if len(cases) == 0 {
		return math.NaN()
	}
	return meanOverCases(cases, workers, 1, func() []float32 { return make([]float32, n) },
		func(scores []float32, cs *Case, acc []float64) {
			score(scores, cs)
			acc[0] += ndcgOf(scores, cs, k)
		})[0]
}

// meanOverCases runs fn once per case on the given number of goroutines, each with
// its own scratch (from newScratch) and its own m sums that fn adds to, and returns
// the sums over all cases divided by their number. Each goroutine sums its own cases
// and the goroutines' sums are added in a fixed order, so the result does not depend
// on scheduling.
func meanOverCases[S any](cases []Case, workers, m int, newScratch func() S, fn func(scratch S, cs *Case, acc []float64)) []float64 {
	sums := make([][]float64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		sums[w] = make([]float64, m)
		wg.Go(func() {
			scratch := newScratch()
			for c := w; c < len(cases); c += workers {
				fn(scratch, &cases[c], sums[w])
			}
		})
	}
	wg.Wait()
	out := make([]float64, m)
	for j := range out {
		for w := range workers {
			out[j] += sums[w][j]
		}
		out[j] /= float64(len(cases))
	}
	return out
}

// PopularityNDCG returns the mean NDCG@k of ranking the catalogue by
// training popularity (the number of d's events of each item), with each
// case's history masked as for the model (ndcgOf): the bar a trained model
// must clear. NaN without cases.
func PopularityNDCG(d *Data, cases []Case, k int) float64 {
	cnt := make([]float32, d.NumItems)
	for _, seq := range d.Users {
		for _, e := range seq {
			cnt[e.Item]++
		}
	}
	return meanNDCG(cases, k, 1, d.NumItems, func(dst []float32, _ *Case) { copy(dst, cnt) })
}
