package vision

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Tiles of C that gonum's Sgemm computes on the calling goroutine (it
// spreads a product over goroutines from four 64×64 blocks of C on).
const (
	tileRows = 64
	tileCols = 192
)

// matMul computes C = op(A)·op(B) + beta·C for row-major matrices: C is
// m×n (row stride ldc), op(A) is m×k and op(B) is k×n, where op transposes
// when ta (tb) is set, so A is stored k×m (B stored n×k) with row stride
// lda (ldb). Every matrix product of the package goes through this one
// function, so a faster kernel replaces it in one place. It runs on the
// calling goroutine (C in tiles small enough for gonum's blas32 to compute
// serially), so callers choose the parallelism, and the result depends only
// on the shapes.
func matMul(ta, tb bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for r := range m {
			row := c[r*ldc : r*ldc+n]
			if beta == 0 {
				clear(row)
			} else {
				for j := range row {
					row[j] *= beta
				}
			}
		}
		return
	}
	opA, opB := blas.NoTrans, blas.NoTrans
	if ta {
		opA = blas.Trans
	}
	if tb {
		opB = blas.Trans
	}
	for i0 := 0; i0 < m; i0 += tileRows {
		mi := min(tileRows, m-i0)
		var A blas32.General
		if ta {
			A = blas32.General{Rows: k, Cols: mi, Stride: lda, Data: a[i0:]}
		} else {
			A = blas32.General{Rows: mi, Cols: k, Stride: lda, Data: a[i0*lda:]}
		}
		for j0 := 0; j0 < n; j0 += tileCols {
			nj := min(tileCols, n-j0)
			var B blas32.General
			if tb {
				B = blas32.General{Rows: nj, Cols: k, Stride: ldb, Data: b[j0*ldb:]}
			} else {
				B = blas32.General{Rows: k, Cols: nj, Stride: ldb, Data: b[j0:]}
			}
			C := blas32.General{Rows: mi, Cols: nj, Stride: ldc, Data: c[i0*ldc+j0:]}
			blas32.Gemm(opA, opB, 1, A, B, beta, C)
		}
	}
}
