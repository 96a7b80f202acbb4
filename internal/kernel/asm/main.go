// Command asm generates internal/kernel's amd64 assembly with avo: every
// kernel in an AVX-512 version (…AVX512) and an AVX2+FMA version (…AVX2).
// It is run by `go generate ./internal/kernel` (see kernel.go there), which
// writes kernel_amd64.s and its Go declarations, stubs_amd64.go.
//
// Conventions the generated code keeps:
//   - every function ends with VZEROUPPER, so the caller's scalar (SSE)
//     code never runs with dirty upper register halves;
//   - no legacy SSE instruction: scalars move with VEX/EVEX VMOVSS;
//   - the AVX2 functions use only AVX, AVX2 and FMA instructions on
//     registers 0–15 (kernel_test.go checks the "Requires:" lines);
//   - the AVX-512 functions use AVX512F and AVX512VL instructions plus BMI2's
//     BZHI for tail masks; tails are masked loads and stores, never reads
//     past a slice's end;
//   - the caller (kernel.go) checks every length and shape; the assembly
//     trusts its arguments.
package main

import (
	. "github.com/mmcloughlin/avo/build"
)

func main() {
	ConstraintExpr("!purego")
	constants()

	dot512()
	dot256()
	axpy512()
	axpy256()
	axpy64x512()
	addMul512()
	addMul256()
	axpy64x256()
	expTo512()
	expTo256()
	for nj := 1; nj <= 4; nj++ {
		attnDots512(nj)
	}
	for nj := 1; nj <= 4; nj++ {
		attnDots256(nj)
	}
	for nj := 1; nj <= 4; nj++ {
		attend512(nj)
	}
	softmax512()
	softmax256()
	gemm(gemmAVX512, 4, []int{32, 16})
	gemm(gemmAVX512, 1, []int{128, 16})
	gemm(gemmAVX2, 4, []int{16, 8})
	gemm(gemmAVX2, 1, []int{64, 8})

	Generate()
}
