package main

import (
	"strings"
	"testing"
)

// TestServerShare: the server's histogram is read per route, summed over methods and
// statuses, and the share within each bound is of the requests between two readings.
func TestServerShare(t *testing.T) {
	const before = `# HELP fusionrank_http_request_duration_seconds Request latency.
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/rerank",le="0.005"} 10
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/rerank",le="0.01"} 10
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/rerank",le="+Inf"} 10
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/recommendations",le="+Inf"} 3
`
	const after = `fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/rerank",le="0.005"} 100
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/rerank",le="0.01"} 105
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/rerank",le="+Inf"} 110
fusionrank_http_request_duration_seconds_bucket{method="GET",route="/v1/rerank",le="0.005"} 10
fusionrank_http_request_duration_seconds_bucket{method="GET",route="/v1/rerank",le="0.01"} 10
fusionrank_http_request_duration_seconds_bucket{method="GET",route="/v1/rerank",le="+Inf"} 10
fusionrank_http_request_duration_seconds_count{method="POST",route="/v1/rerank"} 110
fusionrank_http_request_duration_seconds_bucket{method="POST",route="/v1/recommendations",le="+Inf"} 3
`
	b, err := parseHistogram(strings.NewReader(before))
	if err != nil {
		t.Fatal(err)
	}
	a, err := parseHistogram(strings.NewReader(after))
	if err != nil {
		t.Fatal(err)
	}
	// 110 requests between the readings: 100 within 5 ms, 105 within 10 ms.
	if got, want := serverShare(b, a, "/v1/rerank", .005, .01), "server (its own histogram, 110 requests): 90.91% within 5ms, 95.45% within 10ms"; got != want {
		t.Errorf("rerank: %q, want %q", got, want)
	}
	if got := serverShare(b, a, "/v1/recommendations", .01); !strings.Contains(got, "no /v1/recommendations requests") {
		t.Errorf("a route without new requests: %q", got)
	}
	if _, err := parseHistogram(strings.NewReader(`fusionrank_http_request_duration_seconds_bucket{route="/x",le="abc"} 1`)); err == nil {
		t.Error("a bad bucket bound: no error")
	}
}
