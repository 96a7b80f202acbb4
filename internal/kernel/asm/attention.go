package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The attention kernel's layout (see internal/kernel/attention.go): a group
// of 16 query tokens stores its scaled queries Q and value-side vectors R
// token-minor, da rows of 16 lanes (q[e·16 + l] is element e of token l).
// An item's keys K_j and values V_j are rows of da float32, ld apart.
// attnDots computes, for nj modalities, S_j = Σ_e q[e]·K_j[e] and
// T_j = Σ_e r[e]·V_j[e] as 16-lane vectors over the group's tokens: one
// fused multiply-add with a broadcast K_j[e] or V_j[e] per element, no
// horizontal sums. s and t receive the nj vectors, 16 floats apart.

const attnSig = "func(q, r, k, v *float32, ld, da int, s, t *float32)"

// attnDots512: per element e one load of q[e] and r[e] and 2·nj fused
// multiply-adds with an embedded broadcast. With nj ≤ 2 odd and even
// elements go to separate accumulators, so at least four chains overlap.
func attnDots512(nj int) {
	TEXT(fmt.Sprintf("attnDots%dAVX512", nj), NOSPLIT, attnSig)
	Doc(fmt.Sprintf("attnDots%dAVX512 computes S and T for %d modalities of one lane group on AVX-512.", nj, nj))
	S, T := attnProducts512(nj)
	sp := Load(Param("s"), GP64())
	tp := Load(Param("t"), GP64())
	for j := 0; j < nj; j++ {
		VMOVUPS(S[j], Mem{Base: sp, Disp: 64 * j})
		VMOVUPS(T[j], Mem{Base: tp, Disp: 64 * j})
	}
	ret()
}

// attnProducts512 emits the products of attnDots512 from the parameters
// q, r, k, v, ld and da and returns the registers holding S_j and T_j.
func attnProducts512(nj int) ([]VecVirtual, []VecVirtual) {
	qp := Load(Param("q"), GP64())
	rp := Load(Param("r"), GP64())
	kp := Load(Param("k"), GP64())
	vp := Load(Param("v"), GP64())
	ld := loadBytes("ld")
	ld3 := times3(ld)
	n := Load(Param("da"), GP64())
	sets := 1
	if nj <= 2 {
		sets = 2
	}
	S := make([][]VecVirtual, sets)
	T := make([][]VecVirtual, sets)
	for h := range S {
		S[h] = zero512(nj)
		T[h] = zero512(nj)
	}
	step := func(u int) {
		h := u % sets
		zq, zr := ZMM(), ZMM()
		VMOVUPS(Mem{Base: qp, Disp: 64 * u}, zq)
		VMOVUPS(Mem{Base: rp, Disp: 64 * u}, zr)
		for j := 0; j < nj; j++ {
			VFMADD231PS_BCST(row(kp, ld, ld3, j, 4*u), zq, S[h][j])
			VFMADD231PS_BCST(row(vp, ld, ld3, j, 4*u), zr, T[h][j])
		}
	}

	Label("loop2")
	CMPQ(n, U8(2))
	JL(LabelRef("one"))
	step(0)
	step(1)
	ADDQ(U32(128), qp)
	ADDQ(U32(128), rp)
	ADDQ(U8(8), kp)
	ADDQ(U8(8), vp)
	SUBQ(U8(2), n)
	JMP(LabelRef("loop2"))

	Label("one")
	TESTQ(n, n)
	JZ(LabelRef("sum"))
	step(0)

	Label("sum")
	if sets == 2 {
		for j := 0; j < nj; j++ {
			VADDPS(S[1][j], S[0][j], S[0][j])
			VADDPS(T[1][j], T[0][j], T[0][j])
		}
	}
	return S[0], T[0]
}

const attendSig = "func(q, r, k, v *float32, ld, da int, beta *float32, valid uint16, mods uint64, s *float32) (score, z float32)"

