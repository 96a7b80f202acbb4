package vision

import "math"

// Activations are stored channel-major over a batch: a tensor of C
// channels, N images and H×W pixels is x[((c·N + n)·H + y)·W + x], so a
// 3×3 convolution over the whole batch is one matrix product of the
// weights [cout, cin·9] with the im2col matrix [cin·9, N·Ho·Wo].

// im2col writes the 3×3, padding-1 patches of x ([c, n, h, w], stride s)
// into cols: row (ci·3 + ky)·3 + kx, column (n·ho + oy)·wo + ox holds
// x[ci, n, oy·s + ky − 1, ox·s + kx − 1], or 0 outside the image.
func im2col(cols, x []float32, c, n, h, w, s int) {
	ho, wo := h/s, w/s
	plane := ho * wo
	for ci := range c {
		for ky := range 3 {
			for kx := range 3 {
				row := cols[((ci*3+ky)*3+kx)*n*plane:]
				for b := range n {
					src := x[(ci*n+b)*h*w:]
					for oy := range ho {
						dst := row[(b*ho+oy)*wo : (b*ho+oy+1)*wo]
						iy := oy*s + ky - 1
						if iy < 0 || iy >= h {
							clear(dst)
							continue
						}
						srow := src[iy*w : (iy+1)*w]
						if s == 1 {
							// ix = ox + kx − 1: a shifted copy.
							switch kx {
							case 0:
								dst[0] = 0
								copy(dst[1:], srow[:w-1])
							case 1:
								copy(dst, srow)
							case 2:
								copy(dst, srow[1:])
								dst[wo-1] = 0
							}
							continue
						}
						for ox := range wo {
							ix := ox*s + kx - 1
							if ix < 0 || ix >= w {
								dst[ox] = 0
							} else {
								dst[ox] = srow[ix]
							}
						}
					}
				}
			}
		}
	}
}

// col2im adds the patch gradients dcols (laid out as im2col writes them)
// back onto dx ([c, n, h, w], stride s), which the caller has zeroed.
func col2im(dx, dcols []float32, c, n, h, w, s int) {
	ho, wo := h/s, w/s
	plane := ho * wo
	for ci := range c {
		for ky := range 3 {
			for kx := range 3 {
				row := dcols[((ci*3+ky)*3+kx)*n*plane:]
				for b := range n {
					dst := dx[(ci*n+b)*h*w:]
					for oy := range ho {
						iy := oy*s + ky - 1
						if iy < 0 || iy >= h {
							continue
						}
						src := row[(b*ho+oy)*wo : (b*ho+oy+1)*wo]
						drow := dst[iy*w : (iy+1)*w]
						if s == 1 {
							switch kx {
							case 0:
								addTo(drow[:w-1], src[1:])
							case 1:
								addTo(drow, src)
							case 2:
								addTo(drow[1:], src[:wo-1])
							}
							continue
						}
						for ox := range wo {
							if ix := ox*s + kx - 1; ix >= 0 && ix < w {
								drow[ix] += src[ox]
							}
						}
					}
				}
			}
		}
	}
}

// addTo sets dst[i] += x[i].
func addTo(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] += v
	}
}

// bnEps is the ε of batch normalisation, (z − μ)/√(σ² + ε).
const bnEps = 1e-5

// bnReLUTrain normalises each channel of z ([c, m]) by its batch mean and
// variance, then applies scale, shift and ReLU into y. It overwrites z with
// the normalised values x̂ (kept for the backward pass), writes each
// channel's 1/√(σ²+ε) into invStd and its mean and (biased) variance into
// mean and vari.
func bnReLUTrain(y, z []float32, c, m int, gamma, beta, invStd, mean, vari []float32) {
	for ch := range c {
		zc := z[ch*m : (ch+1)*m]
		var s float64
		for _, v := range zc {
			s += float64(v)
		}
		mu := s / float64(m)
		var ss float64
		for _, v := range zc {
			d := float64(v) - mu
			ss += d * d
		}
		v := ss / float64(m)
		is := float32(1 / math.Sqrt(v+bnEps))
		mean[ch], vari[ch], invStd[ch] = float32(mu), float32(v), is
		g, b, muf := gamma[ch], beta[ch], float32(mu)
		yc := y[ch*m : (ch+1)*m]
		for i, v := range zc {
			xh := (v - muf) * is
			zc[i] = xh
			yc[i] = max(g*xh+b, 0)
		}
	}
}

