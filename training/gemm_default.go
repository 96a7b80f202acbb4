//go:build !(goexperiment.simd && amd64)

package training

// simdEnabled reports whether matMul uses the AVX-512 kernel; the default
// build has none.
const simdEnabled = false

func matMulSIMD(c []float32, ldc int, add bool, rows, cols, k int, a []float32, ar, ak int, b []float32, ldb int) {
	panic("training: no SIMD kernel in this build")
}
