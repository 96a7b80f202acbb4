package features

import (
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank/features/photo"
	"github.com/fusionrank/fusionrank/vision"
)

// BenchmarkPhotoEncode is what the service does with each item or query photo: check
// the file's header against the limits, decode it, and encode it with the fixed
// descriptor (the default encoder), on shoppers' val photos of the Grocery Store
// (348×348 JPEGs); decode alone is the baseline of the same run. It reports the
// per-photo latency percentiles; run it with -cpu 1 for one core.
func BenchmarkPhotoEncode(b *testing.B) {
	b.Run("decode", func(b *testing.B) { benchPhoto(b, false) })
	b.Run("decode+descriptor", func(b *testing.B) { benchPhoto(b, true) })
}

func benchPhoto(b *testing.B, encode bool) {
	const dir = "../../shared/datasets/grocery-store/val/Vegetables/Pepper/Red-Bell-Pepper/"
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Skipf("the Grocery Store data set is not here: %v", err)
	}
	var files [][]byte
	for _, e := range entries {
		data, err := os.ReadFile(dir + e.Name())
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, data)
	}
	d, _ := vision.NewDescriptor(vision.DescriptorWeights{})
	v := make([]float32, d.Dim())
	times := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		img, _, err := photo.Decode("image", files[i%len(files)], photo.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if encode {
			d.EncodeTo(v, img)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	// CPU time of the process per photo: on a busy machine, wall-clock percentiles
	// include waiting for a core; this does not.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	slices.Sort(times)
	q := func(p float64) float64 { return float64(times[int(p*float64(len(times)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
}

// cpuTime returns the user and system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
