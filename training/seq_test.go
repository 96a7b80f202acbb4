package training

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fusionrank/fusionrank/ranking"
)

// seqLoss is the loss of one example over every item as candidate, by the
// formulas of SeqModel, in float64: the reference for the gradient check.
func seqLoss(s *SeqModel, hist []Event, target int32, mask []float32) float64 {
	h := make([]float64, s.Dim)
	var recent []int32 // distinct, most recent first
	for k := len(hist) - 1; k >= 0 && len(recent) < s.Window; k-- {
		if !slices.Contains(recent, hist[k].Item) {
			recent = append(recent, hist[k].Item)
		}
	}
	for k, it := range recent {
		g, e := s.Gate.Row(k), s.Items.Row(int(it))
		for i := range h {
			h[i] += float64(g[i]) * float64(e[i])
		}
	}
	if mask != nil {
		for i := range h {
			h[i] *= float64(mask[i])
		}
	}
	inHist := map[int32]bool{}
	for _, e := range hist {
		inHist[e.Item] = true
	}
	var z []float64
	var zt float64
	for c := range s.Items.Rows() {
		if inHist[int32(c)] && int32(c) != target {
			continue
		}
		v := float64(s.Bias.Data[c])
		for i, o := range s.Items.Row(c) {
			v += h[i] * float64(o)
		}
		z = append(z, v)
		if int32(c) == target {
			zt = v
		}
	}
	mx := math.Inf(-1)
	for _, v := range z {
		mx = max(mx, v)
	}
	var sum float64
	for _, v := range z {
		sum += math.Exp(v - mx)
	}
	return math.Log(sum) + mx - zt
}

// TestSeqGradients checks batchGrad's loss and every gradient (the item
// table, as the trainer steps it: the pooled rows' gradient plus the
// scored rows'; biases; position gates) against central finite
// differences of the float64 reference loss, summed over a batch of two
// examples (histories with a repeated item, one longer than the window,
// different dropout masks) and one without history, which must not count;
// with and without dropout.
func TestSeqGradients(t *testing.T) {
	const N = 9
	rng := rand.New(rand.NewPCG(4, 5))
	o := SeqOptions{Dim: 5, Window: 4, EmbedStd: 0.5}.withDefaults()
	s := newSeqModel(N, o, rng)
	for i := range s.Gate.Data {
		s.Gate.Data[i] = float32(0.5 + 0.5*rng.NormFloat64())
	}
	for i := range s.Bias.Data {
		s.Bias.Data[i] = float32(0.3 * rng.NormFloat64())
	}
	hist := []Event{{Item: 1}, {Item: 7}, {Item: 2}, {Item: 5}, {Item: 2}, {Item: 8}}
	const target = 3
	hist2 := []Event{{Item: 4}, {Item: 0}, {Item: 6}, {Item: 4}}
	const target2 = 2
	items := make([]int32, N)
	idx := make([]int32, N)
	for i := range N {
		items[i], idx[i] = int32(i), int32(i)
	}
	mask := []float32{2, 0, 2, 2, 0}
	mask2 := []float32{0, 2, 2, 0, 2}
	for _, m := range [][]float32{nil, mask} {
		m2 := m
		if m != nil {
			m2 = mask2
		}
		batchLoss := func() float64 {
			return seqLoss(s, hist, target, m) + seqLoss(s, hist2, target2, m2)
		}
		sh := s.newShard()
		sh.dOut = make([]float32, N*o.Dim)
		sh.dBias = make([]float64, N)
		outG := make([]float32, N*o.Dim)
		gather(outG, s.Items, items)
		exs := []seqExample{
			{hist: hist, target: target, mask: m},
			{hist: nil, target: 1, mask: m2},
			{hist: hist2, target: target2, mask: m2},
		}
		loss, count := s.batchGrad(sh, items, idx, outG, nil, nil, exs)
		if count != 2 {
			t.Fatalf("%d examples counted, want 2 (the one without history skipped)", count)
		}
		if want := batchLoss(); math.Abs(loss-want) > 1e-5 {
			t.Fatalf("loss %v, reference %v", loss, want)
		}
		dItems := make([]float64, len(s.Items.Data))
		for k, r := range sh.dIn.Rows() {
			copy(dItems[r*o.Dim:(r+1)*o.Dim], sh.dIn.Grad(k))
		}
		for i, v := range sh.dOut {
			dItems[i] += float64(v)
		}
		checks := []struct {
			name string
			w    []float32
			g    []float64
		}{{"items", s.Items.Data, dItems}, {"bias", s.Bias.Data, sh.dBias}, {"gate", s.Gate.Data, sh.dGate}}
		for _, tc := range checks {
			for i := range tc.w {
				const eps = 1e-2
				w0 := tc.w[i]
				tc.w[i] = w0 + eps
				lp := batchLoss()
				tc.w[i] = w0 - eps
				lm := batchLoss()
				tc.w[i] = w0
				fd := (lp - lm) / (2 * eps)
				if math.Abs(fd-tc.g[i]) > 1e-3*(1+math.Abs(fd)) {
					t.Errorf("mask=%v: %s[%d]: gradient %v, finite difference %v", m != nil, tc.name, i, tc.g[i], fd)
				}
			}
		}
	}
}

