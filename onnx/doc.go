// Package onnx runs a shop's own image encoder, exported to ONNX, in-process with ONNX
// Runtime: a CLIP-style vision tower that maps a photo to an embedding.
//
// # The model a shop brings
//
// One input, a float32 tensor [1, 3, S, S] (batch, RGB channels, height, width): the
// photo's pixels in [0, 1], normalised per channel as (x − mean) / std; one output,
// a float32 tensor [1, D] (or [D]): the photo's embedding. The encoder prepares a
// photo as CLIP's preprocessing does (Prepare): the largest centred square is cut
// out, resampled to S × S with a box filter, and normalised with Options.Mean and
// Options.Std (CLIP's by default). S comes from the model's input shape when it is
// fixed, else from Options.Size. The embedding is scaled to unit length, so dot
// products are cosines. See the README (Photos, Bring your own encoder) for the
// export of a CLIP model and the sidecar file that overrides these settings.
//
// # The runtime
//
// ONNX Runtime is a shared library loaded when the first encoder opens (the npm
// package onnxruntime-node ships it; scripts/services.sh WITH_ONNX=1 installs it
// under data/onnxruntime). The Go binding (github.com/yalue/onnxruntime_go v1.27.0,
// which asks the runtime for C API version 24, which runtime 1.24 and every later one
// serve) uses cgo, so it is built only with the build tag onnx: the default binary
// does not link it, and OpenImageEncoder there returns ErrNotBuilt.
package onnx

import (
	"errors"
	"image"

	"github.com/fusionrank/fusionrank/vision"
)

// ErrNotBuilt is returned by OpenImageEncoder in a binary built without the onnx tag.
var ErrNotBuilt = errors.New("onnx: this binary was built without ONNX Runtime support (build it with -tags onnx)")

// Options describe how a model wants its photos. Zero fields take the defaults.
type Options struct {
	// Size is S when the model's input shape does not fix it. Default 224.
	Size int `json:"size"`
	// Mean and Std normalise each channel. Default CLIP's:
	// mean (0.48145466, 0.4578275, 0.40821073), std (0.26862954, 0.26130258, 0.27577711).
	Mean [3]float32 `json:"mean"`
	Std  [3]float32 `json:"std"`
	// Input and Output name the tensors. Default: the model's first input and output.
	Input  string `json:"input"`
	Output string `json:"output"`
}

// CLIP's channel statistics.
var (
	clipMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	clipStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

func (o Options) withDefaults() Options {
	if o.Size == 0 {
		o.Size = 224
	}
	if o.Mean == ([3]float32{}) {
		o.Mean = clipMean
	}
	if o.Std == ([3]float32{}) {
		o.Std = clipStd
	}
	return o
}

// Prepare writes img as the model's input into dst (3·size·size numbers, channel
// planes R, G, B, rows top to bottom): the largest centred square of img, resampled
// to size × size (vision.Resize: box filter, transparent pixels over white), each
// channel normalised as (x − mean[c]) / std[c].
func Prepare(dst []float32, img image.Image, size int, mean, std [3]float32) {
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	x0, y0 := b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2
	sq := image.Rect(x0, y0, x0+side, y0+side)
	if s, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	}); ok {
		img = s.SubImage(sq)
	} else {
		img = cropped{img, sq}
	}
	p := vision.NewPlanar(size, size)
	vision.Resize(p, img)
	n := size * size
	for c := range 3 {
		plane, out := p.Pix[c*n:(c+1)*n], dst[c*n:(c+1)*n]
		for i, v := range plane {
			out[i] = (v - mean[c]) / std[c]
		}
	}
}

// cropped is img seen through the rectangle r.
type cropped struct {
	image.Image
	r image.Rectangle
}

func (c cropped) Bounds() image.Rectangle { return c.r }
