package training

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/fusionrank/fusionrank/internal/kernel"
)

// BenchmarkSeqProducts times the three products of one shard's pass in
// the sequence encoder's training (64 examples, the Beauty configuration's
// 2,048 negatives plus the batch's positives, dim 128): "loops", one
// kernel.Dot and two kernel.Axpy per example and candidate; "gemm", the
// three products with gonum's blas32; "kernel", the products batchGrad
// runs (kernel.MatMulTo). Same inputs, same run.
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
					p[e*nC+c] = kernel.Dot(qe, out[c*D:(c+1)*D])
				}
				for c := range nC {
					kernel.Axpy(dq[e*D:(e+1)*D], p[e*nC+c], out[c*D:(c+1)*D])
					kernel.Axpy(dout[c*D:(c+1)*D], p[e*nC+c], qe)
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
	// kernel: kernel.MatMulTo, the products batchGrad runs, with the
	// logits through the transposed output rows (transposed once here, as
	// once per batch in training).
	b.Run("kernel", func(b *testing.B) {
		outT := make([]float32, nC*D)
		Q := kernel.Mat{Rows: n, Cols: D, Stride: D, Data: q}
		O := kernel.Mat{Rows: nC, Cols: D, Stride: D, Data: out}
		OT := kernel.Mat{Rows: D, Cols: nC, Stride: nC, Data: outT}
		P := kernel.Mat{Rows: n, Cols: nC, Stride: nC, Data: p}
		for b.Loop() {
			kernel.TransposeTo(OT, O)
			kernel.MatMulTo(P, Q, kernel.NoTrans, OT, kernel.NoTrans)
			kernel.MatMulTo(kernel.Mat{Rows: n, Cols: D, Stride: D, Data: dq}, P, kernel.NoTrans, O, kernel.NoTrans)
			kernel.MatMulAddTo(kernel.Mat{Rows: nC, Cols: D, Stride: D, Data: dout}, P, kernel.Trans, Q, kernel.NoTrans)
		}
	})
}