// TestTrainSeqLearnsChain: on a deterministic chain the sequence encoder
// alone (with uniform negatives; with popularity-drawn corrected negatives)
// must rank the next item first, and a seed gives identical weights with 1
// and 2 goroutines.
func TestTrainSeqLearnsChain(t *testing.T) {
	d := chainData(300, 40, 6, 1)
	var val []Case
	for s := range 40 {
		val = append(val, Case{History: []Event{{Item: int32(s)}, {Item: int32((s + 1) % 40)}}, Target: int32((s + 2) % 40)})
	}
	for _, negPower := range []float64{0, 0.75} {
		o := SeqOptions{Dim: 16, Window: 3, Negatives: 16, BatchSize: 64, LR: 1e-2, Epochs: 15, Dropout: 0.1, NegPower: negPower}
		m1, err := TrainSeq(d, val, o, 3, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v := seqNDCG(m1, val, 1, 2); v < 0.95 {
			t.Errorf("NegPower %v: NDCG@1 of the next item %.3f, want ≥ 0.95", negPower, v)
		}
		m2, err := TrainSeq(d, val, o, 3, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m1.Items.Data, m2.Items.Data) {
			t.Fatalf("NegPower %v: weights differ between 1 and 2 goroutines", negPower)
		}
	}
}

// TestSeqFeature: the seq feature is the mean of the members' scores for
// every candidate, and the engine features stay 0 (they are the caller's).
func TestSeqFeature(t *testing.T) {
	const N = 7
	rng := rand.New(rand.NewPCG(8, 9))
	o := SeqOptions{Dim: 4, Window: 3, EmbedStd: 0.5}.withDefaults()
	n := &net{seq: []*SeqModel{newSeqModel(N, o, rng), newSeqModel(N, o, rng)}}
	hist := []Event{{Item: 2}, {Item: 5}, {Item: 1}, {Item: 6}}
	items := []int32{0, 3, 4, 6}
	feats := make([]float32, len(items)*ranking.NFeatures)
	n.seqFeatures(feats, items, hist, make([]float32, o.Dim))
	a, b := make([]float32, N), make([]float32, N)
	n.seq[0].ScoreTo(a, hist)
	n.seq[1].ScoreTo(b, hist)
	for c, it := range items {
		f := feats[c*ranking.NFeatures:]
		if want := (a[it] + b[it]) / 2; math.Abs(float64(f[ranking.FeatSeq]-want)) > 1e-6 || f[ranking.FeatEngine] != 0 || f[ranking.FeatHasEngine] != 0 {
			t.Errorf("item %d: seq %v, engine %v, has engine %v; want %v, 0, 0", it, f[ranking.FeatSeq], f[ranking.FeatEngine], f[ranking.FeatHasEngine], want)
		}
	}
}

// TestSeqEncoderServed: the served form of an encoder scores every item
// as the trained model does, for a history with a repeated item and one
// longer than the window, for one member and for two (the served form of
// two members scores their mean); members of different windows are
// refused.
func TestSeqEncoderServed(t *testing.T) {
	const N = 12
	rng := rand.New(rand.NewPCG(6, 7))
	member := func(dim int) *SeqModel {
		s := newSeqModel(N, SeqOptions{Dim: dim, Window: 4, EmbedStd: 0.5}.withDefaults(), rng)
		for i := range s.Gate.Data {
			s.Gate.Data[i] = float32(rng.NormFloat64())
		}
		for i := range s.Bias.Data {
			s.Bias.Data[i] = float32(rng.NormFloat64())
		}
		return s
	}
	s, s2 := member(6), member(5)
	hist := []Event{{Item: 3}, {Item: 9}, {Item: 1}, {Item: 4}, {Item: 9}, {Item: 0}, {Item: 7}}
	for _, ms := range [][]*SeqModel{{s}, {s, s2}} {
		enc, rows, err := (&Result{Seq: ms}).SeqEncoder()
		if err != nil {
			t.Fatal(err)
		}
		// What training feeds the scorer: the members' mean score.
		want := make([]float32, N)
		one := make([]float32, N)
		for _, m := range ms {
			m.ScoreTo(one, hist)
			for c := range want {
				want[c] += one[c] / float32(len(ms))
			}
		}
		var recent [][]float32
		for _, it := range recentItems(nil, hist, 50) {
			recent = append(recent, rows[it])
		}
		h := make([]float32, enc.Dim)
		enc.QueryTo(h, recent)
		for c := range N {
			if got := enc.Score(h, rows[c]); math.Abs(float64(got-want[c])) > 1e-5 {
				t.Errorf("%d members: item %d: served %v, trained %v", len(ms), c, got, want[c])
			}
		}
	}
	other := newSeqModel(N, SeqOptions{Dim: 6, Window: 3}.withDefaults(), rng)
	if _, _, err := (&Result{Seq: []*SeqModel{s, other}}).SeqEncoder(); err == nil {
		t.Error("members of different windows exported")
	}
	if e, r, err := (&Result{}).SeqEncoder(); e != nil || r != nil || err != nil {
		t.Error("a model without encoder exported one")
	}
}
