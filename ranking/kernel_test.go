package ranking

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The kernel tests compare each kernel ScoreTo dispatches to (AVX-512 under
// GOEXPERIMENT=simd on a capable CPU, else the pure-Go twin) with the
// pure-Go twin, on the lengths STYLE.md asks for. In the default build they
// compare the twin with itself and so only check it runs; the real check
// is `GOEXPERIMENT=simd go test ./ranking/`.

var kernelLengths = []int{0, 1, 7, 8, 9, 15, 16, 17, 4096}

func TestKernelAxpyDot(t *testing.T) {
	t.Logf("SIMD kernels enabled: %v", simdEnabled)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range kernelLengths {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			x, y := randVec(rng, n), randVec(rng, n+3)
			a := float32(rng.NormFloat64())
			want := append([]float32(nil), y...)
			got := append([]float32(nil), y...)
			axpyGeneric(want, a, x)
			axpy(got, a, x)
			for i := range want {
				if !closeTo(float64(got[i]), float64(want[i]), 1e-6, 1e-6) {
					t.Fatalf("axpy[%d] = %v, want %v", i, got[i], want[i])
				}
			}
			for i := n; i < n+3; i++ {
				if got[i] != y[i] {
					t.Fatalf("axpy wrote past len(x) at %d", i)
				}
			}
			dg, dw := dot(x, y), dotGeneric(x, y)
			if !closeTo(float64(dg), float64(dw), 1e-5, 1e-4) {
				t.Fatalf("dot = %v, want %v", dg, dw)
			}
		})
	}
}

func TestKernelExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, n := range kernelLengths {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(-rng.Float64() * 100) // the softmax only needs x ≤ 0
			}
			if n > 2 {
				x[0], x[1] = 0, float32(math.Inf(-1))
			}
			got, want := make([]float32, n+1), make([]float32, n+1)
			expSlice(got, x)
			expSliceGeneric(want, x)
			for i, v := range x {
				exact := math.Exp(float64(v))
				if !closeTo(float64(want[i]), exact, 3e-7, 1e-37) {
					t.Fatalf("exp32(%v) = %v, want %v", v, want[i], exact)
				}
				if !closeTo(float64(got[i]), float64(want[i]), 3e-7, 1e-37) {
					t.Fatalf("exp kernel(%v) = %v, twin %v", v, got[i], want[i])
				}
			}
			if got[n] != 0 {
				t.Fatal("exp kernel wrote past len(x)")
			}
		})
	}
}

// TestKernelAttend compares the dispatched attention kernel with its twin
// on whole scores and explanations, over query lengths and attention
// dimensions around the 16-lane boundary and modality counts around the
// 4-modality chunk.
func TestKernelAttend(t *testing.T) {
	for _, da := range []int{1, 7, 8, 9, 17, 40, 128} {
		for _, lq := range []int{1, 7, 8, 9, 16, 17, 33} {
			for _, M := range []int{1, 2, 3, 4, 5, 7} {
				s := shape{d: 6, da: da, f: 1, lq: lq, n: 6}
				for j := range M {
					s.dims = append(s.dims, 3+j)
				}
				t.Run(fmt.Sprintf("da=%d/lq=%d/M=%d", da, lq, M), func(t *testing.T) {
					m, q, cands := randomProblem(s, uint64(da*1000+lq*10+M))
					ws := new(Workspace)
					kv := m.NewItemKV(len(cands))
					for c, cd := range cands {
						m.ItemKVTo(kv, c, cd.Tokens, cd.Mask)
					}
					m.QueryTo(ws, q)
					stride := kv.stride()
					for c := range cands {
						row := kv.data[c*stride : (c+1)*stride]
						if kv.masks[c] == 0 {
							continue
						}
						mwG, twG := make([]float32, M), make([]float32, lq)
						mwF, twF := make([]float32, M), make([]float32, lq)
						want := attendGeneric(ws, row, kv.masks[c], mwG, twG)
						got := attend(ws, row, kv.masks[c], mwF, twF)
						if !closeTo(float64(got), float64(want), 1e-4, 1e-5) {
							t.Errorf("candidate %d: kernel %v, twin %v", c, got, want)
						}
						for j := range M {
							if !closeTo(float64(mwF[j]), float64(mwG[j]), 1e-5, 1e-6) {
								t.Errorf("candidate %d modality %d: kernel %v, twin %v", c, j, mwF[j], mwG[j])
							}
						}
						for i := range lq {
							if !closeTo(float64(twF[i]), float64(twG[i]), 1e-5, 1e-6) {
								t.Errorf("candidate %d token %d: kernel %v, twin %v", c, i, twF[i], twG[i])
							}
						}
					}
				})
			}
		}
	}
}
