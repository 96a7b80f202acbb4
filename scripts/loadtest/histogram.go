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
