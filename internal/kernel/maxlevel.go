//go:build !noavx512

package kernel

// maxLevel caps the level the kernels may run at: AVX512 unless the build
// has the noavx512 tag.
const maxLevel = AVX512
