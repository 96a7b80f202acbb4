//go:build goexperiment.simd && amd64

package ranking

import (
	"math"
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

// Every kernel ends with archsimd.ClearAVXUpperBits (VZEROUPPER), and no
// legacy SSE instruction (Go's scalar float code: MOVSS, CVTSD2SS, XORPS…)
// runs between the first 512-bit instruction and that VZEROUPPER. On the
// machine measured (Xeon under KVM) each SSE instruction run while the
// upper register halves are dirty cost hundreds of nanoseconds: with one
// such instruction left in the softmax it took 460 ns instead of 60, and
// the scalar code after any kernel (the plain reference in benchmarks)
// ran 2–3× slower. Constants are therefore float32 constant expressions
// (loaded with VEX VMOVSS) and results leave through memory (lane0).

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
	archsimd.ClearAVXUpperBits()
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
	return lane0(allSum(acc))
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
	archsimd.ClearAVXUpperBits()
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

// vec loads the 16 float32 at p + off bytes.
func vec(p unsafe.Pointer, off int) archsimd.Float32x16 {
	return archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(p, off)))
}

// store16 stores v at p + off bytes.
func store16(v archsimd.Float32x16, p unsafe.Pointer, off int) {
	v.Store((*[16]float32)(unsafe.Add(p, off)))
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
		rowB := stride * 4
		vp := unsafe.Add(kp, M*4)
		j := 0
		for ; j+4 <= M; j += 4 {
			dots4(qp, unsafe.Add(kp, j*4), da, rowB, sp, (out+j*lanes)*4)
			dots4(rp, unsafe.Add(vp, j*4), da, rowB, tp, (out+j*lanes)*4)
		}
		for ; j+2 <= M; j += 2 {
			dots2(qp, unsafe.Add(kp, j*4), da, rowB, sp, (out+j*lanes)*4)
			dots2(rp, unsafe.Add(vp, j*4), da, rowB, tp, (out+j*lanes)*4)
		}
		if j < M {
			dots1(qp, unsafe.Add(kp, j*4), da, rowB, sp, (out+j*lanes)*4)
			dots1(rp, unsafe.Add(vp, j*4), da, rowB, tp, (out+j*lanes)*4)
		}
	}
	return softmaxSIMD(ws, imask, mw, tw)
}

// bc broadcasts the float32 at p + off bytes to all 16 lanes.
func bc(p unsafe.Pointer, off int) archsimd.Float32x16 {
	return archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(p, off)))
}

// dots4 sets out[j'] = Σ_e x[e]·bcast(y[e][j']) for j' = 0…3: the S vectors
// of four modalities when x is Qt and y is K, the T vectors when x is Rt
// and y is V. xp points at the lane group's d_a × 16 block, yp at the
// item's first element for modality j, rowB is the item row's byte stride
// between consecutive e. Computing S and T in separate loops keeps nine
// vectors live (four accumulators, x, four broadcasts), under the 15 the
// compiler allocates, so nothing spills. Addresses are base + offset so
// that no pointer leaves its allocation.
func dots4(xp, yp unsafe.Pointer, da, rowB int, op unsafe.Pointer, out int) {
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
		// Advance only when another iteration follows, so the pointers
		// never leave their allocations.
		xp = unsafe.Add(xp, 64)
		yp = unsafe.Add(yp, rowB)
	}
	store16(a0, op, out)
	store16(a1, op, out+64)
	store16(a2, op, out+128)
	store16(a3, op, out+192)
}

// dots2 is dots4 for two modalities.
func dots2(xp, yp unsafe.Pointer, da, rowB int, op unsafe.Pointer, out int) {
	var a0, a1 archsimd.Float32x16
	for n := da; ; {
		x := archsimd.LoadFloat32x16((*[16]float32)(xp))
		a0 = bc(yp, 0).MulAdd(x, a0)
		a1 = bc(yp, 4).MulAdd(x, a1)
		n--
		if n == 0 {
			break
		}
		xp = unsafe.Add(xp, 64)
		yp = unsafe.Add(yp, rowB)
	}
	store16(a0, op, out)
	store16(a1, op, out+64)
}

// dots1 is dots4 for one modality.
func dots1(xp, yp unsafe.Pointer, da, rowB int, op unsafe.Pointer, out int) {
	var a0 archsimd.Float32x16
	for n := da; ; {
		x := archsimd.LoadFloat32x16((*[16]float32)(xp))
		a0 = bc(yp, 0).MulAdd(x, a0)
		n--
		if n == 0 {
			break
		}
		xp = unsafe.Add(xp, 64)
		yp = unsafe.Add(yp, rowB)
	}
	store16(a0, op, out)
}

