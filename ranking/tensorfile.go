package ranking

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
)

// WriteTensors writes tensors and string metadata to w as one safetensors
// file, the format of every fusionrank model file: an 8-byte little-endian
// header length, a JSON header mapping each tensor name to {"dtype": "F32",
// "shape", "data_offsets": [begin, end]} plus "__metadata__" (padded with
// spaces so the data is 8-byte aligned), then the tensors' little-endian
// float32 bytes in the order given. It refuses an empty or repeated name,
// the reserved name "__metadata__", a shape whose product is not the data
// length, and NaN or infinite values. Other packages with their own
// weights (the image encoder) write their files with it.
func WriteTensors(w io.Writer, tensors []Tensor, meta map[string]string) (int64, error) {
	seen := make(map[string]bool, len(tensors))
	size := 0
	for _, t := range tensors {
		if t.Name == "" || t.Name == "__metadata__" || seen[t.Name] {
			return 0, fmt.Errorf("ranking: write tensors: bad or repeated tensor name %q", t.Name)
		}
		seen[t.Name] = true
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				return 0, fmt.Errorf("ranking: write tensors: tensor %s: negative shape %v", t.Name, t.Shape)
			}
			n *= d
		}
		if n != len(t.Data) {
			return 0, fmt.Errorf("ranking: write tensors: tensor %s: shape %v holds %d values, data has %d", t.Name, t.Shape, n, len(t.Data))
		}
		for k, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, fmt.Errorf("ranking: write tensors: tensor %s is not finite (element %d is %v)", t.Name, k, v)
			}
		}
		size += 4 * len(t.Data)
	}
	if meta == nil {
		meta = map[string]string{}
	}
	mj, err := json.Marshal(meta)
	if err != nil {
		return 0, fmt.Errorf("ranking: write tensors: %w", err)
	}
	header := map[string]json.RawMessage{"__metadata__": mj}
	data := make([]byte, 0, size)
	for _, t := range tensors {
		begin := int64(len(data))
		for _, v := range t.Data {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		ej, _ := json.Marshal(stEntry{DType: "F32", Shape: t.Shape, DataOffsets: [2]int64{begin, int64(len(data))}})
		header[t.Name] = ej
	}
	return writeSafetensors(w, header, data)
}

// ReadTensors reads any safetensors file of F32 and F64 tensors (F64 values
// rounded to float32) with its string metadata. It makes the checks
// ReadModel makes of every tensor — header length, JSON, dtype, byte length
// against the shape, data offsets in range and not overlapping, a complete
// file, finite values — and returns the tensors sorted by name; errors for
// a malformed file wrap ErrCorruptModel. Which tensors must be there, and
// their shapes, is the caller's to check.
func ReadTensors(r io.Reader) ([]Tensor, map[string]string, error) {
	meta, entries, err := readHeader(r)
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	sort.Strings(names)
	tensors := make([]Tensor, 0, len(names))
	spans := make([]span, 0, len(names))
	var total int64
	for _, name := range names {
		e := entries[name]
		n := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && n > maxTensorBytes/int64(d)) {
				return nil, nil, corrupt("tensor %s: shape %v out of range", name, e.Shape)
			}
			n *= int64(d)
		}
		if err := checkEntry(name, e, int(n)); err != nil {
			return nil, nil, err
		}
		spans = append(spans, span{name, e.DataOffsets[0], e.DataOffsets[1]})
		total = max(total, e.DataOffsets[1])
		tensors = append(tensors, Tensor{Name: name, Shape: slices.Clone(e.Shape), Data: make([]float32, n)})
	}
	if err := checkOverlap(spans); err != nil {
		return nil, nil, err
	}
	data, err := readData(r, total)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range tensors {
		if err := decodeTensor(t.Data, t.Name, entries[t.Name], data); err != nil {
			return nil, nil, err
		}
	}
	return tensors, meta, nil
}
