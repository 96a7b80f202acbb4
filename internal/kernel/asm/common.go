package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The exponential's constants; they must equal those of exp32 in
// internal/kernel/generic.go: e^x = 2^n · e^r with n = round(x·log2 e),
// r = x − n·ln 2 (ln 2 split in a high and a low part), e^r by a degree-6
// polynomial; x is first clamped to [expMin, expMax].
const (
	expMin   = -87.0
	expMax   = 88.0
	expLog2e = 1.44269504088896341
	expLn2Hi = 0.693359375
	expLn2Lo = -2.12194440e-4
	expC6    = 1.9875691500e-4
	expC5    = 1.3981999507e-3
	expC4    = 8.3334519073e-3
	expC3    = 4.1665795894e-2
	expC2    = 1.6666665459e-1
	expC1    = 5.0000001201e-1
)

// Read-only vectors of eight float32 (or int32) lanes. The AVX2 code uses
// them as 256-bit memory operands, the AVX-512 code broadcasts lane 0.
var (
	cMin, cMax, cLog2e, cLn2Hi, cLn2Lo Mem
	cC6, cC5, cC4, cC3, cC2, cC1, cOne Mem
	cNegMax, cBias127                  Mem
	cBitsLo, cBitsHi                   Mem
	cTailMask                          Mem
)

func vec8(name string, v float32) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		// The bits, not F32(v): the assembler would read an integral
		// value such as -87 as an integer and print other values short.
		DATA(4*i, U32(math.Float32bits(v)))
	}
	return m
}

func ints8(name string, v [8]uint32) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i, x := range v {
		DATA(4*i, U32(x))
	}
	return m
}

func constants() {
	cMin = vec8("expmin", expMin)
	cMax = vec8("expmax", expMax)
	cLog2e = vec8("explog2e", expLog2e)
	cLn2Hi = vec8("expln2hi", expLn2Hi)
	cLn2Lo = vec8("expln2lo", expLn2Lo)
	cC6 = vec8("expc6", expC6)
	cC5 = vec8("expc5", expC5)
	cC4 = vec8("expc4", expC4)
	cC3 = vec8("expc3", expC3)
	cC2 = vec8("expc2", expC2)
	cC1 = vec8("expc1", expC1)
	cOne = vec8("one", 1)
	cNegMax = vec8("negmax", -math.MaxFloat32)
	cBias127 = ints8("bias127", [8]uint32{127, 127, 127, 127, 127, 127, 127, 127})
	// Lane l of the query-token masks of the AVX2 softmax tests bit l
	// (low half) or bit 8+l (high half) of a group's 16-bit mask.
	cBitsLo = ints8("bitslo", [8]uint32{1, 2, 4, 8, 16, 32, 64, 128})
	cBitsHi = ints8("bitshi", [8]uint32{256, 512, 1024, 2048, 4096, 8192, 16384, 32768})
	// Eight all-ones lanes then eight zero lanes: the 256-bit load at byte
	// offset 4·(8−n) is the mask of the first n lanes.
	cTailMask = GLOBL("tailmask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}
}

// addr returns the stack address of a parameter or result.
func addr(c gotypes.Component) Mem {
	b, err := c.Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// zero512 returns n zeroed ZMM registers.
func zero512(n int) []VecVirtual {
	z := make([]VecVirtual, n)
	for i := range z {
		z[i] = ZMM()
		VPXORD(z[i], z[i], z[i])
	}
	return z
}

// zero256 returns n zeroed YMM registers.
func zero256(n int) []VecVirtual {
	z := make([]VecVirtual, n)
	for i := range z {
		z[i] = YMM()
		VXORPS(z[i], z[i], z[i])
	}
	return z
}

// mask16 returns an opmask with the low n bits set (n < 16).
func mask16(n Register) OpmaskVirtual {
	t := GP32()
	MOVL(U32(0xffff), t)
	BZHIL(n.(GPVirtual).As32(), t, t)
	k := K()
	KMOVW(t, k)
	return k
}

// mask8 returns an opmask with the low n bits set (n < 8).
func mask8(n Register) OpmaskVirtual {
	t := GP32()
	MOVL(U32(0xff), t)
	BZHIL(n.(GPVirtual).As32(), t, t)
	k := K()
	KMOVW(t, k)
	return k
}

// tailMask256 returns a YMM lane mask of the first n lanes (0 < n < 8).
func tailMask256(n Register) VecVirtual {
	off := GP64()
	MOVQ(U32(8), off)
	SUBQ(n, off)
	tbl := GP64()
	LEAQ(cTailMask, tbl)
	m := YMM()
	VMOVUPS(Mem{Base: tbl, Index: off, Scale: 4}, m)
	return m
}

// hsum512 leaves the sum of z's 16 lanes in lane 0 of the returned XMM.
func hsum512(z VecVirtual) VecVirtual {
	y := YMM()
	VEXTRACTF64X4(U8(1), z, y)
	VADDPS(y, z.AsY(), y)
	return hsum256(y)
}

// hsum256 leaves the sum of y's 8 lanes in lane 0 of the returned XMM.
func hsum256(y VecVirtual) VecVirtual {
	x := XMM()
	VEXTRACTF128(U8(1), y, x)
	VADDPS(x, y.AsX(), x)
	t := XMM()
	VMOVHLPS(x, x, t)
	VADDPS(t, x, x)
	VMOVSHDUP(x, t)
	VADDSS(t, x, x)
	return x
}

// hmax512 leaves the largest of z's 16 lanes in lane 0 of the returned XMM.
func hmax512(z VecVirtual) VecVirtual {
	y := YMM()
	VEXTRACTF64X4(U8(1), z, y)
	VMAXPS(y, z.AsY(), y)
	return hmax256(y)
}

// hmax256 leaves the largest of y's 8 lanes in lane 0 of the returned XMM.
func hmax256(y VecVirtual) VecVirtual {
	x := XMM()
	VEXTRACTF128(U8(1), y, x)
	VMAXPS(x, y.AsX(), x)
	t := XMM()
	VMOVHLPS(x, x, t)
	VMAXPS(t, x, x)
	VMOVSHDUP(x, t)
	VMAXSS(t, x, x)
	return x
}

// row returns the address of row j (0…3) of a block of rows that starts at
// base, ld bytes apart (ld3 = 3·ld), plus disp bytes.
func row(base, ld, ld3 Register, j, disp int) Mem {
	switch j {
	case 0:
		return Mem{Base: base, Disp: disp}
	case 1:
		return Mem{Base: base, Index: ld, Scale: 1, Disp: disp}
	case 2:
		return Mem{Base: base, Index: ld, Scale: 2, Disp: disp}
	default:
		return Mem{Base: base, Index: ld3, Scale: 1, Disp: disp}
	}
}

// loadBytes loads an int parameter and multiplies it by 4 (a float32
// count to bytes).
func loadBytes(name string) GPVirtual {
	r := GP64()
	Load(Param(name), r)
	SHLQ(U8(2), r)
	return r
}

// times3 returns 3·r.
func times3(r Register) GPVirtual {
	t := GP64()
	LEAQ(Mem{Base: r, Index: r, Scale: 2}, t)
	return t
}

// ret ends a function: VZEROUPPER, RET.
func ret() {
	VZEROUPPER()
	RET()
}
