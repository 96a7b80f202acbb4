// Package onnxtest writes small ONNX models for tests: the protocol buffer encoding of
// an ONNX ModelProto, written field by field.
package onnxtest

import (
	"encoding/binary"
	"math"
)

// pb writes protocol buffer fields (the wire format ONNX files use).
type pb []byte

func (b pb) varint(v uint64) pb {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
func (b pb) tag(field, wire int) pb    { return b.varint(uint64(field<<3 | wire)) }
func (b pb) int(field int, v int64) pb { return b.tag(field, 0).varint(uint64(v)) }
func (b pb) bytes(field int, v []byte) pb {
	return append(b.tag(field, 2).varint(uint64(len(v))), v...)
}
func (b pb) str(field int, s string) pb { return b.bytes(field, []byte(s)) }
func (b pb) msg(field int, m pb) pb     { return b.bytes(field, m) }

// valueInfo is a float tensor's ValueInfoProto; a dim of -1 is symbolic.
func valueInfo(name string, dims ...int64) pb {
	var shape pb
	for _, d := range dims {
		if d < 0 {
			shape = shape.msg(1, pb{}.str(2, "n"))
		} else {
			shape = shape.msg(1, pb{}.int(1, d))
		}
	}
	tensor := pb{}.int(1, 1).msg(2, shape) // elem_type FLOAT, shape
	return pb{}.str(1, name).msg(2, pb{}.msg(1, tensor))
}

func node(op string, in []string, out string) pb {
	var n pb
	for _, i := range in {
		n = n.str(1, i)
	}
	return n.str(2, out).str(3, op+"_"+out).str(4, op)
}

// ProjectionModel is an ONNX model of the image encoder shape: input "pixels"
// [1, 3, size, size], GlobalAveragePool → Flatten → MatMul with w (3 × d), output
// "embedding" [1, d]: the mean of each normalised channel, projected.
func ProjectionModel(size int64, w [][]float32) []byte {
	d := int64(len(w[0]))
	raw := make([]byte, 0, 4*3*d)
	for _, row := range w {
		for _, v := range row {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
	}
	init := pb{}.int(1, 3).int(1, d).int(2, 1).str(8, "w").bytes(9, raw)
	graph := pb{}.
		msg(1, node("GlobalAveragePool", []string{"pixels"}, "pooled")).
		msg(1, node("Flatten", []string{"pooled"}, "flat")).
		msg(1, node("MatMul", []string{"flat", "w"}, "embedding")).
		str(2, "projection").
		msg(5, init).
		msg(11, valueInfo("pixels", 1, 3, size, size)).
		msg(12, valueInfo("embedding", 1, d))
	return pb{}.int(1, 8).str(2, "fusionrank-test").msg(7, graph).msg(8, pb{}.str(1, "").int(2, 13))
}
