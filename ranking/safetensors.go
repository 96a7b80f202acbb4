package ranking

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Model files use the safetensors format: an 8-byte little-endian header
// length N, N bytes of JSON header, then the tensor bytes. The header maps
// each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets into the bytes after the header) and holds string metadata under
// "__metadata__".
const (
	// metaConfig is the metadata key holding the Config as JSON.
	metaConfig = "fusionrank.config"
	// metaFormat is the metadata key holding the file format version.
	metaFormat = "fusionrank.format"
	// formatVersion is the version written by WriteTo.
	formatVersion = "1"
	// maxHeaderLen bounds the JSON header so a corrupt length cannot make
	// ReadModel allocate gigabytes.
	maxHeaderLen = 16 << 20
	// maxTensorBytes bounds the tensor data for the same reason.
	maxTensorBytes = 4 << 30
)

// ErrCorruptModel is wrapped by every error ReadModel returns for a file
// that is not a valid fusion scorer model (as opposed to a read error of
// the underlying io.Reader, which is returned wrapped as is).
var ErrCorruptModel = errors.New("ranking: corrupt model file")

type stEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// WriteTo writes m to w in the safetensors format: every tensor of
// m.Tensors and m.ModeTensors as little-endian F32 under its name, and the Config as JSON in
// the "fusionrank.config" metadata entry. It refuses to write a model with
// a NaN or infinite parameter. WriteTo implements io.WriterTo.
func (m *Model) WriteTo(w io.Writer) (int64, error) { return WriteModelTo(w, m, nil) }

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptModel, fmt.Sprintf(format, args...))
}

// ReadModel reads a model written by WriteTo, or any safetensors file with
// the same tensor names. Tensors may be F32 or F64 (converted to float32).
// When the metadata lacks "fusionrank.config", the config is inferred from
// the tensor shapes and modality j is named strconv.Itoa(j).
//
// It rejects, with an error wrapping ErrCorruptModel: a bad header length,
// a header that is not JSON, an invalid config, a missing or unexpected
// tensor, a dtype other than F32 or F64, a shape or byte-length mismatch,
// overlapping or out-of-range data offsets, and NaN or infinite values.
func ReadModel(r io.Reader) (*Model, error) {
	meta, entries, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if cj, ok := meta[metaConfig]; ok {
		if err := json.Unmarshal([]byte(cj), &cfg); err != nil {
			return nil, corrupt("metadata %s is not a config: %v", metaConfig, err)
		}
	} else {
		var err error
		if cfg, err = inferConfig(entries); err != nil {
			return nil, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, corrupt("%v", err)
	}
	if v, ok := meta[metaFormat]; ok && v != formatVersion {
		return nil, corrupt("format version %q, this build reads %q", v, formatVersion)
	}
	m := NewModel(cfg)
	tensors := m.allTensors()
	// Check the header against the model before reading any data.
	var spans []span
	var total int64
	for _, t := range tensors {
		e, ok := entries[t.Name]
		if !ok {
			return nil, corrupt("missing tensor %s", t.Name)
		}
		if !equalShape(e.Shape, t.Shape) {
			return nil, corrupt("tensor %s: shape %v, config implies %v", t.Name, e.Shape, t.Shape)
		}
		if err := checkEntry(t.Name, e, len(t.Data)); err != nil {
			return nil, err
		}
		b, en := e.DataOffsets[0], e.DataOffsets[1]
		spans = append(spans, span{t.Name, b, en})
		total = max(total, en)
	}
	if len(entries) != len(tensors) {
		var extra []string
		for name := range entries {
			if !isModelTensor(tensors, name) {
				extra = append(extra, name)
			}
		}
		sort.Strings(extra)
		return nil, corrupt("unexpected tensors %s", strings.Join(extra, ", "))
	}
	if err := checkOverlap(spans); err != nil {
		return nil, err
	}
	data, err := readData(r, total)
	if err != nil {
		return nil, err
	}
	for _, t := range tensors {
		if err := decodeTensor(t.Data, t.Name, entries[t.Name], data); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// readHeader reads a safetensors header: the 8-byte length, the JSON
// object, its "__metadata__" string map and one entry per tensor.
func readHeader(r io.Reader) (map[string]string, map[string]stEntry, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, corrupt("file shorter than the 8-byte header length")
		}
		return nil, nil, fmt.Errorf("ranking: read model: %w", err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen < 2 || hlen > maxHeaderLen {
		return nil, nil, corrupt("header length %d out of range [2, %d]", hlen, maxHeaderLen)
	}
	hj := make([]byte, hlen)
	if _, err := io.ReadFull(r, hj); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, corrupt("header length %d but the file ends before it", hlen)
		}
		return nil, nil, fmt.Errorf("ranking: read model: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hj, &raw); err != nil {
		return nil, nil, corrupt("header is not a JSON object: %v", err)
	}
	meta := map[string]string{}
	if mj, ok := raw["__metadata__"]; ok {
		if err := json.Unmarshal(mj, &meta); err != nil {
			return nil, nil, corrupt("__metadata__ is not a string map: %v", err)
		}
		delete(raw, "__metadata__")
	}
	entries := make(map[string]stEntry, len(raw))
	for name, ej := range raw {
		var e stEntry
		dec := json.NewDecoder(bytes.NewReader(ej))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, nil, corrupt("tensor %s: bad header entry: %v", name, err)
		}
		entries[name] = e
	}
	return meta, entries, nil
}

// checkEntry checks a tensor's header entry: dtype F32 or F64, data
// offsets in range, and as many bytes as n elements of that dtype.
func checkEntry(name string, e stEntry, n int) error {
	var size int64
	switch e.DType {
	case "F32":
		size = 4
	case "F64":
		size = 8
	default:
		return corrupt("tensor %s: dtype %q, want F32 or F64", name, e.DType)
	}
	b, en := e.DataOffsets[0], e.DataOffsets[1]
	if b < 0 || en < b || en > maxTensorBytes {
		return corrupt("tensor %s: data offsets [%d, %d] out of range", name, b, en)
	}
	if en-b != int64(n)*size {
		return corrupt("tensor %s: %d data bytes, shape %v of %s needs %d", name, en-b, e.Shape, e.DType, int64(n)*size)
	}
	return nil
}

// span is where one tensor's bytes lie in the data section.
type span struct {
	name       string
	begin, end int64
}

// checkOverlap sorts spans by their start and refuses overlapping ones.
func checkOverlap(spans []span) error {
	sort.Slice(spans, func(a, b int) bool { return spans[a].begin < spans[b].begin })
	for k := 1; k < len(spans); k++ {
		if spans[k].begin < spans[k-1].end {
			return corrupt("tensors %s and %s overlap", spans[k-1].name, spans[k].name)
		}
	}
	return nil
}

// readData reads the total bytes of tensor data that follow the header.
func readData(r io.Reader, total int64) ([]byte, error) {
	data := make([]byte, total)
	if _, err := io.ReadFull(r, data); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, corrupt("file truncated: header promises %d data bytes", total)
		}
		return nil, fmt.Errorf("ranking: read model: %w", err)
	}
	return data, nil
}

