//go:build noavx512

package kernel

// maxLevel caps the level the kernels may run at: the noavx512 build tag
// keeps them at AVX2 on AVX-512 machines, to measure or test that path in
// a whole program.
const maxLevel = AVX2
