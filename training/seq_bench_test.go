package training

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// BenchmarkSeqProducts times the three products of one shard's pass in
// the sequence encoder's training (64 examples, the Beauty configuration's
// 2,048 negatives plus the batch's positives, dim 128): "loops", the
// per-example dot products and axpys the encoder used before, against
// "gemm", the matrix products batchGrad uses. Same inputs, same run.
func BenchmarkSeqProducts(b *testing.B) {
	const n, nC, D = 64, 2304, 128
	r := rand.New(rand.NewPCG(1, 2))
	f := func(k int) []float32 {
		x := make([]float32, k)
		for i := range x {
			x[i] = r.Float32() - 0.5
		}
		return x
	}
	q, out, p := f(n*D), f(nC*D), f(n*nC)
	dq, dout := make([]float32, n*D), make([]float32, nC*D)
	b.Run("loops", func(b *testing.B) {
		for b.Loop() {
			for e := range n {
				qe := q[e*D : (e+1)*D]
				for c := range nC {
					p[e*nC+c] = dot32(qe, out[c*D:(c+1)*D])
				}
				for c := range nC {
					axpy32(dq[e*D:(e+1)*D], p[e*nC+c], out[c*D:(c+1)*D])
					axpy32(dout[c*D:(c+1)*D], p[e*nC+c], qe)
				}
			}
		}
	})
	b.Run("gemm", func(b *testing.B) {
		Q := blas32.General{Rows: n, Cols: D, Stride: D, Data: q}
		O := blas32.General{Rows: nC, Cols: D, Stride: D, Data: out}
		P := blas32.General{Rows: n, Cols: nC, Stride: nC, Data: p}
		DQ := blas32.General{Rows: n, Cols: D, Stride: D, Data: dq}
		DO := blas32.General{Rows: nC, Cols: D, Stride: D, Data: dout}
		for b.Loop() {
			blas32.Gemm(blas.NoTrans, blas.Trans, 1, Q, O, 0, P)
			blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, P, O, 0, DQ)
			blas32.Gemm(blas.Trans, blas.NoTrans, 1, P, Q, 1, DO)
		}
	})
	// matMul: the AVX-512 kernel when built with GOEXPERIMENT=simd (gonum
	// otherwise, then the same as gemm plus a transpose); the logits through
	// the transposed output rows, as batchGrad does.
	b.Run("matmul", func(b *testing.B) {
		outT := make([]float32, nC*D)
		for b.Loop() {
			transposeTo(outT, out, nC, D)
			matMul(p, nC, false, n, nC, D, q, D, 1, outT, nC)
			matMul(dq, D, false, n, D, nC, p, nC, 1, out, D)
			matMul(dout, D, true, nC, D, n, p, 1, nC, q, D)
		}
	})
}
