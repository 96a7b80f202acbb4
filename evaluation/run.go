package evaluation

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// Case is one leave-one-out evaluation case: a user's history (masked from
// the ranking, except the target itself) and the held-out target.
type Case struct {
	History []int32
	Target  int32
}

// MultiCase is one multi-target evaluation case: a user's history (masked
// from the ranking) and the set of relevant items.
type MultiCase struct {
	History []int32
	Targets []int32
}

// Runner scores evaluation cases in parallel. The zero value uses every
// core (GOMAXPROCS) and reports no progress.
type Runner struct {
	// Workers is the number of scoring goroutines; 0 means GOMAXPROCS.
	Workers int
	// Progress, when not nil, receives a progress bar (normally os.Stderr).
	Progress io.Writer
	// Label describes the step on the progress bar; default "scoring".
	Label string
}

// chunk is how many cases a worker takes at a time.
const chunk = 64

// forEach calls fn(worker, i) for every i in [0, n) across the workers, in
// chunks, stopping early when ctx is done.
func (r Runner) forEach(ctx context.Context, n int, fn func(w, i int)) error {
	workers := r.workers()
	label := r.Label
	if label == "" {
		label = "scoring"
	}
	var bar *Progress
	if r.Progress != nil {
		bar = NewProgress(r.Progress, n, label)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				start := int(next.Add(chunk)) - chunk
				if start >= n {
					return
				}
				end := min(start+chunk, n)
				for i := start; i < end; i++ {
					fn(w, i)
				}
				bar.Add(end - start)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("evaluation: %s: %w", label, err)
	}
	bar.Finish()
	return nil
}

// LeaveOneOut scores every case with m over numItems items, masks the
// history (all but the target) with -Inf and returns the accumulated HR@k
// and NDCG@k under rule. Results do not depend on the number of workers:
// ranks are gathered per case and summed in case order.
// The ranks of the cases are returned too (see Ranks).
func (r Runner) LeaveOneOut(ctx context.Context, m Model, numItems int, cases []Case, ks []int, rule TieRule) (*LeaveOneOut, []Rank, error) {
	ranks, err := r.Ranks(ctx, m, numItems, cases)
	if err != nil {
		return nil, nil, err
	}
	acc := NewLeaveOneOut(ks, rule)
	for _, rk := range ranks {
		acc.Add(rk)
	}
	return acc, ranks, nil
}

// Ranks scores every case with m and returns the target's Rank per case,
// with the history masked as in LeaveOneOut.
func (r Runner) Ranks(ctx context.Context, m Model, numItems int, cases []Case) ([]Rank, error) {
	workers := r.workers()
	bufs := make([][]float32, workers)
	for i := range bufs {
		bufs[i] = make([]float32, numItems)
	}
	ranks := make([]Rank, len(cases))
	var bad atomic.Int32
	bad.Store(-1)
	err := r.forEach(ctx, len(cases), func(w, i int) {
		c := cases[i]
		dst := bufs[w]
		if c.Target < 0 || int(c.Target) >= numItems {
			bad.CompareAndSwap(-1, int32(i))
			return
		}
		m.ScoreTo(dst, c.History)
		mask(dst, c.History, c.Target)
		ranks[i] = TargetRank(dst, int(c.Target))
	})
	if err != nil {
		return nil, err
	}
	if i := bad.Load(); i >= 0 {
		return nil, fmt.Errorf("evaluation: case %d: target %d out of range [0,%d)", i, cases[i].Target, numItems)
	}
	return ranks, nil
}

// MultiTarget scores every case with m over numItems items, masks the
// history, takes the top max(ks) items (ties to the lower index) and returns
// the accumulated HR@k, Recall@k and NDCG@k. Cases without targets are
// skipped.
func (r Runner) MultiTarget(ctx context.Context, m Model, numItems int, cases []MultiCase, ks []int) (*MultiTarget, error) {
	acc, _, err := r.MultiTargetCases(ctx, m, numItems, cases, ks)
	return acc, err
}

// MultiTargetCases is MultiTarget that also returns each case's own
// metrics (nil for a case without targets), for paired comparisons
// between runs (ComparePairedValues).
func (r Runner) MultiTargetCases(ctx context.Context, m Model, numItems int, cases []MultiCase, ks []int) (*MultiTarget, []Metrics, error) {
	checkKs(ks)
	kmax := ks[len(ks)-1]
	workers := r.workers()
	bufs := make([][]float32, workers)
	for i := range bufs {
		bufs[i] = make([]float32, numItems)
	}
	tops := make([]int32, len(cases)*kmax)
	lens := make([]int, len(cases))
	err := r.forEach(ctx, len(cases), func(w, i int) {
		c := cases[i]
		if len(c.Targets) == 0 {
			return
		}
		dst := bufs[w]
		m.ScoreTo(dst, c.History)
		mask(dst, c.History, -1)
		lens[i] = len(TopKTo(tops[i*kmax:(i+1)*kmax], dst))
	})
	if err != nil {
		return nil, nil, err
	}
	acc := NewMultiTarget(ks)
	per := make([]Metrics, len(cases))
	for i, c := range cases {
		if len(c.Targets) == 0 {
			continue
		}
		set := make(map[int32]bool, len(c.Targets))
		for _, t := range c.Targets {
			set[t] = true
		}
		relevant := func(it int32) bool { return set[it] }
		acc.Add(tops[i*kmax:i*kmax+lens[i]], relevant, len(set))
		one := NewMultiTarget(ks)
		one.Add(tops[i*kmax:i*kmax+lens[i]], relevant, len(set))
		per[i] = one.Metrics()
	}
	return acc, per, nil
}

func (r Runner) workers() int {
	if r.Workers > 0 {
		return r.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// mask sets the scores of the history items to -Inf, except keep (use -1
// to keep none). Out-of-range history items are ignored.
func mask(dst []float32, history []int32, keep int32) {
	ninf := float32(math.Inf(-1))
	for _, h := range history {
		if h != keep && h >= 0 && int(h) < len(dst) {
			dst[h] = ninf
		}
	}
}
