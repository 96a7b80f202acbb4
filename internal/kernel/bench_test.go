package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchLevels runs f as one sub-benchmark per level this CPU has.
func benchLevels(b *testing.B, f func(b *testing.B)) {
	saved := level
	defer func() { level = saved }()
	for _, l := range Available() {
		level = l
		b.Run(l.String(), f)
	}
}

func BenchmarkDot(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{32, 128, 4096} {
		x, y := randVec(rng, n), randVec(rng, n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			benchLevels(b, func(b *testing.B) {
				var s float32
				for b.Loop() {
					s += Dot(x, y)
				}
				_ = s
			})
		})
	}
}

// BenchmarkAttention times one candidate of the serving shape (Lq = 16,
// M = 4, d_a = 128): the whole Score, and its products and softmax apart.
func BenchmarkAttention(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	p := newAttnProblem(rng, 4, 128, 16)
	var a Attention
	a.Reset(p.m, p.da, p.lq)
	for i := range p.lq {
		a.SetToken(i, randVec(rng, p.da), randVec(rng, p.da), 0.1)
	}
	p.mods = 15
	b.Run("score", func(b *testing.B) {
		benchLevels(b, func(b *testing.B) {
			var s float32
			for b.Loop() {
				s += a.Score(p.k, p.v, p.ld, p.mods)
			}
			_ = s
		})
	})
	b.Run("products", func(b *testing.B) {
		benchLevels(b, func(b *testing.B) {
			for b.Loop() {
				attnDots(4, a.q, a.r, p.k, p.v, p.ld, p.da, a.s, a.t)
			}
		})
	})
	b.Run("softmax", func(b *testing.B) {
		a.Score(p.k, p.v, p.ld, p.mods)
		attnDots(4, a.q, a.r, p.k, p.v, p.ld, p.da, a.s, a.t)
		saved := append([]float32(nil), a.s...)
		benchLevels(b, func(b *testing.B) {
			for b.Loop() {
				copy(a.s, saved)
				softmax(a.s, a.t, a.beta, a.valid, p.m, 1, p.mods)
			}
		})
	})
}

// BenchmarkMatMul times the three products of a sequence-encoder training
// shard (64 examples, 2,304 candidates, dimension 128; see training's
// BenchmarkSeqProducts) and a 64 × 128 vector-matrix product.
func BenchmarkMatMul(b *testing.B) {
	const n, nC, D = 64, 2304, 128
	rng := rand.New(rand.NewPCG(3, 3))
	q, out, p := randVec(rng, n*D), randVec(rng, nC*D), randVec(rng, n*nC)
	outT := make([]float32, D*nC)
	transposeTo(outT, out, D, nC, D)
	dq, dout := make([]float32, n*D), make([]float32, nC*D)
	b.Run("seq", func(b *testing.B) {
		benchLevels(b, func(b *testing.B) {
			for b.Loop() {
				MatMulTo(Mat{n, nC, nC, p}, Mat{n, D, D, q}, NoTrans, Mat{D, nC, nC, outT}, NoTrans)
				MatMulTo(Mat{n, D, D, dq}, Mat{n, nC, nC, p}, NoTrans, Mat{nC, D, D, out}, NoTrans)
				MatMulAddTo(Mat{nC, D, D, dout}, Mat{n, nC, nC, p}, Trans, Mat{n, D, D, q}, NoTrans)
			}
		})
	})
	x, w, y := randVec(rng, 64), randVec(rng, 64*128), make([]float32, 128)
	b.Run("vecmat64x128", func(b *testing.B) {
		benchLevels(b, func(b *testing.B) {
			for b.Loop() {
				VecMatTo(y, x, w)
			}
		})
	})
}