// attend512 is attnDots512 and softmax512 in one function for a query of
// one lane group and nj ≤ 4 modalities (the serving shape): S and T stay
// in registers, the nj exponentials are independent chains, and only the
// exponentials are stored (into s, for the explanations).
func attend512(nj int) {
	TEXT(fmt.Sprintf("attend%dAVX512", nj), NOSPLIT, attendSig)
	Doc(fmt.Sprintf("attend%dAVX512 scores one candidate of %d modalities against one lane group on AVX-512.", nj, nj))
	S, T := attnProducts512(nj)
	bp := Load(Param("beta"), GP64())
	zb := ZMM()
	VMOVUPS(Mem{Base: bp}, zb)
	valid := GP64()
	MOVWQZX(addr(Param("valid")), valid)
	mods := Load(Param("mods"), GP64())
	// km[j]: the valid lanes when modality j is present, else none.
	km := make([]OpmaskVirtual, nj)
	mx := ZMM()
	VBROADCASTSS(cNegMax, mx)
	for j := 0; j < nj; j++ {
		t := GP64()
		MOVQ(mods, t)
		if j > 0 {
			SHRQ(U8(j), t)
		}
		ANDQ(U8(1), t)
		NEGQ(t)
		ANDQ(valid, t)
		km[j] = K()
		KMOVW(t.As32(), km[j])
		VADDPS(zb, S[j], S[j])
		VMAXPS(S[j], mx, km[j], mx)
	}
	xm := hmax512(mx)
	all := ZMM()
	VBROADCASTSS(xm, all)
	zsum, num := ZMM(), ZMM()
	sp := Load(Param("s"), GP64())
	for j := 0; j < nj; j++ {
		VSUBPS(all, S[j], S[j])
		exp512Core(S[j])
		VMOVAPS_Z(S[j], km[j], S[j])
		VMOVUPS(S[j], Mem{Base: sp, Disp: 64 * j})
		if j == 0 {
			VMOVAPS(S[0], zsum)
			VMULPS(T[0], S[0], num)
		} else {
			VADDPS(S[j], zsum, zsum)
			VFMADD231PS(T[j], S[j], num)
		}
	}
	finishSoftmax(hsum512(zsum), hsum512(num))
}

// attnDots256: the 16 lanes are two YMM halves; S and T are computed in
// two passes (q with K, then r with V) to keep 2·nj accumulators.
func attnDots256(nj int) {
	TEXT(fmt.Sprintf("attnDots%dAVX2", nj), NOSPLIT, attnSig)
	Doc(fmt.Sprintf("attnDots%dAVX2 computes S and T for %d modalities of one lane group on AVX2 and FMA.", nj, nj))
	ld := loadBytes("ld")
	ld3 := times3(ld)
	for pass, names := range [][3]string{{"q", "k", "s"}, {"r", "v", "t"}} {
		xp := Load(Param(names[0]), GP64())
		yp := Load(Param(names[1]), GP64())
		n := Load(Param("da"), GP64())
		sets := 1
		if nj <= 2 {
			sets = 2
		}
		lo := make([][]VecVirtual, sets)
		hi := make([][]VecVirtual, sets)
		for h := range lo {
			lo[h] = zero256(nj)
			hi[h] = zero256(nj)
		}
		step := func(u int) {
			h := u % sets
			xl, xh := YMM(), YMM()
			VMOVUPS(Mem{Base: xp, Disp: 64 * u}, xl)
			VMOVUPS(Mem{Base: xp, Disp: 64*u + 32}, xh)
			for j := 0; j < nj; j++ {
				b := YMM()
				VBROADCASTSS(row(yp, ld, ld3, j, 4*u), b)
				VFMADD231PS(b, xl, lo[h][j])
				VFMADD231PS(b, xh, hi[h][j])
			}
		}
		loop, one, store := fmt.Sprintf("loop2_%d", pass), fmt.Sprintf("one_%d", pass), fmt.Sprintf("store_%d", pass)
		Label(loop)
		CMPQ(n, U8(2))
		JL(LabelRef(one))
		step(0)
		step(1)
		ADDQ(U32(128), xp)
		ADDQ(U8(8), yp)
		SUBQ(U8(2), n)
		JMP(LabelRef(loop))

		Label(one)
		TESTQ(n, n)
		JZ(LabelRef(store))
		step(0)

		Label(store)
		op := Load(Param(names[2]), GP64())
		for j := 0; j < nj; j++ {
			if sets == 2 {
				VADDPS(lo[1][j], lo[0][j], lo[0][j])
				VADDPS(hi[1][j], hi[0][j], hi[0][j])
			}
			VMOVUPS(lo[0][j], Mem{Base: op, Disp: 64 * j})
			VMOVUPS(hi[0][j], Mem{Base: op, Disp: 64*j + 32})
		}
	}
	ret()
}

