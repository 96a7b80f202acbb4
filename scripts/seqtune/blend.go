package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/evaluation/baseline"
	"github.com/fusionrank/fusionrank/evaluation/fusion"
	"github.com/fusionrank/fusionrank/training"
)

// blend trains one encoder on the validation split, then scores linear
// mixes of its score, the fusion model without it (covis and the untrained
// attention part) and log of markov's best variant on every validation
// target: how much each component adds, measured on validation only.
func blend(so training.SeqOptions, seed uint64, valTrain *evaluation.Sequences, valCases []evaluation.Case, st time.Time) {
	dd := fusion.Data(valTrain)
	in, val := fusion.HoldOut(dd)
	sub := make([]training.Case, 1500)
	for k := range sub {
		sub[k] = val[k*len(val)/1500]
	}
	enc, err := training.TrainSeq(in, sub, so, seed, 2, func(e int, l, v float64) {
		fmt.Fprintf(os.Stderr, "seq epoch %d loss %.4f heldout %.4f (%.0fs)\n", e, l, v, time.Since(st).Seconds())
	})
	if err != nil {
		panic(err)
	}
	o := fusion.SeqOptions()
	o.Seed = seed
	o.SeqModels = []*training.SeqModel{enc}
	o.SeqWeights = []float64{0}
	f0 := fusion.New("fusion", o)
	if err := f0.Fit(context.Background(), valTrain); err != nil {
		panic(err)
	}
	mk := &baseline.Markov{Order: 5, Decay: 0.3, Reverse: 0.1}
	if err := mk.Fit(context.Background(), valTrain); err != nil {
		panic(err)
	}
	type mix struct {
		name    string
		f, m, s float64 // weights of fusion-without-seq, log markov, seq
	}
	var mixes []mix
	for _, w := range []float64{0, 0.06, 0.125, 0.18, 0.25, 0.35, 0.5, 0.7, 1} {
		mixes = append(mixes, mix{name: fmt.Sprintf("fusion0 + %g seq", w), f: 1, s: w})
	}
	for _, a := range []float64{0.5, 1, 2} {
		for _, w := range []float64{0, 0.06, 0.125, 0.25} {
			mixes = append(mixes, mix{name: fmt.Sprintf("%g log markov + %g seq", a, w), m: a, s: w})
			mixes = append(mixes, mix{name: fmt.Sprintf("fusion0 + %g log markov + %g seq", a, w), f: 1, m: a, s: w})
		}
	}
	N := valTrain.NumItems
	ndcg := make([][]float64, 2)
	hr := make([][]float64, 2)
	var wg sync.WaitGroup
	for w := range 2 {
		ndcg[w] = make([]float64, len(mixes))
		hr[w] = make([]float64, len(mixes))
		wg.Add(1)
		go func() {
			defer wg.Done()
			sf, sm, ss, mixv := make([]float32, N), make([]float32, N), make([]float32, N), make([]float32, N)
			ev := make([]training.Event, 0, 64)
			for c := w; c < len(valCases); c += 2 {
				cs := valCases[c]
				f0.ScoreTo(sf, cs.History)
				mk.ScoreTo(sm, cs.History)
				ev = ev[:0]
				for _, it := range cs.History {
					ev = append(ev, training.Event{Item: it})
				}
				enc.ScoreTo(ss, ev)
				for i := range sm {
					sm[i] = float32(math.Log(float64(sm[i]) + 1e-6))
				}
				for k, mx := range mixes {
					for i := range mixv {
						mixv[i] = float32(mx.f)*sf[i] + float32(mx.m)*sm[i] + float32(mx.s)*ss[i]
					}
					for _, h := range cs.History {
						if h != cs.Target {
							mixv[h] = float32(math.Inf(-1))
						}
					}
					hit, g := evaluation.HitNDCG(evaluation.TargetRank(mixv, int(cs.Target)), 10, evaluation.TiesExpected)
					ndcg[w][k] += g
					hr[w][k] += hit
				}
			}
		}()
	}
	wg.Wait()
	for k, mx := range mixes {
		n := float64(len(valCases))
		fmt.Printf("BLEND %-40s VALIDATION NDCG@10 %.4f HR@10 %.4f\n", mx.name, (ndcg[0][k]+ndcg[1][k])/n, (hr[0][k]+hr[1][k])/n)
	}
	fmt.Fprintf(os.Stderr, "done (%.0fs)\n", time.Since(st).Seconds())
}
