package vision

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// matMul computes C = op(A)·op(B) + beta·C for row-major matrices: C is
// m×n (row stride ldc), op(A) is m×k and op(B) is k×n, where op transposes
// when ta (tb) is set, so A is stored k×m (B stored n×k) with row stride
// lda (ldb). Every matrix product of the package goes through this one
// function (gonum's blas32; its result depends only on the shapes, not on
// the number of goroutines), so a faster kernel replaces it in one place.
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
	opA, ar, ac := blas.NoTrans, m, k
	if ta {
		opA, ar, ac = blas.Trans, k, m
	}
	opB, br, bc := blas.NoTrans, k, n
	if tb {
		opB, br, bc = blas.Trans, n, k
	}
	blas32.Gemm(opA, opB, 1,
		blas32.General{Rows: ar, Cols: ac, Stride: lda, Data: a},
		blas32.General{Rows: br, Cols: bc, Stride: ldb, Data: b},
		beta,
		blas32.General{Rows: m, Cols: n, Stride: ldc, Data: c})
}