const softmaxSig = "func(s, t, beta *float32, valid *uint16, m, groups int, mods uint64) (score, z float32)"

// softmax512 finishes a candidate from S (without β) and T, both groups ×
// m × 16: S += β over the present modalities (bit j of mods), the largest
// valid S, the exponentials of S − max on valid lanes (zero elsewhere,
// stored back into s for the explanations), z = Σ e and score = Σ e·T / z.
func softmax512() {
	TEXT("softmaxAVX512", NOSPLIT, softmaxSig)
	Doc("softmaxAVX512 is the attention softmax on AVX-512.")
	m := Load(Param("m"), GP64())
	mods := Load(Param("mods"), GP64())

	// Pass 1: S += β, running maximum over valid lanes.
	sp := Load(Param("s"), GP64())
	bp := Load(Param("beta"), GP64())
	vp := Load(Param("valid"), GP64())
	g := Load(Param("groups"), GP64())
	mx := ZMM()
	VBROADCASTSS(cNegMax, mx)
	Label("maxg")
	k := K()
	KMOVW(Mem{Base: vp}, k)
	zb := ZMM()
	VMOVUPS(Mem{Base: bp}, zb)
	j := GP64()
	XORQ(j, j)
	Label("maxj")
	BTQ(j, mods)
	JCC(LabelRef("maxnext"))
	zs := ZMM()
	VADDPS(Mem{Base: sp}, zb, zs)
	VMOVUPS(zs, Mem{Base: sp})
	VMAXPS(zs, mx, k, mx)
	Label("maxnext")
	ADDQ(U8(64), sp)
	INCQ(j)
	CMPQ(j, m)
	JL(LabelRef("maxj"))
	ADDQ(U8(64), bp)
	ADDQ(U8(2), vp)
	DECQ(g)
	JNZ(LabelRef("maxg"))
	xm := hmax512(mx)
	all := ZMM()
	VBROADCASTSS(xm, all)

	// Pass 2: exponentials, z and the weighted sum of T.
	Load(Param("s"), sp)
	tp := Load(Param("t"), GP64())
	Load(Param("valid"), vp)
	Load(Param("groups"), g)
	acc := zero512(3) // zero, z, num
	zero, zsum, num := acc[0], acc[1], acc[2]
	Label("expg")
	KMOVW(Mem{Base: vp}, k)
	XORQ(j, j)
	Label("expj")
	BTQ(j, mods)
	JCS(LabelRef("present"))
	VMOVUPS(zero, Mem{Base: sp})
	JMP(LabelRef("expnext"))
	Label("present")
	e := ZMM()
	VMOVUPS(Mem{Base: sp}, e)
	VSUBPS(all, e, e)
	exp512Core(e)
	VMOVAPS_Z(e, k, e)
	VMOVUPS(e, Mem{Base: sp})
	VADDPS(e, zsum, zsum)
	VFMADD231PS(Mem{Base: tp}, e, num)
	Label("expnext")
	ADDQ(U8(64), sp)
	ADDQ(U8(64), tp)
	INCQ(j)
	CMPQ(j, m)
	JL(LabelRef("expj"))
	ADDQ(U8(2), vp)
	DECQ(g)
	JNZ(LabelRef("expg"))

	finishSoftmax(hsum512(zsum), hsum512(num))
}

// finishSoftmax stores score = num·(1/z) and z and returns.
func finishSoftmax(z, num VecVirtual) {
	inv := XMM()
	VMOVSS(cOne, inv)
	VDIVSS(z, inv, inv)
	VMULSS(inv, num, num)
	VMOVSS(num, addr(Return("score")))
	VMOVSS(z, addr(Return("z")))
	ret()
}

