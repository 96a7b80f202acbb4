package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// dot512: four 16-lane accumulators (64 elements a step), then 16 at a
// time, then a masked tail.
func dot512() {
	TEXT("dotAVX512", NOSPLIT, "func(x, y []float32) float32")
	Doc("dotAVX512 is Dot on AVX-512; len(y) ≥ len(x).")
	xp := Load(Param("x").Base(), GP64())
	yp := Load(Param("y").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	acc := zero512(4)

	Label("loop64")
	CMPQ(n, U8(64))
	JL(LabelRef("loop16"))
	for i := 0; i < 4; i++ {
		z := ZMM()
		VMOVUPS(Mem{Base: xp, Disp: 64 * i}, z)
		VFMADD231PS(Mem{Base: yp, Disp: 64 * i}, z, acc[i])
	}
	ADDQ(U32(256), xp)
	ADDQ(U32(256), yp)
	SUBQ(U8(64), n)
	JMP(LabelRef("loop64"))

	Label("loop16")
	CMPQ(n, U8(16))
	JL(LabelRef("tail"))
	z := ZMM()
	VMOVUPS(Mem{Base: xp}, z)
	VFMADD231PS(Mem{Base: yp}, z, acc[0])
	ADDQ(U8(64), xp)
	ADDQ(U8(64), yp)
	SUBQ(U8(16), n)
	JMP(LabelRef("loop16"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	k := mask16(n)
	a, b := ZMM(), ZMM()
	VMOVUPS_Z(Mem{Base: xp}, k, a)
	VMOVUPS_Z(Mem{Base: yp}, k, b)
	VFMADD231PS(b, a, acc[1])

	Label("reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	s := hsum512(acc[0])
	VMOVSS(s, addr(ReturnIndex(0)))
	ret()
}

// dot256: four 8-lane accumulators (32 elements a step), then 8 at a time,
// then a scalar tail.
func dot256() {
	TEXT("dotAVX2", NOSPLIT, "func(x, y []float32) float32")
	Doc("dotAVX2 is Dot on AVX2 and FMA; len(y) ≥ len(x).")
	xp := Load(Param("x").Base(), GP64())
	yp := Load(Param("y").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	acc := zero256(4)

	Label("loop32")
	CMPQ(n, U8(32))
	JL(LabelRef("loop8"))
	for i := 0; i < 4; i++ {
		y := YMM()
		VMOVUPS(Mem{Base: xp, Disp: 32 * i}, y)
		VFMADD231PS(Mem{Base: yp, Disp: 32 * i}, y, acc[i])
	}
	ADDQ(U32(128), xp)
	ADDQ(U32(128), yp)
	SUBQ(U8(32), n)
	JMP(LabelRef("loop32"))

	Label("loop8")
	CMPQ(n, U8(8))
	JL(LabelRef("reduce"))
	y := YMM()
	VMOVUPS(Mem{Base: xp}, y)
	VFMADD231PS(Mem{Base: yp}, y, acc[0])
	ADDQ(U8(32), xp)
	ADDQ(U8(32), yp)
	SUBQ(U8(8), n)
	JMP(LabelRef("loop8"))

	Label("reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	s := hsum256(acc[0])

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	t := XMM()
	VMOVSS(Mem{Base: xp}, t)
	VFMADD231SS(Mem{Base: yp}, t, s)
	ADDQ(U8(4), xp)
	ADDQ(U8(4), yp)
	DECQ(n)
	JMP(LabelRef("tail"))

	Label("done")
	VMOVSS(s, addr(ReturnIndex(0)))
	ret()
}

// axpy512: dst += a·x, 64 elements a step, then 16, then a masked tail.
func axpy512() {
	TEXT("axpyAVX512", NOSPLIT, "func(dst []float32, a float32, x []float32)")
	Doc("axpyAVX512 is Axpy on AVX-512; len(dst) ≥ len(x).")
	dp := Load(Param("dst").Base(), GP64())
	xp := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	za := ZMM()
	VBROADCASTSS(addr(Param("a")), za)

	Label("loop64")
	CMPQ(n, U8(64))
	JL(LabelRef("loop16"))
	for i := 0; i < 4; i++ {
		z := ZMM()
		VMOVUPS(Mem{Base: xp, Disp: 64 * i}, z)
		VFMADD213PS(Mem{Base: dp, Disp: 64 * i}, za, z)
		VMOVUPS(z, Mem{Base: dp, Disp: 64 * i})
	}
	ADDQ(U32(256), xp)
	ADDQ(U32(256), dp)
	SUBQ(U8(64), n)
	JMP(LabelRef("loop64"))

	Label("loop16")
	CMPQ(n, U8(16))
	JL(LabelRef("tail"))
	z := ZMM()
	VMOVUPS(Mem{Base: xp}, z)
	VFMADD213PS(Mem{Base: dp}, za, z)
	VMOVUPS(z, Mem{Base: dp})
	ADDQ(U8(64), xp)
	ADDQ(U8(64), dp)
	SUBQ(U8(16), n)
	JMP(LabelRef("loop16"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	k := mask16(n)
	x, d := ZMM(), ZMM()
	VMOVUPS_Z(Mem{Base: xp}, k, x)
	VMOVUPS_Z(Mem{Base: dp}, k, d)
	VFMADD231PS(x, za, d)
	VMOVUPS(d, k, Mem{Base: dp})

	Label("done")
	ret()
}

// axpy256: dst += a·x, 32 elements a step, then 8, then a scalar tail.
func axpy256() {
	TEXT("axpyAVX2", NOSPLIT, "func(dst []float32, a float32, x []float32)")
	Doc("axpyAVX2 is Axpy on AVX2 and FMA; len(dst) ≥ len(x).")
	dp := Load(Param("dst").Base(), GP64())
	xp := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	ya := YMM()
	VBROADCASTSS(addr(Param("a")), ya)

	Label("loop32")
	CMPQ(n, U8(32))
	JL(LabelRef("loop8"))
	for i := 0; i < 4; i++ {
		y := YMM()
		VMOVUPS(Mem{Base: xp, Disp: 32 * i}, y)
		VFMADD213PS(Mem{Base: dp, Disp: 32 * i}, ya, y)
		VMOVUPS(y, Mem{Base: dp, Disp: 32 * i})
	}
	ADDQ(U32(128), xp)
	ADDQ(U32(128), dp)
	SUBQ(U8(32), n)
	JMP(LabelRef("loop32"))

	Label("loop8")
	CMPQ(n, U8(8))
	JL(LabelRef("tail"))
	y := YMM()
	VMOVUPS(Mem{Base: xp}, y)
	VFMADD213PS(Mem{Base: dp}, ya, y)
	VMOVUPS(y, Mem{Base: dp})
	ADDQ(U8(32), xp)
	ADDQ(U8(32), dp)
	SUBQ(U8(8), n)
	JMP(LabelRef("loop8"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	t := XMM()
	VMOVSS(Mem{Base: xp}, t)
	VFMADD213SS(Mem{Base: dp}, ya.AsX(), t)
	VMOVSS(t, Mem{Base: dp})
	ADDQ(U8(4), xp)
	ADDQ(U8(4), dp)
	DECQ(n)
	JMP(LabelRef("tail"))

	Label("done")
	ret()
}

// axpy64x512: float64 dst += a·float64(x), 16 elements a step, then 8,
// then a masked tail. Products of a float32-valued a and float32 x are
// exact in float64, so the fused multiply-add rounds like dst + a·x does.
func axpy64x512() {
	TEXT("axpy64AVX512", NOSPLIT, "func(dst []float64, a float64, x []float32)")
	Doc("axpy64AVX512 is Axpy64 on AVX-512; len(dst) ≥ len(x).")
	dp := Load(Param("dst").Base(), GP64())
	xp := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	za := ZMM()
	VBROADCASTSD(addr(Param("a")), za)

	Label("loop16")
	CMPQ(n, U8(16))
	JL(LabelRef("loop8"))
	for i := 0; i < 2; i++ {
		z := ZMM()
		VCVTPS2PD(Mem{Base: xp, Disp: 32 * i}, z)
		VFMADD213PD(Mem{Base: dp, Disp: 64 * i}, za, z)
		VMOVUPD(z, Mem{Base: dp, Disp: 64 * i})
	}
	ADDQ(U8(64), xp)
	ADDQ(U32(128), dp)
	SUBQ(U8(16), n)
	JMP(LabelRef("loop16"))

	Label("loop8")
	CMPQ(n, U8(8))
	JL(LabelRef("tail"))
	z := ZMM()
	VCVTPS2PD(Mem{Base: xp}, z)
	VFMADD213PD(Mem{Base: dp}, za, z)
	VMOVUPD(z, Mem{Base: dp})
	ADDQ(U8(32), xp)
	ADDQ(U8(64), dp)
	SUBQ(U8(8), n)

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	k := mask8(n)
	x, d := ZMM(), ZMM()
	VCVTPS2PD_Z(Mem{Base: xp}, k, x)
	VMOVUPD_Z(Mem{Base: dp}, k, d)
	VFMADD231PD(x, za, d)
	VMOVUPD(d, k, Mem{Base: dp})

	Label("done")
	ret()
}

// axpy64x256: axpy64x512 on AVX2, 8 elements a step, then a scalar tail.
func axpy64x256() {
	TEXT("axpy64AVX2", NOSPLIT, "func(dst []float64, a float64, x []float32)")
	Doc("axpy64AVX2 is Axpy64 on AVX2 and FMA; len(dst) ≥ len(x).")
	dp := Load(Param("dst").Base(), GP64())
	xp := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	ya := YMM()
	VBROADCASTSD(addr(Param("a")), ya)

	Label("loop8")
	CMPQ(n, U8(8))
	JL(LabelRef("tail"))
	for i := 0; i < 2; i++ {
		y := YMM()
		VCVTPS2PD(Mem{Base: xp, Disp: 16 * i}, y)
		VFMADD213PD(Mem{Base: dp, Disp: 32 * i}, ya, y)
		VMOVUPD(y, Mem{Base: dp, Disp: 32 * i})
	}
	ADDQ(U8(32), xp)
	ADDQ(U8(64), dp)
	SUBQ(U8(8), n)
	JMP(LabelRef("loop8"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	t := XMM()
	VCVTSS2SD(Mem{Base: xp}, t, t)
	VFMADD213SD(Mem{Base: dp}, ya.AsX(), t)
	VMOVSD(t, Mem{Base: dp})
	ADDQ(U8(4), xp)
	ADDQ(U8(8), dp)
	DECQ(n)
	JMP(LabelRef("tail"))

	Label("done")
	ret()
}

// exp512Core replaces the 16 lanes of x by exp32 of them.
func exp512Core(x VecVirtual) {
	VMAXPS_BCST(cMin, x, x)
	VMINPS_BCST(cMax, x, x)
	n := ZMM()
	VMULPS_BCST(cLog2e, x, n)
	VRNDSCALEPS(U8(0), n, n) // round to nearest even
	VFNMADD231PS_BCST(cLn2Hi, n, x)
	VFNMADD231PS_BCST(cLn2Lo, n, x) // x is now r
	p := ZMM()
	VBROADCASTSS(cC6, p)
	VFMADD213PS_BCST(cC5, x, p)
	VFMADD213PS_BCST(cC4, x, p)
	VFMADD213PS_BCST(cC3, x, p)
	VFMADD213PS_BCST(cC2, x, p)
	VFMADD213PS_BCST(cC1, x, p)
	VMULPS(x, p, p)
	VFMADD213PS(x, x, p) // p·r·r + r
	VADDPS_BCST(cOne, p, p)
	VSCALEFPS(n, p, x) // p · 2^n
}

// exp256Core replaces the 8 lanes of x by exp32 of them; 2^n is built in
// the exponent field.
func exp256Core(x VecVirtual) {
	VMAXPS(cMin, x, x)
	VMINPS(cMax, x, x)
	n := YMM()
	VMULPS(cLog2e, x, n)
	VROUNDPS(U8(0), n, n) // round to nearest even
	VFNMADD231PS(cLn2Hi, n, x)
	VFNMADD231PS(cLn2Lo, n, x) // x is now r
	p := YMM()
	VMOVUPS(cC6, p)
	VFMADD213PS(cC5, x, p)
	VFMADD213PS(cC4, x, p)
	VFMADD213PS(cC3, x, p)
	VFMADD213PS(cC2, x, p)
	VFMADD213PS(cC1, x, p)
	VMULPS(x, p, p)
	VFMADD213PS(x, x, p) // p·r·r + r
	VADDPS(cOne, p, p)
	VCVTPS2DQ(n, n)
	VPADDD(cBias127, n, n)
	VPSLLD(U8(23), n, n)
	VMULPS(n, p, x)
}

// expTo512: dst = exp(x), 16 lanes a step, then a masked tail.
func expTo512() {
	TEXT("expAVX512", NOSPLIT, "func(dst, x []float32)")
	Doc("expAVX512 is ExpTo on AVX-512; len(dst) ≥ len(x).")
	dp := Load(Param("dst").Base(), GP64())
	xp := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())

	Label("loop16")
	CMPQ(n, U8(16))
	JL(LabelRef("tail"))
	z := ZMM()
	VMOVUPS(Mem{Base: xp}, z)
	exp512Core(z)
	VMOVUPS(z, Mem{Base: dp})
	ADDQ(U8(64), xp)
	ADDQ(U8(64), dp)
	SUBQ(U8(16), n)
	JMP(LabelRef("loop16"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	k := mask16(n)
	t := ZMM()
	VMOVUPS_Z(Mem{Base: xp}, k, t)
	exp512Core(t)
	VMOVUPS(t, k, Mem{Base: dp})

	Label("done")
	ret()
}

// expTo256: dst = exp(x), 8 lanes a step, then a masked tail.
func expTo256() {
	TEXT("expAVX2", NOSPLIT, "func(dst, x []float32)")
	Doc("expAVX2 is ExpTo on AVX2 and FMA; len(dst) ≥ len(x).")
	dp := Load(Param("dst").Base(), GP64())
	xp := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())

	Label("loop8")
	CMPQ(n, U8(8))
	JL(LabelRef("tail"))
	y := YMM()
	VMOVUPS(Mem{Base: xp}, y)
	exp256Core(y)
	VMOVUPS(y, Mem{Base: dp})
	ADDQ(U8(32), xp)
	ADDQ(U8(32), dp)
	SUBQ(U8(8), n)
	JMP(LabelRef("loop8"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	m := tailMask256(n)
	t := YMM()
	VMASKMOVPS(Mem{Base: xp}, m, t)
	exp256Core(t)
	VMASKMOVPS(t, m, Mem{Base: dp})

	Label("done")
	ret()
}

// addMul512: dst += x ⊙ y, 32 elements a step, then 16, then a masked
// tail.
func addMul512() {
	TEXT("addMulAVX512", NOSPLIT, "func(dst, x, y []float32)")
	Doc("addMulAVX512 is AddMul on AVX-512; len(dst), len(y) ≥ len(x).")
	dp := Load(Param("dst").Base(), GP64())
	xp := Load(Param("x").Base(), GP64())
	yp := Load(Param("y").Base(), GP64())
	n := Load(Param("x").Len(), GP64())

	Label("loop32")
	CMPQ(n, U8(32))
	JL(LabelRef("loop16"))
	for i := 0; i < 2; i++ {
		z := ZMM()
		VMOVUPS(Mem{Base: xp, Disp: 64 * i}, z)
		d := ZMM()
		VMOVUPS(Mem{Base: dp, Disp: 64 * i}, d)
		VFMADD231PS(Mem{Base: yp, Disp: 64 * i}, z, d)
		VMOVUPS(d, Mem{Base: dp, Disp: 64 * i})
	}
	ADDQ(U32(128), xp)
	ADDQ(U32(128), yp)
	ADDQ(U32(128), dp)
	SUBQ(U8(32), n)
	JMP(LabelRef("loop32"))

	Label("loop16")
	CMPQ(n, U8(16))
	JL(LabelRef("tail"))
	z, d := ZMM(), ZMM()
	VMOVUPS(Mem{Base: xp}, z)
	VMOVUPS(Mem{Base: dp}, d)
	VFMADD231PS(Mem{Base: yp}, z, d)
	VMOVUPS(d, Mem{Base: dp})
	ADDQ(U8(64), xp)
	ADDQ(U8(64), yp)
	ADDQ(U8(64), dp)
	SUBQ(U8(16), n)

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	k := mask16(n)
	x, y, t := ZMM(), ZMM(), ZMM()
	VMOVUPS_Z(Mem{Base: xp}, k, x)
	VMOVUPS_Z(Mem{Base: yp}, k, y)
	VMOVUPS_Z(Mem{Base: dp}, k, t)
	VFMADD231PS(y, x, t)
	VMOVUPS(t, k, Mem{Base: dp})

	Label("done")
	ret()
}

// addMul256: dst += x ⊙ y, 16 elements a step, then 8, then a scalar tail.
func addMul256() {
	TEXT("addMulAVX2", NOSPLIT, "func(dst, x, y []float32)")
	Doc("addMulAVX2 is AddMul on AVX2 and FMA; len(dst), len(y) ≥ len(x).")
	dp := Load(Param("dst").Base(), GP64())
	xp := Load(Param("x").Base(), GP64())
	yp := Load(Param("y").Base(), GP64())
	n := Load(Param("x").Len(), GP64())

	Label("loop16")
	CMPQ(n, U8(16))
	JL(LabelRef("loop8"))
	for i := 0; i < 2; i++ {
		z, d := YMM(), YMM()
		VMOVUPS(Mem{Base: xp, Disp: 32 * i}, z)
		VMOVUPS(Mem{Base: dp, Disp: 32 * i}, d)
		VFMADD231PS(Mem{Base: yp, Disp: 32 * i}, z, d)
		VMOVUPS(d, Mem{Base: dp, Disp: 32 * i})
	}
	ADDQ(U8(64), xp)
	ADDQ(U8(64), yp)
	ADDQ(U8(64), dp)
	SUBQ(U8(16), n)
	JMP(LabelRef("loop16"))

	Label("loop8")
	CMPQ(n, U8(8))
	JL(LabelRef("tail"))
	z, d := YMM(), YMM()
	VMOVUPS(Mem{Base: xp}, z)
	VMOVUPS(Mem{Base: dp}, d)
	VFMADD231PS(Mem{Base: yp}, z, d)
	VMOVUPS(d, Mem{Base: dp})
	ADDQ(U8(32), xp)
	ADDQ(U8(32), yp)
	ADDQ(U8(32), dp)
	SUBQ(U8(8), n)

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	t, u := XMM(), XMM()
	VMOVSS(Mem{Base: xp}, t)
	VMOVSS(Mem{Base: dp}, u)
	VFMADD231SS(Mem{Base: yp}, t, u)
	VMOVSS(u, Mem{Base: dp})
	ADDQ(U8(4), xp)
	ADDQ(U8(4), yp)
	ADDQ(U8(4), dp)
	DECQ(n)
	JMP(LabelRef("tail"))

	Label("done")
	ret()
}
