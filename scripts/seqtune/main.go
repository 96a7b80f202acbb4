// Command seqtune tunes the sequence encoder's options (docs/evaluation.md,
// "The fusion scorer"): it trains the sequence encoder (training.TrainSeq) or the
// fusion model with it on the Beauty validation split (each user's items
// before the second-to-last; early stopping on the held-out last training
// item) and prints NDCG@10 and HR@10 on the protocol's validation targets.
// It never looks at the test item. Its flags set training.SeqOptions
// (go run ./scripts/seqtune -help lists them). Run from the repository root:
//
//	go run ./scripts/seqtune -mode seq -dim 128 -drop 0.3
//	go run ./scripts/seqtune -mode fusion -dim 128 -drop 0.5 -neg 2048
//	go run ./scripts/seqtune -mode multi -dim 128 -drop 0.5 -neg 2048 -members 2
//
// seq: the encoder alone; fusion: the fusion model with the encoder's score
// as a feature (weights among 0.125 … 1 chosen on the held-out cases, then
// -fepochs scorer epochs, none by default); multi: members 1 … -members
// (seeds seed, seed+1, …), the blend scored after each one is added;
// blend: one encoder, then fixed mixes of its score, the fusion model
// without it and log markov, each scored on every validation target.
package main

import (
	"context"
	"flag"
	"fmt"
	seqfile "github.com/fusionrank/fusionrank/dataset/s3rec"
	"os"
	"runtime/pprof"
	"time"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/evaluation/fusion"
	"github.com/fusionrank/fusionrank/evaluation/s3rec"
	"github.com/fusionrank/fusionrank/training"
)

type seqOnly struct {
	o training.SeqOptions
	m *training.SeqModel
}

func (s *seqOnly) Fit(ctx context.Context, tr *evaluation.Sequences) error {
	d := fusion.Data(tr)
	in, val := fusion.HoldOut(d)
	if len(val) > 1500 {
		sub := make([]training.Case, 1500)
		for k := range sub {
			sub[k] = val[k*len(val)/1500]
		}
		val = sub
	}
	st := time.Now()
	m, err := training.TrainSeq(in, val, s.o, 1, 2, func(e int, l, v float64) {
		fmt.Fprintf(os.Stderr, "seq epoch %d loss %.4f heldout %.4f (%.0fs)\n", e, l, v, time.Since(st).Seconds())
	})
	s.m = m
	return err
}
func (s *seqOnly) ScoreTo(dst []float32, h []int32) {
	ev := make([]training.Event, len(h))
	for i, it := range h {
		ev[i].Item = it
	}
	s.m.ScoreTo(dst, ev)
}

