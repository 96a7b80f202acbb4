package ranking

import "math"

// This file holds the pure-Go kernels. They are the default build's only
// kernels and the twins the SIMD kernels are tested against.

// axpyGeneric sets dst[k] += a*x[k] for k < len(x). dst must be at least as
// long as x.
func axpyGeneric(dst []float32, a float32, x []float32) {
	dst = dst[:len(x)]
	for k, v := range x {
		dst[k] += a * v
	}
}

// dotGeneric returns Σ x[k]·y[k] over len(x); y must be at least as long.
func dotGeneric(x, y []float32) float32 {
	y = y[:len(x)]
	var s float32
	for k, v := range x {
		s += v * y[k]
	}
	return s
}

// Constants of exp32, the float32 exponential used by the serving softmax:
// exp(x) = 2^n · exp(r) with n = round(x·log2 e) and r = x − n·ln 2 split in
// two parts for accuracy, exp(r) by a degree-6 polynomial on |r| ≤ ln2/2.
// The relative error is below 2e-7 on [-87, 0].
const (
	expLog2e = 1.44269504088896341
	expLn2Hi = 0.693359375
	expLn2Lo = -2.12194440e-4
	expMin   = -87.0
	expC6    = 1.9875691500e-4
	expC5    = 1.3981999507e-3
	expC4    = 8.3334519073e-3
	expC3    = 4.1665795894e-2
	expC2    = 1.6666665459e-1
	expC1    = 5.0000001201e-1
)

// exp32 returns e^x for x ≤ 0 (the softmax only exponentiates S − max S);
// arguments below -87 are clamped there, giving about 1.6e-38.
func exp32(x float32) float32 {
	if x < expMin {
		x = expMin
	}
	n := float32(math.RoundToEven(float64(x * expLog2e)))
	r := x - n*expLn2Hi
	r -= n * expLn2Lo
	p := float32(expC6)
	p = p*r + expC5
	p = p*r + expC4
	p = p*r + expC3
	p = p*r + expC2
	p = p*r + expC1
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// attendGeneric is the attention part of one candidate's score: the kernel
// of ScoreTo. kv is the candidate's ItemKV row, imask its modality set (not
// zero), and ws holds at least one valid query token. When mw or tw is not
// nil it receives the modality or token attention sums.
func attendGeneric(ws *Workspace, kv []float32, imask uint64, mw, tw []float32) float32 {
	M, dp, G := ws.m, ws.dp, ws.groups
	s, t := ws.s, ws.t
	for g := 0; g < G; g++ {
		bits := ws.laneBits[g]
		for j := 0; j < M; j++ {
			if imask&(1<<j) == 0 {
				continue
			}
			k, v := kv[j*dp:(j+1)*dp], kv[(M+j)*dp:(M+j+1)*dp]
			sv := s[(g*M+j)*lanes : (g*M+j+1)*lanes]
			tv := t[(g*M+j)*lanes : (g*M+j+1)*lanes]
			for l := range lanes {
				if bits&(1<<l) == 0 {
					sv[l], tv[l] = 0, 0
					continue
				}
				i := g*lanes + l
				sv[l] = dotGeneric(ws.qs[i*dp:(i+1)*dp], k)
				tv[l] = dotGeneric(ws.rs[i*dp:(i+1)*dp], v)
			}
		}
	}
	return softmaxGeneric(ws, imask, mw, tw)
}

// softmaxGeneric finishes a candidate from the raw S (ws.s, without β) and
// T (ws.t) vectors: one softmax over all valid pairs, the weighted sum of T,
// and the optional summaries.
func softmaxGeneric(ws *Workspace, imask uint64, mw, tw []float32) float32 {
	M, G := ws.m, ws.groups
	s, t := ws.s, ws.t
	mx := float32(math.Inf(-1))
	for g := 0; g < G; g++ {
		bits := ws.laneBits[g]
		beta := ws.beta[g*lanes : (g+1)*lanes]
		for j := 0; j < M; j++ {
			if imask&(1<<j) == 0 {
				continue
			}
			sv := s[(g*M+j)*lanes : (g*M+j+1)*lanes]
			for l := range lanes {
				if bits&(1<<l) == 0 {
					continue
				}
				v := sv[l] + beta[l]
				sv[l] = v
				if v > mx {
					mx = v
				}
			}
		}
	}
	var z, num float32
	for g := 0; g < G; g++ {
		bits := ws.laneBits[g]
		for j := 0; j < M; j++ {
			sv := s[(g*M+j)*lanes : (g*M+j+1)*lanes]
			if imask&(1<<j) == 0 {
				clear(sv)
				continue
			}
			tv := t[(g*M+j)*lanes : (g*M+j+1)*lanes]
			for l := range lanes {
				if bits&(1<<l) == 0 {
					sv[l] = 0
					continue
				}
				e := exp32(sv[l] - mx)
				sv[l] = e
				z += e
				num += e * tv[l]
			}
		}
	}
	inv := 1 / z
	if mw != nil {
		for j := 0; j < M; j++ {
			var a float32
			for g := 0; g < G; g++ {
				for _, e := range s[(g*M+j)*lanes : (g*M+j+1)*lanes] {
					a += e
				}
			}
			mw[j] = a * inv
		}
	}
	if tw != nil {
		for i := range tw {
			g, l := i/lanes, i%lanes
			var a float32
			for j := 0; j < M; j++ {
				a += s[(g*M+j)*lanes+l]
			}
			tw[i] = a * inv
		}
	}
	return num * inv
}

// negInf32 is −∞ as a float32 constant expression's source.
var negInf32 = math.Inf(-1)

// expSliceGeneric sets dst[i] = exp32(x[i]).
func expSliceGeneric(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = exp32(v)
	}
}
