//go:build goexperiment.simd && amd64

package ranking

import (
	"simd/archsimd"
	"unsafe"
)

// This file holds the AVX-512 kernels, built with GOEXPERIMENT=simd. Each
// has a pure-Go twin in kernel_generic.go that is used when the CPU lacks
// AVX-512 and that the tests compare it with.
//
// The attention kernel keeps one 512-bit vector per 16 query tokens: Q and
// R are stored transposed (d_a × 16 per lane group), and each element of an
// item's K or V is broadcast against all 16 query tokens, so a candidate
// costs 2·M·d_a fused multiply-adds per lane group with at most ten live
// vectors (eight accumulators, one Q row, one R row).

// simdEnabled reports whether ScoreTo uses the AVX-512 kernels.
var simdEnabled = archsimd.X86.AVX512()

func attend(ws *Workspace, kv []float32, imask uint64, mw, tw []float32) float32 {
	if simdEnabled {
		return attendSIMD(ws, kv, imask, mw, tw)
	}
	return attendGeneric(ws, kv, imask, mw, tw)
}

func axpy(dst []float32, a float32, x []float32) {
	if simdEnabled {
		axpySIMD(dst, a, x)
		return
	}
	axpyGeneric(dst, a, x)
}

func dot(x, y []float32) float32 {
	if simdEnabled {
		return dotSIMD(x, y)
	}
	return dotGeneric(x, y)
}

// axpySIMD is axpyGeneric with 16-wide fused multiply-adds.
func axpySIMD(dst []float32, a float32, x []float32) {
	n := len(x)
	dst = dst[:n]
	av := archsimd.BroadcastFloat32x16(a)
	i := 0
	for ; i+16 <= n; i += 16 {
		d := archsimd.LoadFloat32x16((*[16]float32)(dst[i : i+16]))
		v := archsimd.LoadFloat32x16((*[16]float32)(x[i : i+16]))
		v.MulAdd(av, d).Store((*[16]float32)(dst[i : i+16]))
	}
	if i < n {
		d := archsimd.LoadFloat32x16SlicePart(dst[i:])
		v := archsimd.LoadFloat32x16SlicePart(x[i:])
		v.MulAdd(av, d).StoreSlicePart(dst[i:])
	}
}

// dotSIMD is dotGeneric with 16-wide fused multiply-adds.
func dotSIMD(x, y []float32) float32 {
	n := len(x)
	y = y[:n]
	var acc archsimd.Float32x16
	i := 0
	for ; i+16 <= n; i += 16 {
		a := archsimd.LoadFloat32x16((*[16]float32)(x[i : i+16]))
		b := archsimd.LoadFloat32x16((*[16]float32)(y[i : i+16]))
		acc = a.MulAdd(b, acc)
	}
	if i < n {
		a := archsimd.LoadFloat32x16SlicePart(x[i:])
		b := archsimd.LoadFloat32x16SlicePart(y[i:])
		acc = a.MulAdd(b, acc)
	}
	return hsum16(acc)
}

// expSlice sets dst[i] = exp32(x[i]) 16 at a time.
func expSlice(dst, x []float32) {
	if !simdEnabled {
		expSliceGeneric(dst, x)
		return
	}
	n := len(x)
	dst = dst[:n]
	i := 0
	for ; i+16 <= n; i += 16 {
		exp16(archsimd.LoadFloat32x16((*[16]float32)(x[i : i+16]))).Store((*[16]float32)(dst[i : i+16]))
	}
	if i < n {
		exp16(archsimd.LoadFloat32x16SlicePart(x[i:])).StoreSlicePart(dst[i:])
	}
}

// hsum16 returns the sum of the 16 lanes.
func hsum16(v archsimd.Float32x16) float32 {
	h := v.GetLo().Add(v.GetHi())
	q := h.GetLo().Add(h.GetHi())
	return (q.GetElem(0) + q.GetElem(1)) + (q.GetElem(2) + q.GetElem(3))
}

