package vision

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Planar is an image as three float32 planes, channel-major: plane c (0, 1,
// 2) is Pix[c·W·H : (c+1)·W·H], row-major. What the planes hold depends on
// the producer: Resize fills sRGB values in [0, 1] (R, G, B), ToLab turns
// them into CIELAB (L*, a*, b*).
type Planar struct {
	W, H int
	Pix  []float32
}

// NewPlanar returns a zeroed w×h three-plane image.
func NewPlanar(w, h int) *Planar {
	if w <= 0 || h <= 0 {
		panic(fmt.Sprintf("vision: NewPlanar(%d, %d): want positive sizes", w, h))
	}
	return &Planar{W: w, H: h, Pix: make([]float32, 3*w*h)}
}

// Plane returns plane c (0, 1 or 2), aliasing p.Pix.
func (p *Planar) Plane(c int) []float32 {
	n := p.W * p.H
	return p.Pix[c*n : (c+1)*n : (c+1)*n]
}

// resampler holds the scratch memory of Resize, so repeated calls do not
// allocate.
type resampler struct {
	row  []float32 // one source row, RGB interleaved
	hbuf []float32 // the source rows resampled horizontally: srcH × dstW × 3
	xs   []span    // horizontal spans, one per output column
	ys   []span    // vertical spans, one per output row
	wts  []float32 // the spans' weights
}

// span is the run of source pixels [lo, lo+len(w)) averaged into one output
// pixel with weights w (which sum to 1), stored at resampler.wts[off:].
type span struct{ lo, n, off int }

// spans computes the box-filter spans that map src samples onto dst
// samples: output k covers the source interval [k·s, (k+1)·s) with
// s = src/dst, each source pixel weighted by its overlap. When dst > src
// (upscaling) an output covers part of one or two source pixels, so the
// filter replicates (and at the seams blends) pixels.
func (r *resampler) spans(dst []span, src, n int) []span {
	dst = dst[:0]
	s := float64(src) / float64(n)
	for k := range n {
		a, b := float64(k)*s, float64(k+1)*s
		lo := int(math.Floor(a))
		hi := min(int(math.Ceil(b)), src)
		off := len(r.wts)
		var sum float64
		for i := lo; i < hi; i++ {
			w := math.Min(b, float64(i+1)) - math.Max(a, float64(i))
			r.wts = append(r.wts, float32(w))
			sum += w
		}
		for i := off; i < len(r.wts); i++ {
			r.wts[i] = float32(float64(r.wts[i]) / sum)
		}
		dst = append(dst, span{lo: lo, n: hi - lo, off: off})
	}
	return dst
}

// Resize writes img, scaled to dst.W × dst.H, into dst as sRGB values in
// [0, 1]: plane 0 red, 1 green, 2 blue. The whole image is scaled to fill
// the frame (no crop; the aspect ratio changes when the shapes differ),
// with a box filter: each output pixel is the area-weighted mean of the
// source pixels it covers. Transparent pixels are composited over white
// (product photos on a transparent background are shown on white). The
// common decoded forms (*image.YCbCr from JPEG, *image.RGBA, *image.NRGBA,
// *image.Gray) are read directly; others through img.At. It panics on an
// empty image.
func Resize(dst *Planar, img image.Image) {
	var r resampler
	r.resize(dst, img)
}

func (r *resampler) resize(dst *Planar, img image.Image) {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	if sw <= 0 || sh <= 0 {
		panic("vision: Resize of an empty image")
	}
	dw, dh := dst.W, dst.H
	r.wts = r.wts[:0]
	r.xs = r.spans(r.xs, sw, dw)
	r.ys = r.spans(r.ys, sh, dh)
	r.row = resize(r.row, 3*sw)
	r.hbuf = resize(r.hbuf, 3*dw*sh)
	for y := range sh {
		readRow(r.row, img, b.Min.X, b.Min.Y+y)
		h := r.hbuf[3*dw*y : 3*dw*(y+1)]
		for k, sp := range r.xs {
			var cr, cg, cb float32
			w := r.wts[sp.off : sp.off+sp.n]
			src := r.row[3*sp.lo : 3*(sp.lo+sp.n)]
			for i, wi := range w {
				cr += wi * src[3*i]
				cg += wi * src[3*i+1]
				cb += wi * src[3*i+2]
			}
			h[3*k], h[3*k+1], h[3*k+2] = cr, cg, cb
		}
	}
	n := dw * dh
	pr, pg, pb := dst.Pix[:n], dst.Pix[n:2*n], dst.Pix[2*n:3*n]
	for oy, sp := range r.ys {
		w := r.wts[sp.off : sp.off+sp.n]
		for ox := range dw {
			var cr, cg, cb float32
			for i, wi := range w {
				h := r.hbuf[3*(dw*(sp.lo+i)+ox):]
				cr += wi * h[0]
				cg += wi * h[1]
				cb += wi * h[2]
			}
			o := oy*dw + ox
			pr[o], pg[o], pb[o] = cr, cg, cb
		}
	}
}

// resize returns s with length n, reusing its memory when it can; the contents are
// not cleared.
func resize(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// inv255 scales 8-bit samples to [0, 1].
const inv255 = 1.0 / 255

// readRow writes row y of img (x from x0 on, the image's width) into row
// as interleaved sRGB in [0, 1], composited over white.
func readRow(row []float32, img image.Image, x0, y int) {
	w := len(row) / 3
	switch m := img.(type) {
	case *Planar:
		n := m.W * m.H
		o := y*m.W + x0
		for x := range w {
			row[3*x], row[3*x+1], row[3*x+2] = m.Pix[o+x], m.Pix[n+o+x], m.Pix[2*n+o+x]
		}
	case *image.YCbCr:
		yi := m.YOffset(x0, y) - x0
		for x := range w {
			ci := m.COffset(x0+x, y)
			cr, cg, cb := color.YCbCrToRGB(m.Y[yi+x0+x], m.Cb[ci], m.Cr[ci])
			row[3*x], row[3*x+1], row[3*x+2] = float32(cr)*inv255, float32(cg)*inv255, float32(cb)*inv255
		}
	case *image.RGBA:
		p := m.Pix[m.PixOffset(x0, y):]
		for x := range w {
			// Premultiplied: over white, c + (1−α)·1.
			a := 1 - float32(p[4*x+3])*inv255
			row[3*x] = float32(p[4*x])*inv255 + a
			row[3*x+1] = float32(p[4*x+1])*inv255 + a
			row[3*x+2] = float32(p[4*x+2])*inv255 + a
		}
	case *image.NRGBA:
		p := m.Pix[m.PixOffset(x0, y):]
		for x := range w {
			a := float32(p[4*x+3]) * inv255
			row[3*x] = float32(p[4*x])*inv255*a + 1 - a
			row[3*x+1] = float32(p[4*x+1])*inv255*a + 1 - a
			row[3*x+2] = float32(p[4*x+2])*inv255*a + 1 - a
		}
	case *image.Gray:
		p := m.Pix[m.PixOffset(x0, y):]
		for x := range w {
			v := float32(p[x]) * inv255
			row[3*x], row[3*x+1], row[3*x+2] = v, v, v
		}
	default:
		const inv = 1.0 / 0xffff
		for x := range w {
			cr, cg, cb, ca := img.At(x0+x, y).RGBA()
			a := 1 - float32(ca)*inv
			row[3*x] = float32(cr)*inv + a
			row[3*x+1] = float32(cg)*inv + a
			row[3*x+2] = float32(cb)*inv + a
		}
	}
	for i, v := range row {
		row[i] = min(max(v, 0), 1)
	}
}

// CIE 1931 XYZ of the D65 white point, the reference white of CIELAB here.
const (
	whiteX = 0.95047
	whiteY = 1.0
	whiteZ = 1.08883
)

// linearize undoes the sRGB transfer curve: a value in [0, 1] to linear light.
func linearize(c float32) float64 {
	v := float64(c)
	if v <= 0.04045 {
		return v / 12.92
	}
	return math.Pow((v+0.055)/1.055, 2.4)
}

// labF is the CIELAB companding function f(t).
func labF(t float64) float64 {
	const d = 6.0 / 29
	if t > d*d*d {
		return math.Cbrt(t)
	}
	return t/(3*d*d) + 4.0/29
}

// LabFromRGB converts one sRGB colour (components in [0, 1]) to CIELAB
// (D65): L* in [0, 100], a* and b* roughly in [−128, 127]. See the package
// documentation for the formula.
func LabFromRGB(r, g, b float32) (l, a, bb float32) {
	lr, lg, lb := linearize(r), linearize(g), linearize(b)
	x := 0.4124564*lr + 0.3575761*lg + 0.1804375*lb
	y := 0.2126729*lr + 0.7151522*lg + 0.0721750*lb
	z := 0.0193339*lr + 0.1191920*lg + 0.9503041*lb
	fx, fy, fz := labF(x/whiteX), labF(y/whiteY), labF(z/whiteZ)
	return float32(116*fy - 16), float32(500 * (fx - fy)), float32(200 * (fy - fz))
}

// ToLab converts p in place from sRGB in [0, 1] (as Resize writes it) to
// CIELAB: plane 0 L*, plane 1 a*, plane 2 b*.
func ToLab(p *Planar) {
	n := p.W * p.H
	pr, pg, pb := p.Pix[:n], p.Pix[n:2*n], p.Pix[2*n:3*n]
	for i := range n {
		pr[i], pg[i], pb[i] = LabFromRGB(pr[i], pg[i], pb[i])
	}
}
