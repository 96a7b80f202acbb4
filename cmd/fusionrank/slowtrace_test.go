package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSlowTracer: a request slower than the threshold gets the execution trace of the
// seconds before it written to the directory, one that Go's trace tools read; a fast
// request, and a second slow one within the interval, write nothing.
func TestSlowTracer(t *testing.T) {
	dir := t.TempDir()
	st, err := newSlowTracer(20*time.Millisecond, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.stop()
	st.written = make(chan string, 4)
	h := st.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(50 * time.Millisecond)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	serve := func(path string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("%s: status %d", path, rec.Code)
		}
	}
	serve("/fast")
	serve("/slow")
	var path string
	select {
	case path = <-st.written:
	case <-time.After(30 * time.Second):
		t.Fatal("no trace written after a slow request")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("go 1.")) || !bytes.Contains(data[:16], []byte(" trace")) || len(data) < 1000 {
		t.Fatalf("%s is not an execution trace: %d bytes starting %q", path, len(data), data[:min(len(data), 16)])
	}
	serve("/slow") // within the interval
	serve("/fast")
	time.Sleep(100 * time.Millisecond)
	files, _ := filepath.Glob(filepath.Join(dir, "*.trace"))
	if len(files) != 1 {
		t.Fatalf("%d trace files after two slow requests 10 s apart at most, want 1: %v", len(files), files)
	}
}
