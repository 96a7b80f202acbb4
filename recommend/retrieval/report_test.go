package retrieval

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	reportSizes = flag.String("retrieval.report", "", "comma-separated catalogue sizes (e.g. 100000,1000000): print build time, recall@100 and per-query latency of HNSW vs Exact on the clustered synthetic set, d=128")
	reportEf    = flag.String("retrieval.ef", "100,150,200,300", "comma-separated efSearch values for -retrieval.report")
	reportEfC   = flag.Int("retrieval.efc", 0, "efConstruction for -retrieval.report (0: default)")
	reportM     = flag.Int("retrieval.m", 0, "M for -retrieval.report (0: default)")
	reportQ     = flag.Int("retrieval.queries", 500, "held-out queries for -retrieval.report and -retrieval.glove")
	reportGloVe = flag.Bool("retrieval.glove", false, "print the same figures on the shared 50k GloVe vectors (d=100)")
)

func parseInts(t *testing.T, s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// TestReport prints the figures quoted in doc.go. It runs only with
// -retrieval.report (clustered synthetic data, d = 128) or
// -retrieval.glove (the 50k GloVe words, d = 100), e.g.
//
//	go test ./recommend/retrieval -run TestReport -v -timeout 1h -retrieval.report 100000,1000000
func TestReport(t *testing.T) {
	if *reportSizes == "" && !*reportGloVe {
		t.Skip("set -retrieval.report=N[,N...] or -retrieval.glove to run")
	}
	const dim = 128
	for _, n := range parseInts(t, *reportSizes) {
		clusters := max(16, min(1024, n/1000))
		t0 := time.Now()
		items, queries := mixtureSplit(n, *reportQ, dim, clusters, 0.7, 7)
		t.Logf("synthetic n=%d d=%d clusters=%d spread=0.7: generated in %v", n, dim, clusters, time.Since(t0).Round(time.Millisecond))
		reportOn(t, fmt.Sprintf("n=%d", n), items, queries, dim)
	}
	if *reportGloVe {
		vecs, gdim := loadGloVe(t, 1<<30)
		n := len(vecs) / gdim
		// Hold out every 50th word as a query; index the rest.
		var items, queries []float32
		for i := range n {
			v := vecs[i*gdim : (i+1)*gdim]
			if i%50 == 0 && len(queries)/gdim < *reportQ {
				queries = append(queries, v...)
			} else {
				items = append(items, v...)
			}
		}
		t.Logf("GloVe: %d words indexed, %d held-out queries, d=%d", len(items)/gdim, len(queries)/gdim, gdim)
		reportOn(t, "glove", items, queries, gdim)
	}
}

func reportOn(t *testing.T, name string, items, queries []float32, dim int) {
	const k = 100
	n, nq := len(items)/dim, len(queries)/dim
	ex := NewExact(dim)
	for i := range n {
		ex.Set(int32(i), items[i*dim:(i+1)*dim])
	}
	truth := make([][]Hit, nq)
	exLat := make([]time.Duration, nq)
	for i := range nq {
		s := time.Now()
		truth[i] = ex.SearchTo(nil, queries[i*dim:(i+1)*dim], k, nil)
		exLat[i] = time.Since(s)
	}
	t.Logf("%s exact: p50 %v p99 %v per query (1 goroutine)", name, pct(exLat, 50), pct(exLat, 99))

	cfg := HNSWConfig{M: *reportM, EfConstruction: *reportEfC}
	h := NewHNSW(dim, cfg)
	cpu0 := cpuTime()
	t0 := time.Now()
	h.SetBatch(seqSlots(n), items)
	build := time.Since(t0)
	cpu := cpuTime() - cpu0
	c := cfg.withDefaults()
	t.Logf("%s hnsw M=%d efC=%d: build %v wall, %v CPU (user+sys) with %d workers", name, c.M, c.EfConstruction,
		build.Round(time.Millisecond), cpu.Round(time.Millisecond), c.Workers)

	for _, ef := range parseInts(t, *reportEf) {
		h.SetEfSearch(ef)
		lat := make([]time.Duration, nq)
		var rec10, rec100 float64
		dst := make([]Hit, 0, k)
		for i := range nq {
			q := queries[i*dim : (i+1)*dim]
			s := time.Now()
			dst = h.SearchTo(dst, q, k, nil)
			lat[i] = time.Since(s)
			rec100 += recallAt(dst, truth[i])
			rec10 += recallAt(dst[:min(10, len(dst))], truth[i][:10])
		}
		// Throughput with both cores busy, as in serving.
		var wg sync.WaitGroup
		s := time.Now()
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := make([]Hit, 0, k)
				for i := w; i < nq; i += 2 {
					d = h.SearchTo(d, queries[i*dim:(i+1)*dim], k, nil)
				}
			}()
		}
		wg.Wait()
		qps := float64(nq) / time.Since(s).Seconds()
		t.Logf("%s ef=%d: recall@10 %.4f recall@100 %.4f  p50 %v p99 %v per query (1 goroutine); %.0f q/s on 2 goroutines",
			name, ef, rec10/float64(nq), rec100/float64(nq), pct(lat, 50), pct(lat, 99), qps)
	}
	fmt.Println()
}

// cpuTime returns the CPU time this process has used, so that build
// figures can be read independently of other load on the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := min(len(s)-1, (len(s)*p)/100)
	return s[i].Round(time.Microsecond)
}
