//go:build goexperiment.simd && amd64

package ranking

import (
	"simd/archsimd"
	"testing"
	"unsafe"
)

// BenchmarkKernelParts splits the AVX-512 attention kernel of the issue's
// shape (Lq=16, M=4, d_a=128) into its S/T products and its softmax, per
// candidate.
func BenchmarkKernelParts(b *testing.B) {
	s := benchShapes[0]
	_, ws, kv, rows, _ := benchSetup(s)
	stride := kv.stride()
	b.Run("dots", func(b *testing.B) {
		rd := unsafe.Pointer(&ws.red[0])
		rowB := kv.dp * 4
		perCandidate(b, s.n, func() {
			for _, r := range rows {
				kp := unsafe.Pointer(&kv.data[r*stride])
				pairDots4(unsafe.Pointer(&ws.qs[0]), kp, rowB, 8, rd)
				reducePairs(rd, 4, unsafe.Pointer(&ws.s[0]), 0)
				pairDots4(unsafe.Pointer(&ws.rs[0]), unsafe.Add(kp, 4*rowB), rowB, 8, rd)
				reducePairs(rd, 4, unsafe.Pointer(&ws.t[0]), 0)
			}
		})
	})
	b.Run("softmax", func(b *testing.B) {
		// Real S and T of the first candidate, restored before each call
		// because the softmax overwrites S.
		attendSIMD(ws, kv.data[:stride], kv.masks[0], nil, nil)
		saved := append([]float32(nil), ws.s...)
		perCandidate(b, s.n, func() {
			for range rows {
				copy(ws.s, saved)
				softmaxSIMD(ws, 1<<s.m-1, nil, nil)
			}
		})
	})
}

// BenchmarkKernelExp64 measures the 16-lane exponential on 64 values, the
// size of one candidate's softmax at Lq=16, M=4.
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

// dots4T is the previous design of the S/T products, kept here for an
// A/B benchmark: Q and R transposed (d_a × 16), the item's K and V
// transposed (d_a × 2M), one broadcast of a K or V element per multiply-add.
func dots4T(xp, yp unsafe.Pointer, da, rowB int, op unsafe.Pointer, out int) {
	var a0, a1, a2, a3 archsimd.Float32x16
	for n := da; ; {
		x := archsimd.LoadFloat32x16((*[16]float32)(xp))
		a0 = bc(yp, 0).MulAdd(x, a0)
		a1 = bc(yp, 4).MulAdd(x, a1)
		a2 = bc(yp, 8).MulAdd(x, a2)
		a3 = bc(yp, 12).MulAdd(x, a3)
		n--
		if n == 0 {
			break
		}
		xp = unsafe.Add(xp, 64)
		yp = unsafe.Add(yp, rowB)
	}
	store16(a0, op, out)
	store16(a1, op, out+64)
	store16(a2, op, out+128)
	store16(a3, op, out+192)
}

// bc broadcasts the float32 at p + off bytes to all 16 lanes.
func bc(p unsafe.Pointer, off int) archsimd.Float32x16 {
	return archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(p, off)))
}

// BenchmarkKernelDesigns compares the S/T products of the two layouts on
// the shape, interleaved in one process (run with -count).
func BenchmarkKernelDesigns(b *testing.B) {
	s := benchShapes[0]
	_, ws, kv, rows, _ := benchSetup(s)
	M, da, dp := s.m, s.da, kv.dp
	stride := kv.stride()
	// Transposed copies for the broadcast design.
	qt := make([]float32, da*16)
	rt := make([]float32, da*16)
	for i := range 16 {
		for e := range da {
			qt[e*16+i] = ws.qs[i*dp+e]
			rt[e*16+i] = ws.rs[i*dp+e]
		}
	}
	kvt := make([]float32, s.n*da*2*M)
	for c := range s.n {
		for j := range 2 * M {
			for e := range da {
				kvt[c*da*2*M+e*2*M+j] = kv.data[c*stride+j*dp+e]
			}
		}
	}
	b.Run("broadcast", func(b *testing.B) {
		perCandidate(b, s.n, func() {
			for c := range rows {
				kp := unsafe.Pointer(&kvt[c*da*2*M])
				dots4T(unsafe.Pointer(&qt[0]), kp, da, 2*M*4, unsafe.Pointer(&ws.s[0]), 0)
				dots4T(unsafe.Pointer(&rt[0]), unsafe.Add(kp, M*4), da, 2*M*4, unsafe.Pointer(&ws.t[0]), 0)
			}
		})
	})
	b.Run("lanes-along-d", func(b *testing.B) {
		rd := unsafe.Pointer(&ws.red[0])
		rowB := dp * 4
		perCandidate(b, s.n, func() {
			for _, r := range rows {
				kp := unsafe.Pointer(&kv.data[r*stride])
				pairDots4(unsafe.Pointer(&ws.qs[0]), kp, rowB, 8, rd)
				reducePairs(rd, 4, unsafe.Pointer(&ws.s[0]), 0)
				pairDots4(unsafe.Pointer(&ws.rs[0]), unsafe.Add(kp, 4*rowB), rowB, 8, rd)
				reducePairs(rd, 4, unsafe.Pointer(&ws.t[0]), 0)
			}
		})
	})
}
