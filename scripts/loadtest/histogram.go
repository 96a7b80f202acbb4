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
// upper bound in seconds → requests at or under it.
type histogram map[string]map[float64]float64

// reading is what -server-latency reads from the server's /metrics at one instant: the
// latency histogram and the Go runtime's counters (runtimeCounters) by name.
type reading struct {
	latency histogram
	runtime map[string]float64
}

// runtimeCounters are the Go runtime's counters on /metrics that serverRuntime reports.
var runtimeCounters = map[string]bool{
	"go_memstats_alloc_bytes_total": true, // bytes allocated
	"go_memstats_mallocs_total":     true, // objects allocated
	"go_gc_duration_seconds_count":  true, // garbage collections
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

// readMetrics reads the server's /metrics at base.
func readMetrics(base string) (reading, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return reading{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return reading{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the buckets of fusionrank_http_request_duration_seconds and the
// runtime counters from a Prometheus text exposition.
func parseMetrics(r io.Reader) (reading, error) {
	const name = "fusionrank_http_request_duration_seconds_bucket{"
	h, rt := histogram{}, map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok {
			if runtimeCounters[k] {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return reading{}, fmt.Errorf("metrics: %s %q: %w", k, v, err)
				}
				rt[k] = n
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
				return reading{}, fmt.Errorf("metrics: bucket %q: %w", le, err)
			}
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return reading{}, fmt.Errorf("metrics: count %q: %w", value, err)
		}
		if h[route] == nil {
			h[route] = map[float64]float64{}
		}
		h[route][bound] += n
	}
	return reading{h, rt}, sc.Err()
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
func serverRuntime(before, after reading) string {
	var requests float64
	for route, b := range after.latency {
		requests += b[math.Inf(1)] - before.latency[route][math.Inf(1)]
	}
	if requests <= 0 || len(after.runtime) < len(runtimeCounters) {
		return "server runtime: no requests, or no Go runtime counters on /metrics"
	}
	d := func(k string) float64 { return after.runtime[k] - before.runtime[k] }
	return fmt.Sprintf("server runtime: %.1f KB and %.0f objects allocated per request (%d requests on all routes), %d garbage collections",
		d("go_memstats_alloc_bytes_total")/requests/1024, d("go_memstats_mallocs_total")/requests, int(requests), int(d("go_gc_duration_seconds_count")))
}
