package training

import (
	"cmp"
	"math"
	"slices"
	"sort"

	"github.com/fusionrank/fusionrank/ranking"
)

// Popularity windows of the pop_1h, pop_1d and pop_7d features, in seconds.
var popWindows = [3]int64{3600, 86400, 7 * 86400}

// counts indexes the training interactions for point-in-time features:
// direct-follow transitions r → c (c the item right after r in a user's
// sequence, at c's time) and every item's interaction times.
type counts struct {
	timed bool
	// Followers of item r are entries fStart[r] … fStart[r+1]−1: follower
	// fItem[e], fCount[e] transitions, their times times[tStart[e]:tStart[e]+fCount[e]]
	// in ascending order.
	fStart []int32
	fItem  []int32
	fCount []int32
	tStart []int32
	times  []int64
	// Interaction times of item i: iTimes[iStart[i]:iStart[i+1]], ascending.
	iStart []int32
	iTimes []int64
	// maxTime is the latest interaction time.
	maxTime int64
}

func newCounts(d *Data) *counts {
	x := &counts{timed: d.timed()}
	type tr struct {
		r, c int32
		t    int64
	}
	var trs []tr
	perItem := make([]int32, d.NumItems+1)
	for _, seq := range d.Users {
		for k, e := range seq {
			perItem[e.Item+1]++
			x.maxTime = max(x.maxTime, e.Time)
			if k > 0 {
				trs = append(trs, tr{seq[k-1].Item, e.Item, e.Time})
			}
		}
	}
	slices.SortFunc(trs, func(a, b tr) int {
		if c := cmp.Compare(a.r, b.r); c != 0 {
			return c
		}
		if c := cmp.Compare(a.c, b.c); c != 0 {
			return c
		}
		return cmp.Compare(a.t, b.t)
	})
	x.fStart = make([]int32, d.NumItems+1)
	x.times = make([]int64, len(trs))
	for k, t := range trs {
		x.times[k] = t.t
		if k == 0 || t.r != trs[k-1].r || t.c != trs[k-1].c {
			x.fItem = append(x.fItem, t.c)
			x.fCount = append(x.fCount, 0)
			x.tStart = append(x.tStart, int32(k))
			x.fStart[t.r+1]++
		}
		x.fCount[len(x.fCount)-1]++
	}
	for r := 0; r < d.NumItems; r++ {
		x.fStart[r+1] += x.fStart[r]
	}
	if x.timed {
		for i := 0; i < d.NumItems; i++ {
			perItem[i+1] += perItem[i]
		}
		x.iStart = perItem
		x.iTimes = make([]int64, perItem[d.NumItems])
		fill := slices.Clone(perItem[:d.NumItems])
		for _, seq := range d.Users {
			for _, e := range seq {
				x.iTimes[fill[e.Item]] = e.Time
				fill[e.Item]++
			}
		}
		for i := 0; i < d.NumItems; i++ {
			slices.Sort(x.iTimes[x.iStart[i]:x.iStart[i+1]])
		}
	}
	return x
}

// before returns how many of the ascending ts are < t.
func before(ts []int64, t int64) int {
	return sort.Search(len(ts), func(k int) bool { return ts[k] >= t })
}

// follows returns the number of transitions of follower entry e that count
// at cutoff t (every one when t is math.MaxInt64 or the data is untimed).
func (x *counts) follows(e int32, t int64) float64 {
	n := x.fCount[e]
	if !x.timed || t == math.MaxInt64 {
		return float64(n)
	}
	ts := x.times[x.tStart[e] : x.tStart[e]+n]
	return float64(before(ts, t))
}

// pop writes log(1+count) of item i's interactions in each window before t.
func (x *counts) pop(dst []float32, i int32, t int64) {
	if !x.timed {
		return
	}
	ts := x.iTimes[x.iStart[i]:x.iStart[i+1]]
	if len(ts) == 0 {
		return
	}
	end := before(ts, t)
	for w, win := range popWindows {
		n := end - before(ts[:end], t-win)
		dst[ranking.FeatPop1h+w] = float32(math.Log1p(float64(n)))
	}
}

