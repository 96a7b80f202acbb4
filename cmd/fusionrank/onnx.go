package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/features/photo"
	"github.com/fusionrank/fusionrank/onnx"
)

// onnxOptions reads the sidecar PATH.json of an ONNX model (size, mean, std, input,
// output; see package onnx), when there is one.
func onnxOptions(path string) (onnx.Options, error) {
	var o onnx.Options
	b, err := os.ReadFile(path + ".json")
	if errors.Is(err, os.ErrNotExist) {
		return o, nil
	}
	if err != nil {
		return o, err
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return o, fmt.Errorf("%s.json: %w", path, err)
	}
	return o, nil
}

// onnxRuntime is the ONNX Runtime library: FUSIONRANK_ONNXRUNTIME_LIB, or the copy
// scripts/services.sh WITH_ONNX=1 installs under data/onnxruntime.
func onnxRuntime(cfg Config) (string, error) {
	if cfg.ONNXRuntime != "" {
		return cfg.ONNXRuntime, nil
	}
	return onnx.FindRuntime(".")
}

// openONNXImageEncoder loads the ONNX model at path; version, when not empty, must be
// the file's (a registry row names the model it was registered with).
func openONNXImageEncoder(cfg Config, path, version string) (*onnx.ImageEncoder, error) {
	if !onnx.Built {
		return nil, onnx.ErrNotBuilt
	}
	opt, err := onnxOptions(path)
	if err != nil {
		return nil, err
	}
	lib, err := onnxRuntime(cfg)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(path)
	enc, err := onnx.OpenImageEncoder(lib, abs, opt)
	if err != nil {
		return nil, err
	}
	if version != "" && enc.Version() != version {
		return nil, fmt.Errorf("%s is %s now, not the registered %s: register the new file with its own version", path, enc.Version(), version)
	}
	return enc, nil
}

// onnxImageRecord opens the ONNX model at path and returns its registry row.
func onnxImageRecord(cfg Config, path string) (features.EncoderRecord, error) {
	enc, err := openONNXImageEncoder(cfg, path, "")
	if err != nil {
		return features.EncoderRecord{}, err
	}
	abs, _ := filepath.Abs(path)
	return features.EncoderRecord{Version: enc.Version(), Kind: features.EncoderONNX, Dim: enc.Dim(),
		Config: map[string]any{"path": abs}}, nil
}

// pinONNX returns the registry row of the ONNX model FUSIONRANK_IMAGE_ENCODER names
// (nil for the registry's encoders) and pins the process to it.
func pinONNX(cfg Config, opt *features.PhotoOptions) (*features.EncoderRecord, error) {
	path, ok := strings.CutPrefix(cfg.ImageEncoder, "onnx:")
	if !ok || opt == nil {
		return nil, nil
	}
	rec, err := onnxImageRecord(cfg, path)
	if err != nil {
		return nil, fmt.Errorf("FUSIONRANK_IMAGE_ENCODER: %w", err)
	}
	opt.Pinned = rec.Version
	return &rec, nil
}

// checkTextEncoder refuses FUSIONRANK_TEXT_ENCODER=onnx:PATH.
func checkTextEncoder(cfg Config) error {
	if path, ok := strings.CutPrefix(cfg.TextEncoder, "onnx:"); ok {
		return fmt.Errorf("FUSIONRANK_TEXT_ENCODER=onnx:%s: not supported: a shop's text model needs its own tokenizer "+
			"(a CLIP text tower reads byte-pair token ids of its vocabulary), which this service does not implement; "+
			"use builtin (word vectors with subwords), or send text vectors as a caller modality", path)
	}
	return nil
}

var _ photo.Encoder = (*onnx.ImageEncoder)(nil)
