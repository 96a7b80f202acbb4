package vision

import "math"

// The hand-made features of the features encoder (Config.Kind "features"):
// joint CIELAB histograms over a spatial pyramid, histograms of oriented
// colour gradients in overlapping blocks, and a coarse colour layout. See
// the package documentation for the formulas.
const (
	featL, featA, featB = 4, 8, 8
	featBins            = featL * featA * featB
	hogCell             = 8
	hogBins             = 9
	featGrid            = 8
)

// FeatureDim returns the number of features of a size × size photo:
// 5 joint histograms of 256 bins, (size/8 − 1)² blocks of 4 cells × 9
// orientations, and 8 × 8 cells × 3 colour means.
func FeatureDim(size int) int {
	nb := size/hogCell - 1
	return 5*featBins + nb*nb*4*hogBins + featGrid*featGrid*3
}

// featureWork is the scratch of one features computation.
type featureWork struct {
	cells []float32
}

// featuresTo writes the features of lab (CIELAB planes, square, side a
// multiple of 16) into dst (FeatureDim(lab.W) numbers).
func featuresTo(dst []float32, lab *Planar, w *featureWork) {
	s := lab.W
	n := s * s
	L, A, B := lab.Pix[:n], lab.Pix[n:2*n], lab.Pix[2*n:]
	clear(dst)
	jointHistograms(dst[:5*featBins], L, A, B, s)
	nc := s / hogCell
	nb := nc - 1
	hog := dst[5*featBins : 5*featBins+nb*nb*4*hogBins]
	w.cells = resize(w.cells, nc*nc*hogBins)
	gradientBlocks(hog, w.cells, L, A, B, s)
	layoutMeans(dst[5*featBins+nb*nb*4*hogBins:], L, A, B, s)
}

// jointHistograms writes five soft (trilinear) joint L*a*b* histograms of
// featBins bins (L* ∈ [0, 100] in 4 bins, a* ∈ [−50, 60] and b* ∈ [−40, 70]
// in 8 each): the whole image, then its four quadrants; each normalised to
// sum 1 and square-rooted.
func jointHistograms(h, L, A, B []float32, s int) {
	half := s / 2
	for y := range s {
		for x := range s {
			i := y*s + x
			l0, fl := binPos(L[i], 0, 100, featL)
			a0, fa := binPos(A[i], -50, 60, featA)
			b0, fb := binPos(B[i], -40, 70, featB)
			q := (1 + 2*min(y/half, 1) + min(x/half, 1)) * featBins
			for dl := range 2 {
				wl := 1 - fl
				if dl == 1 {
					wl = fl
				}
				if wl == 0 {
					continue
				}
				for da := range 2 {
					wa := 1 - fa
					if da == 1 {
						wa = fa
					}
					if wa == 0 {
						continue
					}
					for db := range 2 {
						wb := 1 - fb
						if db == 1 {
							wb = fb
						}
						if wb == 0 {
							continue
						}
						k := ((l0+dl)*featA+(a0+da))*featB + (b0 + db)
						v := wl * wa * wb
						h[k] += v
						h[q+k] += v
					}
				}
			}
		}
	}
	for r := range 5 {
		hh := h[r*featBins : (r+1)*featBins]
		var sum float32
		for _, v := range hh {
			sum += v
		}
		if sum == 0 {
			continue
		}
		for k, v := range hh {
			hh[k] = float32(math.Sqrt(float64(v / sum)))
		}
	}
}

// gradientBlocks writes the histograms of oriented gradients: at each pixel
// the central-difference gradient of whichever of L*, a*, b* changes most,
// its magnitude voted into hogBins unsigned orientation bins (linear
// between the two nearest) of the hogCell-pixel cells (bilinear between the
// four nearest cell centres); every 2 × 2 block of cells (overlapping, one
// cell apart) is normalised with L2-Hys (unit length, clipped at 0.2, unit
// length again).
func gradientBlocks(dst, cells, L, A, B []float32, s int) {
	nc := s / hogCell
	clear(cells)
	for y := range s {
		ym, yp := max(y-1, 0), min(y+1, s-1)
		for x := range s {
			xm, xp := max(x-1, 0), min(x+1, s-1)
			var gx, gy, best float32
			for _, pl := range [3][]float32{L, A, B} {
				dx := pl[y*s+xp] - pl[y*s+xm]
				dy := pl[yp*s+x] - pl[ym*s+x]
				if m := dx*dx + dy*dy; m > best {
					best, gx, gy = m, dx, dy
				}
			}
			if best == 0 {
				continue
			}
			m := float32(math.Sqrt(float64(best)))
			th := math.Atan2(float64(gy), float64(gx))
			if th < 0 {
				th += math.Pi
			}
			t := float32(th/math.Pi)*hogBins - 0.5
			if t < 0 {
				t += hogBins
			}
			k0 := int(t)
			f := t - float32(k0)
			k0 %= hogBins
			k1 := (k0 + 1) % hogBins
			cx := (float32(x)+0.5)/hogCell - 0.5
			cy := (float32(y)+0.5)/hogCell - 0.5
			x0, y0 := int(math.Floor(float64(cx))), int(math.Floor(float64(cy)))
			fx, fy := cx-float32(x0), cy-float32(y0)
			for dy := range 2 {
				yy := y0 + dy
				if yy < 0 || yy >= nc {
					continue
				}
				wy := 1 - fy
				if dy == 1 {
					wy = fy
				}
				for dx := range 2 {
					xx := x0 + dx
					if xx < 0 || xx >= nc {
						continue
					}
					wx := 1 - fx
					if dx == 1 {
						wx = fx
					}
					o := (yy*nc + xx) * hogBins
					cells[o+k0] += m * wx * wy * (1 - f)
					cells[o+k1] += m * wx * wy * f
				}
			}
		}
	}
	nb := nc - 1
	for by := range nb {
		for bx := range nb {
			blk := dst[(by*nb+bx)*4*hogBins : (by*nb+bx+1)*4*hogBins]
			j := 0
			for dy := range 2 {
				for dx := range 2 {
					o := ((by+dy)*nc + bx + dx) * hogBins
					copy(blk[j:j+hogBins], cells[o:o+hogBins])
					j += hogBins
				}
			}
			l2Hys(blk)
		}
	}
}

// l2Hys scales v to unit length, clips it at 0.2 and scales it to unit
// length again (a small floor keeps flat blocks near zero).
func l2Hys(v []float32) {
	norm := func() float32 {
		var ss float32
		for _, x := range v {
			ss += x * x
		}
		return float32(math.Sqrt(float64(ss))) + 1e-3
	}
	f := 1 / norm()
	for i := range v {
		v[i] = min(v[i]*f, 0.2)
	}
	f = 1 / norm()
	for i := range v {
		v[i] *= f
	}
}

// layoutMeans writes the mean ((L*−50)/50, a*/50, b*/50) of each cell of
// the featGrid × featGrid grid, row-major, three numbers per cell.
func layoutMeans(dst, L, A, B []float32, s int) {
	cw := s / featGrid
	inv := 1 / float32(cw*cw*50)
	for gy := range featGrid {
		for gx := range featGrid {
			var sl, sa, sb float32
			for y := gy * cw; y < (gy+1)*cw; y++ {
				for x := gx * cw; x < (gx+1)*cw; x++ {
					i := y*s + x
					sl += L[i] - 50
					sa += A[i]
					sb += B[i]
				}
			}
			o := 3 * (gy*featGrid + gx)
			dst[o], dst[o+1], dst[o+2] = sl*inv, sa*inv, sb*inv
		}
	}
}
