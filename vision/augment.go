package vision

import (
	"math"
	"math/rand/v2"
)

// Augment holds the random changes training applies to each photo it
// shows the network, so that the encoder learns what a product looks like
// rather than one picture of it. Each sampled view is an affine crop of the
// source (scale, aspect, rotation, position, mirror) resampled bilinearly,
// then a colour jitter in sRGB. A zero field takes its default; see
// DefaultAugment. NoAugment disables all of it (every view is the whole
// photo).
type Augment struct {
	// MinScale is the smallest crop side as a share of the photo's side;
	// the side is drawn uniformly from [MinScale, 1]. Default 0.6.
	MinScale float64 `json:"min_scale"`
	// MaxAspect bounds the crop's aspect ratio to [1/MaxAspect, MaxAspect]
	// (log-uniform). Default 1.25.
	MaxAspect float64 `json:"max_aspect"`
	// Rotate is the largest rotation in degrees (uniform in ±Rotate).
	// Default 15.
	Rotate float64 `json:"rotate"`
	// NoFlip turns off mirroring (by default half the views are mirrored
	// left to right).
	NoFlip bool `json:"no_flip"`
	// Brightness, Contrast and Saturation are the jitter amplitudes: each
	// factor is drawn uniformly from [1−x, 1+x]. Defaults 0.25, 0.25, 0.2.
	Brightness float64 `json:"brightness"`
	Contrast   float64 `json:"contrast"`
	Saturation float64 `json:"saturation"`
	// NoAugment shows every photo whole and unchanged.
	NoAugment bool `json:"no_augment"`
}

// DefaultAugment is the augmentation `fusionrank train-images` uses.
var DefaultAugment = Augment{MinScale: 0.6, MaxAspect: 1.25, Rotate: 15, Brightness: 0.25, Contrast: 0.25, Saturation: 0.2}

func (a Augment) withDefaults() Augment {
	if a.NoAugment {
		return Augment{NoAugment: true, MinScale: 1, MaxAspect: 1, NoFlip: true}
	}
	d := DefaultAugment
	if a.MinScale == 0 {
		a.MinScale = d.MinScale
	}
	if a.MaxAspect == 0 {
		a.MaxAspect = d.MaxAspect
	}
	if a.Rotate == 0 {
		a.Rotate = d.Rotate
	}
	if a.Brightness == 0 {
		a.Brightness = d.Brightness
	}
	if a.Contrast == 0 {
		a.Contrast = d.Contrast
	}
	if a.Saturation == 0 {
		a.Saturation = d.Saturation
	}
	return a
}

// view is one drawn augmentation: the affine map from output pixel
// centres (relative to the output's centre, in units of the output side)
// to source coordinates (relative to the source's centre, in units of the
// source side), and the colour factors.
type view struct {
	// Source = centre + M · output.
	m00, m01, m10, m11 float64
	cx, cy             float64
	bright, contrast   float32
	sat                float32
}

// identityView shows the whole photo unchanged.
var identityView = view{m00: 1, m11: 1, bright: 1, contrast: 1, sat: 1}

// draw samples a view with rng.
func (a Augment) draw(rng *rand.Rand) view {
	if a.NoAugment {
		return identityView
	}
	side := a.MinScale + (1-a.MinScale)*rng.Float64()
	ar := math.Exp((2*rng.Float64() - 1) * math.Log(a.MaxAspect))
	sx, sy := math.Min(side*math.Sqrt(ar), 1), math.Min(side/math.Sqrt(ar), 1)
	th := (2*rng.Float64() - 1) * a.Rotate * math.Pi / 180
	cos, sin := math.Cos(th), math.Sin(th)
	fx := sx
	if !a.NoFlip && rng.IntN(2) == 1 {
		fx = -sx
	}
	v := view{
		m00: cos * fx, m01: -sin * sy,
		m10: sin * fx, m11: cos * sy,
		cx: (1 - sx) * (rng.Float64() - 0.5),
		cy: (1 - sy) * (rng.Float64() - 0.5),
	}
	jit := func(x float64) float32 { return float32(1 + (2*rng.Float64()-1)*x) }
	v.bright, v.contrast, v.sat = jit(a.Brightness), jit(a.Contrast), jit(a.Saturation)
	return v
}

// render writes the view of src (sRGB planes, any size) into dst (sRGB,
// its own size): bilinear sampling with the edges extended, then
// brightness, contrast (about the view's mean luma) and saturation (about
// each pixel's luma), clamped to [0, 1].
func (v view) render(dst, src *Planar) {
	sw, sh := float64(src.W), float64(src.H)
	dw, dh := dst.W, dst.H
	n, sn := dw*dh, src.W*src.H
	for y := range dh {
		oy := (float64(y)+0.5)/float64(dh) - 0.5
		for x := range dw {
			ox := (float64(x)+0.5)/float64(dw) - 0.5
			// Source position in pixels (centre of pixel i at i+0.5).
			px := (v.cx+v.m00*ox+v.m01*oy+0.5)*sw - 0.5
			py := (v.cy+v.m10*ox+v.m11*oy+0.5)*sh - 0.5
			px = math.Min(math.Max(px, 0), sw-1)
			py = math.Min(math.Max(py, 0), sh-1)
			x0, y0 := int(px), int(py)
			x1, y1 := min(x0+1, src.W-1), min(y0+1, src.H-1)
			fx, fy := float32(px-float64(x0)), float32(py-float64(y0))
			for c := range 3 {
				p := src.Pix[c*sn:]
				top := p[y0*src.W+x0]*(1-fx) + p[y0*src.W+x1]*fx
				bot := p[y1*src.W+x0]*(1-fx) + p[y1*src.W+x1]*fx
				dst.Pix[c*n+y*dw+x] = top*(1-fy) + bot*fy
			}
		}
	}
	if v.bright == 1 && v.contrast == 1 && v.sat == 1 {
		return
	}
	r, g, b := dst.Pix[:n], dst.Pix[n:2*n], dst.Pix[2*n:]
	var mean float64
	for i := range n {
		mean += float64(0.299*r[i] + 0.587*g[i] + 0.114*b[i])
	}
	m := float32(mean/float64(n)) * v.bright
	for i := range n {
		cr, cg, cb := r[i]*v.bright, g[i]*v.bright, b[i]*v.bright
		luma := 0.299*cr + 0.587*cg + 0.114*cb
		cr = luma + (cr-luma)*v.sat
		cg = luma + (cg-luma)*v.sat
		cb = luma + (cb-luma)*v.sat
		r[i] = clamp01(m + (cr-m)*v.contrast)
		g[i] = clamp01(m + (cg-m)*v.contrast)
		b[i] = clamp01(m + (cb-m)*v.contrast)
	}
}

func clamp01(x float32) float32 { return min(max(x, 0), 1) }

// Network input scaling of CIELAB: L*/50 − 1, a*/50, b*/50.
const labScale = 1.0 / 50

// putInput converts lab (CIELAB planes, Size × Size) into image b of the
// batch input x ([3, n, Size, Size]).
func putInput(x []float32, lab *Planar, b, n int) {
	s := lab.W * lab.H
	for c := range 3 {
		src := lab.Pix[c*s : (c+1)*s]
		dst := x[(c*n+b)*s : (c*n+b+1)*s]
		if c == 0 {
			for i, v := range src {
				dst[i] = v*labScale - 1
			}
			continue
		}
		for i, v := range src {
			dst[i] = v * labScale
		}
	}
}
