package features

import (
	"cmp"
	"hash/maphash"
	"slices"
	"strings"
)

// covisSet is a co-visitation set as held locally: the followers best first (count,
// then id, descending: Redis's ZREVRANGE order) and a table to find a follower's count
// by id. It holds no pointer but its slices' and the ids string's: a cache of tens of
// thousands of sets is a few objects each for the garbage collector to mark, not a map
// entry and a boxed string per follower.
type covisSet struct {
	ids   string    // the followers' ids, concatenated in order
	ends  []int32   // ends[k]: where follower k's id ends in ids
	count []float64 // follower k's count
	table []covisSlot
}

// covisSlot is an entry of covisSet's open-addressing table: a follower's id hash and
// its index + 1 (0: empty).
type covisSlot struct {
	hash uint64
	k    int32
}

// covisSeed hashes ids for covisSet tables. One seed per process, so a request hashes
// each candidate once for all the sets it looks up (covisHash).
var covisSeed = maphash.MakeSeed()

// covisHash is the hash that covisSet.lookup takes for id.
func covisHash(id string) uint64 { return maphash.String(covisSeed, id) }

// newCovisSet builds a set from followers and their counts, in any order; ids must be
// distinct (members of one sorted set).
func newCovisSet(ids []string, counts []float64) *covisSet {
	perm := make([]int32, len(ids))
	n := 0
	for i := range perm {
		perm[i] = int32(i)
		n += len(ids[i])
	}
	slices.SortFunc(perm, func(a, b int32) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return strings.Compare(ids[b], ids[a])
	})
	var sb strings.Builder
	sb.Grow(n)
	set := &covisSet{ends: make([]int32, len(ids)), count: make([]float64, len(ids))}
	for k, i := range perm {
		sb.WriteString(ids[i])
		set.ends[k] = int32(sb.Len())
		set.count[k] = counts[i]
	}
	set.ids = sb.String()
	size := 8
	for size < 2*len(ids) {
		size *= 2
	}
	set.table = make([]covisSlot, size)
	mask := uint64(size - 1)
	for k := range set.ends {
		h := covisHash(set.member(k))
		j := h & mask
		for set.table[j].k != 0 {
			j = (j + 1) & mask
		}
		set.table[j] = covisSlot{hash: h, k: int32(k) + 1}
	}
	return set
}

// len returns the number of followers.
func (s *covisSet) len() int { return len(s.ends) }

// member returns follower k's id.
func (s *covisSet) member(k int) string {
	start := int32(0)
	if k > 0 {
		start = s.ends[k-1]
	}
	return s.ids[start:s.ends[k]]
}

// lookup returns id's count (0 when it never followed), given h = covisHash(id).
func (s *covisSet) lookup(h uint64, id string) float64 {
	mask := uint64(len(s.table) - 1)
	for j := h & mask; ; j = (j + 1) & mask {
		e := s.table[j]
		if e.k == 0 {
			return 0
		}
		if e.hash == h && s.member(int(e.k-1)) == id {
			return s.count[e.k-1]
		}
	}
}
