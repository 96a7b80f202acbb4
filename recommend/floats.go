package recommend

import (
	"encoding/binary"
	"math"
)

func mathFloat32bits(x float32) uint32 { return math.Float32bits(x) }

func decodeFloatsTo(dst []float32, b []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}
