package vision

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank/internal/kernel"
)

func TestLabFromRGB(t *testing.T) {
	// Reference values of sRGB colours in CIELAB (D65).
	tests := []struct {
		name    string
		r, g, b float32
		l, a, B float32
	}{
		{"white", 1, 1, 1, 100, 0, 0},
		{"black", 0, 0, 0, 0, 0, 0},
		{"red", 1, 0, 0, 53.24, 80.09, 67.20},
		{"green", 0, 1, 0, 87.73, -86.18, 83.18},
		{"blue", 0, 0, 1, 32.30, 79.19, -107.86},
		{"mid grey", 0.5, 0.5, 0.5, 53.39, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, a, b := LabFromRGB(tt.r, tt.g, tt.b)
			if math.Abs(float64(l-tt.l)) > 0.05 || math.Abs(float64(a-tt.a)) > 0.05 || math.Abs(float64(b-tt.B)) > 0.05 {
				t.Errorf("LabFromRGB(%v, %v, %v) = (%.2f, %.2f, %.2f), want (%.2f, %.2f, %.2f)", tt.r, tt.g, tt.b, l, a, b, tt.l, tt.a, tt.B)
			}
		})
	}
}

// photo returns a w×h JPEG-like (YCbCr 4:2:0) image of smooth random
// colour fields, the form image/jpeg decodes to.
func photo(rng *rand.Rand, w, h int) *image.YCbCr {
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	p := randomPlanar(rng, w, h)
	for y := range h {
		for x := range w {
			c := p.At(x, y).(color.NRGBA64)
			yy, cb, cr := color.RGBToYCbCr(uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8))
			m.Y[m.YOffset(x, y)] = yy
			m.Cb[m.COffset(x, y)] = cb
			m.Cr[m.COffset(x, y)] = cr
		}
	}
	return m
}

// generic hides an image's concrete type, so Resize takes its At path.
type generic struct{ image.Image }

func TestResize(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	t.Run("constant stays constant", func(t *testing.T) {
		src := image.NewRGBA(image.Rect(0, 0, 37, 23))
		for i := 0; i < len(src.Pix); i += 4 {
			src.Pix[i], src.Pix[i+1], src.Pix[i+2], src.Pix[i+3] = 51, 102, 204, 255
		}
		for _, size := range [][2]int{{8, 8}, {64, 64}, {1, 1}, {50, 30}} {
			dst := NewPlanar(size[0], size[1])
			Resize(dst, src)
			for c, want := range []float32{0.2, 0.4, 0.8} {
				for _, v := range dst.Plane(c) {
					if math.Abs(float64(v-want)) > 1e-5 {
						t.Fatalf("%v: plane %d holds %v, want %v", size, c, v, want)
					}
				}
			}
		}
	})
	t.Run("box filter averages blocks", func(t *testing.T) {
		src := image.NewGray(image.Rect(0, 0, 4, 2))
		copy(src.Pix, []uint8{0, 255, 255, 255, 0, 0, 0, 255})
		dst := NewPlanar(2, 1)
		Resize(dst, src)
		want := []float32{0.25, 0.75}
		for x, w := range want {
			if math.Abs(float64(dst.Pix[x]-w)) > 1e-6 {
				t.Errorf("pixel %d = %v, want %v", x, dst.Pix[x], w)
			}
		}
	})
	t.Run("fast paths equal the generic path", func(t *testing.T) {
		ycc := photo(rng, 41, 29)
		rgba := image.NewRGBA(ycc.Bounds())
		nrgba := image.NewNRGBA(ycc.Bounds())
		for y := range 29 {
			for x := range 41 {
				rgba.Set(x, y, ycc.At(x, y))
				c := color.NRGBAModel.Convert(ycc.At(x, y)).(color.NRGBA)
				c.A = uint8(128 + (x*7+y)%128)
				nrgba.SetNRGBA(x, y, c)
			}
		}
		for _, img := range []image.Image{ycc, rgba, nrgba, ycc.SubImage(image.Rect(3, 5, 30, 20))} {
			a, b := NewPlanar(16, 12), NewPlanar(16, 12)
			Resize(a, img)
			Resize(b, generic{img})
			for i := range a.Pix {
				// The generic path reads 16-bit colours, the JPEG path
				// 8-bit ones: they differ by less than one 8-bit step.
				if math.Abs(float64(a.Pix[i]-b.Pix[i])) > 1.0/255 {
					t.Fatalf("%T: pixel %d: fast %v, generic %v", img, i, a.Pix[i], b.Pix[i])
				}
			}
		}
	})
}

