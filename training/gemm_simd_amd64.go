//go:build goexperiment.simd && amd64

package training

import (
	"simd/archsimd"
	"unsafe"
)

// simdEnabled reports whether matMul uses the AVX-512 kernel.
var simdEnabled = archsimd.X86.AVX512()

// matMulSIMD is matMul on AVX-512: tiles of 4 rows × 32 columns of C, each
// kept in 8 vector accumulators while i runs over k; per step two 16-wide
// rows of B are loaded and each of the 4 values of A is broadcast, for 8
// fused multiply-adds and no horizontal sums. Columns past the last
// multiple of 16 and rows past the last multiple of 4 take narrower tiles
// and a scalar tail. It ends with VZEROUPPER.
func matMulSIMD(c []float32, ldc int, add bool, rows, cols, k int, a []float32, ar, ak int, b []float32, ldb int) {
	// The bounds every unsafe access below stays within (rows, cols, k > 0).
	if len(a) < (rows-1)*ar+(k-1)*ak+1 || len(b) < (k-1)*ldb+cols || len(c) < (rows-1)*ldc+cols {
		panic("training: matMul operands too short")
	}
	m := mm{ap: unsafe.Pointer(unsafe.SliceData(a)), bp: unsafe.Pointer(unsafe.SliceData(b)), cp: unsafe.Pointer(unsafe.SliceData(c)),
		arB: ar * 4, akB: ak * 4, ldbB: ldb * 4, ldcB: ldc * 4, k: k, add: add}
	vec16 := cols &^ 15
	r := 0
	for ; r+4 <= rows; r += 4 {
		j := 0
		for ; j+32 <= vec16; j += 32 {
			m.tile4x32(r, j)
		}
		for ; j < vec16; j += 16 {
			m.tile4x16(r, j)
		}
	}
	for ; r < rows; r++ {
		for j := 0; j < vec16; j += 16 {
			m.tile1x16(r, j)
		}
	}
	archsimd.ClearAVXUpperBits()
	if vec16 < cols {
		for r := range rows {
			for j := vec16; j < cols; j++ {
				var s float32
				for i := range k {
					s += a[r*ar+i*ak] * b[i*ldb+j]
				}
				if add {
					s += c[r*ldc+j]
				}
				c[r*ldc+j] = s
			}
		}
	}
}

// mm holds the operands of matMulSIMD as base pointers and byte strides.
type mm struct {
	ap, bp, cp              unsafe.Pointer
	arB, akB, ldbB, ldcB, k int
	add                     bool
}

func load(p unsafe.Pointer, off int) archsimd.Float32x16 {
	return archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(p, off)))
}

func bcast(p unsafe.Pointer, off int) archsimd.Float32x16 {
	return archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(p, off)))
}

// put stores v to C at byte offset off, adding what is there when m.add.
func (m *mm) put(v archsimd.Float32x16, off int) {
	if m.add {
		v = v.Add(load(m.cp, off))
	}
	v.Store((*[16]float32)(unsafe.Add(m.cp, off)))
}

// tile4x32 computes C rows r … r+3, columns j … j+31.
func (m *mm) tile4x32(r, j int) {
	var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Float32x16
	a0 := r * m.arB
	a1, a2, a3 := a0+m.arB, a0+2*m.arB, a0+3*m.arB
	bo := j * 4
	for range m.k {
		b0, b1 := load(m.bp, bo), load(m.bp, bo+64)
		x := bcast(m.ap, a0)
		c00, c01 = b0.MulAdd(x, c00), b1.MulAdd(x, c01)
		x = bcast(m.ap, a1)
		c10, c11 = b0.MulAdd(x, c10), b1.MulAdd(x, c11)
		x = bcast(m.ap, a2)
		c20, c21 = b0.MulAdd(x, c20), b1.MulAdd(x, c21)
		x = bcast(m.ap, a3)
		c30, c31 = b0.MulAdd(x, c30), b1.MulAdd(x, c31)
		a0, a1, a2, a3, bo = a0+m.akB, a1+m.akB, a2+m.akB, a3+m.akB, bo+m.ldbB
	}
	o := r*m.ldcB + j*4
	m.put(c00, o)
	m.put(c01, o+64)
	m.put(c10, o+m.ldcB)
	m.put(c11, o+m.ldcB+64)
	m.put(c20, o+2*m.ldcB)
	m.put(c21, o+2*m.ldcB+64)
	m.put(c30, o+3*m.ldcB)
	m.put(c31, o+3*m.ldcB+64)
}

// tile4x16 computes C rows r … r+3, columns j … j+15.
func (m *mm) tile4x16(r, j int) {
	var c0, c1, c2, c3 archsimd.Float32x16
	a0 := r * m.arB
	a1, a2, a3 := a0+m.arB, a0+2*m.arB, a0+3*m.arB
	bo := j * 4
	for range m.k {
		b0 := load(m.bp, bo)
		c0 = b0.MulAdd(bcast(m.ap, a0), c0)
		c1 = b0.MulAdd(bcast(m.ap, a1), c1)
		c2 = b0.MulAdd(bcast(m.ap, a2), c2)
		c3 = b0.MulAdd(bcast(m.ap, a3), c3)
		a0, a1, a2, a3, bo = a0+m.akB, a1+m.akB, a2+m.akB, a3+m.akB, bo+m.ldbB
	}
	o := r*m.ldcB + j*4
	m.put(c0, o)
	m.put(c1, o+m.ldcB)
	m.put(c2, o+2*m.ldcB)
	m.put(c3, o+3*m.ldcB)
}

// tile1x16 computes C row r, columns j … j+15.
func (m *mm) tile1x16(r, j int) {
	var c0 archsimd.Float32x16
	a0 := r * m.arB
	bo := j * 4
	for range m.k {
		c0 = load(m.bp, bo).MulAdd(bcast(m.ap, a0), c0)
		a0, bo = a0+m.akB, bo+m.ldbB
	}
	m.put(c0, r*m.ldcB+j*4)
}
