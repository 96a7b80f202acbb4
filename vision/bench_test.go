package vision

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank/internal/cputime"
)

// benchEncoder returns an encoder of cfg with random weights (the cost of
// encoding does not depend on the values).
func benchEncoder(cfg Config) *Encoder {
	cfg = cfg.withDefaults()
	p := newParams(cfg)
	p.init(rand.New(rand.NewPCG(1, 2)))
	return newEncoder(p)
}

// reportLatency runs fn b.N times on one locked OS thread, timing each
// call, and reports the median and 99th percentile of the wall time and of
// the thread's CPU time beside ns/op. On a shared machine the wall time
// also counts the time other processes held the core; the CPU time is what
// one encoding costs.
func reportLatency(b *testing.B, fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	wall := make([]time.Duration, 0, b.N)
	cpu := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t, c := time.Now(), cputime.Thread()
		fn()
		cpu = append(cpu, cputime.Thread()-c)
		wall = append(wall, time.Since(t))
	}
	b.StopTimer()
	pct := func(ds []time.Duration, q int) float64 {
		slices.Sort(ds)
		return float64(ds[min(len(ds)-1, len(ds)*q/100)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(wall, 50), "p50-ms")
	b.ReportMetric(pct(wall, 99), "p99-ms")
	b.ReportMetric(pct(cpu, 50), "cpu-p50-ms")
	b.ReportMetric(pct(cpu, 99), "cpu-p99-ms")
}

// BenchmarkEncode348 encodes one 348×348 JPEG-decoded photo (the Grocery
// Store shopper photo size) with the convolutional encoder: resampling, CIELAB,
// the network. Run it with -cpu 1 for the one-core latency.
func BenchmarkEncode348(b *testing.B) {
	e := benchEncoder(DefaultConfig)
	img := photo(rand.New(rand.NewPCG(3, 4)), 348, 348)
	dst := make([]float32, e.Dim())
	e.EncodeTo(dst, img)
	reportLatency(b, func() { e.EncodeTo(dst, img) })
}

// BenchmarkDescriptor348 computes the fixed descriptor of the same photo.
func BenchmarkDescriptor348(b *testing.B) {
	d, _ := NewDescriptor(DescriptorWeights{})
	img := photo(rand.New(rand.NewPCG(3, 4)), 348, 348)
	dst := make([]float32, d.Dim())
	d.EncodeTo(dst, img)
	reportLatency(b, func() { d.EncodeTo(dst, img) })
}

// BenchmarkEncodeFeatures348 encodes the same photo with the features
// encoder of train-images (DefaultFeaturesConfig): resampling, CIELAB, the
// features of the photo and its mirror image, the hidden layer and head.
func BenchmarkEncodeFeatures348(b *testing.B) {
	e := benchEncoder(DefaultFeaturesConfig)
	img := photo(rand.New(rand.NewPCG(3, 4)), 348, 348)
	dst := make([]float32, e.Dim())
	e.EncodeTo(dst, img)
	reportLatency(b, func() { e.EncodeTo(dst, img) })
}
