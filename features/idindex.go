package features

import (
	"hash/maphash"

	"github.com/fusionrank/fusionrank/internal/touch"
)

// idIndex maps item ids to catalogue slots: an open-addressing hash table whose
// 32-byte entries hold the id itself when it is at most idInline bytes long (the usual
// case), so that a lookup reads one cache line of one contiguous array. A Go map
// reads its directory, table, control word and slot, then the key's bytes wherever the
// string was allocated; in a server whose heap holds the whole catalogue those are
// cache and TLB misses, and a rerank of 100 candidates spent a fifth of its CPU on
// them. BenchmarkIDIndexScattered reproduces that setting, with the map and getAll
// beside get. Longer ids are compared through the slot's id.
//
// Slots are never removed (an item keeps its slot for the life of the process), so
// the table only grows. Writes need the catalogue's write lock; reads its read lock.
type idIndex struct {
	seed    maphash.Seed
	entries []idEntry // len is a power of two, at most half full
	n       int
	ids     func(slot int32) string // the id of a slot, for long ids and growth
}

const idInline = 23

type idEntry struct {
	tag  uint32 // high bits of the hash, | 1 so that 0 means empty
	slot int32
	n    uint8 // id length when inlined; 0xff when not
	key  [idInline]byte
}

func newIDIndex(ids func(slot int32) string) *idIndex {
	return &idIndex{seed: maphash.MakeSeed(), entries: make([]idEntry, 1024), ids: ids}
}

func (x *idIndex) hash(id string) (uint32, int) {
	h := maphash.String(x.seed, id)
	return uint32(h>>32) | 1, int(h)
}

// get returns the slot of id.
func (x *idIndex) get(id string) (int32, bool) {
	tag, h := x.hash(id)
	return x.probe(id, tag, h&(len(x.entries)-1))
}

// probe finds id, whose hash gave tag and first entry at, from that entry on.
func (x *idIndex) probe(id string, tag uint32, at int) (int32, bool) {
	mask := len(x.entries) - 1
	for i := at; ; i = (i + 1) & mask {
		e := &x.entries[i]
		switch {
		case e.tag == 0:
			return 0, false
		case e.tag != tag:
		case e.n != 0xff:
			if int(e.n) == len(id) && string(e.key[:e.n]) == id {
				return e.slot, true
			}
		case x.ids(e.slot) == id:
			return e.slot, true
		}
	}
}

// lookAhead is how many ids getAll hashes, and whose first entries it reads, before it
// probes for any of them.
const lookAhead = 32

// getAll calls found(i, slot, ok) for i in [0, n) with the result of get(id(i)), in
// order. It looks the ids up lookAhead at a time: it hashes each and reads its first
// entry in a look-ahead loop (package touch), and probes only then, so that the cache
// misses of a request's lookups are in flight together rather than one after another.
func (x *idIndex) getAll(n int, id func(int) string, found func(i int, slot int32, ok bool)) {
	var tags [lookAhead]uint32
	var at [lookAhead]int
	mask := len(x.entries) - 1
	for i0 := 0; i0 < n; i0 += lookAhead {
		k := min(lookAhead, n-i0)
		var t uint32
		for j := range k {
			tag, h := x.hash(id(i0 + j))
			tags[j], at[j] = tag, h&mask
			t += x.entries[at[j]].tag
		}
		touch.Keep(uint64(t))
		for j := range k {
			slot, ok := x.probe(id(i0+j), tags[j], at[j])
			found(i0+j, slot, ok)
		}
	}
}

// put records id → slot; id must not be present, and ids(slot) must return it.
func (x *idIndex) put(id string, slot int32) {
	if 2*(x.n+1) > len(x.entries) {
		old := x.entries
		x.entries = make([]idEntry, 2*len(old))
		for i := range old {
			if e := &old[i]; e.tag != 0 {
				x.insert(x.ids(e.slot), e.slot)
			}
		}
	}
	x.insert(id, slot)
	x.n++
}

func (x *idIndex) insert(id string, slot int32) {
	tag, h := x.hash(id)
	mask := len(x.entries) - 1
	i := h & mask
	for x.entries[i].tag != 0 {
		i = (i + 1) & mask
	}
	e := &x.entries[i]
	e.tag, e.slot = tag, slot
	if len(id) <= idInline {
		e.n = uint8(len(id))
		copy(e.key[:], id)
	} else {
		e.n = 0xff
	}
}
