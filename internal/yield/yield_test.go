package yield

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// wait returns how long a goroutine made ready while a busy loop runs on the only
// processor waits before it runs; the loop calls Maybe when yielding is set.
func wait(yielding bool) time.Duration {
	ready := make(chan struct{})
	var ran atomic.Int64
	go func() {
		<-ready
		ran.Store(time.Now().UnixNano())
	}()
	time.Sleep(time.Millisecond) // the goroutine is parked on ready
	var y Yielder
	start := time.Now()
	close(ready)
	x := 1.0
	for ran.Load() == 0 && time.Since(start) < time.Second {
		for range 100 {
			x = x*1.0000001 + 1e-9 // work between two calls
		}
		if yielding {
			y.Maybe()
		}
	}
	if x == 0 {
		panic("unreachable")
	}
	if r := ran.Load(); r != 0 {
		return time.Duration(r - start.UnixNano())
	}
	return time.Second
}

// TestMaybeLetsReadyGoroutinesRun: on one processor, a goroutine that becomes ready
// while a loop that calls Maybe runs gets the processor within a few Slices; without
// the calls it waits for the runtime's preemption (about 10 ms). The least of several
// tries is compared, so that the operating system's own scheduling cannot fail it.
func TestMaybeLetsReadyGoroutinesRun(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	least := func(yielding bool) time.Duration {
		m := time.Hour
		for range 10 {
			m = min(m, wait(yielding))
		}
		return m
	}
	with, without := least(true), least(false)
	t.Logf("a ready goroutine waited %v at least with Maybe, %v without", with, without)
	if w := with; w > 2*time.Millisecond {
		t.Errorf("with Maybe, a ready goroutine waited %v at least; want within 2ms (Slice %v)", w, Slice)
	}
	if w := without; w < 5*time.Millisecond {
		t.Errorf("without Maybe, a ready goroutine waited only %v: the loop is not holding the processor, so the test shows nothing", w)
	}
}

// TestNilYielder: Maybe on a nil Yielder (a pass that requests wait for) is safe and
// returns at once.
func TestNilYielder(t *testing.T) {
	var y *Yielder
	for range 1000 {
		y.Maybe()
	}
}
