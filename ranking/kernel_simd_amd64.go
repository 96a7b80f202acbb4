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
// The attention kernel runs its vectors along d_a (padded to a multiple of
// 16): per lane group of 16 query tokens a candidate costs 2·16·M·D/16
// 16-lane fused multiply-adds (D the padded d_a; 1024 at Lq=16, M=4,
// d_a=128) with no broadcasts, plus a butterfly of 2·M·15 permute-and-add
// steps that turns the 16×M accumulators of S (and of T) into M vectors
// over the 16 tokens. An earlier design (Q and R transposed, one broadcast
// of a K or V element per multiply-add, BenchmarkKernelDesigns) measured
// the same on this machine: Go's archsimd code generation has only the
// VFMADD213 form, so each multiply-add costs a register move as well, and
// neither loop reaches the FMA ports' limit.

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

// axpySIMD is axpyGeneric with 16-wide fused multiply-adds. The tail of
// fewer than 16 elements goes to the scalar twin after VZEROUPPER (the
// SlicePart loads of archsimd build a *[16]float32 past the slice, which
// the race detector's checkptr rejects).
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
	archsimd.ClearAVXUpperBits()
	if i < n {
		axpyGeneric(dst[i:], a, x[i:])
	}
}

// dotSIMD is dotGeneric with 16-wide fused multiply-adds and a scalar tail.
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
	s := lane0(allSum(acc))
	if i < n {
		s += dotGeneric(x[i:], y[i:])
	}
	return s
}

// expSlice sets dst[i] = exp32(x[i]) 16 at a time, the tail in scalar.
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
	archsimd.ClearAVXUpperBits()
	if i < n {
		expSliceGeneric(dst[i:], x[i:])
	}
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

// attendSIMD is attendGeneric on AVX-512. For each lane group of 16 query
// tokens and each chunk of up to 4 modalities it computes the 16×4 dot
// products S[i,j] = Qs_i·K_j (then T[i,j] = R_i·V_j) with vectors running
// along d_a: two tokens at a time, eight accumulators, no broadcasts. The
// accumulators are then summed across lanes by a butterfly of two-source
// permutes (reducePairs), which leaves S[·,j] as one vector over the 16
// tokens, the layout softmaxSIMD wants.
func attendSIMD(ws *Workspace, kv []float32, imask uint64, mw, tw []float32) float32 {
	M, dp, G := ws.m, ws.dp, ws.groups
	// The bounds the unsafe loads below rely on.
	if len(kv) < 2*M*dp || len(ws.qs) < G*lanes*dp || len(ws.rs) < G*lanes*dp ||
		len(ws.s) < G*M*lanes || len(ws.t) < G*M*lanes || len(ws.red) < 4*(lanes/2)*lanes {
		panic("ranking: internal error: kernel buffers too short")
	}
	kp := unsafe.Pointer(unsafe.SliceData(kv))
	vp := unsafe.Add(kp, M*dp*4)
	sp := unsafe.Pointer(unsafe.SliceData(ws.s))
	tp := unsafe.Pointer(unsafe.SliceData(ws.t))
	rd := unsafe.Pointer(unsafe.SliceData(ws.red))
	rowB := dp * 4
	for g := 0; g < G; g++ {
		// Pairs of tokens that exist in this group; rows past ws.lq are
		// zero, so a half-used last pair is harmless.
		pairs := (min(lanes, ws.lq-g*lanes) + 1) / 2
		qp := unsafe.Pointer(unsafe.SliceData(ws.qs[g*lanes*dp:]))
		rp := unsafe.Pointer(unsafe.SliceData(ws.rs[g*lanes*dp:]))
		out := g * M * lanes * 4
		j := 0
		for ; j+4 <= M; j += 4 {
			pairDots4(qp, unsafe.Add(kp, j*rowB), rowB, pairs, rd)
			reducePairs(rd, 4, sp, out+j*64)
			pairDots4(rp, unsafe.Add(vp, j*rowB), rowB, pairs, rd)
			reducePairs(rd, 4, tp, out+j*64)
		}
		for ; j < M; j++ {
			pairDots1(qp, unsafe.Add(kp, j*rowB), rowB, pairs, rd)
			reducePairs(rd, 1, sp, out+j*64)
			pairDots1(rp, unsafe.Add(vp, j*rowB), rowB, pairs, rd)
			reducePairs(rd, 1, tp, out+j*64)
		}
	}
	return softmaxSIMD(ws, imask, mw, tw)
}

