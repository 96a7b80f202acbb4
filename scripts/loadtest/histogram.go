package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// histogram is the server's own request latency histogram
// (fusionrank_http_request_duration_seconds on /metrics, measured from its first
// middleware to the answer written), summed over methods and statuses: route → bucket
// upper bound in seconds → requests at or under it. The route "" holds the Go
// runtime's counters instead, by name (runtimeCounters).
type histogram map[string]map[float64]float64

// runtimeCounters are the Go runtime's counters on /metrics that serverRuntime reports,
// kept in histogram[""] under these keys.
var runtimeCounters = map[string]float64{
	"go_memstats_alloc_bytes_total": 0, // bytes allocated
	"go_memstats_mallocs_total":     1, // objects allocated
	"go_gc_duration_seconds_count":  2, // garbage collections
}

// scenarioRoute is the route label of each open-loop scenario's requests.
var scenarioRoute = map[string]string{
	"rerank":       "/v1/rerank",
	"rerank-batch": "/v1/rerank:batch",
	"recommend":    "/v1/recommendations",
	"features":     "/v1/users/:id/features",
	"similar":      "/v1/items/:id/similar",
	"search":       "/v1/search",
}

// readHistogram reads the histogram from the server at base.
func readHistogram(base string) (histogram, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseHistogram(resp.Body)
}

// parseHistogram reads the buckets of fusionrank_http_request_duration_seconds from a
// Prometheus text exposition.
func parseHistogram(r io.Reader) (histogram, error) {
	const name = "fusionrank_http_request_duration_seconds_bucket{"
	h := histogram{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok {
			if key, counter := runtimeCounters[k]; counter {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return nil, fmt.Errorf("metrics: %s %q: %w", k, v, err)
				}
				if h[""] == nil {
					h[""] = map[float64]float64{}
				}
				h[""][key] = n
				continue
			}
		}
		line, ok := strings.CutPrefix(sc.Text(), name)
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(line, "} ")
		if !ok {
			continue
		}
		route, le := label(labels, "route"), label(labels, "le")
		bound := math.Inf(1)
		if le != "+Inf" {
			var err error
			if bound, err = strconv.ParseFloat(le, 64); err != nil {
				return nil, fmt.Errorf("metrics: bucket %q: %w", le, err)
			}
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: count %q: %w", value, err)
		}
		if h[route] == nil {
			h[route] = map[float64]float64{}
		}
		h[route][bound] += n
	}
	return h, sc.Err()
}

// label returns the value of label k in a Prometheus label list (k="v",…); the
// server's label values hold no commas or quotes.
func label(labels, k string) string {
	for _, kv := range strings.Split(labels, ",") {
		if v, ok := strings.CutPrefix(kv, k+`="`); ok {
			return strings.TrimSuffix(v, `"`)
		}
	}
	return ""
}

// serverShare describes the requests of route between two readings: how many, and the
// share the server answered within each of the bounds.
func serverShare(before, after histogram, route string, bounds ...float64) string {
	total := after[route][math.Inf(1)] - before[route][math.Inf(1)]
	if total <= 0 {
		return fmt.Sprintf("server: no %s requests in its histogram", route)
	}
	parts := make([]string, len(bounds))
	for i, b := range bounds {
		parts[i] = fmt.Sprintf("%.2f%% within %gms", 100*(after[route][b]-before[route][b])/total, b*1000)
	}
	return fmt.Sprintf("server (its own histogram, %d requests): %s", int(total), strings.Join(parts, ", "))
}

// serverRuntime describes what the server's Go runtime did between two readings, per
// request it answered on any route: bytes and objects allocated, and the garbage
// collections.
func serverRuntime(before, after histogram) string {
	var requests float64
	for route, b := range after {
		if route != "" {
			requests += b[math.Inf(1)] - before[route][math.Inf(1)]
		}
	}
	if requests <= 0 || after[""] == nil {
		return "server runtime: no requests, or no Go runtime counters on /metrics"
	}
	d := func(k float64) float64 { return after[""][k] - before[""][k] }
	return fmt.Sprintf("server runtime: %.1f KB and %.0f objects allocated per request (%d requests on all routes), %d garbage collections",
		d(0)/requests/1024, d(1)/requests, int(requests), int(d(2)))
}
