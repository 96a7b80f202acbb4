package retrieval

import (
	"math"
	"math/rand/v2"
	"testing"
)

func naiveDot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// TestDotKernels checks the kernel in use (archsimd when built with
// GOEXPERIMENT=simd on a CPU with AVX2 and FMA) and the plain Go twin
// against a float64 reference on the lengths where unrolled loops break.
func TestDotKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 100, 128, 4096} {
		a := make([]float32, n)
		b := make([]float32, n)
		var mag float64
		for i := range a {
			a[i] = float32(rng.NormFloat64())
			b[i] = float32(rng.NormFloat64())
			mag += math.Abs(float64(a[i]) * float64(b[i]))
		}
		want := naiveDot(a, b)
		tol := 1e-6*mag + 1e-30
		for name, f := range map[string]func(a, b []float32) float32{"kernel": dotKernel, "generic": dotGeneric} {
			if got := f(a, b); math.Abs(float64(got)-want) > tol {
				t.Errorf("%s n=%d: got %v, want %v (tol %g)", name, n, got, want, tol)
			}
		}
		if g, k := dotGeneric(a, b), dotKernel(a, b); math.Abs(float64(g-k)) > tol {
			t.Errorf("n=%d: kernel %v and generic %v disagree", n, k, g)
		}
	}
}

func BenchmarkDot128(b *testing.B) {
	x := make([]float32, 128)
	y := make([]float32, 128)
	for i := range x {
		x[i], y[i] = float32(i), float32(128-i)
	}
	b.Run("kernel", func(b *testing.B) {
		var s float32
		for b.Loop() {
			s += dotKernel(x, y)
		}
		_ = s
	})
	b.Run("generic", func(b *testing.B) {
		var s float32
		for b.Loop() {
			s += dotGeneric(x, y)
		}
		_ = s
	})
}
