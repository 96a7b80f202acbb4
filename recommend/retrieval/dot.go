package retrieval

// dot returns the inner product of a and b, which must have equal lengths.
// The kernel lives in dot_generic.go (pure Go, unrolled by 8) or, when built
// with GOEXPERIMENT=simd on amd64, dot_simd.go.
func dot(a, b []float32) float32 {
	return dotKernel(a, b)
}

// dotGeneric is the plain Go kernel: eight independent accumulators so the
// CPU can overlap the multiply-adds, and re-slicing so the compiler drops the
// bounds checks inside the loop.
func dotGeneric(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		aa := a[i : i+8 : i+8]
		bb := b[i : i+8 : i+8]
		s0 += aa[0] * bb[0]
		s1 += aa[1] * bb[1]
		s2 += aa[2] * bb[2]
		s3 += aa[3] * bb[3]
		s4 += aa[4] * bb[4]
		s5 += aa[5] * bb[5]
		s6 += aa[6] * bb[6]
		s7 += aa[7] * bb[7]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}
