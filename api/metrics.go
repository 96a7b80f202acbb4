package api

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	internalErrors prometheus.Counter
	unavailable    prometheus.Counter
	shed           prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fusionrank_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fusionrank_http_request_duration_seconds",
			Help:    "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 5},
		}, []string{"route", "method"}),
		internalErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fusionrank_http_internal_errors_total", Help: "Answers with status 500 (each one is a bug).",
		}),
	}
	m.unavailable = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fusionrank_http_unavailable_total", Help: "Answers with status 503 because a store was down.",
	})
	m.shed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fusionrank_http_shed_total", Help: "Read requests answered 503 at once because MaxInFlight were in progress.",
	})
	reg.MustRegister(m.requests, m.latency, m.internalErrors, m.unavailable, m.shed)
	return m
}