// softmax256 is softmax512 on AVX2 and FMA, each group's 16 lanes as two
// YMM halves with lane masks built from the group's 16-bit mask.
func softmax256() {
	TEXT("softmaxAVX2", NOSPLIT, softmaxSig)
	Doc("softmaxAVX2 is the attention softmax on AVX2 and FMA.")
	m := Load(Param("m"), GP64())
	mods := Load(Param("mods"), GP64())
	masks := func(vp Register) (VecVirtual, VecVirtual) {
		t := GP32()
		MOVWLZX(Mem{Base: vp}, t)
		x := XMM()
		VMOVD(t, x)
		b := YMM()
		VPBROADCASTD(x, b)
		lo, hi := YMM(), YMM()
		VPAND(cBitsLo, b, lo)
		VPCMPEQD(cBitsLo, lo, lo)
		VPAND(cBitsHi, b, hi)
		VPCMPEQD(cBitsHi, hi, hi)
		return lo, hi
	}

	sp := Load(Param("s"), GP64())
	bp := Load(Param("beta"), GP64())
	vp := Load(Param("valid"), GP64())
	g := Load(Param("groups"), GP64())
	neg := YMM()
	VMOVUPS(cNegMax, neg)
	mx := YMM()
	VMOVUPS(neg, mx)
	Label("maxg")
	lo, hi := masks(vp)
	blo, bhi := YMM(), YMM()
	VMOVUPS(Mem{Base: bp}, blo)
	VMOVUPS(Mem{Base: bp, Disp: 32}, bhi)
	j := GP64()
	XORQ(j, j)
	Label("maxj")
	BTQ(j, mods)
	JCC(LabelRef("maxnext"))
	for h, hv := range []struct{ b, m VecVirtual }{{blo, lo}, {bhi, hi}} {
		s := YMM()
		VADDPS(Mem{Base: sp, Disp: 32 * h}, hv.b, s)
		VMOVUPS(s, Mem{Base: sp, Disp: 32 * h})
		VBLENDVPS(hv.m, s, neg, s)
		VMAXPS(s, mx, mx)
	}
	Label("maxnext")
	ADDQ(U8(64), sp)
	INCQ(j)
	CMPQ(j, m)
	JL(LabelRef("maxj"))
	ADDQ(U8(64), bp)
	ADDQ(U8(2), vp)
	DECQ(g)
	JNZ(LabelRef("maxg"))
	xm := hmax256(mx)
	all := YMM()
	VBROADCASTSS(xm, all)

	Load(Param("s"), sp)
	tp := Load(Param("t"), GP64())
	Load(Param("valid"), vp)
	Load(Param("groups"), g)
	acc := zero256(3)
	zero, zsum, num := acc[0], acc[1], acc[2]
	Label("expg")
	lo2, hi2 := masks(vp)
	XORQ(j, j)
	Label("expj")
	BTQ(j, mods)
	JCS(LabelRef("present"))
	VMOVUPS(zero, Mem{Base: sp})
	VMOVUPS(zero, Mem{Base: sp, Disp: 32})
	JMP(LabelRef("expnext"))
	Label("present")
	for h, mk := range []VecVirtual{lo2, hi2} {
		e := YMM()
		VMOVUPS(Mem{Base: sp, Disp: 32 * h}, e)
		VSUBPS(all, e, e)
		exp256Core(e)
		VANDPS(mk, e, e)
		VMOVUPS(e, Mem{Base: sp, Disp: 32 * h})
		VADDPS(e, zsum, zsum)
		VFMADD231PS(Mem{Base: tp, Disp: 32 * h}, e, num)
	}
	Label("expnext")
	ADDQ(U8(64), sp)
	ADDQ(U8(64), tp)
	INCQ(j)
	CMPQ(j, m)
	JL(LabelRef("expj"))
	ADDQ(U8(2), vp)
	DECQ(g)
	JNZ(LabelRef("expg"))

	finishSoftmax(hsum256(zsum), hsum256(num))
}