// hmax16 returns the largest of the 16 lanes.
func hmax16(v archsimd.Float32x16) float32 {
	h := v.GetLo().Max(v.GetHi())
	q := h.GetLo().Max(h.GetHi())
	return max(q.GetElem(0), q.GetElem(1), q.GetElem(2), q.GetElem(3))
}

// exp16 is exp32 on 16 lanes; 2^n is applied with VSCALEFPS.
func exp16(x archsimd.Float32x16) archsimd.Float32x16 {
	x = x.Max(archsimd.BroadcastFloat32x16(expMin))
	n := x.Mul(archsimd.BroadcastFloat32x16(expLog2e)).RoundToEvenScaled(0)
	r := n.MulAdd(archsimd.BroadcastFloat32x16(-expLn2Hi), x)
	r = n.MulAdd(archsimd.BroadcastFloat32x16(-expLn2Lo), r)
	p := archsimd.BroadcastFloat32x16(expC6)
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expC5))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expC4))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expC3))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expC2))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expC1))
	p = p.Mul(r).MulAdd(r, r).Add(archsimd.BroadcastFloat32x16(1))
	return p.Scale(n)
}

// at returns the float32 at p + i·4 bytes. The caller guarantees bounds.
func at(p unsafe.Pointer, i int) float32 { return *(*float32)(unsafe.Add(p, i*4)) }

// vec loads the 16 float32 at p + i·4 bytes.
func vec(p unsafe.Pointer, i int) archsimd.Float32x16 {
	return archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(p, i*4)))
}

// store16 stores v at p + i·4 bytes.
func store16(v archsimd.Float32x16, p unsafe.Pointer, i int) {
	v.Store((*[16]float32)(unsafe.Add(p, i*4)))
}

// attendSIMD is attendGeneric on AVX-512.
func attendSIMD(ws *Workspace, kv []float32, imask uint64, mw, tw []float32) float32 {
	M, da, G := ws.m, ws.da, ws.groups
	stride := 2 * M
	// The bounds the unsafe loads below rely on.
	if len(kv) < da*stride || len(ws.qt) < G*da*lanes || len(ws.rt) < G*da*lanes ||
		len(ws.s) < G*M*lanes || len(ws.t) < G*M*lanes {
		panic("ranking: internal error: kernel buffers too short")
	}
	kp := unsafe.Pointer(unsafe.SliceData(kv))
	sp := unsafe.Pointer(unsafe.SliceData(ws.s))
	tp := unsafe.Pointer(unsafe.SliceData(ws.t))
	for g := 0; g < G; g++ {
		qp := unsafe.Pointer(unsafe.SliceData(ws.qt[g*da*lanes:]))
		rp := unsafe.Pointer(unsafe.SliceData(ws.rt[g*da*lanes:]))
		out := g * M * lanes
		j := 0
		for ; j+4 <= M; j += 4 {
			chunk4(qp, rp, kp, da, stride, j, M, sp, tp, out+j*lanes)
		}
		for ; j+2 <= M; j += 2 {
			chunk2(qp, rp, kp, da, stride, j, M, sp, tp, out+j*lanes)
		}
		if j < M {
			chunk1(qp, rp, kp, da, stride, j, M, sp, tp, out+j*lanes)
		}
	}
	return softmaxSIMD(ws, imask, mw, tw)
}

// chunk4 computes S and T for modalities j…j+3 of one lane group:
// S[j'] = Σ_e Qt[e]·K[j'][e] and T[j'] = Σ_e Rt[e]·V[j'][e], each a vector
// over the group's 16 query tokens.
func chunk4(qp, rp, kp unsafe.Pointer, da, stride, j, M int, sp, tp unsafe.Pointer, out int) {
	var s0, s1, s2, s3, t0, t1, t2, t3 archsimd.Float32x16
	for e := 0; e < da; e++ {
		q := vec(qp, e*lanes)
		r := vec(rp, e*lanes)
		b := e*stride + j
		s0 = q.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b)), s0)
		s1 = q.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b+1)), s1)
		s2 = q.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b+2)), s2)
		s3 = q.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b+3)), s3)
		t0 = r.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b+M)), t0)
		t1 = r.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b+M+1)), t1)
		t2 = r.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b+M+2)), t2)
		t3 = r.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b+M+3)), t3)
	}
	store16(s0, sp, out)
	store16(s1, sp, out+lanes)
	store16(s2, sp, out+2*lanes)
	store16(s3, sp, out+3*lanes)
	store16(t0, tp, out)
	store16(t1, tp, out+lanes)
	store16(t2, tp, out+2*lanes)
	store16(t3, tp, out+3*lanes)
}