// featurizer computes candidates' scalar features for one query. It keeps
// scratch memory; one per goroutine.
type featurizer struct {
	x       *counts
	cnt     []float64 // CovisItems × n, touched entries only are non-zero
	touched []int32
	mark    []bool
	col     []float64
}

func newFeaturizer(x *counts) *featurizer {
	return &featurizer{x: x, col: make([]float64, ranking.CovisItems)}
}

// ownFuture is the part of the querying user's own sequence that must not
// count in untimed data: seq[from:] (transitions into positions ≥ from).
type ownFuture struct {
	seq  []Event
	from int
}

// features writes the scalar features of n candidates into dst (n ×
// NFeatures, overwritten): pop windows before t, covis with recent (the
// distinct recent items, most recent first, at most CovisItems used). idx
// maps an item to its candidate index or −1. In untimed data own's
// transitions are subtracted (they are the example's own future).
func (f *featurizer) features(dst []float32, n int, idx []int32, items []int32, recent []int32, t int64, own ownFuture) {
	clear(dst[:n*ranking.NFeatures])
	x := f.x
	if x.timed {
		for c := 0; c < n; c++ {
			x.pop(dst[c*ranking.NFeatures:], items[c], t)
		}
	}
	recent = recent[:min(len(recent), ranking.CovisItems)]
	if len(recent) == 0 {
		return
	}
	R := ranking.CovisItems
	if len(f.cnt) < R*n {
		f.cnt = make([]float64, R*n)
		f.mark = make([]bool, n)
	}
	if len(f.mark) < n {
		f.mark = make([]bool, n)
	}
	f.touched = f.touched[:0]
	touch := func(c int32) {
		if !f.mark[c] {
			f.mark[c] = true
			f.touched = append(f.touched, c)
		}
	}
	for j, r := range recent {
		for e := x.fStart[r]; e < x.fStart[r+1]; e++ {
			c := idx[x.fItem[e]]
			if c < 0 {
				continue
			}
			v := x.follows(e, t)
			if v == 0 {
				continue
			}
			f.cnt[j*n+int(c)] += v
			touch(c)
		}
	}
	if !x.timed && own.seq != nil {
		for k := max(own.from, 1); k < len(own.seq); k++ {
			c := idx[own.seq[k].Item]
			if c < 0 {
				continue
			}
			prev := own.seq[k-1].Item
			for j, r := range recent {
				if r == prev && f.mark[c] {
					f.cnt[j*n+int(c)]--
				}
			}
		}
	}
	for _, c := range f.touched {
		for j := range recent {
			f.col[j] = f.cnt[j*n+int(c)]
			f.cnt[j*n+int(c)] = 0
		}
		dst[int(c)*ranking.NFeatures+ranking.FeatCovis] = ranking.CovisFeature(f.col[:len(recent)])
		f.mark[c] = false
	}
}

// recentItems appends the distinct items of hist, most recent first, at most
// n of them, to dst.
func recentItems(dst []int32, hist []Event, n int) []int32 {
	dst = dst[:0]
	for k := len(hist) - 1; k >= 0 && len(dst) < n; k-- {
		it := hist[k].Item
		if !slices.Contains(dst, it) {
			dst = append(dst, it)
		}
	}
	return dst
}

// profileTo writes the time-decayed weighted mean of the vectors of hist's
// items in modality fm into dst (as the feature store's ModalityProfile:
// weight w_e·2^{−(Ref−t_e)/h}, Ref the latest event time) and reports
// whether any item had a vector. halfLife ≤ 0 means no decay.
func profileTo(dst []float32, hist []Event, fm *FixedModality, halfLife int64) bool {
	clear(dst)
	if len(hist) == 0 {
		return false
	}
	ref := hist[len(hist)-1].Time
	var wsum float64
	acc := make([]float64, len(dst))
	for _, e := range hist {
		v := fm.Vectors[e.Item]
		if len(v) == 0 {
			continue
		}
		w := e.weight()
		if halfLife > 0 {
			w *= math.Exp2(-float64(ref-e.Time) / float64(halfLife))
		}
		wsum += w
		for k, a := range v {
			acc[k] += w * float64(a)
		}
	}
	if wsum == 0 {
		return false
	}
	for k := range dst {
		dst[k] = float32(acc[k] / wsum)
	}
	return true
}
