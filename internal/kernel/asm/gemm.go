package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The matrix product's micro-kernels compute rows rows of C (n columns,
// row stride ldc) from A (element (r, i) at a[r·ar + i·ak], so a transposed
// A is ar = 1) and B (k × n, row stride ldb):
//
//	C[r][c] = Σ_i A(r, i)·B[i][c]          (add false)
//	C[r][c] += Σ_i A(r, i)·B[i][c]         (add true)
//
// Columns go in blocks of the widths given (each a multiple of the vector
// width), the last partial vector masked. Within a block every row keeps
// its accumulators in registers while i runs over k: per step one load of
// each B vector, one broadcast of each row's A element and rows·vectors
// fused multiply-adds. k ≥ 1; strides are in elements.

const gemmSig = "func(a *float32, ar, ak int, b *float32, ldb int, c *float32, ldc int, k, n int, add bool)"

// gemmRegs holds the registers shared by a micro-kernel's blocks.
type gemmRegs struct {
	ar, ar3, ak, ldb, ldc, bp, cp, n GPVirtual
}

func gemmSetup(rows int) gemmRegs {
	var g gemmRegs
	g.ar = loadBytes("ar")
	if rows == 4 {
		g.ar3 = times3(g.ar)
	}
	g.ak = loadBytes("ak")
	g.ldb = loadBytes("ldb")
	g.ldc = loadBytes("ldc")
	g.bp = GP64()
	Load(Param("b"), g.bp)
	g.cp = GP64()
	Load(Param("c"), g.cp)
	g.n = GP64()
	Load(Param("n"), g.n)
	return g
}

// gemmStore writes the accumulators acc[r][v] to C at g.cp, adding C when
// the add flag is set; with a mask only its lanes of the single vector.
func gemmStore(g gemmRegs, acc [][]VecVirtual, width int, name string, newVec func() VecVirtual, load func(Mem, VecVirtual), store func(VecVirtual, Mem)) {
	cr := GP64()
	flag := GP32()
	MOVBLZX(addr(Param("add")), flag)
	for pass := 0; pass < 2; pass++ {
		if pass == 0 {
			TESTL(flag, flag)
			JZ(LabelRef(name + "_set"))
		} else {
			Label(name + "_set")
		}
		MOVQ(g.cp, cr)
		for r := range acc {
			if r > 0 {
				ADDQ(g.ldc, cr)
			}
			for v, a := range acc[r] {
				m := Mem{Base: cr, Disp: width * v}
				if pass == 0 {
					t := newVec()
					load(m, t)
					VADDPS(t, a, a)
				}
				store(a, m)
			}
		}
		if pass == 0 {
			JMP(LabelRef(name + "_done"))
		}
	}
	Label(name + "_done")
}

// gemmBlock emits one column block of nv vectors of lanes floats per row.
// loadB loads vector v of B's current row; bcast broadcasts an A element.
func gemmBlock(g gemmRegs, rows, nv int, name string, zero func(int) []VecVirtual,
	loadB func(Mem, VecVirtual), newVec func() VecVirtual, bcast func(Mem, VecVirtual), width int,
	loadC func(Mem, VecVirtual), storeC func(VecVirtual, Mem)) {
	acc := make([][]VecVirtual, rows)
	for r := range acc {
		acc[r] = zero(nv)
	}
	pa := GP64()
	Load(Param("a"), pa)
	pb := GP64()
	MOVQ(g.bp, pb)
	i := GP64()
	Load(Param("k"), i)
	Label(name + "_k")
	xs := make([]VecVirtual, rows)
	for r := range xs {
		xs[r] = newVec()
		bcast(row(pa, g.ar, g.ar3, r, 0), xs[r])
	}
	for v := 0; v < nv; v++ {
		b := newVec()
		loadB(Mem{Base: pb, Disp: width * v}, b)
		for r := range xs {
			VFMADD231PS(b, xs[r], acc[r][v])
		}
	}
	ADDQ(g.ak, pa)
	ADDQ(g.ldb, pb)
	DECQ(i)
	JNZ(LabelRef(name + "_k"))
	gemmStore(g, acc, width, name, newVec, loadC, storeC)
}

