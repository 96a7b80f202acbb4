package vision

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Config is the convolutional encoder's architecture. The zero value of a
// field takes its default (see withDefaults); Validate checks the rest.
type Config struct {
	// Kind is the image network: KindCNN (the empty default) or
	// KindFeatures.
	Kind string `json:"kind,omitempty"`
	// Hidden is the width of the hidden layer of KindFeatures' network;
	// default 256.
	Hidden int `json:"hidden,omitempty"`
	// Size is the side of the square the photo is resampled to; default 64.
	// It must be divisible by 2^len(Widths).
	Size int `json:"size"`
	// Widths are the channels of each stage; default [32, 64, 128]. Stage 0
	// starts with a stride-2 convolution; every stage but the last ends
	// with a 2×2 max-pool; the last ends with a global average pool.
	Widths []int `json:"widths"`
	// Depth is the number of 3×3 convolutions per stage; default 2.
	Depth int `json:"depth"`
	// Dim is the embedding dimension; default 128.
	Dim int `json:"dim"`
	// TextDim is the dimension of the text tower's input (the word vectors'
	// dimension); 0 means the encoder has no text tower.
	TextDim int `json:"text_dim"`
	// TextHidden is the text tower's hidden width; default 256.
	TextHidden int `json:"text_hidden"`
	// Products names the learned product vectors, one per product the
	// encoder was trained on (may be empty).
	Products []string `json:"products"`
}

// The kinds of image network.
const (
	// KindCNN is the convolutional network: stages of 3×3 convolutions
	// with batch normalisation, global average pooling and a linear head.
	KindCNN = "cnn"
	// KindFeatures computes fixed hand-made features (joint CIELAB
	// histograms over a spatial pyramid, histograms of oriented colour
	// gradients, a colour layout; FeatureDim numbers), standardises them
	// and maps them through a learned one-hidden-layer network to the
	// embedding.
	KindFeatures = "features"
)

// DefaultConfig is the architecture of the convolutional kind.
var DefaultConfig = Config{Size: 64, Widths: []int{32, 64, 128}, Depth: 2, Dim: 128, TextHidden: 256}

// DefaultFeaturesConfig is the architecture `fusionrank train-images`
// trains by default: the features kind, which learns more from a few
// thousand photos in minutes on two cores than the convolutional network.
var DefaultFeaturesConfig = Config{Kind: KindFeatures, Size: 64, Hidden: 256, Dim: 128, TextHidden: 256}

// features reports whether c is of the features kind.
func (c Config) features() bool { return c.Kind == KindFeatures }

func (c Config) withDefaults() Config {
	if c.features() {
		if c.Size == 0 {
			c.Size = DefaultFeaturesConfig.Size
		}
		if c.Hidden == 0 {
			c.Hidden = DefaultFeaturesConfig.Hidden
		}
		if c.Dim == 0 {
			c.Dim = DefaultFeaturesConfig.Dim
		}
		if c.TextDim > 0 && c.TextHidden == 0 {
			c.TextHidden = DefaultConfig.TextHidden
		}
		return c
	}
	if c.Size == 0 {
		c.Size = DefaultConfig.Size
	}
	if len(c.Widths) == 0 {
		c.Widths = append([]int(nil), DefaultConfig.Widths...)
	}
	if c.Depth == 0 {
		c.Depth = DefaultConfig.Depth
	}
	if c.Dim == 0 {
		c.Dim = DefaultConfig.Dim
	}
	if c.TextDim > 0 && c.TextHidden == 0 {
		c.TextHidden = DefaultConfig.TextHidden
	}
	return c
}

// Validate reports the first problem of a config with defaults applied.
func (c Config) Validate() error {
	if c.Kind != "" && c.Kind != KindCNN && c.Kind != KindFeatures {
		return fmt.Errorf("vision: config: kind %q, want %q or %q", c.Kind, KindCNN, KindFeatures)
	}
	if c.features() {
		switch {
		case c.Size < 16 || c.Size > 256 || c.Size%16 != 0:
			return fmt.Errorf("vision: config: size %d, want a multiple of 16 in 16 … 256 for the features kind", c.Size)
		case len(c.Widths) > 0 || c.Depth != 0:
			return errors.New("vision: config: the features kind has no convolution stages (widths, depth)")
		case c.Hidden < 1 || c.Hidden > 8192:
			return fmt.Errorf("vision: config: hidden %d, want 1 … 8192", c.Hidden)
		}
		return c.validateHead()
	}
	if c.Hidden != 0 {
		return errors.New("vision: config: hidden is a setting of the features kind")
	}
	switch {
	case c.Size < 8 || c.Size > 1024:
		return fmt.Errorf("vision: config: size %d, want 8 … 1024", c.Size)
	case len(c.Widths) == 0 || len(c.Widths) > 6:
		return fmt.Errorf("vision: config: %d stages, want 1 … 6", len(c.Widths))
	case c.Size%(1<<len(c.Widths)) != 0:
		return fmt.Errorf("vision: config: size %d is not divisible by 2^%d (one halving per stage)", c.Size, len(c.Widths))
	case c.Depth < 1 || c.Depth > 8:
		return fmt.Errorf("vision: config: depth %d, want 1 … 8", c.Depth)
	}
	for i, w := range c.Widths {
		if w < 1 || w > 2048 {
			return fmt.Errorf("vision: config: widths[%d] = %d, want 1 … 2048", i, w)
		}
	}
	return c.validateHead()
}