// permIdx holds the VPERMPS index vectors of a butterfly reduction: after
// combining v with its permutations by permIdx[0…3] every lane holds the
// reduction of all 16.
var permIdx = [4][16]uint32{
	{8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7},
	{4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11},
	{2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13},
	{1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14},
}

// allMax returns a vector whose every lane is the largest lane of v.
func allMax(v archsimd.Float32x16) archsimd.Float32x16 {
	v = v.Max(v.Permute(archsimd.LoadUint32x16(&permIdx[0])))
	v = v.Max(v.Permute(archsimd.LoadUint32x16(&permIdx[1])))
	v = v.Max(v.Permute(archsimd.LoadUint32x16(&permIdx[2])))
	return v.Max(v.Permute(archsimd.LoadUint32x16(&permIdx[3])))
}

// allSum returns a vector whose every lane is the sum of the lanes of v.
func allSum(v archsimd.Float32x16) archsimd.Float32x16 {
	v = v.Add(v.Permute(archsimd.LoadUint32x16(&permIdx[0])))
	v = v.Add(v.Permute(archsimd.LoadUint32x16(&permIdx[1])))
	v = v.Add(v.Permute(archsimd.LoadUint32x16(&permIdx[2])))
	return v.Add(v.Permute(archsimd.LoadUint32x16(&permIdx[3])))
}

// softmaxSIMD is softmaxGeneric on AVX-512. It stays in vector registers
// until the end and clears the upper register halves before returning:
// scalar SSE code run with dirty upper halves pays for false dependencies,
// which cost more than the whole softmax on the machines measured.
func softmaxSIMD(ws *Workspace, imask uint64, mw, tw []float32) float32 {
	M, G := ws.m, ws.groups
	sp := unsafe.Pointer(unsafe.SliceData(ws.s))
	tp := unsafe.Pointer(unsafe.SliceData(ws.t))
	negInf := archsimd.BroadcastFloat32x16(-math.MaxFloat32)
	mx := negInf
	for g := 0; g < G; g++ {
		lm := archsimd.Mask32x16FromBits(ws.laneBits[g])
		beta := archsimd.LoadFloat32x16((*[16]float32)(ws.beta[g*lanes : (g+1)*lanes]))
		for j := 0; j < M; j++ {
			if imask&(1<<j) == 0 {
				continue
			}
			o := (g*M + j) * lanes * 4
			s := vec(sp, o).Add(beta)
			store16(s, sp, o)
			mx = mx.Max(s.Merge(negInf, lm))
		}
	}
	mxv := allMax(mx)
	var z, num archsimd.Float32x16
	for g := 0; g < G; g++ {
		lm := archsimd.Mask32x16FromBits(ws.laneBits[g])
		for j := 0; j < M; j++ {
			o := (g*M + j) * lanes * 4
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
	inv := archsimd.BroadcastFloat32x16(1).Div(allSum(z))
	score := allSum(num).Mul(inv)
	if mw != nil || tw != nil {
		explainSIMD(ws, imask, inv, mw, tw)
	}
	return lane0(score)
}

// lane0 returns lane 0 of v, clearing the upper register halves before
// the value reaches scalar (SSE) code. The lane goes through memory so
// that no SSE instruction runs while the upper halves are dirty.
func lane0(v archsimd.Float32x16) float32 {
	var buf [4]float32
	v.GetLo().GetLo().Store(&buf)
	archsimd.ClearAVXUpperBits()
	return buf[0]
}

// explainSIMD writes the attention summaries from the exponentials left in
// ws.s, scaled by inv (1/Z in every lane).
func explainSIMD(ws *Workspace, imask uint64, inv archsimd.Float32x16, mw, tw []float32) {
	M, G := ws.m, ws.groups
	sp := unsafe.Pointer(unsafe.SliceData(ws.s))
	if mw != nil {
		mw = mw[:M]
		for j := 0; j < M; j++ {
			var a archsimd.Float32x16
			for g := 0; g < G; g++ {
				a = a.Add(vec(sp, (g*M+j)*lanes*4))
			}
			allSum(a).Mul(inv).StoreSlicePart(mw[j : j+1])
		}
	}
	if tw != nil {
		for g := 0; g < G; g++ {
			var a archsimd.Float32x16
			for j := 0; j < M; j++ {
				a = a.Add(vec(sp, (g*M+j)*lanes*4))
			}
			a.Mul(inv).StoreSlicePart(tw[g*lanes:])
		}
	}
}
