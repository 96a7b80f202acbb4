//go:build onnx

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/testenv"
	"github.com/fusionrank/fusionrank/onnx"
	"github.com/fusionrank/fusionrank/onnx/onnxtest"
)

// TestONNXImageEncoderServes: FUSIONRANK_IMAGE_ENCODER=onnx:PATH makes the service
// encode item and query photos with the shop's model: a search by an item's photo
// finds it, and answers name the model's version.
func TestONNXImageEncoderServes(t *testing.T) {
	lib := os.Getenv("FUSIONRANK_ONNXRUNTIME_LIB")
	if lib == "" {
		var err error
		if lib, err = onnx.FindRuntime("../.."); err != nil {
			t.Fatalf("%v (run WITH_ONNX=1 scripts/services.sh)", err)
		}
	}
	path := filepath.Join(t.TempDir(), "shop.onnx")
	w := [][]float32{{1, 0, 0, 0.3}, {0, 1, 0, -0.2}, {0, 0, 1, 0.1}}
	if err := os.WriteFile(path, onnxtest.ProjectionModel(16, w), 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMainWith(t, testenv.DB(t, "cmdonnx"), map[string]string{"FUSIONRANK_IMAGE_ENCODER": "onnx:" + path,
		"FUSIONRANK_ONNXRUNTIME_LIB": lib}, testLog(t), nil)
	write, read := createKey(t, m, fusionrank.ScopeWrite), createKey(t, m, fusionrank.ScopeRead)
	var lines []string
	for i := range 6 {
		lines = append(lines, fmt.Sprintf(`{"id":"ox-%d","title":"x","image":"%s"}`, i, b64(catalogPhoto(t, 3*i))))
	}
	if r := do(t, "POST", m.URL()+"/v1/items:batch", write, strings.Join(lines, "\n")); r.status != 200 {
		t.Fatal(r.status, string(r.body))
	}
	var version string
	waitFor(t, "the ONNX encoder to serve", func() bool {
		_, version = m.Features.PhotoEncoder()
		return strings.HasPrefix(version, "onnx-")
	})
	waitFor(t, "a photo search by the model", func() bool {
		r := do(t, "POST", m.URL()+"/v1/search", read, map[string]any{"query": map[string]any{"image": b64(catalogPhoto(t, 6))}, "count": 1})
		a := r.json(t)
		return r.status == 200 && a["image_encoder"] == version && len(ids(a)) == 1 && ids(a)[0] == "ox-2"
	})
}
