//go:build !(goexperiment.simd && amd64)

package ranking

// simdEnabled reports whether ScoreTo uses the SIMD kernels; the default
// build has none.
const simdEnabled = false

func attend(ws *Workspace, kv []float32, imask uint64, mw, tw []float32) float32 {
	return attendGeneric(ws, kv, imask, mw, tw)
}

func axpy(dst []float32, a float32, x []float32) { axpyGeneric(dst, a, x) }

func dot(x, y []float32) float32 { return dotGeneric(x, y) }

func expSlice(dst, x []float32) { expSliceGeneric(dst, x) }

// clearUpper is a no-op without the SIMD kernels.
func clearUpper() {}
