package training

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// matMul computes C = A·B, or C += A·B when add is set, for C of rows×cols
// (row stride ldc), A of rows×k read as a[r·ar + i·ak] (so a transposed A is
// ar = 1, ak = its row stride) and B of k×cols (row stride ldb). Built with
// GOEXPERIMENT=simd on a CPU with AVX-512 it runs matMulSIMD; otherwise
// gonum's blocked products. The two differ only in rounding (sums in
// another order).
func matMul(c []float32, ldc int, add bool, rows, cols, k int, a []float32, ar, ak int, b []float32, ldb int) {
	if rows == 0 || cols == 0 {
		return
	}
	if k == 0 {
		if !add {
			for r := range rows {
				clear(c[r*ldc : r*ldc+cols])
			}
		}
		return
	}
	if simdEnabled {
		matMulSIMD(c, ldc, add, rows, cols, k, a, ar, ak, b, ldb)
		return
	}
	var beta float32
	if add {
		beta = 1
	}
	C := blas32.General{Rows: rows, Cols: cols, Stride: ldc, Data: c}
	B := blas32.General{Rows: k, Cols: cols, Stride: ldb, Data: b}
	switch {
	case ak == 1 && ar >= k:
		A := blas32.General{Rows: rows, Cols: k, Stride: ar, Data: a}
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, A, B, beta, C)
	case ar == 1 && ak >= rows:
		A := blas32.General{Rows: k, Cols: rows, Stride: ak, Data: a}
		blas32.Gemm(blas.Trans, blas.NoTrans, 1, A, B, beta, C)
	default:
		panic("training: matMul needs A with unit stride along its rows or its columns, and the other stride covering them")
	}
}

// matMulBT computes C = A·Bᵀ for A of rows×k and B of cols×k (both row-major, no
// padding) into C of rows×cols (row stride cols). The SIMD kernel reads B
// transposed: bT, when not nil, holds it (k×cols); when nil it is made in
// *scratch. The default build takes B as it is.
func matMulBT(c []float32, rows, cols, k int, a, b, bT []float32, scratch *[]float32) {
	if !simdEnabled {
		A := blas32.General{Rows: rows, Cols: k, Stride: k, Data: a}
		B := blas32.General{Rows: cols, Cols: k, Stride: k, Data: b}
		C := blas32.General{Rows: rows, Cols: cols, Stride: cols, Data: c}
		blas32.Gemm(blas.NoTrans, blas.Trans, 1, A, B, 0, C)
		return
	}
	if bT == nil {
		*scratch = growF32(*scratch, cols*k)
		transposeTo(*scratch, b, cols, k)
		bT = *scratch
	}
	matMul(c, cols, false, rows, cols, k, a, k, 1, bT, cols)
}

// transposeTo writes the transpose of a (rows×cols, row stride cols) to dst
// (cols×rows, row stride rows).
func transposeTo(dst, a []float32, rows, cols int) {
	const blk = 32
	for r0 := 0; r0 < rows; r0 += blk {
		for c0 := 0; c0 < cols; c0 += blk {
			for r := r0; r < min(r0+blk, rows); r++ {
				row := a[r*cols : (r+1)*cols]
				for c := c0; c < min(c0+blk, cols); c++ {
					dst[c*rows+r] = row[c]
				}
			}
		}
	}
}
