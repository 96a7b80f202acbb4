package cputime

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestThreadCountsWork checks that busy work on a locked thread advances the clock
// and sleeping does not (much).
func TestThreadCountsWork(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the thread CPU clock is read on Linux only")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	start := Thread()
	x := 1.0
	for i := 0; i < 20_000_000; i++ {
		x = x*1.0000001 + 1e-9
	}
	busy := Thread() - start
	if busy <= 0 {
		t.Fatalf("busy loop (%v) used %v of CPU", x, busy)
	}
	start = Thread()
	time.Sleep(50 * time.Millisecond)
	if slept := Thread() - start; slept > 25*time.Millisecond {
		t.Fatalf("sleeping 50ms used %v of CPU", slept)
	}
}
