//go:build onnx

package onnx

import (
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/fusionrank/fusionrank/onnx/onnxtest"
)

// runtimeLib finds the ONNX Runtime library: FUSIONRANK_ONNXRUNTIME_LIB, or the copy
// scripts/services.sh WITH_ONNX=1 installs under data/onnxruntime.
func runtimeLib(t *testing.T) string {
	if lib := os.Getenv("FUSIONRANK_ONNXRUNTIME_LIB"); lib != "" {
		return lib
	}
	lib, err := FindRuntime("..")
	if err != nil {
		t.Fatalf("%v (run WITH_ONNX=1 scripts/services.sh)", err)
	}
	return lib
}

func TestProjectionModel(t *testing.T) {
	w := [][]float32{{1, 0, 0, 2}, {0, 1, 0, -1}, {0, 0, 1, 0.5}}
	path := filepath.Join(t.TempDir(), "projection.onnx")
	if err := os.WriteFile(path, onnxtest.ProjectionModel(8, w), 0o644); err != nil {
		t.Fatal(err)
	}
	enc, err := OpenImageEncoder(runtimeLib(t), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	if enc.Dim() != 4 || enc.Size() != 8 || len(enc.Version()) != len("onnx-")+12 {
		t.Fatalf("dim %d, size %d, version %q", enc.Dim(), enc.Size(), enc.Version())
	}
	// A 20×10 photo: its centred 10×10 square is solid (200, 40, 90); the sides
	// (cut off by the crop) are black.
	img := image.NewRGBA(image.Rect(0, 0, 20, 10))
	for y := range 10 {
		for x := range 20 {
			c := color.RGBA{A: 255}
			if x >= 5 && x < 15 {
				c = color.RGBA{200, 40, 90, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	got := make([]float32, 4)
	enc.EncodeTo(got, img)
	// Expected: channel means of the normalised crop, times w, unit length.
	px := [3]float32{200.0 / 255, 40.0 / 255, 90.0 / 255}
	var mean [3]float32
	for c := range 3 {
		mean[c] = (px[c] - clipMean[c]) / clipStd[c]
	}
	want := make([]float32, 4)
	var ss float64
	for j := range want {
		for c := range 3 {
			want[j] += mean[c] * w[c][j]
		}
		ss += float64(want[j]) * float64(want[j])
	}
	for j := range want {
		want[j] /= float32(math.Sqrt(ss))
		if math.Abs(float64(got[j]-want[j])) > 1e-4 {
			t.Fatalf("embedding %v, want %v", got, want)
		}
	}
	// The same photo, the same vector; concurrent calls are safe.
	done := make(chan []float32, 4)
	for range 4 {
		go func() {
			v := make([]float32, 4)
			enc.EncodeTo(v, img)
			done <- v
		}()
	}
	for range 4 {
		if v := <-done; v[0] != got[0] || v[3] != got[3] {
			t.Fatalf("concurrent encoding %v, want %v", v, got)
		}
	}
}

func TestBadModels(t *testing.T) {
	dir := t.TempDir()
	notModel := filepath.Join(dir, "junk.onnx")
	_ = os.WriteFile(notModel, []byte("not a model"), 0o644)
	if _, err := OpenImageEncoder(runtimeLib(t), notModel, Options{}); err == nil {
		t.Error("junk loaded as a model")
	}
	if _, err := OpenImageEncoder(runtimeLib(t), filepath.Join(dir, "missing.onnx"), Options{}); err == nil {
		t.Error("a missing file loaded")
	}
	wrong := filepath.Join(dir, "wrong.onnx")
	_ = os.WriteFile(wrong, onnxtest.ProjectionModel(8, [][]float32{{1}, {1}, {1}}), 0o644)
	if _, err := OpenImageEncoder(runtimeLib(t), wrong, Options{Input: "nope"}); err == nil {
		t.Error("a missing input name was accepted")
	}
}
