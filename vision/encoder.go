package vision

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"sync"

	"github.com/fusionrank/fusionrank/internal/kernel"
)

// Encoder is a trained convolutional image encoder, with its text tower
// and learned product vectors when it was trained with them. It maps a
// photo to a unit vector of Dim numbers; photos of the same product land
// close together (cosine similarity). It is immutable and safe for
// concurrent use; EncodeTo does not allocate in steady state.
type Encoder struct {
	cfg     Config
	p       *params
	f       folded
	version string
	// trainedOn is TrainData.PhotosDigest of the training ("" unknown).
	trainedOn string
	pool      sync.Pool // *inferWork for one image
	hidden    sync.Pool // *[]float32 of TextHidden, the text tower's scratch
}

// newEncoder wraps trained parameters (which it keeps: the caller must not
// change them afterwards).
func newEncoder(p *params) *Encoder {
	e := &Encoder{cfg: p.cfg, p: p, f: foldBN(p)}
	prefix := "cnn-"
	if p.cfg.features() {
		prefix = "feat-"
		e.pool.New = func() any { return newFeatureInfer(e.cfg) }
	} else {
		e.pool.New = func() any { return newInferWork(e.cfg, e.p.layers, 1) }
	}
	e.version = prefix + p.digest()[:12]
	e.hidden.New = func() any { h := make([]float32, e.cfg.TextHidden); return &h }
	return e
}

// digest returns the hex SHA-256 of the config and every tensor, so equal
// weights give equal versions.
func (p *params) digest() string {
	h := sha256.New()
	cj, _ := json.Marshal(p.cfg)
	h.Write(cj)
	var buf [4]byte
	for _, t := range p.tensors() {
		h.Write([]byte(t.name))
		for _, v := range t.data {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			h.Write(buf[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Config returns the encoder's architecture.
func (e *Encoder) Config() Config {
	c := e.cfg
	c.Widths = slices.Clone(c.Widths)
	c.Products = slices.Clone(c.Products)
	return c
}

// TrainedOn returns the digest of the shopper photos the encoder was
// trained on (TrainData.PhotosDigest, kept in its file), or "" when it
// was not recorded. It is not part of Version: equal weights trained from
// differently named photos keep one version.
func (e *Encoder) TrainedOn() string { return e.trainedOn }

// Dim returns the length of every vector the encoder writes.
func (e *Encoder) Dim() int { return e.cfg.Dim }

// Version names the encoder's weights: "cnn-" (the features kind:
// "feat-") and the first 12 hex digits
// of the SHA-256 of its config and tensors. Equal weights, equal version.
func (e *Encoder) Version() string { return e.version }

// EncodeTo writes the unit embedding of img into dst (len(dst) == Dim()).
// The photo is resampled to Size × Size with Resize (the whole photo, box
// filter), converted to CIELAB with ToLab, scaled (L*/50 − 1, a*/50, b*/50)
// and run through the network with its batch normalisation folded in.
func (e *Encoder) EncodeTo(dst []float32, img image.Image) {
	if len(dst) != e.cfg.Dim {
		panic(fmt.Sprintf("vision: Encoder.EncodeTo: len(dst) = %d, want %d", len(dst), e.cfg.Dim))
	}
	if e.cfg.features() {
		w := e.pool.Get().(*featureInfer)
		w.rs.resize(w.img, img)
		ToLab(w.img)
		w.encode(dst, e.p)
		e.pool.Put(w)
		return
	}
	w := e.pool.Get().(*inferWork)
	w.rs.resize(w.img, img)
	ToLab(w.img)
	putInput(w.x0, w.img, 0, 1)
	w.infer(e.p, e.f)
	copy(dst, w.outb)
	e.pool.Put(w)
}

// HasText reports whether the encoder has a text tower (EncodeTextTo).
func (e *Encoder) HasText() bool { return e.cfg.TextDim > 0 }

// TextDim returns the length of the word-vector input of the text tower
// (0 without one).
func (e *Encoder) TextDim() int { return e.cfg.TextDim }

// EncodeTextTo writes into dst (len Dim()) the unit embedding of a text
// whose pooled word vector is x (len TextDim(); the feature store's text
// encoder writes it): t = W2·relu(W1·x + b1) + b2, scaled to unit length.
// A photo and a text that belong together score a high dot product. It
// does not allocate in steady state, and panics without a text tower or on
// wrong lengths.
func (e *Encoder) EncodeTextTo(dst, x []float32) {
	if e.cfg.TextDim == 0 {
		panic("vision: EncodeTextTo: the encoder has no text tower")
	}
	if len(dst) != e.cfg.Dim || len(x) != e.cfg.TextDim {
		panic(fmt.Sprintf("vision: EncodeTextTo: len(dst) = %d, len(x) = %d, want %d and %d", len(dst), len(x), e.cfg.Dim, e.cfg.TextDim))
	}
	h := e.hidden.Get().(*[]float32)
	textForward(dst, *h, e.p, x)
	e.hidden.Put(h)
}

// textForward computes the text tower for one input x into t (unit) with
// the hidden activations in h, and returns the norm before scaling.
func textForward(t, h []float32, p *params, x []float32) float32 {
	td, th, d := p.cfg.TextDim, p.cfg.TextHidden, p.cfg.Dim
	for j := range th {
		h[j] = max(kernel.DotFixed(p.tw1[j*td:(j+1)*td], x)+p.tb1[j], 0)
	}
	for r := range d {
		t[r] = kernel.DotFixed(p.tw2[r*th:(r+1)*th], h) + p.tb2[r]
	}
	return unit(t)
}

// Products returns the names of the learned product vectors, in order.
func (e *Encoder) Products() []string { return slices.Clone(e.cfg.Products) }

// ProductVectorTo writes the unit learned vector of product i (an index
// into Products) into dst.
func (e *Encoder) ProductVectorTo(dst []float32, i int) {
	if i < 0 || i >= len(e.cfg.Products) {
		panic(fmt.Sprintf("vision: ProductVectorTo: product %d of %d", i, len(e.cfg.Products)))
	}
	copy(dst, e.p.prod[i*e.cfg.Dim:(i+1)*e.cfg.Dim])
	unit(dst)
}

// ColorModel, Bounds and At make a Planar of sRGB values (as Resize writes
// them) an image.Image, so it can be resampled and encoded like a decoded
// photo.
func (p *Planar) ColorModel() color.Model { return color.NRGBA64Model }

// Bounds returns the rectangle (0, 0)–(W, H).
func (p *Planar) Bounds() image.Rectangle { return image.Rect(0, 0, p.W, p.H) }

// At returns the pixel at (x, y), its sRGB values clamped to [0, 1].
func (p *Planar) At(x, y int) color.Color {
	if x < 0 || y < 0 || x >= p.W || y >= p.H {
		return color.NRGBA64{}
	}
	n, i := p.W*p.H, y*p.W+x
	c := func(v float32) uint16 { return uint16(clamp01(v)*0xffff + 0.5) }
	return color.NRGBA64{R: c(p.Pix[i]), G: c(p.Pix[n+i]), B: c(p.Pix[2*n+i]), A: 0xffff}
}