func main() {
	mode := flag.String("mode", "seq", "seq|fusion|multi|blend")
	dim := flag.Int("dim", 64, "SeqOptions.Dim")
	win := flag.Int("win", 20, "SeqOptions.Window")
	neg := flag.Int("neg", 1024, "SeqOptions.Negatives")
	bs := flag.Int("bs", 256, "SeqOptions.BatchSize")
	lr := flag.Float64("lr", 1e-3, "SeqOptions.LR")
	wd := flag.Float64("wd", 0, "SeqOptions.WeightDecay")
	drop := flag.Float64("drop", 0, "SeqOptions.Dropout")
	ep := flag.Int("epochs", 20, "SeqOptions.Epochs")
	pat := flag.Int("pat", 2, "SeqOptions.Patience")
	fep := flag.Int("fepochs", -1, "scorer epochs of -mode fusion (negative: the scorer not trained)")
	seed := flag.Uint64("seed", 1, "random seed")
	members := flag.Int("members", 1, "SeqOptions.Members (-mode multi: the largest member count)")
	negpow := flag.Float64("negpow", 0, "SeqOptions.NegPower")
	seqs := flag.String("sequences", "../shared/datasets/amazon-beauty/Beauty.txt", "the S3-Rec sequences file")
	attrs := flag.String("attributes", "../shared/datasets/amazon-beauty/Beauty_item2attributes.json", "the S3-Rec attributes file")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			panic(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			panic(err)
		}
		defer pprof.StopCPUProfile()
	}
	so := training.SeqOptions{Dim: *dim, Window: *win, Negatives: *neg, BatchSize: *bs, LR: *lr, WeightDecay: *wd, Dropout: *drop, Epochs: *ep, Patience: *pat, Members: *members, NegPower: *negpow}
	d, err := seqfile.Load(*seqs)
	if err != nil {
		panic(err)
	}
	if err := d.LoadAttributes(*attrs); err != nil {
		panic(err)
	}
	valTrain, valCases := s3rec.Split(d, s3rec.Validation)
	var m evaluation.Model
	st := time.Now()
	switch *mode {
	case "seq":
		m = &seqOnly{o: so}
	case "fusion":
		o := fusion.Options()
		o.Seed = *seed
		o.Seq = &so
		o.Epochs = *fep
		o.SeqWeights = []float64{0.125, 0.25, 0.5, 1}
		o.OnSeqEpoch = func(e int, l, v float64) {
			fmt.Fprintf(os.Stderr, "seq epoch %d loss %.4f heldout %.4f (%.0fs)\n", e, l, v, time.Since(st).Seconds())
		}
		o.OnEpoch = func(e int, l, v float64) {
			fmt.Fprintf(os.Stderr, "fusion epoch %d loss %.4f heldout %.4f (%.0fs)\n", e, l, v, time.Since(st).Seconds())
		}
		fm := fusion.New("fusion", o)
		m = fm
		defer func() {
			r := fm.Result()
			fmt.Fprintf(os.Stderr, "seq weight %v best epoch %d\n", r.SeqWeight, r.BestEpoch)
		}()
	}
	if *mode == "blend" {
		blend(so, *seed, valTrain, valCases, st)
		return
	}
	if *mode == "multi" {
		dd := fusion.Data(valTrain)
		in, val := fusion.HoldOut(dd)
		sub := make([]training.Case, 1500)
		for k := range sub {
			sub[k] = val[k*len(val)/1500]
		}
		var ms []*training.SeqModel
		for k := range *members {
			sm, err := training.TrainSeq(in, sub, so, *seed+uint64(k), 2, func(e int, l, v float64) {
				fmt.Fprintf(os.Stderr, "member %d seq epoch %d loss %.4f heldout %.4f (%.0fs)\n", k, e, l, v, time.Since(st).Seconds())
			})
			if err != nil {
				panic(err)
			}
			ms = append(ms, sm)
			o := fusion.SeqOptions()
			o.Seed = *seed
			o.SeqModels = ms // the weight grid is SeqOptions'
			o.OnEpoch = func(e int, l, v float64) {
				fmt.Fprintf(os.Stderr, "members %d fusion epoch %d heldout %.4f (%.0fs)\n", k+1, e, v, time.Since(st).Seconds())
			}
			fm := fusion.New("fusion", o)
			met, err := s3rec.Evaluate(context.Background(), fm, valTrain, valCases, s3rec.Options{Workers: 2}, "val")
			if err != nil {
				panic(err)
			}
			n10, _ := met.Get("NDCG@10")
			h10, _ := met.Get("HR@10")
			n20, _ := met.Get("NDCG@20")
			fmt.Printf("RESULT %v members=%d weight=%v VALIDATION NDCG@10 %.4f HR@10 %.4f NDCG@20 %.4f  (%.0fs)\n", os.Args[1:], k+1, fm.Result().SeqWeight, n10, h10, n20, time.Since(st).Seconds())
		}
		return
	}
	met, err := s3rec.Evaluate(context.Background(), m, valTrain, valCases, s3rec.Options{Workers: 2}, "val")
	if err != nil {
		panic(err)
	}
	n10, _ := met.Get("NDCG@10")
	h10, _ := met.Get("HR@10")
	n20, _ := met.Get("NDCG@20")
	fmt.Printf("RESULT %v VALIDATION NDCG@10 %.4f HR@10 %.4f NDCG@20 %.4f  (%.0fs)\n", os.Args[1:], n10, h10, n20, time.Since(st).Seconds())
}
