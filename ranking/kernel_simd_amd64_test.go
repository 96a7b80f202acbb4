//go:build goexperiment.simd && amd64

package ranking

import (
	"testing"
	"unsafe"
)

// BenchmarkKernelParts splits the AVX-512 attention kernel of the issue's
// shape (Lq=16, M=4, d_a=128) into its S/T products and its softmax, per
// candidate.
func BenchmarkKernelParts(b *testing.B) {
	s := benchShapes[0]
	_, ws, kv, rows, _ := benchSetup(s)
	stride := kv.da * 2 * kv.m
	b.Run("dots", func(b *testing.B) {
		iters := 0
		for b.Loop() {
			for _, r := range rows {
				kp := unsafe.Pointer(&kv.data[r*stride])
				dots4(unsafe.Pointer(&ws.qt[0]), kp, s.da, 2*s.m*4, unsafe.Pointer(&ws.s[0]), 0)
				dots4(unsafe.Pointer(&ws.rt[0]), unsafe.Add(kp, s.m*4), s.da, 2*s.m*4, unsafe.Pointer(&ws.t[0]), 0)
			}
			iters++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iters*s.n), "ns/candidate")
	})
	b.Run("softmax", func(b *testing.B) {
		// Real S and T of the first candidate, restored before each call
		// because the softmax overwrites S.
		attendSIMD(ws, kv.data[:stride], kv.masks[0], nil, nil)
		saved := append([]float32(nil), ws.s...)
		iters := 0
		for b.Loop() {
			for range rows {
				copy(ws.s, saved)
				softmaxSIMD(ws, 1<<s.m-1, nil, nil)
			}
			iters++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iters*s.n), "ns/candidate")
	})
}

func BenchmarkKernelExp64(b *testing.B) {
	x := make([]float32, 64)
	for i := range x {
		x[i] = -float32(i) / 10
	}
	dst := make([]float32, 64)
	for b.Loop() {
		expSlice(dst, x)
	}
}

func BenchmarkKernelAllSum(b *testing.B) {
	x := make([]float32, 64)
	var sink float32
	for b.Loop() {
		sink += dot(x, x)
	}
	_ = sink
}