func TestDescriptor(t *testing.T) {
	d, err := NewDescriptor(DescriptorWeights{})
	if err != nil {
		t.Fatal(err)
	}
	solid := func(r, g, b uint8) image.Image {
		m := image.NewRGBA(image.Rect(0, 0, 100, 80))
		for i := 0; i < len(m.Pix); i += 4 {
			m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = r, g, b, 255
		}
		// A darker band gives the edge histograms something to see.
		for y := 30; y < 50; y++ {
			for x := range 100 {
				o := m.PixOffset(x, y)
				m.Pix[o], m.Pix[o+1], m.Pix[o+2] = r/2, g/2, b/2
			}
		}
		return m
	}
	enc := func(img image.Image) []float32 {
		v := make([]float32, d.Dim())
		d.EncodeTo(v, img)
		return v
	}
	red, red2, blue := enc(solid(220, 30, 30)), enc(solid(200, 40, 35)), enc(solid(30, 40, 220))
	var n float64
	for _, x := range red {
		n += float64(x) * float64(x)
	}
	if math.Abs(n-1) > 1e-4 {
		t.Errorf("descriptor norm² = %v, want 1", n)
	}
	if s1, s2 := kernel.DotFixed(red, red2), kernel.DotFixed(red, blue); !(s1 > s2+0.2) {
		t.Errorf("red·red' = %.3f, red·blue = %.3f: want the two reds far closer", s1, s2)
	}
	if again := enc(solid(220, 30, 30)); !slices.Equal(again, red) {
		t.Error("the descriptor of the same image changed")
	}
	if _, err := NewDescriptor(DescriptorWeights{Layout: -1, Histogram: 1}); err == nil {
		t.Error("a negative weight was accepted")
	}
	img := photo(rand.New(rand.NewPCG(2, 2)), 348, 348)
	v := make([]float32, d.Dim())
	if a := testing.AllocsPerRun(10, func() { d.EncodeTo(v, img) }); a > 0 {
		t.Errorf("Descriptor.EncodeTo allocates %v times per call", a)
	}
}

// TestMatMul checks matMul against the plain triple loop for every
// combination of transposes, with padded strides and beta 0 and 1.
func TestMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sh := range [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {64, 70, 5}, {4, 4, 0}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []float32{0, 1} {
					ar, ac := m, k
					if ta {
						ar, ac = k, m
					}
					br, bc := k, n
					if tb {
						br, bc = n, k
					}
					lda, ldb, ldc := ac+2, bc+1, n+3
					a := randVec(rng, max(ar*lda, 1))
					b := randVec(rng, max(br*ldb, 1))
					c := randVec(rng, m*ldc)
					want := slices.Clone(c)
					for i := range m {
						for j := range n {
							s := float64(beta) * float64(want[i*ldc+j])
							for p := range k {
								var av, bv float32
								if ta {
									av = a[p*lda+i]
								} else {
									av = a[i*lda+p]
								}
								if tb {
									bv = b[j*ldb+p]
								} else {
									bv = b[p*ldb+j]
								}
								s += float64(av) * float64(bv)
							}
							want[i*ldc+j] = float32(s)
						}
					}
					matMul(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc)
					for i := range c {
						if math.Abs(float64(c[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
							t.Fatalf("%v ta=%v tb=%v beta=%v: C[%d] = %v, want %v", sh, ta, tb, beta, i, c[i], want[i])
						}
					}
				}
			}
		}
	}
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// TestIm2colAdjoint checks that col2im is the adjoint of im2col
// (⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩), which is what the backward pass
// needs, and im2col against a direct reading of the patches.
func TestIm2colAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ c, n, h, s int }{{1, 1, 4, 1}, {2, 3, 6, 1}, {3, 2, 8, 2}, {1, 1, 2, 2}} {
		ho := tc.h / tc.s
		x := randVec(rng, tc.c*tc.n*tc.h*tc.h)
		cols := make([]float32, tc.c*9*tc.n*ho*ho)
		im2col(cols, x, tc.c, tc.n, tc.h, tc.h, tc.s)
		for ci := range tc.c {
			for ky := range 3 {
				for kx := range 3 {
					for b := range tc.n {
						for oy := range ho {
							for ox := range ho {
								iy, ix := oy*tc.s+ky-1, ox*tc.s+kx-1
								want := float32(0)
								if iy >= 0 && ix >= 0 && iy < tc.h && ix < tc.h {
									want = x[((ci*tc.n+b)*tc.h+iy)*tc.h+ix]
								}
								got := cols[((ci*3+ky)*3+kx)*tc.n*ho*ho+(b*ho+oy)*ho+ox]
								if got != want {
									t.Fatalf("%+v: patch value %v, want %v", tc, got, want)
								}
							}
						}
					}
				}
			}
		}
		c := randVec(rng, len(cols))
		dx := make([]float32, len(x))
		col2im(dx, c, tc.c, tc.n, tc.h, tc.h, tc.s)
		var lhs, rhs float64
		for i := range cols {
			lhs += float64(cols[i]) * float64(c[i])
		}
		for i := range x {
			rhs += float64(x[i]) * float64(dx[i])
		}
		if math.Abs(lhs-rhs) > 1e-3*(1+math.Abs(lhs)) {
			t.Errorf("%+v: <im2col x, c> = %v, <x, col2im c> = %v", tc, lhs, rhs)
		}
	}
}

