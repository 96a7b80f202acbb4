// Package yield lets the long CPU loops of background work give way to requests.
//
// A goroutine keeps its processor until it blocks or the runtime preempts it, after
// about 10 ms. On a 2-core server a background pass over the whole catalogue (the
// popularity snapshot each second, a warm-up) that runs for 10–15 ms takes half the
// machine for that long: the requests queued behind it on that processor wait, and at
// a moderate load the other processor cannot take them all, so the tail of the
// latency grows by the length of the pass. A loop that calls Maybe once per iteration
// hands its processor back about every Slice: runtime.Gosched puts the goroutine on the
// global run queue, which a processor serves after its own queue of ready requests, so
// the pass runs in the gaps between requests and costs no more CPU.
package yield

import (
	"runtime"
	"time"
)

// Slice is about how long a loop runs between two yields.
const Slice = 100 * time.Microsecond

// Yielder tracks one loop's time since it last yielded. The zero value is ready; one
// Yielder belongs to one goroutine.
type Yielder struct {
	// Stride is how many calls of Maybe pass between two reads of the clock; 0 means
	// 64, for loops whose iterations take nanoseconds. A loop whose iterations take
	// microseconds or more sets 1.
	Stride uint32
	n      uint32
	since  time.Time
}

// Maybe yields the processor when the loop has run for Slice since it started or last
// yielded. It reads the clock once in Stride calls. On a nil Yielder it does nothing:
// a pass whose result requests are waiting for runs straight through.
func (y *Yielder) Maybe() {
	if y == nil {
		return
	}
	y.n++
	stride := y.Stride
	if stride == 0 {
		stride = 64
	}
	if y.n%stride != 0 {
		return
	}
	now := time.Now()
	if y.since.IsZero() {
		y.since = now
		return
	}
	if now.Sub(y.since) >= Slice {
		runtime.Gosched()
		y.since = time.Now()
	}
}