// validateHead checks the settings both kinds share.
func (c Config) validateHead() error {
	switch {
	case c.Dim < 1 || c.Dim > 4096:
		return fmt.Errorf("vision: config: dim %d, want 1 … 4096", c.Dim)
	case c.TextDim < 0 || c.TextDim > 4096:
		return fmt.Errorf("vision: config: text_dim %d, want 0 … 4096", c.TextDim)
	case c.TextDim > 0 && (c.TextHidden < 1 || c.TextHidden > 8192):
		return fmt.Errorf("vision: config: text_hidden %d, want 1 … 8192", c.TextHidden)
	}
	return nil
}

// conv describes one 3×3 convolution (padding 1) followed by batch
// normalisation and a ReLU, and optionally a 2×2 max-pool.
type conv struct {
	cin, cout int
	stride    int
	in        int  // input side
	out       int  // output side (before pooling)
	pool      bool // a 2×2 max-pool follows
}

// layers returns the convolutions of c, in order.
func (c Config) layers() []conv {
	if c.features() {
		return nil
	}
	var ls []conv
	side, cin := c.Size, 3
	for s, w := range c.Widths {
		for d := range c.Depth {
			l := conv{cin: cin, cout: w, stride: 1, in: side}
			if s == 0 && d == 0 {
				l.stride = 2
			}
			l.out = side / l.stride
			side = l.out
			cin = w
			if d == c.Depth-1 && s < len(c.Widths)-1 {
				l.pool = true
				side /= 2
			}
			ls = append(ls, l)
		}
	}
	return ls
}

// params holds every trainable tensor of the encoder, row-major float32,
// plus the batch-normalisation running statistics (not trained by the
// gradient, updated as running means).
type params struct {
	cfg    Config
	layers []conv
	// Per convolution l: W [cout, cin·9], BN scale γ and shift β [cout],
	// running mean and variance [cout].
	w, gamma, beta, mean, vari [][]float32
	// The features kind: the features' mean and standard deviation
	// [FeatureDim] (statistics of the training views, not trained by the
	// gradient) and the hidden layer [Hidden, FeatureDim], [Hidden].
	fmean, fstd, fw, fb []float32
	// head maps the pooled features (the hidden layer for the features
	// kind) to the embedding: [Dim, C] and [Dim].
	headW, headB []float32
	// The text tower: [TextHidden, TextDim], [TextHidden], [Dim, TextHidden], [Dim].
	tw1, tb1, tw2, tb2 []float32
	// prod holds the learned product vectors, [len(Products), Dim].
	prod []float32
}

// tensor is one named tensor of params.
type tensor struct {
	name  string
	shape []int
	data  []float32
	// stat marks running statistics: saved, but not trained by gradients.
	stat bool
}

func newParams(cfg Config) *params {
	p := &params{cfg: cfg, layers: cfg.layers()}
	for _, l := range p.layers {
		p.w = append(p.w, make([]float32, l.cout*l.cin*9))
		p.gamma = append(p.gamma, make([]float32, l.cout))
		p.beta = append(p.beta, make([]float32, l.cout))
		p.mean = append(p.mean, make([]float32, l.cout))
		p.vari = append(p.vari, make([]float32, l.cout))
	}
	c := cfg.headIn()
	if cfg.features() {
		fd := FeatureDim(cfg.Size)
		p.fmean, p.fstd = make([]float32, fd), make([]float32, fd)
		p.fw, p.fb = make([]float32, cfg.Hidden*fd), make([]float32, cfg.Hidden)
	}
	p.headW = make([]float32, cfg.Dim*c)
	p.headB = make([]float32, cfg.Dim)
	if cfg.TextDim > 0 {
		p.tw1 = make([]float32, cfg.TextHidden*cfg.TextDim)
		p.tb1 = make([]float32, cfg.TextHidden)
		p.tw2 = make([]float32, cfg.Dim*cfg.TextHidden)
		p.tb2 = make([]float32, cfg.Dim)
	}
	p.prod = make([]float32, len(cfg.Products)*cfg.Dim)
	return p
}

