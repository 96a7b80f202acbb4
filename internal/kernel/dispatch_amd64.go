//go:build !purego

package kernel

import "golang.org/x/sys/cpu"

// detect returns the highest level the CPU (and the operating system,
// which must save the wider registers) supports.
func detect() Level {
	x := cpu.X86
	switch {
	case x.HasAVX512F && x.HasAVX512VL && x.HasBMI2 && x.HasAVX2 && x.HasFMA:
		return AVX512
	case x.HasAVX2 && x.HasFMA:
		return AVX2
	}
	return Go
}

// The functions below pick the kernel of the active level. Their callers
// in kernel.go, matmul.go and attention.go have checked every length, so
// the pointers handed to the assembly cover what it reads and writes.

func dot(x, y []float32) float32 {
	switch level {
	case AVX512:
		return dotAVX512(x, y)
	case AVX2:
		return dotAVX2(x, y)
	}
	return dotGo(x, y)
}

func axpy(dst []float32, a float32, x []float32) {
	switch level {
	case AVX512:
		axpyAVX512(dst, a, x)
	case AVX2:
		axpyAVX2(dst, a, x)
	default:
		axpyGo(dst, a, x)
	}
}

func addMul(dst, x, y []float32) {
	switch level {
	case AVX512:
		addMulAVX512(dst, x, y)
	case AVX2:
		addMulAVX2(dst, x, y)
	default:
		addMulGo(dst, x, y)
	}
}

func axpy64(dst []float64, a float64, x []float32) {
	switch level {
	case AVX512:
		axpy64AVX512(dst, a, x)
	case AVX2:
		axpy64AVX2(dst, a, x)
	default:
		axpy64Go(dst, a, x)
	}
}

func expTo(dst, x []float32) {
	switch level {
	case AVX512:
		expAVX512(dst, x)
	case AVX2:
		expAVX2(dst, x)
	default:
		expGo(dst, x)
	}
}

// attnDotsAsm holds the assembly products for 1…4 modalities per level.
var attnDotsAsm = [...][4]func(q, r, k, v *float32, ld, da int, s, t *float32){
	AVX2:   {attnDots1AVX2, attnDots2AVX2, attnDots3AVX2, attnDots4AVX2},
	AVX512: {attnDots1AVX512, attnDots2AVX512, attnDots3AVX512, attnDots4AVX512},
}

// attnDots needs q and r of Lanes·da, s and t of Lanes·nj, and k and v of
// (nj−1)·ld + da elements; 1 ≤ nj ≤ 4.
func attnDots(nj int, q, r, k, v []float32, ld, da int, s, t []float32) {
	if level == Go {
		attnDotsGo(nj, q, r, k, v, ld, da, s, t)
		return
	}
	attnDotsAsm[level][nj-1](&q[0], &r[0], &k[0], &v[0], ld, da, &s[0], &t[0])
}

// softmax needs s and t of groups·m·Lanes, beta of groups·Lanes and valid
// of groups elements.
func softmax(s, t, beta []float32, valid []uint16, m, groups int, mods uint64) (score, z float32) {
	switch level {
	case AVX512:
		return softmaxAVX512(&s[0], &t[0], &beta[0], &valid[0], m, groups, mods)
	case AVX2:
		return softmaxAVX2(&s[0], &t[0], &beta[0], &valid[0], m, groups, mods)
	}
	return softmaxGo(s, t, beta, valid, m, groups, mods)
}

// gemm computes rows (4 or 1) rows of C; a, b and c must cover every
// element the product reads or writes (see gemmGo).
func gemm(rows int, a []float32, ar, ak int, b []float32, ldb int, c []float32, ldc int, k, n int, add bool) {
	ap, bp, cp := &a[0], &b[0], &c[0]
	switch {
	case level == AVX512 && rows == 4:
		gemm4AVX512(ap, ar, ak, bp, ldb, cp, ldc, k, n, add)
	case level == AVX512:
		gemm1AVX512(ap, ar, ak, bp, ldb, cp, ldc, k, n, add)
	case level == AVX2 && rows == 4:
		gemm4AVX2(ap, ar, ak, bp, ldb, cp, ldc, k, n, add)
	case level == AVX2:
		gemm1AVX2(ap, ar, ak, bp, ldb, cp, ldc, k, n, add)
	default:
		gemmGo(rows, a, ar, ak, b, ldb, c, ldc, k, n, add)
	}
}

// attendAsm holds the fused AVX-512 kernels for 1…4 modalities.
var attendAsm = [4]func(q, r, k, v *float32, ld, da int, beta *float32, valid uint16, mods uint64, s *float32) (score, z float32){
	attend1AVX512, attend2AVX512, attend3AVX512, attend4AVX512,
}

// attendGroup runs the fused AVX-512 kernel for a query of one lane group
// and m ≤ 4 modalities (products and softmax in registers); ok is false
// at the other levels, whose callers run attnDots and softmax. It needs
// what attnDots needs, beta of Lanes and s of m·Lanes elements.
func attendGroup(m int, q, r, k, v []float32, ld, da int, beta []float32, valid uint16, mods uint64, s []float32) (score, z float32, ok bool) {
	if level != AVX512 {
		return 0, 0, false
	}
	score, z = attendAsm[m-1](&q[0], &r[0], &k[0], &v[0], ld, da, &beta[0], valid, mods, &s[0])
	return score, z, true
}
