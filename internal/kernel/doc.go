// Package kernel holds the project's numeric kernels on float32 vectors
// and matrices: the dot product, the scaled adds (Axpy, the element-wise
// AddMul, and Axpy64 and AddOuter64 into float64 accumulators), the exponential, the matrix
// products (MatMulTo and its vector forms) and the cross-modal attention
// kernel with its softmax (Attention). ranking's serving pass, training's
// passes and recommend/retrieval's distances all call these; none keeps a
// copy. The package knows no project type.
//
// # Levels
//
// Each kernel exists at up to three levels (Level): amd64 assembly for
// AVX-512 (16 float32 lanes, masked tails) and for AVX2 with FMA (8
// lanes), and a pure-Go twin. The highest level the CPU supports is chosen
// once when the program starts (golang.org/x/sys/cpu) and used by every
// call; Active reports it. The twins are the only code on other
// architectures and under the purego build tag; the noavx512 tag caps the
// level at AVX2 (to measure that path on an AVX-512 machine). A plain
// `go build` gives the fastest level: there is no GOEXPERIMENT or GODEBUG
// setting to make.
//
// The assembly is generated with avo (github.com/mmcloughlin/avo) by the
// program in asm/, its own module so the main module's build never needs
// avo: `go generate ./internal/kernel` rewrites kernel_amd64.s and its
// declarations stubs_amd64.go, which are committed. Every function ends
// with VZEROUPPER and uses no legacy SSE instruction, so the Go code
// around it never pays for dirty upper register halves; assembly functions
// are not preempted asynchronously, and the matrix product returns to Go
// after every block of 4 rows of a column panel (at most 4 × 49,152
// multiply-adds), so a long product stays preemptible between blocks.
//
// The tests (kernel_test.go) run every kernel on every level the CPU has
// and compare it with its twin and a float64 reference on lengths 0, 1, 7,
// 8, 9, 15, 16, 17 and 4096 and on matrix and attention shapes around the
// vector widths.
//
// # Numbers
//
// All arithmetic is float32 except Axpy64 and AddOuter64, which add into
// float64. Results differ between levels only by rounding: the assembly
// uses fused multiply-adds and sums in another order, so sums agree to a
// few units in the last place of Σ|x_i·y_i|. Within one level a kernel is
// deterministic.
//
// The exponential (ExpTo, and inside the softmax) is e^x = 2^n·e^r with
// n = round(x·log₂e), r = x − n·ln 2 (ln 2 in a high and a low part) and
// e^r by a degree-6 polynomial; relative error below 3e-7 on [-87, 88],
// arguments clamped to that range.
//
// # Matrix products
//
// MatMulTo(c, a, ta, b, tb) sets c = op(a)·op(b) for row-major views (Mat)
// with either operand transposed; MatMulAddTo adds. VecMatTo (x·W) and
// MatVecTo (W·x) are the one-row forms. The product runs tiles of 4 rows ×
// 32 columns of c on AVX-512 (16 on AVX2) whose accumulators stay in
// registers: per element of k it loads the tile's row of b once and
// broadcasts each of the 4 values of a. MatMulTo documents how a
// convolution by im2col maps onto it.
//
// # Attention
//
// Attention.Score computes, for one candidate,
//
//	S_ij = Q_i·K_j + β_i,  T_ij = R_i·V_j,  A = softmax(S) over valid pairs,
//	score = Σ_ij A_ij T_ij
//
// with the query's tokens in groups of 16 stored token-minor, so that one
// vector holds element e of the group's 16 tokens. For each element of the
// key and value rows it does one fused multiply-add per modality with the
// key (or value) element broadcast from memory, up to four modalities at a
// time (8 accumulators of S and T), and needs no horizontal sums: S_j and
// T_j come out as vectors over the tokens, the layout the vectorised
// softmax works on. At Lq = 16, M = 4, d_a = 128 that is 1,024 16-lane
// multiply-adds per candidate.
package kernel
