package memo

import (
	"fmt"
	"testing"
)

func TestMap(t *testing.T) {
	m := New[int](64 * 16)
	if _, _, ok := m.Get("a", 0); ok {
		t.Fatal("empty map has a")
	}
	_, gen, _ := m.Get("a", 0)
	m.Put("a", 1, gen, 100)
	if v, _, ok := m.Get("a", 99); !ok || v != 1 {
		t.Fatalf("a = %d %v", v, ok)
	}
	if _, _, ok := m.Get("a", 100); ok {
		t.Fatal("a served after it expired")
	}
	// A fill that raced an invalidation is not stored.
	_, gen, _ = m.Get("b", 0)
	m.Drop("b")
	m.Put("b", 2, gen, 100)
	if _, _, ok := m.Get("b", 0); ok {
		t.Fatal("b stored after a Drop that came after its read")
	}
	_, gen, _ = m.Get("c", 0)
	m.Clear()
	m.Put("c", 3, gen, 100)
	if _, _, ok := m.Get("c", 0); ok {
		t.Fatal("c stored after a Clear")
	}
	// Bounded: many more keys than the bound leave at most the bound.
	for i := range 100000 {
		k := fmt.Sprint(i)
		_, gen, _ := m.Get(k, 0)
		m.Put(k, i, gen, 100)
	}
	n := 0
	for i := range m.shards {
		n += len(m.shards[i].m)
	}
	if n > 64*17 {
		t.Fatalf("%d entries, bound about %d", n, 64*16)
	}
}
