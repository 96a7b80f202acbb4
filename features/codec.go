package features

import (
	"encoding/binary"
	"math"
)

// Binary values in Redis start with a 4-byte header: the magic "fr", the codec version
// and a kind byte. A value whose header, version or size does not match is read as a
// miss, never as an error: the cache is rebuilt from Postgres.
const (
	codecVersion = 1
	kindVector   = 'v'
	kindProfile  = 'p'
)

func putHeader(dst []byte, kind byte) []byte {
	return append(dst, 'f', 'r', codecVersion, kind)
}

func checkHeader(b []byte, kind byte) ([]byte, bool) {
	if len(b) < 4 || b[0] != 'f' || b[1] != 'r' || b[2] != codecVersion || b[3] != kind {
		return nil, false
	}
	return b[4:], true
}

// EncodeVector appends v in the cache's binary form (header, uint32 dim, little-endian
// float32s) to dst.
func EncodeVector(dst []byte, v []float32) []byte {
	dst = putHeader(dst, kindVector)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v)))
	return appendFloats(dst, v)
}

// DecodeVector reads a value written by EncodeVector. ok is false for a value of another
// version or kind, or of the wrong size.
func DecodeVector(b []byte) (v []float32, ok bool) {
	b, ok = checkHeader(b, kindVector)
	if !ok || len(b) < 4 {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if len(b) != 4*n {
		return nil, false
	}
	return readFloats(make([]float32, n), b), true
}

// AppendFloats appends v as little-endian float32s (no header): the form of
// item_vectors.data in Postgres.
func AppendFloats(dst []byte, v []float32) []byte { return appendFloats(dst, v) }

// ReadFloats fills dst from little-endian float32s; b must hold 4·len(dst) bytes.
func ReadFloats(dst []float32, b []byte) []float32 { return readFloats(dst, b) }

func appendFloats(dst []byte, v []float32) []byte {
	for _, x := range v {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
	}
	return dst
}

func readFloats(dst []float32, b []byte) []float32 {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return dst
}

// reader reads a binary value, remembering the first short read.
type reader struct {
	b  []byte
	ok bool
}

func (r *reader) take(n int) []byte {
	if !r.ok || n < 0 || len(r.b) < n {
		r.ok = false
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u32() uint32 {
	if p := r.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *reader) i64() int64 {
	if p := r.take(8); p != nil {
		return int64(binary.LittleEndian.Uint64(p))
	}
	return 0
}

func (r *reader) f64() float64 { return math.Float64frombits(uint64(r.i64())) }

func (r *reader) str() string { return string(r.strBytes()) }

// strBytes reads a string's bytes (nil on a short read), aliasing r.b.
func (r *reader) strBytes() []byte {
	n := r.u32()
	if n > 1<<16 {
		r.ok = false
		return nil
	}
	return r.take(int(n))
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

func appendI64(dst []byte, x int64) []byte { return binary.LittleEndian.AppendUint64(dst, uint64(x)) }

func appendF64(dst []byte, x float64) []byte { return appendI64(dst, int64(math.Float64bits(x))) }
