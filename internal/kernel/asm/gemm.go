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

// gemmISA is what the two instruction sets' micro-kernels differ in.
type gemmISA struct {
	name  string // "AVX512" or "AVX2"
	lanes int    // float32 per vector
	vec   func() VecVirtual
	zero  func(int) []VecVirtual
	// masked returns the masked load and store of the last n mod lanes
	// columns.
	masked func(n GPVirtual) (func(Mem, VecVirtual), func(VecVirtual, Mem))
}

var (
	gemmAVX512 = gemmISA{name: "AVX512", lanes: 16, vec: func() VecVirtual { return ZMM() }, zero: zero512,
		masked: func(n GPVirtual) (func(Mem, VecVirtual), func(VecVirtual, Mem)) {
			k := mask16(n)
			return func(m Mem, z VecVirtual) { VMOVUPS_Z(m, k, z) }, func(z VecVirtual, m Mem) { VMOVUPS(z, k, m) }
		}}
	gemmAVX2 = gemmISA{name: "AVX2", lanes: 8, vec: func() VecVirtual { return YMM() }, zero: zero256,
		masked: func(n GPVirtual) (func(Mem, VecVirtual), func(VecVirtual, Mem)) {
			mk := tailMask256(n)
			return func(m Mem, y VecVirtual) { VMASKMOVPS(m, mk, y) }, func(y VecVirtual, m Mem) { VMASKMOVPS(y, mk, m) }
		}}
)

// gemm emits gemm<rows><isa> with column blocks of the given widths
// (multiples of the vector width) and a masked block for the last columns.
func gemm(isa gemmISA, rows int, widths []int) {
	TEXT(fmt.Sprintf("gemm%d%s", rows, isa.name), NOSPLIT, gemmSig)
	Doc(fmt.Sprintf("gemm%d%s computes %d rows of C with %s.", rows, isa.name, rows, isa.name))
	g := gemmSetup(rows)
	vb := 4 * isa.lanes
	load := func(m Mem, v VecVirtual) { VMOVUPS(m, v) }
	store := func(v VecVirtual, m Mem) { VMOVUPS(v, m) }
	bcast := func(m Mem, v VecVirtual) { VBROADCASTSS(m, v) }
	for wi, w := range widths {
		name := fmt.Sprintf("w%d", w)
		next := "tail"
		if wi+1 < len(widths) {
			next = fmt.Sprintf("w%d", widths[wi+1])
		}
		Label(name)
		CMPQ(g.n, U32(w))
		JL(LabelRef(next))
		gemmBlock(g, rows, w/isa.lanes, name, isa.zero, load, isa.vec, bcast, vb, load, store)
		ADDQ(U32(4*w), g.bp)
		ADDQ(U32(4*w), g.cp)
		SUBQ(U32(w), g.n)
		JMP(LabelRef(name))
	}
	Label("tail")
	TESTQ(g.n, g.n)
	JZ(LabelRef("done"))
	mload, mstore := isa.masked(g.n)
	gemmBlock(g, rows, 1, "mask", isa.zero, mload, isa.vec, bcast, vb, mload, mstore)
	Label("done")
	ret()
}
