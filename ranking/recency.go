package ranking

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// RecencyEmbedding is an optional learned transform of the query side, applied
// to the recent-item tokens before the fusion scorer sees them. The fusion
// scorer stays the scoring layer: the embedding only changes the raw tokens
// x_i of the recent slots (Layout slots 0 … Recent−1): the token of the k-th
// most recent item becomes
//
//	x'_k = x_k + e_k        (e_k = row k of Pos, k = 0 … Recent−1)
//
// so that, beyond the position bias β_k of the attention logits, the value
// path R_k = X'_k Wo can depend on how recent an item is. A model without
// one is the plain fusion scorer. (SeqEncoder, the sequence encoder behind
// the seq feature, is another part.)
type RecencyEmbedding struct {
	// Dim is the recent modality's dimension.
	Dim int
	// Pos is Recent × Dim, row-major ("enc.pos" in model files).
	Pos []float32
}

// NewRecencyEmbedding returns a zero embedding (the identity) for recent slots of dim.
func NewRecencyEmbedding(recent, dim int) *RecencyEmbedding {
	if recent <= 0 || dim <= 0 {
		panic("ranking: bad RecencyEmbedding shape")
	}
	return &RecencyEmbedding{Dim: dim, Pos: make([]float32, recent*dim)}
}

// Recent returns the number of recent slots the embedding covers.
func (e *RecencyEmbedding) Recent() int { return len(e.Pos) / e.Dim }

// ApplyTo writes the encoded recent tokens: dst[k] = recent[k] + Pos[k] for
// each k < min(len(recent), Recent()), reusing dst[k]'s storage when it has
// room; a nil or wrong-length recent[k] (a missing vector) gives a nil
// dst[k]. It returns dst resized to that many tokens. recent is not
// modified. Serving calls it on QueryParts.Recent before Layout.Build.
func (e *RecencyEmbedding) ApplyTo(dst [][]float32, recent [][]float32) [][]float32 {
	n := min(len(recent), e.Recent())
	if cap(dst) < n {
		dst = append(dst[:cap(dst)], make([][]float32, n-cap(dst))...)
	}
	dst = dst[:n]
	for k := range n {
		x := recent[k]
		if len(x) != e.Dim {
			dst[k] = nil
			continue
		}
		d := dst[k]
		if cap(d) < e.Dim {
			d = make([]float32, e.Dim)
		}
		d = d[:e.Dim]
		p := e.Pos[k*e.Dim : (k+1)*e.Dim]
		for i, v := range x {
			d[i] = v + p[i]
		}
		dst[k] = d
	}
	return dst
}

// Tensors returns views of the embedding's tensors ("enc.pos").
func (e *RecencyEmbedding) Tensors() []Tensor {
	return []Tensor{{Name: "enc.pos", Shape: []int{e.Recent(), e.Dim}, Data: e.Pos}}
}

// WriteModelTo writes m and, when e is not nil, e's tensors to w as one
// safetensors file: every tensor of m.Tensors and m.ModeTensors as little-endian F32 under its
// name, then the "enc.*" tensors, with the Config as JSON in the
// "fusionrank.config" metadata entry. It refuses non-finite values.
// ReadModelRecency reads it back; m.WriteTo is WriteModelTo(w, m, nil).
func WriteModelTo(w io.Writer, m *Model, e *RecencyEmbedding) (int64, error) {
	if err := m.checkFinite(); err != nil {
		return 0, fmt.Errorf("ranking: write model: %v", err)
	}
	tensors := m.allTensors()
	if e != nil {
		for _, t := range e.Tensors() {
			for _, v := range t.Data {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return 0, fmt.Errorf("ranking: write model: tensor %s is not finite", t.Name)
				}
			}
			tensors = append(tensors, t)
		}
	}
	cfgJSON, err := json.Marshal(m.cfg)
	if err != nil {
		return 0, fmt.Errorf("ranking: write model: %w", err)
	}
	return WriteTensors(w, tensors, map[string]string{metaConfig: string(cfgJSON), metaFormat: formatVersion})
}

// writeSafetensors writes the 8-byte header length, the JSON header padded with
// spaces so the tensor data is 8-byte aligned, and the data.
func writeSafetensors(w io.Writer, header map[string]json.RawMessage, data []byte) (int64, error) {
	hj, err := json.Marshal(header)
	if err != nil {
		return 0, fmt.Errorf("ranking: write model: %w", err)
	}
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	var n int64
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
	for _, b := range [][]byte{lenBuf[:], hj, data} {
		k, err := w.Write(b)
		n += int64(k)
		if err != nil {
			return n, fmt.Errorf("ranking: write model: %w", err)
		}
	}
	return n, nil
}

// ReadModelRecency reads a file written by WriteModelTo: the model (checked
// as ReadModel checks it) and its recency embedding, nil when the file has no
// "enc.*" tensors. A plain model file reads as the model and a nil embedding.
func ReadModelRecency(r io.Reader) (*Model, *RecencyEmbedding, error) {
	all, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("ranking: read model: %w", err)
	}
	if len(all) < 8 {
		return nil, nil, corrupt("file shorter than the 8-byte header length")
	}
	hlen := binary.LittleEndian.Uint64(all[:8])
	if hlen < 2 || hlen > maxHeaderLen || uint64(len(all)) < 8+hlen {
		return nil, nil, corrupt("header length %d out of range", hlen)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(all[8:8+hlen], &header); err != nil {
		return nil, nil, corrupt("header is not a JSON object: %v", err)
	}
	data := all[8+hlen:]
	var pos *stEntry
	for name, raw := range header {
		if !strings.HasPrefix(name, "enc.") {
			continue
		}
		if name != "enc.pos" {
			return nil, nil, corrupt("unexpected encoder tensor %s", name)
		}
		var e stEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, nil, corrupt("tensor %s: bad header entry: %v", name, err)
		}
		pos = &e
		delete(header, name)
	}
	var buf bytes.Buffer
	if _, err := writeSafetensors(&buf, header, data); err != nil {
		return nil, nil, err
	}
	m, err := ReadModel(&buf)
	if err != nil {
		return nil, nil, err
	}
	if pos == nil {
		return m, nil, nil
	}
	if pos.DType != "F32" || len(pos.Shape) != 2 || pos.Shape[0] <= 0 || pos.Shape[1] <= 0 {
		return nil, nil, corrupt("tensor enc.pos: dtype %s shape %v, want F32 [recent, dim]", pos.DType, pos.Shape)
	}
	b, en := pos.DataOffsets[0], pos.DataOffsets[1]
	want := int64(pos.Shape[0]) * int64(pos.Shape[1]) * 4
	if b < 0 || en-b != want || en > int64(len(data)) {
		return nil, nil, corrupt("tensor enc.pos: data offsets [%d, %d] out of range", b, en)
	}
	enc := NewRecencyEmbedding(pos.Shape[0], pos.Shape[1])
	for k := range enc.Pos {
		v := math.Float32frombits(binary.LittleEndian.Uint32(data[b+4*int64(k):]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, nil, corrupt("tensor enc.pos: element %d is %v", k, v)
		}
		enc.Pos[k] = v
	}
	if enc.Recent() > m.cfg.MaxQueryTokens {
		return nil, nil, corrupt("encoder covers %d slots, the model has %d", enc.Recent(), m.cfg.MaxQueryTokens)
	}
	return m, enc, nil
}
