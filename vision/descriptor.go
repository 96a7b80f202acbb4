package vision

import (
	"fmt"
	"image"
	"math"
	"sync"
)

// The fixed descriptor's layout. See the package documentation for the
// formulas.
const (
	// DescriptorSize is the side of the square the descriptor resamples
	// every image to.
	DescriptorSize = 64
	// layoutGrid is the side of the colour-layout grid (4×4 cells).
	layoutGrid = 4
	// histL, histA, histB are the colour histogram's bins along L*, a*, b*.
	histL, histA, histB = 3, 5, 5
	// histRange is the a*, b* range covered by the histogram bins
	// ([−histRange, histRange]); values beyond go to the outer bins.
	histRange = 60
	// edgeGrid is the side of the edge-orientation grid (4×4 cells).
	edgeGrid = 4
	// edgeBins is the number of unsigned orientation bins over [0, π).
	edgeBins = 8

	layoutDim = layoutGrid * layoutGrid * 3
	histBins  = histL * histA * histB
	histDim   = 5 * histBins // whole image, then the four quadrants
	edgeDim   = (edgeGrid*edgeGrid + 1) * edgeBins

	// DescriptorDim is the length of a descriptor vector.
	DescriptorDim = layoutDim + histDim + edgeDim
	// DescriptorVersion names the descriptor's formula and weights; it
	// changes whenever a stored descriptor would change.
	DescriptorVersion = "descriptor-v1"
)

// DescriptorWeights are the shares of the three parts in the descriptor's
// cosine similarity (see the package documentation). They are normalised
// to sum to 1 when used.
type DescriptorWeights struct {
	Layout, Histogram, Edges float64
}

// DefaultDescriptorWeights are the weights of DescriptorVersion.
var DefaultDescriptorWeights = DescriptorWeights{Layout: 0.2, Histogram: 0.5, Edges: 0.3}

// Descriptor computes the fixed image descriptor: colour layout and
// colour histograms in CIELAB and edge-orientation histograms, with no
// training. It is safe for concurrent use.
type Descriptor struct {
	w    [3]float32 // √(share) of layout, histogram, edges
	pool sync.Pool  // *descWork
}

type descWork struct {
	rs  resampler
	img *Planar
}

// NewDescriptor returns the descriptor with the given part weights (zero
// weights are the defaults; all three must be non-negative and not all
// zero).
func NewDescriptor(w DescriptorWeights) (*Descriptor, error) {
	if w == (DescriptorWeights{}) {
		w = DefaultDescriptorWeights
	}
	sum := w.Layout + w.Histogram + w.Edges
	if w.Layout < 0 || w.Histogram < 0 || w.Edges < 0 || !(sum > 0) || math.IsInf(sum, 0) {
		return nil, fmt.Errorf("vision: descriptor weights %+v: want non-negative finite weights, not all zero", w)
	}
	d := &Descriptor{w: [3]float32{
		float32(math.Sqrt(w.Layout / sum)), float32(math.Sqrt(w.Histogram / sum)), float32(math.Sqrt(w.Edges / sum)),
	}}
	d.pool.New = func() any { return &descWork{img: NewPlanar(DescriptorSize, DescriptorSize)} }
	return d, nil
}

// Dim returns DescriptorDim.
func (d *Descriptor) Dim() int { return DescriptorDim }

// Version returns DescriptorVersion.
func (d *Descriptor) Version() string { return DescriptorVersion }

// EncodeTo writes img's descriptor (unit L2 norm) into dst, which must have
// DescriptorDim elements. It does not allocate in steady state.
func (d *Descriptor) EncodeTo(dst []float32, img image.Image) {
	if len(dst) != DescriptorDim {
		panic(fmt.Sprintf("vision: Descriptor.EncodeTo: len(dst) = %d, want %d", len(dst), DescriptorDim))
	}
	ws := d.pool.Get().(*descWork)
	ws.rs.resize(ws.img, img)
	ToLab(ws.img)
	d.fromLab(dst, ws)
	d.pool.Put(ws)
}

// DescribeLabTo writes the descriptor of a CIELAB image already at
// DescriptorSize × DescriptorSize (as ToLab leaves it) into dst.
func (d *Descriptor) DescribeLabTo(dst []float32, lab *Planar) {
	if lab.W != DescriptorSize || lab.H != DescriptorSize {
		panic(fmt.Sprintf("vision: DescribeLabTo: %d×%d image, want %d×%d", lab.W, lab.H, DescriptorSize, DescriptorSize))
	}
	if len(dst) != DescriptorDim {
		panic(fmt.Sprintf("vision: DescribeLabTo: len(dst) = %d, want %d", len(dst), DescriptorDim))
	}
	ws := d.pool.Get().(*descWork)
	copy(ws.img.Pix, lab.Pix)
	d.fromLab(dst, ws)
	d.pool.Put(ws)
}

func (d *Descriptor) fromLab(dst []float32, ws *descWork) {
	clear(dst)
	p := ws.img
	layout := dst[:layoutDim]
	hist := dst[layoutDim : layoutDim+histDim]
	edges := dst[layoutDim+histDim:]
	colourLayout(layout, p)
	colourHistograms(hist, p)
	edgeHistograms(edges, p)
	scaleUnit(layout, d.w[0])
	scaleUnit(hist, d.w[1])
	scaleUnit(edges, d.w[2])
}