// bnReLUBackward turns dy (the gradient at the ReLU's output y) into the
// gradient at the convolution's output, written into dz (which may alias
// dy), adding the scale and shift gradients to dgamma and dbeta. xhat holds
// the normalised values from bnReLUTrain.
func bnReLUBackward(dz, dy, y, xhat []float32, c, m int, gamma, invStd, dgamma, dbeta []float32) {
	for ch := range c {
		lo, hi := ch*m, (ch+1)*m
		dyc, yc, xc := dy[lo:hi], y[lo:hi], xhat[lo:hi]
		var sg, sb float64
		for i, g := range dyc {
			if yc[i] <= 0 {
				continue
			}
			sb += float64(g)
			sg += float64(g) * float64(xc[i])
		}
		dgamma[ch] += float32(sg)
		dbeta[ch] += float32(sb)
		k := gamma[ch] * invStd[ch] / float32(m)
		fm, mb, mg := float32(m), float32(sb), float32(sg)
		dzc := dz[lo:hi]
		for i, g := range dyc {
			if yc[i] <= 0 {
				g = 0
			}
			dzc[i] = k * (fm*g - mb - xc[i]*mg)
		}
	}
}

// maxPool2 halves the sides of x ([c·n planes of h×w]) into y, taking the
// maximum of each 2×2 block, and records in idx the offset (within x) of
// the maximum each output came from (the first one on ties).
func maxPool2(y []float32, idx []int32, x []float32, planes, h, w int) {
	ho, wo := h/2, w/2
	for p := range planes {
		src := x[p*h*w:]
		base := int32(p * h * w)
		for oy := range ho {
			r0 := src[2*oy*w : (2*oy+1)*w]
			r1 := src[(2*oy+1)*w : (2*oy+2)*w]
			o := (p*ho + oy) * wo
			for ox := range wo {
				i0 := 2 * ox
				best, at := r0[i0], int32(2*oy*w+i0)
				if v := r0[i0+1]; v > best {
					best, at = v, int32(2*oy*w+i0+1)
				}
				if v := r1[i0]; v > best {
					best, at = v, int32((2*oy+1)*w+i0)
				}
				if v := r1[i0+1]; v > best {
					best, at = v, int32((2*oy+1)*w+i0+1)
				}
				y[o+ox] = best
				idx[o+ox] = base + at
			}
		}
	}
}

// maxPool2Backward routes dy back to the maxima into dx, which it zeroes
// first.
func maxPool2Backward(dx, dy []float32, idx []int32) {
	clear(dx)
	for i, g := range dy {
		dx[idx[i]] += g
	}
}

// meanPool writes the mean of each plane of x (planes of m values) into y.
func meanPool(y, x []float32, planes, m int) {
	inv := 1 / float64(m)
	for p := range planes {
		var s float64
		for _, v := range x[p*m : (p+1)*m] {
			s += float64(v)
		}
		y[p] = float32(s * inv)
	}
}

// reluBias adds bias[ch] to each channel of z ([c, m]) and applies ReLU in
// place: the inference form of a convolution with its batch normalisation
// folded in.
func reluBias(z []float32, c, m int, bias []float32) {
	for ch := range c {
		b := bias[ch]
		zc := z[ch*m : (ch+1)*m]
		for i, v := range zc {
			zc[i] = max(v+b, 0)
		}
	}
}
