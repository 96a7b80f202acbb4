package kernel

//go:generate go run -C asm . -out ../kernel_amd64.s -stubs ../stubs_amd64.go -pkg kernel

// Dot returns Σ x[i]·y[i] for i < len(x). It panics if y is shorter than x.
func Dot(x, y []float32) float32 {
	if len(y) < len(x) {
		panic("kernel: Dot: y shorter than x")
	}
	return dot(x, y)
}

// DotFixed returns Σ x[i]·y[i] for i < len(x) summed in one fixed order (four partial
// sums over i mod 4, then (s0+s1)+(s2+s3)), in plain Go on every CPU, so its result
// does not depend on the kernel level: for computations whose figures must reproduce
// bit for bit across machines (the image encoder's training and inference, the photo
// protocol). It panics if y is shorter than x.
func DotFixed(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	k := 0
	for ; k+4 <= len(x); k += 4 {
		s0 += x[k] * y[k]
		s1 += x[k+1] * y[k+1]
		s2 += x[k+2] * y[k+2]
		s3 += x[k+3] * y[k+3]
	}
	for ; k < len(x); k++ {
		s0 += x[k] * y[k]
	}
	return (s0 + s1) + (s2 + s3)
}

// Axpy sets dst[i] += a·x[i] for i < len(x). It panics if dst is shorter
// than x; dst[len(x):] is left alone.
func Axpy(dst []float32, a float32, x []float32) {
	if len(dst) < len(x) {
		panic("kernel: Axpy: dst shorter than x")
	}
	axpy(dst, a, x)
}

// AddMul sets dst[i] += x[i]·y[i] for i < len(x): an element-wise product
// added to dst (gated pooling). It panics if dst or y is shorter than x.
func AddMul(dst, x, y []float32) {
	if len(dst) < len(x) || len(y) < len(x) {
		panic("kernel: AddMul: dst or y shorter than x")
	}
	addMul(dst, x, y)
}

// Axpy64 sets dst[i] += a·float64(x[i]) for i < len(x): a float32 vector
// added, scaled, to a float64 accumulator (gradient sums). When a is a
// float32 value every product is exact, so the result is the same on every
// level. It panics if dst is shorter than x.
func Axpy64(dst []float64, a float64, x []float32) {
	if len(dst) < len(x) {
		panic("kernel: Axpy64: dst shorter than x")
	}
	axpy64(dst, a, x)
}

// ExpTo sets dst[i] = e^x[i] for i < len(x), in float32 with a relative
// error below 3e-7 for x in [-87, 88]; x is clamped to that range first
// (so e^x never overflows and e^-∞ gives about 1.6e-38). x must not hold
// NaN. It panics if dst is shorter than x.
func ExpTo(dst, x []float32) {
	if len(dst) < len(x) {
		panic("kernel: ExpTo: dst shorter than x")
	}
	expTo(dst, x)
}

// AddOuter64 adds the outer product xᵀ·g to dst, a float64 matrix of
// len(x) × len(g) stored row-major: dst[i·len(g) + j] += x[i]·g[j]. Rows
// with x[i] = 0 are skipped. It panics if dst is shorter than that.
func AddOuter64(dst []float64, x, g []float32) {
	cols := len(g)
	if len(dst) < len(x)*cols {
		panic("kernel: AddOuter64: dst shorter than len(x)·len(g)")
	}
	for i, xi := range x {
		if xi != 0 {
			axpy64(dst[i*cols:(i+1)*cols], float64(xi), g)
		}
	}
}
