package kernel

import "math"

// This file holds the pure-Go twin of every kernel: the only code on other
// architectures and under the purego tag, and the reference the assembly
// is tested against. The twins compute the same formulas; their rounding
// differs from the assembly's (fused multiply-adds, another summation
// order) by a few units in the last place of the sums.

// dotGo returns Σ x[i]·y[i] over len(x) with eight partial sums.
func dotGo(x, y []float32) float32 {
	n := len(x)
	y = y[:n]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		xx := x[i : i+8 : i+8]
		yy := y[i : i+8 : i+8]
		s0 += xx[0] * yy[0]
		s1 += xx[1] * yy[1]
		s2 += xx[2] * yy[2]
		s3 += xx[3] * yy[3]
		s4 += xx[4] * yy[4]
		s5 += xx[5] * yy[5]
		s6 += xx[6] * yy[6]
		s7 += xx[7] * yy[7]
	}
	for ; i < n; i++ {
		s0 += x[i] * y[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// axpyGo sets dst[i] += a·x[i] for i < len(x).
func axpyGo(dst []float32, a float32, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] += a * v
	}
}

// addMulGo sets dst[i] += x[i]·y[i] for i < len(x).
func addMulGo(dst, x, y []float32) {
	dst, y = dst[:len(x)], y[:len(x)]
	for i, v := range x {
		dst[i] += v * y[i]
	}
}

// axpy64Go sets dst[i] += a·float64(x[i]) for i < len(x).
func axpy64Go(dst []float64, a float64, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] += a * float64(v)
	}
}

// Constants of exp32: e^x = 2^n · e^r with n = round(x·log2 e) and
// r = x − n·ln 2 (ln 2 split in a high and a low part for accuracy), e^r
// by a degree-6 polynomial on |r| ≤ ln2/2. x is clamped to [expMin,
// expMax] first, so 2^n stays a normal float32. The assembly
// (asm/common.go) uses the same constants.
const (
	expMin   = -87.0
	expMax   = 88.0
	expLog2e = 1.44269504088896341
	expLn2Hi = 0.693359375
	expLn2Lo = -2.12194440e-4
	expC6    = 1.9875691500e-4
	expC5    = 1.3981999507e-3
	expC4    = 8.3334519073e-3
	expC3    = 4.1665795894e-2
	expC2    = 1.6666665459e-1
	expC1    = 5.0000001201e-1
)

// exp32 returns e^x with a relative error below 3e-7 on [expMin, expMax];
// arguments outside are clamped (e^-87 ≈ 1.6e-38, e^88 ≈ 1.7e38).
func exp32(x float32) float32 {
	x = min(max(x, expMin), expMax)
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

// expGo sets dst[i] = exp32(x[i]) for i < len(x).
func expGo(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = exp32(v)
	}
}

// attnDotsGo is the attention products for nj modalities of one lane
// group: s[j·Lanes + l] = Σ_e q[e·Lanes + l]·k[j·ld + e] and t likewise
// from r and v.
func attnDotsGo(nj int, q, r, k, v []float32, ld, da int, s, t []float32) {
	for j := range nj {
		kj, vj := k[j*ld:j*ld+da], v[j*ld:j*ld+da]
		sj, tj := s[j*Lanes:(j+1)*Lanes], t[j*Lanes:(j+1)*Lanes]
		clear(sj)
		clear(tj)
		for e := range da {
			qe, re := q[e*Lanes:(e+1)*Lanes], r[e*Lanes:(e+1)*Lanes]
			ke, ve := kj[e], vj[e]
			for l := range Lanes {
				sj[l] += qe[l] * ke
				tj[l] += re[l] * ve
			}
		}
	}
}

// softmaxGo finishes a candidate from S (without β) and T, both groups × m
// × Lanes: S += β on the modalities present in mods, then the softmax over
// the valid (token, modality) pairs. It leaves the exponentials in s (zero
// on invalid lanes and absent modalities) and returns Σ e·T / Σ e and Σ e.
func softmaxGo(s, t, beta []float32, valid []uint16, m, groups int, mods uint64) (score, z float32) {
	mx := float32(-math.MaxFloat32)
	for g := range groups {
		bits := valid[g]
		b := beta[g*Lanes : (g+1)*Lanes]
		for j := range m {
			if mods&(1<<j) == 0 {
				continue
			}
			sv := s[(g*m+j)*Lanes : (g*m+j+1)*Lanes]
			for l := range Lanes {
				sv[l] += b[l]
				if bits&(1<<l) != 0 {
					mx = max(mx, sv[l])
				}
			}
		}
	}
	var num float32
	for g := range groups {
		bits := valid[g]
		for j := range m {
			sv := s[(g*m+j)*Lanes : (g*m+j+1)*Lanes]
			if mods&(1<<j) == 0 {
				clear(sv)
				continue
			}
			tv := t[(g*m+j)*Lanes : (g*m+j+1)*Lanes]
			for l := range Lanes {
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
	return num * (1 / z), z
}

// gemmGo computes rows rows of C = A·B (add false) or C += A·B (add true)
// for C of rows × n (row stride ldc), A with element (r, i) at
// a[r·ar + i·ak] and B of k × n (row stride ldb).
func gemmGo(rows int, a []float32, ar, ak int, b []float32, ldb int, c []float32, ldc int, k, n int, add bool) {
	for r := range rows {
		cr := c[r*ldc : r*ldc+n]
		if !add {
			clear(cr)
		}
		for i := range k {
			if av := a[r*ar+i*ak]; av != 0 {
				axpyGo(cr, av, b[i*ldb:i*ldb+n])
			}
		}
	}
}