// chunk2 is chunk4 for two modalities.
func chunk2(qp, rp, kp unsafe.Pointer, da, stride, j, M int, sp, tp unsafe.Pointer, out int) {
	var s0, s1, t0, t1 archsimd.Float32x16
	for e := 0; e < da; e++ {
		q := vec(qp, e*lanes)
		r := vec(rp, e*lanes)
		b := e*stride + j
		s0 = q.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b)), s0)
		s1 = q.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b+1)), s1)
		t0 = r.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b+M)), t0)
		t1 = r.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b+M+1)), t1)
	}
	store16(s0, sp, out)
	store16(s1, sp, out+lanes)
	store16(t0, tp, out)
	store16(t1, tp, out+lanes)
}

// chunk1 is chunk4 for one modality.
func chunk1(qp, rp, kp unsafe.Pointer, da, stride, j, M int, sp, tp unsafe.Pointer, out int) {
	var s0, t0 archsimd.Float32x16
	for e := 0; e < da; e++ {
		q := vec(qp, e*lanes)
		r := vec(rp, e*lanes)
		b := e*stride + j
		s0 = q.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b)), s0)
		t0 = r.MulAdd(archsimd.BroadcastFloat32x16(at(kp, b+M)), t0)
	}
	store16(s0, sp, out)
	store16(t0, tp, out)
}

// softmaxSIMD is softmaxGeneric on AVX-512.
func softmaxSIMD(ws *Workspace, imask uint64, mw, tw []float32) float32 {
	M, G := ws.m, ws.groups
	sp := unsafe.Pointer(unsafe.SliceData(ws.s))
	tp := unsafe.Pointer(unsafe.SliceData(ws.t))
	negInf := archsimd.BroadcastFloat32x16(float32(negInf32))
	mx := negInf
	for g := 0; g < G; g++ {
		lm := archsimd.Mask32x16FromBits(ws.laneBits[g])
		beta := archsimd.LoadFloat32x16((*[16]float32)(ws.beta[g*lanes : (g+1)*lanes]))
		for j := 0; j < M; j++ {
			if imask&(1<<j) == 0 {
				continue
			}
			o := (g*M + j) * lanes
			s := vec(sp, o).Add(beta)
			store16(s, sp, o)
			mx = mx.Max(s.Merge(negInf, lm))
		}
	}
	mxv := archsimd.BroadcastFloat32x16(hmax16(mx))
	var z, num archsimd.Float32x16
	for g := 0; g < G; g++ {
		lm := archsimd.Mask32x16FromBits(ws.laneBits[g])
		for j := 0; j < M; j++ {
			o := (g*M + j) * lanes
			if imask&(1<<j) == 0 {
				store16(archsimd.Float32x16{}, sp, o)
				continue
			}
			e := exp16(vec(sp, o).Sub(mxv)).Masked(lm)
			store16(e, sp, o)
			z = z.Add(e)
			num = e.MulAdd(vec(tp, o), num)
		}
	}
	inv := 1 / hsum16(z)
	if mw != nil {
		for j := 0; j < M; j++ {
			var a archsimd.Float32x16
			for g := 0; g < G; g++ {
				a = a.Add(vec(sp, (g*M+j)*lanes))
			}
			mw[j] = hsum16(a) * inv
		}
	}
	if tw != nil {
		iv := archsimd.BroadcastFloat32x16(inv)
		for g := 0; g < G; g++ {
			var a archsimd.Float32x16
			for j := 0; j < M; j++ {
				a = a.Add(vec(sp, (g*M+j)*lanes))
			}
			a.Mul(iv).StoreSlicePart(tw[g*lanes:])
		}
	}
	return hsum16(num) * inv
}
