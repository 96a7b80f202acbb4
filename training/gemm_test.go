package training

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestMatMul checks matMul against the plain triple loop on shapes with every
// kind of edge (rows not a multiple of 4, columns not a multiple of 16 or 32,
// an empty k), A read directly and transposed, C overwritten and added to,
// and C's padding (ldc > cols) left alone. Built with GOEXPERIMENT=simd on an
// AVX-512 machine this tests the kernel; otherwise the gonum path.
func TestMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = rng.Float32()*2 - 1
		}
		return x
	}
	for _, rows := range []int{1, 3, 4, 5, 9} {
		for _, cols := range []int{1, 15, 16, 17, 33, 64, 70} {
			for _, k := range []int{0, 1, 7, 130} {
				for _, trans := range []bool{false, true} {
					for _, add := range []bool{false, true} {
						name := fmt.Sprintf("%dx%dx%d trans=%v add=%v", rows, cols, k, trans, add)
						ldc, ldb := cols+3, cols+1
						a := fill(max(rows*k, 1))
						ar, ak := k, 1
						if trans {
							ar, ak = 1, rows
						}
						b, c := fill(max(k*ldb, 1)), fill(rows*ldc)
						want := append([]float32(nil), c...)
						for r := range rows {
							for j := range cols {
								var s float64
								if add {
									s = float64(want[r*ldc+j])
								}
								for i := range k {
									s += float64(a[r*ar+i*ak]) * float64(b[i*ldb+j])
								}
								want[r*ldc+j] = float32(s)
							}
						}
						matMul(c, ldc, add, rows, cols, k, a, ar, ak, b, ldb)
						for i := range c {
							if d := math.Abs(float64(c[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
								t.Fatalf("%s (simd %v): C[%d] = %v, want %v", name, simdEnabled, i, c[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

func TestTransposeTo(t *testing.T) {
	a := make([]float32, 37*70)
	for i := range a {
		a[i] = float32(i)
	}
	dst := make([]float32, len(a))
	transposeTo(dst, a, 37, 70)
	for r := range 37 {
		for c := range 70 {
			if dst[c*37+r] != a[r*70+c] {
				t.Fatalf("[%d,%d]: %v, want %v", c, r, dst[c*37+r], a[r*70+c])
			}
		}
	}
}
