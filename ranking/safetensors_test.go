package ranking

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestModelFileRoundTrip(t *testing.T) {
	for i, s := range randomShapes {
		t.Run(s.String(), func(t *testing.T) {
			m, q, cands := randomProblem(s, uint64(200+i))
			m.Config() // the copy must not alias
			var buf bytes.Buffer
			n, err := m.WriteTo(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(buf.Len()) {
				t.Errorf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
			}
			got, err := ReadModel(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			gc, wc := got.Config(), m.Config()
			if !slices.Equal(gc.Modalities, wc.Modalities) || gc.DModel != wc.DModel || gc.DAttn != wc.DAttn ||
				gc.NFeatures != wc.NFeatures || gc.MaxQueryTokens != wc.MaxQueryTokens {
				t.Errorf("config %+v, want %+v", gc, wc)
			}
			gt, wt := got.Tensors(), m.Tensors()
			for k := range wt {
				if gt[k].Name != wt[k].Name || !slices.Equal(gt[k].Data, wt[k].Data) {
					t.Errorf("tensor %s differs after the round trip", wt[k].Name)
				}
			}
			a := scoreCandidates(m, new(Workspace), q, cands, nil)
			b := scoreCandidates(got, new(Workspace), q, cands, nil)
			if !slices.Equal(a, b) {
				t.Errorf("scores differ after the round trip: %v vs %v", b, a)
			}
		})
	}
}

// stFile builds a safetensors file from a header and raw data.
func stFile(t *testing.T, header map[string]any, data []byte) []byte {
	t.Helper()
	hj, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hj)))
	out = append(out, hj...)
	return append(out, data...)
}

// stParts returns a valid file's header (as a generic map) and data.
func stParts(t *testing.T, m *Model) (map[string]any, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	hlen := binary.LittleEndian.Uint64(b)
	var header map[string]any
	if err := json.Unmarshal(b[8:8+hlen], &header); err != nil {
		t.Fatal(err)
	}
	return header, b[8+hlen:]
}

func TestReadModelF64(t *testing.T) {
	m, _, _ := randomProblem(randomShapes[2], 9)
	header := map[string]any{"__metadata__": map[string]string{}}
	var data []byte
	for _, ten := range m.Tensors() {
		begin := len(data)
		for _, v := range ten.Data {
			data = binary.LittleEndian.AppendUint64(data, math.Float64bits(float64(v)))
		}
		header[ten.Name] = map[string]any{"dtype": "F64", "shape": ten.Shape, "data_offsets": []int{begin, len(data)}}
	}
	// No fusionrank metadata: the config is inferred from the shapes.
	got, err := ReadModel(bytes.NewReader(stFile(t, header, data)))
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Config(); len(c.Modalities) != 4 || c.Modalities[2] != (Modality{"2", 11}) || c.DModel != 10 || c.DAttn != 6 {
		t.Errorf("inferred config %+v", c)
	}
	gt, wt := got.Tensors(), m.Tensors()
	for k := range wt {
		if !slices.Equal(gt[k].Data, wt[k].Data) {
			t.Errorf("tensor %s differs after F64 conversion", wt[k].Name)
		}
	}
}