// colourLayout writes the mean of ((L*−50)/50, a*/50, b*/50) over each cell
// of the layoutGrid × layoutGrid grid, cell by cell (row-major), three
// numbers per cell.
func colourLayout(dst []float32, p *Planar) {
	n := p.W * p.H
	cw, ch := p.W/layoutGrid, p.H/layoutGrid
	inv := 1 / float32(cw*ch*50)
	for gy := range layoutGrid {
		for gx := range layoutGrid {
			var s [3]float32
			for y := gy * ch; y < (gy+1)*ch; y++ {
				for x := gx * cw; x < (gx+1)*cw; x++ {
					i := y*p.W + x
					s[0] += p.Pix[i] - 50
					s[1] += p.Pix[n+i]
					s[2] += p.Pix[2*n+i]
				}
			}
			o := 3 * (gy*layoutGrid + gx)
			dst[o], dst[o+1], dst[o+2] = s[0]*inv, s[1]*inv, s[2]*inv
		}
	}
}

// binPos maps v in [lo, hi] onto histogram coordinates for n bins whose
// centres are evenly spaced (bin k's centre at lo + (k+½)·(hi−lo)/n): it
// returns the lower bin and the weight of the upper one, for linear soft
// assignment; values beyond the outer centres go wholly to the outer bin.
func binPos(v, lo, hi float32, n int) (int, float32) {
	t := (v-lo)/(hi-lo)*float32(n) - 0.5
	if t <= 0 {
		return 0, 0
	}
	if t >= float32(n-1) {
		return n - 1, 0
	}
	k := int(t)
	return k, t - float32(k)
}

// colourHistograms writes five soft (trilinear) L*a*b* histograms of
// histBins bins: the whole image, then its four quadrants (top left, top
// right, bottom left, bottom right). Each is normalised to sum 1 and
// square-rooted (the Hellinger map, so a dot product compares
// distributions).
func colourHistograms(dst []float32, p *Planar) {
	n := p.W * p.H
	hw, hh := p.W/2, p.H/2
	for y := range p.H {
		for x := range p.W {
			i := y*p.W + x
			l0, fl := binPos(p.Pix[i], 0, 100, histL)
			a0, fa := binPos(p.Pix[n+i], -histRange, histRange, histA)
			b0, fb := binPos(p.Pix[2*n+i], -histRange, histRange, histB)
			q := 1 + 2*min(y/hh, 1) + min(x/hw, 1)
			whole, quad := dst[:histBins], dst[q*histBins:(q+1)*histBins]
			for dl := range 2 {
				wl := 1 - fl
				if dl == 1 {
					if fl == 0 {
						continue
					}
					wl = fl
				}
				for da := range 2 {
					wa := 1 - fa
					if da == 1 {
						if fa == 0 {
							continue
						}
						wa = fa
					}
					for db := range 2 {
						wb := 1 - fb
						if db == 1 {
							if fb == 0 {
								continue
							}
							wb = fb
						}
						k := ((l0+dl)*histA+(a0+da))*histB + (b0 + db)
						w := wl * wa * wb
						whole[k] += w
						quad[k] += w
					}
				}
			}
		}
	}
	for r := range 5 {
		h := dst[r*histBins : (r+1)*histBins]
		var s float32
		for _, v := range h {
			s += v
		}
		for k, v := range h {
			h[k] = float32(math.Sqrt(float64(v / s)))
		}
	}
}

// edgeHistograms writes the edge-orientation histograms of the L* plane:
// for each cell of the edgeGrid × edgeGrid grid, then for the whole image,
// edgeBins bins of unsigned gradient orientation weighted by gradient
// magnitude (central differences, orientation split linearly between the
// two nearest bins). The whole group is divided by the image's total
// magnitude (plus a small floor, so flat images stay near zero) and
// square-rooted.
func edgeHistograms(dst []float32, p *Planar) {
	w, h := p.W, p.H
	l := p.Pix[:w*h]
	cw, ch := w/edgeGrid, h/edgeGrid
	whole := dst[edgeGrid*edgeGrid*edgeBins:]
	var total float32
	for y := range h {
		ym, yp := max(y-1, 0), min(y+1, h-1)
		for x := range w {
			xm, xp := max(x-1, 0), min(x+1, w-1)
			gx := l[y*w+xp] - l[y*w+xm]
			gy := l[yp*w+x] - l[ym*w+x]
			m := float32(math.Sqrt(float64(gx*gx + gy*gy)))
			if m == 0 {
				continue
			}
			total += m
			th := math.Atan2(float64(gy), float64(gx))
			if th < 0 {
				th += math.Pi
			}
			t := float32(th/math.Pi)*edgeBins - 0.5
			if t < 0 {
				t += edgeBins
			}
			k0 := int(t)
			f := t - float32(k0)
			k0 %= edgeBins
			k1 := (k0 + 1) % edgeBins
			c := (min(y/ch, edgeGrid-1)*edgeGrid + min(x/cw, edgeGrid-1)) * edgeBins
			dst[c+k0] += m * (1 - f)
			dst[c+k1] += m * f
			whole[k0] += m * (1 - f)
			whole[k1] += m * f
		}
	}
	// The floor: one L* unit of gradient per pixel on average.
	inv := 1 / (2*total + float32(w*h))
	for k, v := range dst {
		dst[k] = float32(math.Sqrt(float64(v * inv)))
	}
}

// scaleUnit scales v to L2 norm s (a zero vector stays zero).
func scaleUnit(v []float32, s float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	f := s / float32(math.Sqrt(ss))
	for i := range v {
		v[i] *= f
	}
}
