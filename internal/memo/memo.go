// Package memo is a process-local map for caches kept in front of a shared store: its
// entries expire, its size is bounded, and an invalidation that races a fill wins.
//
// A caller that misses reads the shared store and then calls Put with the generation
// Get returned; Drop raises the generation of the key's shard, so a value read before
// an invalidation is never stored after it. Keys are spread over 64 independently
// locked shards.
package memo

import (
	"hash/maphash"
	"sync"
)

const shards = 64

type entry[V any] struct {
	v   V
	exp int64 // unix nanoseconds
}

type shard[V any] struct {
	mu  sync.Mutex
	gen uint64 // raised by every Drop of a key of this shard, and by Clear
	m   map[string]entry[V]
}

// Map is a sharded map from strings to V with per-entry expiry.
type Map[V any] struct {
	seed   maphash.Seed
	max    int // entries per shard
	shards [shards]shard[V]
}

// New returns a map of at most about max entries; when a shard is full, an eighth of
// it is dropped (map order, so about at random).
func New[V any](max int) *Map[V] {
	m := &Map[V]{seed: maphash.MakeSeed(), max: max/shards + 1}
	for i := range m.shards {
		m.shards[i].m = map[string]entry[V]{}
	}
	return m
}

func (m *Map[V]) shard(k string) *shard[V] {
	return &m.shards[maphash.String(m.seed, k)%shards]
}

// Get returns the value of k if it has not expired at now (unix nanoseconds), and the
// generation to hand to Put after reading the shared store on a miss.
func (m *Map[V]) Get(k string, now int64) (v V, gen uint64, ok bool) {
	s := m.shard(k)
	s.mu.Lock()
	e, found := s.m[k]
	gen = s.gen
	s.mu.Unlock()
	if found && now < e.exp {
		return e.v, gen, true
	}
	return v, gen, false
}

// Put stores v for k until exp unless k's shard saw a Drop or Clear since gen.
func (m *Map[V]) Put(k string, v V, gen uint64, exp int64) {
	s := m.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	if len(s.m) >= m.max {
		n := m.max/8 + 1
		for key := range s.m {
			delete(s.m, key)
			if n--; n <= 0 {
				break
			}
		}
	}
	s.m[k] = entry[V]{v, exp}
}

// Drop forgets k.
func (m *Map[V]) Drop(k string) {
	s := m.shard(k)
	s.mu.Lock()
	delete(s.m, k)
	s.gen++
	s.mu.Unlock()
}

// Clear forgets everything.
func (m *Map[V]) Clear() {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.gen++
		s.mu.Unlock()
	}
}
