//go:build !goexperiment.simd || !amd64

package retrieval

func dotKernel(a, b []float32) float32 { return dotGeneric(a, b) }
