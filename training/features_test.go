package training

import (
	"math"
	"slices"
	"testing"

	"github.com/fusionrank/fusionrank/ranking"
)

// naiveFeatures recomputes an example's features from scratch: transitions
// r → c and item interactions are counted only when they happened strictly
// before the target (timed data) or, in untimed data, when they belong to
// another user or to the user's own past.
func naiveFeatures(d *Data, u, t int, timed bool, items []int32) []float32 {
	seq := d.Users[u]
	T := seq[t].Time
	hist := seq[:histEnd(seq, t, timed)]
	recent := recentItems(nil, hist, ranking.CovisItems)
	visible := func(v, k int) bool { // may event k of user v be counted?
		if timed {
			return d.Users[v][k].Time < T
		}
		return v != u || k < t
	}
	out := make([]float32, len(items)*ranking.NFeatures)
	for c, it := range items {
		f := out[c*ranking.NFeatures:]
		cnt := make([]float64, len(recent))
		var pop [3]float64
		for v, s := range d.Users {
			for k, e := range s {
				if !visible(v, k) {
					continue
				}
				if e.Item == it {
					for w, win := range popWindows {
						if timed && e.Time >= T-win {
							pop[w]++
						}
					}
				}
				if k > 0 && e.Item == it {
					if j := slices.Index(recent, s[k-1].Item); j >= 0 {
						cnt[j]++
					}
				}
			}
		}
		for w := range pop {
			f[ranking.FeatPop1h+w] = float32(math.Log1p(pop[w]))
		}
		if len(recent) > 0 {
			f[ranking.FeatCovis] = ranking.CovisFeature(cnt)
		}
	}
	return out
}

// TestFeaturesPointInTime checks every training example's scalar features
// against the naive count of what the example may see. The planted check
// makes the leak concrete: a transition that occurs only as one example's
// own target contributes nothing to that example's covis feature.
func TestFeaturesPointInTime(t *testing.T) {
	for _, timed := range []bool{false, true} {
		t.Run(map[bool]string{false: "untimed", true: "timed"}[timed], func(t *testing.T) {
			d := smallData(40, 10, 11, timed)
			x := newCounts(d)
			f := newFeaturizer(x)
			items := make([]int32, d.NumItems)
			idx := make([]int32, d.NumItems)
			for i := range items {
				items[i], idx[i] = int32(i), int32(i)
			}
			got := make([]float32, d.NumItems*ranking.NFeatures)
			for u, seq := range d.Users {
				for tt := 1; tt < len(seq); tt++ {
					hist, cutoff, own := pointInTime(seq, tt, timed)
					if len(hist) == 0 {
						continue
					}
					f.features(got, d.NumItems, idx, items, recentItems(nil, hist, ranking.CovisItems), cutoff, own)
					want := naiveFeatures(d, u, tt, timed, items)
					for k := range want {
						if math.Abs(float64(got[k]-want[k])) > 1e-6 {
							t.Fatalf("user %d pos %d item %d feature %s: %v, want %v", u, tt, k/ranking.NFeatures, ranking.FeatureNames[k%ranking.NFeatures], got[k], want[k])
						}
					}
				}
			}
		})
	}
	t.Run("planted", func(t *testing.T) {
		// Item 9 follows item 8 once, as user 0's target; everything else is 0 ↔ 1.
		d := &Data{NumItems: 10, Users: [][]Event{{{Item: 0}, {Item: 8}, {Item: 9}}, {{Item: 0}, {Item: 1}}, {{Item: 1}, {Item: 0}}}}
		f := newFeaturizer(newCounts(d))
		items := []int32{9}
		idx := make([]int32, 10)
		for i := range idx {
			idx[i] = -1
		}
		idx[9] = 0
		got := make([]float32, ranking.NFeatures)
		hist, cutoff, own := pointInTime(d.Users[0], 2, false)
		f.features(got, 1, idx, items, recentItems(nil, hist, 5), cutoff, own)
		if got[ranking.FeatCovis] != 0 {
			t.Errorf("covis of the example's own target = %v, want 0 (leak)", got[ranking.FeatCovis])
		}
		// Serving after training sees the transition.
		f.features(got, 1, idx, items, []int32{8}, math.MaxInt64, ownFuture{})
		if want := ranking.CovisFeature([]float64{1}); got[ranking.FeatCovis] != want {
			t.Errorf("covis after training = %v, want %v", got[ranking.FeatCovis], want)
		}
	})
}
