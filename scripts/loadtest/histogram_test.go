package main

import (
	"strings"
	"testing"
)

// TestServerShare: the server's histogram is read per route, summed over methods and
// statuses, and the share within each bound is of the requests between two readings;
// the Go runtime's allocations are per request of any route between the readings.
func TestServerShare(t *testing.T) {
	const before = `# HELP fusionrank_http_request_duration_seconds Request latency.
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/rerank",le="0.005"} 10
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/rerank",le="0.01"} 10
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/rerank",le="+Inf"} 10
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/recommendations",le="+Inf"} 3
go_memstats_alloc_bytes_total 1.048576e+06
go_memstats_mallocs_total 5000
go_gc_duration_seconds_count 7
go_gc_duration_seconds{quantile="0.5"} 0.0001
`
	const after = `fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/rerank",le="0.005"} 100
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/rerank",le="0.01"} 105
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/rerank",le="+Inf"} 110
fusionrank_http_request_duration_seconds_bucket{method="GET",route="/v1/rerank",le="0.005"} 10
fusionrank_http_request_duration_seconds_bucket{method="GET",route="/v1/rerank",le="0.01"} 10
fusionrank_http_request_duration_seconds_bucket{method="GET",route="/v1/rerank",le="+Inf"} 10
fusionrank_http_request_duration_seconds_count{method="POST",route="/v1/rerank"} 110
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/recommendations",le="+Inf"} 3
go_memstats_alloc_bytes_total 3.145728e+06
go_memstats_mallocs_total 8300
go_gc_duration_seconds_count 9
`
	b, err := parseMetrics(strings.NewReader(before))
	if err != nil {
		t.Fatal(err)
	}
	a, err := parseMetrics(strings.NewReader(after))
	if err != nil {
		t.Fatal(err)
	}
	// 110 requests between the readings: 100 within 5 ms, 105 within 10 ms.
	if got, want := serverShare(b.latency, a.latency, "/v1/rerank", .005, .01), "server (its own histogram, 110 requests): 90.91% within 5ms, 95.45% within 10ms"; got != want {
		t.Errorf("rerank: %q, want %q", got, want)
	}
	if got := serverShare(b.latency, a.latency, "/v1/recommendations", .01); !strings.Contains(got, "no /v1/recommendations requests") {
		t.Errorf("a route without new requests: %q", got)
	}
	if _, err := parseMetrics(strings.NewReader(`fusionrank_http_request_duration_seconds_bucket{route="/x",le="abc"} 1`)); err == nil {
		t.Error("a bad bucket bound: no error")
	}
	// 110 requests on all routes; 2 MiB and 3,300 objects more; two collections.
	if got, want := serverRuntime(b, a), "server runtime: 18.6 KB and 30 objects allocated per request (110 requests on all routes), 2 garbage collections"; got != want {
		t.Errorf("runtime: %q, want %q", got, want)
	}
	if got := serverRuntime(b, b); !strings.Contains(got, "no requests") {
		t.Errorf("no requests between the readings: %q", got)
	}
}
