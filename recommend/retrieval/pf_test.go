package retrieval
import ("testing";"time")
func TestPF(t *testing.T) {
	n, dim := 300000, 128
	items := mixture(n, dim, 300, 0.7, 7)
	for _, on := range []bool{true, false, true} {
		prefetchOn = on
		h := NewHNSW(dim, HNSWConfig{})
		c0 := cpuTime(); t0 := time.Now()
		h.SetBatch(seqSlots(n), items)
		t.Logf("prefetch=%v build %v cpu %v", on, time.Since(t0), cpuTime()-c0)
	}
}
