package ranking

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestEncoderApplyTo(t *testing.T) {
	e := NewRecencyEmbedding(2, 3)
	copy(e.Pos, []float32{1, 2, 3, 10, 20, 30})
	tests := []struct {
		name   string
		recent [][]float32
		want   [][]float32
	}{
		{"empty", nil, [][]float32{}},
		{"one", [][]float32{{1, 1, 1}}, [][]float32{{2, 3, 4}}},
		{"missing and extra", [][]float32{nil, {0, 0, 1}, {5, 5, 5}}, [][]float32{nil, {10, 20, 31}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := make([][]float32, len(tc.recent))
			for k, v := range tc.recent {
				in[k] = slices.Clone(v)
			}
			got := e.ApplyTo(nil, in)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d tokens, want %d", len(got), len(tc.want))
			}
			for k := range got {
				if !slices.Equal(got[k], tc.want[k]) {
					t.Errorf("token %d = %v, want %v", k, got[k], tc.want[k])
				}
			}
			for k := range in {
				if !slices.Equal(in[k], tc.recent[k]) {
					t.Errorf("input %d modified", k)
				}
			}
		})
	}
}

func TestModelEncoderFile(t *testing.T) {
	cfg := Config{Modalities: []Modality{{"collab", 4}, {"attr", 3}}, DModel: 5, DAttn: 2, NFeatures: 6, MaxQueryTokens: 3}
	m := NewRandomModel(cfg, rand.New(rand.NewPCG(1, 2)))
	e := NewRecencyEmbedding(2, 4)
	for k := range e.Pos {
		e.Pos[k] = float32(k) / 7
	}
	for _, enc := range []*RecencyEmbedding{nil, e} {
		var buf bytes.Buffer
		if _, err := WriteModelTo(&buf, m, enc); err != nil {
			t.Fatal(err)
		}
		m2, e2, err := ReadModelRecency(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		for k, ts := range m.Tensors() {
			if !slices.Equal(ts.Data, m2.Tensors()[k].Data) {
				t.Errorf("tensor %s differs after the round trip", ts.Name)
			}
		}
		if (enc == nil) != (e2 == nil) || enc != nil && !slices.Equal(enc.Pos, e2.Pos) {
			t.Errorf("encoder %v read back as %v", enc, e2)
		}
		// A plain reader must refuse the extra tensors rather than ignore them.
		if _, err := ReadModel(bytes.NewReader(buf.Bytes())); (enc != nil) != errors.Is(err, ErrCorruptModel) {
			t.Errorf("ReadModel with encoder %v: err %v", enc != nil, err)
		}
	}
}
