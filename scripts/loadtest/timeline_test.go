package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTimeline: the per-second file counts each request in the second it was due,
// tells 200s from 503s and transport errors, and gives the personalised share of the
// 200s; a second with no request still has its row.
func TestTimeline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tl.tsv")
	ms := time.Millisecond
	rs := []result{
		{due: 100 * ms, status: 200, latency: 2 * ms, personal: true},
		{due: 900 * ms, status: 200, latency: 4 * ms},
		{due: 950 * ms, status: 503, latency: 1 * ms},
		{due: 2100 * ms, err: true},
		{due: 2500 * ms, status: 200, latency: 8 * ms, personal: true},
	}
	if err := writeTimeline(path, "rerank", rs); err != nil {
		t.Fatal(err)
	}
	if err := writeTimeline(path, "recommend", rs[:1]); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"scenario\tsecond\trequests\tok\tshed\terrors\tp50_ms\tp99_ms\tmax_ms\tpersonalised_pct",
		"rerank\t0\t3\t2\t1\t0\t2.00\t4.00\t4.00\t50.00",
		"rerank\t1\t0\t0\t0\t0\t0.00\t0.00\t0.00\t0.00",
		"rerank\t2\t2\t1\t0\t1\t8.00\t8.00\t8.00\t100.00",
		"recommend\t0\t1\t1\t0\t0\t2.00\t2.00\t2.00\t100.00",
	}, "\n") + "\n"
	if string(b) != want {
		t.Fatalf("timeline:\n%s\nwant:\n%s", b, want)
	}
}
