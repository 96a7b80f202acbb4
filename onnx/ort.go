//go:build onnx

package onnx

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"os"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/fusionrank/fusionrank"
)

// ImageEncoder runs an ONNX image model. It is safe for concurrent use.
type ImageEncoder struct {
	opt     Options
	size    int
	dim     int
	version string
	session *ort.DynamicAdvancedSession
}

var (
	initMu  sync.Mutex
	initLib string
)

// initRuntime loads the runtime library once per process.
func initRuntime(lib string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if ort.IsInitialized() {
		if lib != initLib {
			return fmt.Errorf("onnx: the runtime %s is loaded; cannot load %s too", initLib, lib)
		}
		return nil
	}
	if _, err := os.Stat(lib); err != nil {
		return fmt.Errorf("onnx: the ONNX Runtime library: %w", err)
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("onnx: starting ONNX Runtime from %s: %w", lib, err)
	}
	initLib = lib
	return nil
}

// OpenImageEncoder loads the model at path with the runtime library lib. Its version
// is "onnx-" and the first 12 hex digits of the file's SHA-256.
func OpenImageEncoder(lib, path string, opt Options) (*ImageEncoder, error) {
	opt = opt.withDefaults()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if err := initRuntime(lib); err != nil {
		return nil, err
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	in, err := pick(ins, opt.Input, "input")
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	out, err := pick(outs, opt.Output, "output")
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	if in.DataType != ort.TensorElementDataTypeFloat || out.DataType != ort.TensorElementDataTypeFloat {
		return nil, fmt.Errorf("onnx: %s: input %s and output %s must be float32 tensors", path, in.Name, out.Name)
	}
	d := in.Dimensions
	if len(d) != 4 || (d[1] != 3 && d[1] > 0) {
		return nil, fmt.Errorf("onnx: %s: input %s has shape %v; want [1, 3, S, S]", path, in.Name, d)
	}
	size := opt.Size
	if d[2] > 0 && d[3] > 0 {
		if d[2] != d[3] {
			return nil, fmt.Errorf("onnx: %s: input %s is %d×%d; want a square", path, in.Name, d[2], d[3])
		}
		size = int(d[2])
	}
	od := out.Dimensions
	dim := int(od[len(od)-1])
	if dim <= 0 || len(od) > 2 {
		return nil, fmt.Errorf("onnx: %s: output %s has shape %v; want [1, D] with D fixed", path, out.Name, od)
	}
	session, err := ort.NewDynamicAdvancedSessionWithONNXData(data, []string{in.Name}, []string{out.Name}, nil)
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	return &ImageEncoder{opt: opt, size: size, dim: dim, version: "onnx-" + hex.EncodeToString(sum[:])[:12], session: session}, nil
}

// pick returns the tensor named name, or the first one when name is "".
func pick(infos []ort.InputOutputInfo, name, what string) (ort.InputOutputInfo, error) {
	if len(infos) == 0 {
		return ort.InputOutputInfo{}, fmt.Errorf("the model has no %s", what)
	}
	if name == "" {
		return infos[0], nil
	}
	var names []string
	for _, i := range infos {
		if i.Name == name {
			return i, nil
		}
		names = append(names, i.Name)
	}
	return ort.InputOutputInfo{}, fmt.Errorf("no %s named %q (the model has %v)", what, name, names)
}

// Dim returns D, the length of the model's embedding.
func (e *ImageEncoder) Dim() int { return e.dim }

// Version returns "onnx-" and 12 hex digits of the model file's SHA-256.
func (e *ImageEncoder) Version() string { return e.version }

// Size returns S, the side of the model's input.
func (e *ImageEncoder) Size() int { return e.size }

// EncodeTo writes the unit embedding of img into dst (len(dst) == Dim()). A failure
// of the runtime (which a model that loaded does not have on a well-formed input)
// writes the zero vector.
func (e *ImageEncoder) EncodeTo(dst []float32, img image.Image) {
	if len(dst) != e.dim {
		panic(fmt.Sprintf("onnx: EncodeTo: len(dst) = %d, want %d", len(dst), e.dim))
	}
	clear(dst)
	x := make([]float32, 3*e.size*e.size)
	Prepare(x, img, e.size, e.opt.Mean, e.opt.Std)
	in, err := ort.NewTensor(ort.NewShape(1, 3, int64(e.size), int64(e.size)), x)
	if err != nil {
		return
	}
	defer in.Destroy()
	outs := []ort.Value{nil}
	if err := e.session.Run([]ort.Value{in}, outs); err != nil {
		return
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return
	}
	copy(dst, t.GetData())
	fusionrank.Normalize(dst)
}

// Close releases the session.
func (e *ImageEncoder) Close() error { return e.session.Destroy() }

// Built reports whether this binary runs ONNX models (built with the onnx tag).
const Built = true