// gemm512 emits gemm<rows>AVX512 with column blocks of the given widths
// (multiples of 16) and a masked block for the last n mod 16 columns.
func gemm512(rows int, widths []int) {
	TEXT(fmt.Sprintf("gemm%dAVX512", rows), NOSPLIT, gemmSig)
	Doc(fmt.Sprintf("gemm%dAVX512 computes %d rows of C on AVX-512.", rows, rows))
	g := gemmSetup(rows)
	load := func(m Mem, z VecVirtual) { VMOVUPS(m, z) }
	store := func(z VecVirtual, m Mem) { VMOVUPS(z, m) }
	bcast := func(m Mem, z VecVirtual) { VBROADCASTSS(m, z) }
	for wi, w := range widths {
		name := fmt.Sprintf("w%d", w)
		next := "tail"
		if wi+1 < len(widths) {
			next = fmt.Sprintf("w%d", widths[wi+1])
		}
		Label(name)
		CMPQ(g.n, U32(w))
		JL(LabelRef(next))
		gemmBlock(g, rows, w/16, name, zero512, load, func() VecVirtual { return ZMM() }, bcast, 64, load, store)
		ADDQ(U32(4*w), g.bp)
		ADDQ(U32(4*w), g.cp)
		SUBQ(U32(w), g.n)
		JMP(LabelRef(name))
	}
	Label("tail")
	TESTQ(g.n, g.n)
	JZ(LabelRef("done"))
	k := mask16(g.n)
	mload := func(m Mem, z VecVirtual) { VMOVUPS_Z(m, k, z) }
	mstore := func(z VecVirtual, m Mem) { VMOVUPS(z, k, m) }
	gemmBlock(g, rows, 1, "mask", zero512, mload, func() VecVirtual { return ZMM() }, bcast, 64, mload, mstore)
	Label("done")
	ret()
}

// gemm256 emits gemm<rows>AVX2 with column blocks of the given widths
// (multiples of 8) and a masked block for the last n mod 8 columns.
func gemm256(rows int, widths []int) {
	TEXT(fmt.Sprintf("gemm%dAVX2", rows), NOSPLIT, gemmSig)
	Doc(fmt.Sprintf("gemm%dAVX2 computes %d rows of C on AVX2 and FMA.", rows, rows))
	g := gemmSetup(rows)
	load := func(m Mem, y VecVirtual) { VMOVUPS(m, y) }
	store := func(y VecVirtual, m Mem) { VMOVUPS(y, m) }
	bcast := func(m Mem, y VecVirtual) { VBROADCASTSS(m, y) }
	for wi, w := range widths {
		name := fmt.Sprintf("w%d", w)
		next := "tail"
		if wi+1 < len(widths) {
			next = fmt.Sprintf("w%d", widths[wi+1])
		}
		Label(name)
		CMPQ(g.n, U32(w))
		JL(LabelRef(next))
		gemmBlock(g, rows, w/8, name, zero256, load, func() VecVirtual { return YMM() }, bcast, 32, load, store)
		ADDQ(U32(4*w), g.bp)
		ADDQ(U32(4*w), g.cp)
		SUBQ(U32(w), g.n)
		JMP(LabelRef(name))
	}
	Label("tail")
	TESTQ(g.n, g.n)
	JZ(LabelRef("done"))
	mk := tailMask256(g.n)
	mload := func(m Mem, y VecVirtual) { VMASKMOVPS(m, mk, y) }
	mstore := func(y VecVirtual, m Mem) { VMASKMOVPS(y, mk, m) }
	gemmBlock(g, rows, 1, "mask", zero256, mload, func() VecVirtual { return YMM() }, bcast, 32, mload, mstore)
	Label("done")
	ret()
}
