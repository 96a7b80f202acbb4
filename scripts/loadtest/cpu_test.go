package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestProcStat: the command name and CPU time come from /proc, for this process and for
// the Postgres processes the tests run beside.
func TestProcStat(t *testing.T) {
	end := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(end); x++ {
		_ = x * x // spin, so that the process has CPU time to report
	}
	name, cpu := procStat(os.Getpid())
	want := filepath.Base(os.Args[0])
	want = want[:min(len(want), 15)] // the kernel keeps 15 bytes of the name
	if name != want {
		t.Errorf("name %q, want %q", name, want)
	}
	if cpu <= 0 {
		t.Errorf("cpu %v after spinning", cpu)
	}
	if name, cpu := procStat(-1); name != "" || cpu != 0 {
		t.Errorf("a missing process: %q %v", name, cpu)
	}
	// make test starts Postgres before the tests (scripts/services.sh).
	if postgresCPU() <= 0 {
		t.Error("no CPU time for any postgres process")
	}
}