// Index vectors of the butterfly that sums 16 vectors lane-wise into one:
// level 1 folds two tokens' 16-lane accumulators into one vector of 8
// partial sums each, level 2 four tokens of 4, level 3 eight of 2, level 4
// sixteen of 1, token order preserved. lo picks the first half of each
// token's partials, hi the second; lo + hi is the next level.
var butterfly = [4][2][16]uint32{
	{{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
		{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31}},
	{{0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27},
		{4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31}},
	{{0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29},
		{2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31}},
	{{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30},
		{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31}},
}

// fold combines x and y one butterfly level down.
func fold(x, y archsimd.Float32x16, level int) archsimd.Float32x16 {
	lo := x.ConcatPermute(y, archsimd.LoadUint32x16(&butterfly[level][0]))
	hi := x.ConcatPermute(y, archsimd.LoadUint32x16(&butterfly[level][1]))
	return lo.Add(hi)
}

// pairDots4 accumulates, for each pair p < pairs of query rows (2p, 2p+1)
// starting at xp and each of the 4 item rows starting at yp, the products
// along d_a, folds each pair's two accumulators one butterfly level, and
// stores the result at rd[j][p] (vector index j·8 + p). rowB is the byte
// length of a row (a multiple of 64). Pointers are advanced only when
// another iteration follows, so none leaves its allocation.
func pairDots4(xp, yp unsafe.Pointer, rowB, pairs int, rd unsafe.Pointer) {
	for p := 0; p < pairs; p++ {
		x0 := unsafe.Add(xp, 2*p*rowB)
		x1 := unsafe.Add(x0, rowB)
		y0 := yp
		y1 := unsafe.Add(y0, rowB)
		y2 := unsafe.Add(y1, rowB)
		y3 := unsafe.Add(y2, rowB)
		var a0, a1, a2, a3, b0, b1, b2, b3 archsimd.Float32x16
		for n := rowB / 64; ; {
			q0 := archsimd.LoadFloat32x16((*[16]float32)(x0))
			q1 := archsimd.LoadFloat32x16((*[16]float32)(x1))
			k := archsimd.LoadFloat32x16((*[16]float32)(y0))
			a0 = q0.MulAdd(k, a0)
			b0 = q1.MulAdd(k, b0)
			k = archsimd.LoadFloat32x16((*[16]float32)(y1))
			a1 = q0.MulAdd(k, a1)
			b1 = q1.MulAdd(k, b1)
			k = archsimd.LoadFloat32x16((*[16]float32)(y2))
			a2 = q0.MulAdd(k, a2)
			b2 = q1.MulAdd(k, b2)
			k = archsimd.LoadFloat32x16((*[16]float32)(y3))
			a3 = k.MulAdd(q0, a3)
			b3 = k.MulAdd(q1, b3)
			n--
			if n == 0 {
				break
			}
			x0, x1 = unsafe.Add(x0, 64), unsafe.Add(x1, 64)
			y0, y1, y2, y3 = unsafe.Add(y0, 64), unsafe.Add(y1, 64), unsafe.Add(y2, 64), unsafe.Add(y3, 64)
		}
		store16(fold(a0, b0, 0), rd, (0*8+p)*64)
		store16(fold(a1, b1, 0), rd, (1*8+p)*64)
		store16(fold(a2, b2, 0), rd, (2*8+p)*64)
		store16(fold(a3, b3, 0), rd, (3*8+p)*64)
	}
	for p := pairs; p < lanes/2; p++ {
		for j := 0; j < 4; j++ {
			store16(archsimd.Float32x16{}, rd, (j*8+p)*64)
		}
	}
}

// pairDots1 is pairDots4 for one item row.
func pairDots1(xp, yp unsafe.Pointer, rowB, pairs int, rd unsafe.Pointer) {
	for p := 0; p < pairs; p++ {
		x0 := unsafe.Add(xp, 2*p*rowB)
		x1 := unsafe.Add(x0, rowB)
		y0 := yp
		var a0, b0 archsimd.Float32x16
		for n := rowB / 64; ; {
			k := archsimd.LoadFloat32x16((*[16]float32)(y0))
			a0 = archsimd.LoadFloat32x16((*[16]float32)(x0)).MulAdd(k, a0)
			b0 = archsimd.LoadFloat32x16((*[16]float32)(x1)).MulAdd(k, b0)
			n--
			if n == 0 {
				break
			}
			x0, x1, y0 = unsafe.Add(x0, 64), unsafe.Add(x1, 64), unsafe.Add(y0, 64)
		}
		store16(fold(a0, b0, 0), rd, p*64)
	}
	for p := pairs; p < lanes/2; p++ {
		store16(archsimd.Float32x16{}, rd, p*64)
	}
}

// reducePairs finishes the butterfly for nj item rows: rd[j][0…7] (pairs
// of tokens, 8 partial sums each; pairDots zeroes missing pairs) become one
// vector per row with lane i = the full dot product for token i, stored at
// op + out + j·64.
func reducePairs(rd unsafe.Pointer, nj int, op unsafe.Pointer, out int) {
	for j := 0; j < nj; j++ {
		b := j * 8 * 64
		x0 := fold(vec(rd, b), vec(rd, b+64), 1)
		x1 := fold(vec(rd, b+128), vec(rd, b+192), 1)
		x2 := fold(vec(rd, b+256), vec(rd, b+320), 1)
		x3 := fold(vec(rd, b+384), vec(rd, b+448), 1)
		store16(fold(fold(x0, x1, 2), fold(x2, x3, 2), 3), op, out+j*64)
	}
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
		explainSIMD(ws, inv, mw != nil, tw != nil)
	}
	res := lane0(score)
	// Scalar code again from here: copy the summaries out of ws.ex.
	if mw != nil {
		for j := range mw[:M] {
			mw[j] = ws.ex[j*lanes]
		}
	}
	if tw != nil {
		copy(tw, ws.ex[M*lanes:])
	}
	return res
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

// explainSIMD computes the attention summaries from the exponentials left
// in ws.s, scaled by inv (1/Z in every lane), into ws.ex: modality j's
// weight in every lane of vector j, then the token weights, one vector per
// lane group. Whole-vector stores keep it free of scalar code.
func explainSIMD(ws *Workspace, inv archsimd.Float32x16, modality, token bool) {
	M, G := ws.m, ws.groups
	if len(ws.ex) < (M+G)*lanes {
		panic("ranking: internal error: explanation buffer too short")
	}
	sp := unsafe.Pointer(unsafe.SliceData(ws.s))
	ep := unsafe.Pointer(unsafe.SliceData(ws.ex))
	if modality {
		for j := 0; j < M; j++ {
			var a archsimd.Float32x16
			for g := 0; g < G; g++ {
				a = a.Add(vec(sp, (g*M+j)*lanes*4))
			}
			store16(allSum(a).Mul(inv), ep, j*lanes*4)
		}
	}
	if token {
		for g := 0; g < G; g++ {
			var a archsimd.Float32x16
			for j := 0; j < M; j++ {
				a = a.Add(vec(sp, (g*M+j)*lanes*4))
			}
			store16(a.Mul(inv), ep, (M+g)*lanes*4)
		}
	}
}

// clearUpper runs VZEROUPPER. Under GOEXPERIMENT=simd, Go 1.26's
// asyncPreempt restores Z0–Z15 without VZEROUPPER, so after an
// asynchronous preemption every scalar SSE instruction pays for the dirty
// upper state (the float64 training path ran 3–5× slower on the machine
// measured). The training loops call it once per candidate, which costs
// nothing and bounds the damage to one candidate per preemption.
func clearUpper() { archsimd.ClearAVXUpperBits() }