// tensors lists the tensors in file order, aliasing p.
func (p *params) tensors() []tensor {
	var ts []tensor
	for i, l := range p.layers {
		s := strconv.Itoa(i)
		ts = append(ts,
			tensor{name: "conv." + s + ".weight", shape: []int{l.cout, l.cin * 9}, data: p.w[i]},
			tensor{name: "conv." + s + ".bn_scale", shape: []int{l.cout}, data: p.gamma[i]},
			tensor{name: "conv." + s + ".bn_shift", shape: []int{l.cout}, data: p.beta[i]},
			tensor{name: "conv." + s + ".bn_mean", shape: []int{l.cout}, data: p.mean[i], stat: true},
			tensor{name: "conv." + s + ".bn_var", shape: []int{l.cout}, data: p.vari[i], stat: true},
		)
	}
	c := p.cfg.headIn()
	if p.cfg.features() {
		fd := FeatureDim(p.cfg.Size)
		ts = append(ts,
			tensor{name: "features.mean", shape: []int{fd}, data: p.fmean, stat: true},
			tensor{name: "features.std", shape: []int{fd}, data: p.fstd, stat: true},
			tensor{name: "hidden.weight", shape: []int{p.cfg.Hidden, fd}, data: p.fw},
			tensor{name: "hidden.bias", shape: []int{p.cfg.Hidden}, data: p.fb})
	}
	ts = append(ts,
		tensor{name: "head.weight", shape: []int{p.cfg.Dim, c}, data: p.headW},
		tensor{name: "head.bias", shape: []int{p.cfg.Dim}, data: p.headB})
	if p.cfg.TextDim > 0 {
		ts = append(ts,
			tensor{name: "text.w1", shape: []int{p.cfg.TextHidden, p.cfg.TextDim}, data: p.tw1},
			tensor{name: "text.b1", shape: []int{p.cfg.TextHidden}, data: p.tb1},
			tensor{name: "text.w2", shape: []int{p.cfg.Dim, p.cfg.TextHidden}, data: p.tw2},
			tensor{name: "text.b2", shape: []int{p.cfg.Dim}, data: p.tb2})
	}
	if len(p.cfg.Products) > 0 {
		ts = append(ts, tensor{name: "products", shape: []int{len(p.cfg.Products), p.cfg.Dim}, data: p.prod})
	}
	return ts
}

// init draws the starting weights: He-normal convolutions, BN scale 1 and
// shift 0, running variance 1, Xavier-normal head and text tower, unit
// random product vectors.
func (p *params) init(rng *rand.Rand) {
	normal := func(x []float32, std float64) {
		for i := range x {
			x[i] = float32(rng.NormFloat64() * std)
		}
	}
	for i, l := range p.layers {
		normal(p.w[i], math.Sqrt(2/float64(l.cin*9)))
		for k := range p.gamma[i] {
			p.gamma[i][k], p.vari[i][k] = 1, 1
		}
	}
	c := p.cfg.headIn()
	if p.cfg.features() {
		normal(p.fw, math.Sqrt(2/float64(FeatureDim(p.cfg.Size))))
		for i := range p.fstd {
			p.fstd[i] = 1
		}
	}
	normal(p.headW, math.Sqrt(2/float64(c+p.cfg.Dim)))
	if p.cfg.TextDim > 0 {
		normal(p.tw1, math.Sqrt(2/float64(p.cfg.TextDim)))
		normal(p.tw2, math.Sqrt(2/float64(p.cfg.TextHidden+p.cfg.Dim)))
	}
	normal(p.prod, 1)
	for r := range len(p.cfg.Products) {
		unit(p.prod[r*p.cfg.Dim : (r+1)*p.cfg.Dim])
	}
}

// headIn is the input width of the head: the last stage's channels, or
// the hidden width of the features kind.
func (c Config) headIn() int {
	if c.features() {
		return c.Hidden
	}
	return c.Widths[len(c.Widths)-1]
}

// unit scales v to unit L2 norm in place (a zero vector stays zero) and
// returns the norm it had.
func unit(v []float32) float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return 0
	}
	n := math.Sqrt(ss)
	f := float32(1 / n)
	for i := range v {
		v[i] *= f
	}
	return float32(n)
}

func sqrt64(x float64) float64 { return math.Sqrt(x) }