func TestReadModelRejectsCorruptFiles(t *testing.T) {
	m, _, _ := randomProblem(randomShapes[1], 11)
	var good bytes.Buffer
	if _, err := m.WriteTo(&good); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(h map[string]any, data []byte) []byte) func(*testing.T) []byte {
		return func(t *testing.T) []byte {
			h, data := stParts(t, m)
			data = slices.Clone(data)
			data = f(h, data)
			return stFile(t, h, data)
		}
	}
	entry := func(h map[string]any, name string) map[string]any { return h[name].(map[string]any) }
	tests := []struct {
		name string
		file func(*testing.T) []byte
		want string
	}{
		{"empty", func(*testing.T) []byte { return nil }, "shorter than"},
		{"header length zero", func(*testing.T) []byte { return make([]byte, 16) }, "header length 0"},
		{"header length huge", func(*testing.T) []byte {
			b := slices.Clone(good.Bytes())
			binary.LittleEndian.PutUint64(b, 1<<40)
			return b
		}, "header length"},
		{"header length beyond file", func(*testing.T) []byte {
			b := slices.Clone(good.Bytes())
			binary.LittleEndian.PutUint64(b, uint64(len(b)))
			return b
		}, "ends before"},
		{"header not JSON", func(*testing.T) []byte {
			return append(binary.LittleEndian.AppendUint64(nil, 8), "not json"...)
		}, "not a JSON object"},
		{"truncated data", func(*testing.T) []byte { return good.Bytes()[:good.Len()-3] }, "truncated"},
		{"missing tensor", edit(func(h map[string]any, d []byte) []byte { delete(h, "wk"); return d }), "missing tensor wk"},
		{"unexpected tensor", edit(func(h map[string]any, d []byte) []byte {
			h["extra"] = map[string]any{"dtype": "F32", "shape": []int{0}, "data_offsets": []int{0, 0}}
			return d
		}), "unexpected tensors extra"},
		{"shape mismatch", edit(func(h map[string]any, d []byte) []byte {
			entry(h, "wq")["shape"] = []int{3, 4}
			return d
		}), "tensor wq: shape [3 4]"},
		{"dtype", edit(func(h map[string]any, d []byte) []byte { entry(h, "u")["dtype"] = "I32"; return d }), `dtype "I32"`},
		{"byte length", edit(func(h map[string]any, d []byte) []byte {
			entry(h, "u")["dtype"] = "F64"
			return d
		}), "data bytes"},
		{"overlap", edit(func(h map[string]any, d []byte) []byte {
			entry(h, "wk")["data_offsets"] = entry(h, "wq")["data_offsets"]
			return d
		}), "overlap"},
		{"negative offset", edit(func(h map[string]any, d []byte) []byte {
			entry(h, "b")["data_offsets"] = []int{-4, 0}
			return d
		}), "out of range"},
		{"nan", edit(func(h map[string]any, d []byte) []byte {
			off := int(entry(h, "wv")["data_offsets"].([]any)[0].(float64))
			binary.LittleEndian.PutUint32(d[off+4:], math.Float32bits(float32(math.NaN())))
			return d
		}), "tensor wv: element 1 is NaN"},
		{"inf", edit(func(h map[string]any, d []byte) []byte {
			off := int(entry(h, "b")["data_offsets"].([]any)[0].(float64))
			binary.LittleEndian.PutUint32(d[off:], math.Float32bits(float32(math.Inf(1))))
			return d
		}), "tensor b: element 0 is +Inf"},
		{"bad config", edit(func(h map[string]any, d []byte) []byte {
			h["__metadata__"].(map[string]any)[metaConfig] = `{"modalities":[],"d_model":4}`
			return d
		}), "no modalities"},
		{"config not JSON", edit(func(h map[string]any, d []byte) []byte {
			h["__metadata__"].(map[string]any)[metaConfig] = `{`
			return d
		}), "not a config"},
		{"format version", edit(func(h map[string]any, d []byte) []byte {
			h["__metadata__"].(map[string]any)[metaFormat] = "99"
			return d
		}), "format version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadModel(bytes.NewReader(tt.file(t)))
			if err == nil {
				t.Fatal("ReadModel accepted a corrupt file")
			}
			if !errors.Is(err, ErrCorruptModel) {
				t.Errorf("error %v does not wrap ErrCorruptModel", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestWriteToRejectsNonFinite(t *testing.T) {
	m, _, _ := randomProblem(randomShapes[1], 12)
	m.Wo[2] = float32(math.NaN())
	if _, err := m.WriteTo(new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "wo") {
		t.Fatalf("WriteTo = %v, want an error naming wo", err)
	}
}
