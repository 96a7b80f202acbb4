package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/trace"
	"sync/atomic"
	"time"
)

// slowTracer keeps the last seconds of the runtime's execution trace in memory (the
// flight recorder of runtime/trace) and writes them to a file when a request takes
// longer than threshold, so that a stall seen once in a while under load can be read
// afterwards: which goroutines held the processors, what the requests waited on, when
// the garbage collector ran (`go tool trace FILE`). At most one file is written per
// interval; a request that ends while one is being written is not traced again.
type slowTracer struct {
	fr        *trace.FlightRecorder
	dir       string
	threshold time.Duration
	interval  time.Duration
	log       *slog.Logger
	next      atomic.Int64 // unix nanoseconds before which no trace is written
	busy      atomic.Bool
	written   chan string // each file written, when not nil (tests)
}

// newSlowTracer starts the flight recorder; dir "" means the system's temporary
// directory.
func newSlowTracer(threshold time.Duration, dir string, log *slog.Logger) (*slowTracer, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("FUSIONRANK_TRACE_DIR: %w", err)
	}
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: 5 * time.Second, MaxBytes: 64 << 20})
	if err := fr.Start(); err != nil {
		return nil, fmt.Errorf("FUSIONRANK_TRACE_SLOW: %w", err)
	}
	return &slowTracer{fr: fr, dir: dir, threshold: threshold, interval: 10 * time.Second, log: log}, nil
}

// wrap times every request of h and writes the trace after one slower than the
// threshold.
func (t *slowTracer) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		if d := time.Since(start); d > t.threshold {
			t.slow(r.Method+" "+r.URL.Path, start, d)
		}
	})
}

func (t *slowTracer) slow(what string, start time.Time, d time.Duration) {
	now := time.Now()
	if now.UnixNano() < t.next.Load() || !t.busy.CompareAndSwap(false, true) {
		return
	}
	t.next.Store(now.Add(t.interval).UnixNano())
	go func() {
		defer t.busy.Store(false)
		path := filepath.Join(t.dir, "fusionrank-slow-"+start.UTC().Format("20060102T150405.000")+".trace")
		f, err := os.Create(path)
		if err == nil {
			_, err = t.fr.WriteTo(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			t.log.Warn("slow request: the execution trace could not be written", "request", what, "ms", d.Milliseconds(), "err", err)
			return
		}
		t.log.Warn("slow request: execution trace written", "request", what, "ms", d.Milliseconds(),
			"started", start.UTC().Format(time.RFC3339Nano), "file", path)
		if t.written != nil {
			t.written <- path
		}
	}()
}

// stop ends the recording.
func (t *slowTracer) stop() { t.fr.Stop() }
