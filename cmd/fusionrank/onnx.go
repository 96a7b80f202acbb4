package main

import (
	"errors"
	"fmt"

	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/features/photo"
)

// errNoONNX says why an onnx: encoder cannot be used by this build.
var errNoONNX = errors.New("onnx encoders are not available in this build")

// onnxImageRecord reads the ONNX model at path into a registry row (version from the
// file's checksum).
func onnxImageRecord(cfg Config, path string) (features.EncoderRecord, error) {
	return features.EncoderRecord{}, fmt.Errorf("%s: %w", path, errNoONNX)
}

// openONNXImageEncoder loads the ONNX model at path.
func openONNXImageEncoder(cfg Config, path, version string) (photo.Encoder, error) {
	return nil, fmt.Errorf("%s: %w", path, errNoONNX)
}