// separable returns a data set whose products differ in colour and
// pattern clearly enough for a tiny network to learn them in seconds.
func separable(rng *rand.Rand, k, per, side int) *TrainData {
	d := &TrainData{}
	hues := [][3]float32{{0.9, 0.1, 0.1}, {0.1, 0.8, 0.1}, {0.1, 0.2, 0.9}, {0.9, 0.8, 0.1}, {0.6, 0.1, 0.7}, {0.1, 0.7, 0.8}}
	make1 := func(c int) *Planar {
		p := NewPlanar(side, side)
		n := side * side
		col := hues[c%len(hues)]
		stripes := c/len(hues) == 1
		for y := range side {
			for x := range side {
				f := float32(1)
				if stripes && (x/3)%2 == 0 {
					f = 0.5
				}
				for ch := range 3 {
					v := col[ch]*f + 0.1*float32(rng.NormFloat64())
					p.Pix[ch*n+y*side+x] = clamp01(v)
				}
			}
		}
		return p
	}
	for c := range k {
		d.Products = append(d.Products, "product-"+string(rune('a'+c)))
		for range per {
			d.Photos = append(d.Photos, make1(c))
			d.Labels = append(d.Labels, c)
		}
		d.HeldOut = append(d.HeldOut, make1(c), make1(c))
		d.HeldOutLabels = append(d.HeldOutLabels, c, c)
		d.Iconic = append(d.Iconic, make1(c))
	}
	return d
}

var tinyConfig = Config{Size: 16, Widths: []int{8, 16}, Depth: 1, Dim: 16, TextHidden: 8}

func tinyOptions(seed uint64, workers int) TrainOptions {
	return TrainOptions{Config: tinyConfig, Epochs: 4, Batch: 16, Shards: 4, Iconic: 4, Texts: 8, Seed: seed, Workers: workers, LR: 1e-2}
}

// TestTrainDeterministic: the same data and seed give bit-identical
// weights whatever the number of workers; another seed gives others.
func TestTrainDeterministic(t *testing.T) {
	d := tinyData(rand.New(rand.NewPCG(7, 8)), 4, 6, 32, 5)
	e1, _, err := Train(d, tinyOptions(11, 1))
	if err != nil {
		t.Fatal(err)
	}
	e2, _, err := Train(d, tinyOptions(11, 3))
	if err != nil {
		t.Fatal(err)
	}
	e3, _, err := Train(d, tinyOptions(12, 2))
	if err != nil {
		t.Fatal(err)
	}
	if e1.Version() != e2.Version() {
		t.Errorf("1 and 3 workers: versions %s and %s, want equal", e1.Version(), e2.Version())
	}
	if e1.Version() == e3.Version() {
		t.Errorf("seeds 11 and 12 gave the same weights (%s)", e1.Version())
	}
}

