//go:build !onnx

package onnx

import "image"

// ImageEncoder is an ONNX image encoder; this build has none.
type ImageEncoder struct{}

// OpenImageEncoder returns ErrNotBuilt: the binary was built without the onnx tag.
func OpenImageEncoder(lib, path string, opt Options) (*ImageEncoder, error) { return nil, ErrNotBuilt }

// Dim is 0.
func (e *ImageEncoder) Dim() int { return 0 }

// Version is "".
func (e *ImageEncoder) Version() string { return "" }

// EncodeTo does nothing.
func (e *ImageEncoder) EncodeTo(dst []float32, img image.Image) {}

// Built reports whether this binary runs ONNX models (built with the onnx tag).
const Built = false