// decodeTensor converts the bytes of a checked entry into dst (F64 values
// rounded to float32), refusing NaN and infinite values.
func decodeTensor(dst []float32, name string, e stEntry, data []byte) error {
	buf := data[e.DataOffsets[0]:e.DataOffsets[1]]
	for k := range dst {
		var v float64
		if e.DType == "F32" {
			v = float64(math.Float32frombits(binary.LittleEndian.Uint32(buf[4*k:])))
		} else {
			v = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*k:]))
		}
		f := float32(v)
		if math.IsNaN(v) || math.IsInf(float64(f), 0) {
			return corrupt("tensor %s: element %d is %v (as float32 %v)", name, k, v, f)
		}
		dst[k] = f
	}
	return nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func isModelTensor(ts []Tensor, name string) bool {
	for _, t := range ts {
		if t.Name == name {
			return true
		}
	}
	return false
}

// inferConfig rebuilds a Config from tensor shapes, for files written by
// other tools without fusionrank metadata.
func inferConfig(entries map[string]stEntry) (Config, error) {
	dim := func(name string, axis, rank int) (int, error) {
		e, ok := entries[name]
		if !ok {
			return 0, corrupt("no %s metadata and missing tensor %s to infer the config from", metaConfig, name)
		}
		if len(e.Shape) != rank {
			return 0, corrupt("tensor %s: shape %v, want rank %d", name, e.Shape, rank)
		}
		return e.Shape[axis], nil
	}
	var cfg Config
	var err error
	if cfg.DModel, err = dim("wq", 0, 2); err != nil {
		return cfg, err
	}
	if cfg.DAttn, err = dim("wq", 1, 2); err != nil {
		return cfg, err
	}
	if cfg.NFeatures, err = dim("u", 0, 1); err != nil {
		return cfg, err
	}
	if cfg.MaxQueryTokens, err = dim("pos_bias", 0, 1); err != nil {
		return cfg, err
	}
	for j := 0; ; j++ {
		name := "proj." + strconv.Itoa(j)
		if _, ok := entries[name]; !ok {
			break
		}
		d, err := dim(name, 0, 2)
		if err != nil {
			return cfg, err
		}
		cfg.Modalities = append(cfg.Modalities, Modality{Name: strconv.Itoa(j), Dim: d})
	}
	return cfg, nil
}
