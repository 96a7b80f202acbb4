package training

// dot32 returns Σ x[k]·y[k] over len(x), in a fixed order (four partial
// sums), so results are reproducible.
func dot32(x, y []float32) float32 {
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

// axpy32 sets dst[k] += a·x[k] for k < len(x).
func axpy32(dst []float32, a float32, x []float32) {
	dst = dst[:len(x)]
	for k, v := range x {
		dst[k] += a * v
	}
}

// vecMat32 sets dst = x W (+ bias when not nil) for a row-major W of
// len(x) × len(dst).
func vecMat32(dst, x, w, bias []float32) {
	cols := len(dst)
	if bias != nil {
		copy(dst, bias)
	} else {
		clear(dst)
	}
	for k, xk := range x {
		if xk != 0 {
			axpy32(dst, xk, w[k*cols:(k+1)*cols])
		}
	}
}

// matVecT32 sets dst[k] = Σ_e W[k,e] g[e] (dst = g Wᵀ) for a row-major W of
// len(dst) × len(g); adds when add is true.
func matVecT32(dst []float32, w []float32, g []float32, add bool) {
	cols := len(g)
	for k := range dst {
		s := dot32(w[k*cols:(k+1)*cols], g)
		if add {
			dst[k] += s
		} else {
			dst[k] = s
		}
	}
}

// outerAdd adds xᵀ g to the row-major float64 dst of len(x) × len(g).
func outerAdd(dst []float64, x []float32, g []float32) {
	cols := len(g)
	for k, xk := range x {
		if xk == 0 {
			continue
		}
		a := float64(xk)
		row := dst[k*cols : (k+1)*cols]
		for e, gv := range g {
			row[e] += a * float64(gv)
		}
	}
}

func addTo64(dst []float64, g []float32) {
	for k, v := range g {
		dst[k] += float64(v)
	}
}