// TestTrainLearns: on products that differ clearly, a few epochs take the
// held-out accuracy from chance (1/6) to nearly all.
func TestTrainLearns(t *testing.T) {
	d := separable(rand.New(rand.NewPCG(9, 10)), 6, 12, 32)
	o := tinyOptions(1, 0)
	o.Epochs = 12
	o.Texts = 0
	e, stats, err := Train(d, o)
	if err != nil {
		t.Fatal(err)
	}
	if last := stats[len(stats)-1]; last.HeldOut < 0.9 || !(last.Loss < stats[0].Loss) {
		t.Errorf("after %d epochs: held-out accuracy %.3f (want ≥ 0.9), loss %.3f from %.3f", last.Epoch, last.HeldOut, last.Loss, stats[0].Loss)
	}
	if e.Dim() != tinyConfig.Dim || len(e.Products()) != 6 {
		t.Errorf("encoder dim %d with %d products", e.Dim(), len(e.Products()))
	}
}

// TestEncoderFile: an encoder read back from its file encodes every photo
// and text exactly as the encoder that wrote it, has the same version and the same record of
// its training photos, and corrupt files are refused with
// ErrCorruptEncoder.
func TestEncoderFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	d := tinyData(rng, 3, 4, 32, 5)
	d.PhotosDigest = "photos-digest"
	o := tinyOptions(5, 0)
	o.Epochs = 2
	e, _, err := Train(d, o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := e.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	r, err := ReadEncoder(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if r.Version() != e.Version() {
		t.Errorf("version %s after reading, %s before", r.Version(), e.Version())
	}
	if e.TrainedOn() != d.PhotosDigest || r.TrainedOn() != d.PhotosDigest {
		t.Errorf("trained on %q, %q after reading, want %q", e.TrainedOn(), r.TrainedOn(), d.PhotosDigest)
	}
	img := photo(rng, 348, 348)
	a, b := make([]float32, e.Dim()), make([]float32, e.Dim())
	e.EncodeTo(a, img)
	r.EncodeTo(b, img)
	if !slices.Equal(a, b) {
		t.Error("the encoder read back encodes a photo differently")
	}
	e.EncodeTextTo(a, d.Texts[1][0])
	r.EncodeTextTo(b, d.Texts[1][0])
	if !slices.Equal(a, b) {
		t.Error("the encoder read back encodes a text differently")
	}
	for i := range 3 {
		e.ProductVectorTo(a, i)
		r.ProductVectorTo(b, i)
		if !slices.Equal(a, b) {
			t.Errorf("product vector %d differs after reading", i)
		}
	}
	if a := testing.AllocsPerRun(5, func() { r.EncodeTo(b, img) }); a > 0 {
		t.Errorf("EncodeTo allocates %v times per call", a)
	}
	if a := testing.AllocsPerRun(5, func() { r.EncodeTextTo(b, d.Texts[0][0]) }); a > 0 {
		t.Errorf("EncodeTextTo allocates %v times per call", a)
	}
	// Corrupt files: a truncated file, a changed config, a wrong shape.
	corrupt := map[string][]byte{
		"truncated": good[:len(good)-5],
		"config":    bytes.Replace(good, []byte(`\"dim\":16`), []byte(`\"dim\":17`), 1),
		"format":    bytes.Replace(good, []byte(`"fusionrank.vision.format":"1"`), []byte(`"fusionrank.vision.format":"9"`), 1),
		"empty":     nil,
	}
	for name, file := range corrupt {
		if bytes.Equal(file, good) {
			t.Fatalf("%s: the edit did not change the file", name)
		}
		if _, err := ReadEncoder(bytes.NewReader(file)); !errors.Is(err, ErrCorruptEncoder) {
			t.Errorf("%s: ReadEncoder = %v, want ErrCorruptEncoder", name, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Size: 30, Widths: []int{4, 4}, Depth: 1, Dim: 4}, // 30 not divisible by 4
		{Size: 16, Widths: nil, Depth: 1, Dim: 4},
		{Size: 16, Widths: []int{4}, Depth: 0, Dim: 4},
		{Size: 16, Widths: []int{4}, Depth: 1, Dim: 0},
		{Size: 16, Widths: []int{0}, Depth: 1, Dim: 4},
		{Kind: "resnet", Size: 16, Widths: []int{4}, Depth: 1, Dim: 4},
		{Kind: KindFeatures, Size: 24, Hidden: 8, Dim: 4},
		{Kind: KindFeatures, Size: 16, Hidden: 8, Dim: 4, Widths: []int{4}},
		{Kind: KindFeatures, Size: 16, Hidden: 0, Dim: 4},
		{Size: 16, Widths: []int{4}, Depth: 1, Dim: 4, Hidden: 8},
	} {
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "vision: config") {
			t.Errorf("Validate(%+v) = %v, want a config error", c, err)
		}
	}
	if err := DefaultConfig.Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
	if err := DefaultFeaturesConfig.Validate(); err != nil {
		t.Errorf("DefaultFeaturesConfig: %v", err)
	}
}

var tinyFeatures = Config{Kind: KindFeatures, Size: 16, Hidden: 32, Dim: 16, TextHidden: 8}

func tinyFeatureOptions(seed uint64, workers int) TrainOptions {
	return TrainOptions{Config: tinyFeatures, Epochs: 4, Batch: 16, Iconic: 4, Texts: 8, Seed: seed, Workers: workers, LR: 1e-2}
}

// TestFeaturesKind: the features kind trains deterministically whatever
// the workers, learns clearly different products, and its file reads back
// into an encoder that encodes identically, without allocating.
func TestFeaturesKind(t *testing.T) {
	d := tinyData(rand.New(rand.NewPCG(7, 8)), 4, 6, 32, 5)
	e1, _, err := Train(d, tinyFeatureOptions(11, 1))
	if err != nil {
		t.Fatal(err)
	}
	e2, _, err := Train(d, tinyFeatureOptions(11, 3))
	if err != nil {
		t.Fatal(err)
	}
	e3, _, err := Train(d, tinyFeatureOptions(12, 2))
	if err != nil {
		t.Fatal(err)
	}
	if e1.Version() != e2.Version() || !strings.HasPrefix(e1.Version(), "feat-") {
		t.Errorf("1 and 3 workers: versions %s and %s, want equal, feat-…", e1.Version(), e2.Version())
	}
	if e1.Version() == e3.Version() {
		t.Errorf("seeds 11 and 12 gave the same weights (%s)", e1.Version())
	}

	sep := separable(rand.New(rand.NewPCG(9, 10)), 6, 12, 32)
	o := tinyFeatureOptions(1, 0)
	o.Epochs = 12
	o.Texts = 0
	e, stats, err := Train(sep, o)
	if err != nil {
		t.Fatal(err)
	}
	if last := stats[len(stats)-1]; last.HeldOut < 0.9 || !(last.Loss < stats[0].Loss) {
		t.Errorf("after %d epochs: held-out accuracy %.3f (want ≥ 0.9), loss %.3f from %.3f", last.Epoch, last.HeldOut, last.Loss, stats[0].Loss)
	}

	var buf bytes.Buffer
	if _, err := e1.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := ReadEncoder(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if r.Version() != e1.Version() || r.Config().Kind != KindFeatures {
		t.Errorf("read back: version %s kind %q, want %s %q", r.Version(), r.Config().Kind, e1.Version(), KindFeatures)
	}
	img := photo(rand.New(rand.NewPCG(1, 1)), 348, 348)
	a, b := make([]float32, e1.Dim()), make([]float32, e1.Dim())
	e1.EncodeTo(a, img)
	r.EncodeTo(b, img)
	if !slices.Equal(a, b) {
		t.Error("the encoder read back encodes a photo differently")
	}
	var ss float64
	for _, v := range a {
		ss += float64(v) * float64(v)
	}
	if math.Abs(ss-1) > 1e-4 {
		t.Errorf("embedding norm² %v, want 1", ss)
	}
	if a := testing.AllocsPerRun(5, func() { r.EncodeTo(b, img) }); a > 0 {
		t.Errorf("EncodeTo allocates %v times per call", a)
	}
	_ = e
}
