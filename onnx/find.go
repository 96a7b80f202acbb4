package onnx

import (
	"fmt"
	"path/filepath"
	"sort"
)

// FindRuntime looks for the ONNX Runtime library that scripts/services.sh WITH_ONNX=1
// installs under root/data/onnxruntime (the npm package onnxruntime-node).
func FindRuntime(root string) (string, error) {
	pattern := filepath.Join(root, "data/onnxruntime/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so*")
	m, _ := filepath.Glob(pattern)
	if len(m) == 0 {
		return "", fmt.Errorf("onnx: no ONNX Runtime library at %s (set FUSIONRANK_ONNXRUNTIME_LIB)", pattern)
	}
	sort.Strings(m)
	return m[len(m)-1], nil
}
