package vision

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank/internal/cputime"
)

// BenchmarkConvGemm times the three products of one training step of the
// widest layer at 64×64 (32 → 32 channels at 32×32, 16 images): forward,
// weight gradient, patch gradient.
func BenchmarkConvGemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	cout, k, m := 32, 288, 16*32*32
	w, cols, out := randVec(rng, cout*k), randVec(rng, k*m), randVec(rng, cout*m)
	dw, dcols := make([]float32, cout*k), make([]float32, k*m)
	flops := float64(2 * cout * k * m)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	gflops := func(b *testing.B, c0 time.Duration) {
		b.ReportMetric(flops*float64(b.N)/(cputime.Thread()-c0).Seconds()/1e9, "cpu-GFLOPS")
	}
	b.Run("forward", func(b *testing.B) {
		c0 := cputime.Thread()
		for range b.N {
			matMul(false, false, cout, m, k, w, k, cols, m, 0, out, m)
		}
		gflops(b, c0)
	})
	b.Run("weights", func(b *testing.B) {
		c0 := cputime.Thread()
		for range b.N {
			matMul(false, true, cout, k, m, out, m, cols, m, 0, dw, k)
		}
		gflops(b, c0)
	})
	b.Run("patches", func(b *testing.B) {
		c0 := cputime.Thread()
		for range b.N {
			matMul(true, false, k, m, cout, w, k, out, m, 0, dcols, m)
		}
		gflops(b, c0)
	})
}
