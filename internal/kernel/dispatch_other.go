//go:build purego || !amd64

package kernel

// Without the assembly (other architectures, or the purego build tag)
// every kernel is its pure-Go twin.

func detect() Level { return Go }

func dot(x, y []float32) float32 { return dotGo(x, y) }

func axpy(dst []float32, a float32, x []float32) { axpyGo(dst, a, x) }

func addMul(dst, x, y []float32) { addMulGo(dst, x, y) }

func axpy64(dst []float64, a float64, x []float32) { axpy64Go(dst, a, x) }

func expTo(dst, x []float32) { expGo(dst, x) }

func attnDots(nj int, q, r, k, v []float32, ld, da int, s, t []float32) {
	attnDotsGo(nj, q, r, k, v, ld, da, s, t)
}

func softmax(s, t, beta []float32, valid []uint16, m, groups int, mods uint64) (score, z float32) {
	return softmaxGo(s, t, beta, valid, m, groups, mods)
}

func gemm(rows int, a []float32, ar, ak int, b []float32, ldb int, c []float32, ldc int, k, n int, add bool) {
	gemmGo(rows, a, ar, ak, b, ldb, c, ldc, k, n, add)
}

func attendGroup(m int, q, r, k, v []float32, ld, da int, beta []float32, valid uint16, mods uint64, s []float32) (score, z float32, ok bool) {
	return 0, 0, false
}
