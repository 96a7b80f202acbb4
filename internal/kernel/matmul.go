package kernel

import (
	"fmt"
	"sync"
)

// Mat is a row-major view of a float32 matrix of Rows × Cols: element
// (i, j) is Data[i·Stride + j]. Stride ≥ Cols; Data holds at least
// (Rows−1)·Stride + Cols elements (none when Rows or Cols is 0). The
// products never keep a Mat.
type Mat struct {
	Rows, Cols, Stride int
	Data               []float32
}

// Transpose says whether a product reads an operand as stored (NoTrans)
// or transposed (Trans).
type Transpose bool

// The two ways to read an operand.
const (
	NoTrans Transpose = false
	Trans   Transpose = true
)

// check panics unless m is a valid view; name says which operand.
func (m Mat) check(name string) {
	if m.Rows < 0 || m.Cols < 0 {
		panic(fmt.Sprintf("kernel: matrix %s: negative shape %d×%d", name, m.Rows, m.Cols))
	}
	if m.Rows == 0 || m.Cols == 0 {
		return
	}
	if m.Stride < m.Cols {
		panic(fmt.Sprintf("kernel: matrix %s: stride %d < %d columns", name, m.Stride, m.Cols))
	}
	if need := (m.Rows-1)*m.Stride + m.Cols; len(m.Data) < need {
		panic(fmt.Sprintf("kernel: matrix %s: %d elements, %d×%d with stride %d needs %d", name, len(m.Data), m.Rows, m.Cols, m.Stride, need))
	}
}

// MatMulTo sets c = op(a)·op(b), where op(x) is x (NoTrans) or xᵀ
// (Trans): with op(a) of m × k and op(b) of k × n, c is m × n and
// c[i][j] = Σ_l op(a)[i][l]·op(b)[l][j], summed in float32. c must not
// overlap a or b; a and b are not modified. Mismatched shapes panic.
//
// It is the product the training passes and a convolution by im2col
// build on: a convolution of an image x of C channels (each H×W) with F
// filters of C×kh×kw, written as the matrix W (F × C·kh·kw, row-major), is
// MatMulTo(out, W, NoTrans, cols, NoTrans) with cols the im2col matrix
// (C·kh·kw × Ho·Wo, one column per output position) and out F × Ho·Wo;
// the filters' gradient is MatMulAddTo(dW, dOut, NoTrans, cols, Trans) and
// the columns' gradient MatMulTo(dCols, W, Trans, dOut, NoTrans).
//
// Cost: m·n·k multiply-adds in tiles of 4 rows of c by up to 32 columns
// (AVX-512; 16 on AVX2) whose accumulators stay in registers, b read in
// panels that stay in the L2 cache. A transposed a costs nothing extra. A
// transposed b is copied once into a transposed scratch buffer (k·n
// elements from a pool) unless m < 8, when each element of c is one Dot
// of a row of op(a) with a row of b.
func MatMulTo(c Mat, a Mat, ta Transpose, b Mat, tb Transpose) {
	matMul(c, a, ta, b, tb, false)
}

// MatMulAddTo is MatMulTo adding the product to c: c += op(a)·op(b).
func MatMulAddTo(c Mat, a Mat, ta Transpose, b Mat, tb Transpose) {
	matMul(c, a, ta, b, tb, true)
}

// VecMatTo sets dst = x·W for a row-major W of len(x) × len(dst):
// dst[j] = Σ_i x[i]·W[i·len(dst) + j]. It panics if W is too short.
func VecMatTo(dst, x, w []float32) { vecMat(dst, x, w, false) }

// VecMatAddTo is VecMatTo adding to dst: dst += x·W.
func VecMatAddTo(dst, x, w []float32) { vecMat(dst, x, w, true) }

func vecMat(dst, x, w []float32, add bool) {
	n, k := len(dst), len(x)
	if len(w) < k*n {
		panic("kernel: VecMat: W shorter than len(x)·len(dst)")
	}
	matMul(Mat{1, n, n, dst}, Mat{1, k, k, x}, NoTrans, Mat{k, n, n, w}, NoTrans, add)
}

// MatVecTo sets dst = W·x for a row-major W of len(dst) × len(x):
// dst[i] = Σ_j W[i·len(x) + j]·x[j] (x·Wᵀ). It panics if W is too short.
func MatVecTo(dst, w, x []float32) {
	k := len(x)
	if len(w) < len(dst)*k {
		panic("kernel: MatVecTo: W shorter than len(dst)·len(x)")
	}
	for i := range dst {
		dst[i] = dot(w[i*k:(i+1)*k], x)
	}
}

// MatVecAddTo is MatVecTo adding to dst: dst += W·x.
func MatVecAddTo(dst, w, x []float32) {
	k := len(x)
	if len(w) < len(dst)*k {
		panic("kernel: MatVecAddTo: W shorter than len(dst)·len(x)")
	}
	for i := range dst {
		dst[i] += dot(w[i*k:(i+1)*k], x)
	}
}

// Blocking of the products: k is split in blocks of kBlock, n in panels of
// about panelFloats/kBlock columns, so that the panel of b the 4-row tiles
// sweep (kBlock × panel float32, 192 KB) stays in the L2 cache.
const (
	kBlock      = 256
	panelFloats = 48 << 10
	// transBDotRows: below this many rows of c a transposed b is read
	// with one Dot per element instead of being transposed first.
	transBDotRows = 8
)

