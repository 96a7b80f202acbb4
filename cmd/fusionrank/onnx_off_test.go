//go:build !onnx

package main

import (
	"context"
	"flag"
	"strings"
	"testing"
)

// TestONNXRefusedWithoutRuntime: a binary built without ONNX Runtime refuses
// FUSIONRANK_IMAGE_ENCODER=onnx:PATH at start with the reason, and the text twin is
// refused in every build.
func TestONNXRefusedWithoutRuntime(t *testing.T) {
	for env, want := range map[string]string{
		"FUSIONRANK_IMAGE_ENCODER": "built without ONNX Runtime support (build it with -tags onnx)",
		"FUSIONRANK_TEXT_ENCODER":  "not supported: a shop's text model needs its own tokenizer",
	} {
		get := func(k string) string {
			if k == env {
				return "onnx:/models/clip.onnx"
			}
			return ""
		}
		cfg, err := loadConfig(get, flag.NewFlagSet("t", flag.ContinueOnError), nil)
		if err != nil {
			t.Fatal(err)
		}
		m := &Main{Config: cfg}
		err = m.Open(context.Background())
		m.Close()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=onnx:…: %v, want %q", env, err, want)
		}
	}
}