// scratchPool holds the transposed copies of b.
var scratchPool = sync.Pool{New: func() any { return new([]float32) }}

func matMul(c Mat, a Mat, ta Transpose, b Mat, tb Transpose, add bool) {
	a.check("a")
	b.check("b")
	c.check("c")
	m, k, ar, ak := a.Rows, a.Cols, a.Stride, 1
	if ta {
		m, k, ar, ak = a.Cols, a.Rows, 1, a.Stride
	}
	kb, n := b.Rows, b.Cols
	if tb {
		kb, n = b.Cols, b.Rows
	}
	if kb != k || c.Rows != m || c.Cols != n {
		panic(fmt.Sprintf("kernel: MatMul: op(a) is %d×%d, op(b) %d×%d, c %d×%d", m, k, kb, n, c.Rows, c.Cols))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !add {
			for r := range m {
				clear(c.Data[r*c.Stride : r*c.Stride+n])
			}
		}
		return
	}
	if !tb {
		gemmBlocked(c.Data, c.Stride, a.Data, ar, ak, b.Data, b.Stride, m, n, k, add)
		return
	}
	p := scratchPool.Get().(*[]float32)
	defer scratchPool.Put(p)
	if m < transBDotRows {
		dotsBT(c, a.Data, ar, ak, b, m, n, k, add, p)
		return
	}
	if cap(*p) < k*n {
		*p = make([]float32, k*n)
	}
	bt := (*p)[:k*n]
	transposeTo(bt, b.Data, b.Stride, n, k)
	gemmBlocked(c.Data, c.Stride, a.Data, ar, ak, bt, n, m, n, k, add)
}

// gemmBlocked runs the micro-kernels over c (m × n) in k blocks and column
// panels, 4 rows at a time and the last m mod 4 rows one at a time.
func gemmBlocked(c []float32, ldc int, a []float32, ar, ak int, b []float32, ldb int, m, n, k int, add bool) {
	for k0 := 0; k0 < k; k0 += kBlock {
		kc := min(kBlock, k-k0)
		nc := max(64, panelFloats/kc&^63)
		addK := add || k0 > 0
		for j0 := 0; j0 < n; j0 += nc {
			w := min(nc, n-j0)
			bb := b[k0*ldb+j0:]
			r := 0
			for ; r+4 <= m; r += 4 {
				gemm(4, a[r*ar+k0*ak:], ar, ak, bb, ldb, c[r*ldc+j0:], ldc, kc, w, addK)
			}
			for ; r < m; r++ {
				gemm(1, a[r*ar+k0*ak:], ar, ak, bb, ldb, c[r*ldc+j0:], ldc, kc, w, addK)
			}
		}
	}
}

// dotsBT computes c (+)= op(a)·bᵀ with one Dot per element: row r of op(a)
// (gathered into scratch when it is not contiguous) with row j of b.
func dotsBT(c Mat, a []float32, ar, ak int, b Mat, m, n, k int, add bool, scratch *[]float32) {
	for r := range m {
		var ar0 []float32
		if ak == 1 {
			ar0 = a[r*ar : r*ar+k]
		} else {
			if cap(*scratch) < k {
				*scratch = make([]float32, k)
			}
			ar0 = (*scratch)[:k]
			for i := range ar0 {
				ar0[i] = a[r*ar+i*ak]
			}
		}
		cr := c.Data[r*c.Stride : r*c.Stride+n]
		for j := range cr {
			s := dot(ar0, b.Data[j*b.Stride:j*b.Stride+k])
			if add {
				cr[j] += s
			} else {
				cr[j] = s
			}
		}
	}
}

// TransposeTo sets dst = srcᵀ: dst must be src.Cols × src.Rows and must
// not overlap src. A product that reads the same transposed operand many
// times (one b for several MatMulTo calls) transposes it once with this
// and passes NoTrans.
func TransposeTo(dst, src Mat) {
	src.check("src")
	dst.check("dst")
	if dst.Rows != src.Cols || dst.Cols != src.Rows {
		panic(fmt.Sprintf("kernel: TransposeTo: dst %d×%d, src %d×%d", dst.Rows, dst.Cols, src.Rows, src.Cols))
	}
	if dst.Stride == src.Rows {
		transposeTo(dst.Data, src.Data, src.Stride, src.Rows, src.Cols)
		return
	}
	for i := range src.Rows {
		for j, v := range src.Data[i*src.Stride : i*src.Stride+src.Cols] {
			dst.Data[j*dst.Stride+i] = v
		}
	}
}

// transposeTo writes the transpose of src (rows × cols, row stride ld)
// into dst (cols × rows, row stride rows), in 32 × 32 tiles.
func transposeTo(dst, src []float32, ld, rows, cols int) {
	const blk = 32
	for r0 := 0; r0 < rows; r0 += blk {
		r1 := min(r0+blk, rows)
		for c0 := 0; c0 < cols; c0 += blk {
			c1 := min(c0+blk, cols)
			for r := r0; r < r1; r++ {
				row := src[r*ld+c0 : r*ld+c1]
				for i, v := range row {
					dst[(c0+i)*rows+r] = v
				}
			}
		}
	}
}
