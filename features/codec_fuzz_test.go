package features

import (
	"bytes"
	"math"
	"testing"
)

// Redis values are read back by every replica; a corrupt or foreign value must read as a
// miss, never panic, and anything the decoders accept must be what the encoders write.

func FuzzDecodeVector(f *testing.F) {
	f.Add(EncodeVector(nil, nil))
	f.Add(EncodeVector(nil, []float32{1}))
	f.Add(EncodeVector(nil, []float32{0.5, -3, float32(math.Inf(1)), float32(math.NaN())}))
	f.Add([]byte("fr\x01v\xff\xff\xff\xff"))
	f.Add([]byte("fr\x01v\x02\x00\x00\x00abcd"))
	f.Add([]byte("fr\x02v\x00\x00\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := DecodeVector(b)
		if !ok {
			if v != nil {
				t.Fatalf("a miss returned a vector")
			}
			return
		}
		// Accepted bytes re-encode to exactly themselves (bit patterns, NaNs included).
		if again := EncodeVector(nil, v); !bytes.Equal(again, b) {
			t.Fatalf("decode(%x) = %v re-encodes to %x", b, v, again)
		}
	})
}

func FuzzDecodeProfile(f *testing.F) {
	p := &Profile{UpdatedAt: 5, Events: 3,
		Recent: []RecentItem{{"a", 3, 9}, {"b", 2, 8}}, Bought: []RecentItem{{"a", 3, 9}},
		Modalities: map[string]*ModalityProfile{
			"text":  {Ref: 3, Weight: 1.5, Mean: []float32{0.5, -0.5}},
			"image": {Ref: -1, Weight: math.Inf(1), Mean: nil},
		}}
	f.Add(p.encode())
	f.Add((&Profile{}).encode())
	f.Add((&Profile{Recent: []RecentItem{{"", 0, 0}}}).encode())
	b := p.encode()
	f.Add(b[:len(b)/2])
	f.Add([]byte("fr\x01p"))
	f.Add([]byte("fr\x01p\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok := decodeProfile(b)
		if !ok {
			if p != nil {
				t.Fatalf("a miss returned a profile")
			}
			return
		}
		// A decoded profile encodes back to the same bytes, except that the encoder
		// sorts modalities and writes each name once: compare on a second round.
		once := p.encode()
		q, ok := decodeProfile(once)
		if !ok {
			t.Fatalf("re-encoded profile does not decode: %x", once)
		}
		if twice := q.encode(); !bytes.Equal(once, twice) {
			t.Fatalf("encode is not stable: %x then %x", once, twice)
		}
		if len(q.Recent) != len(p.Recent) || len(q.Bought) != len(p.Bought) || len(q.Modalities) != len(p.Modalities) ||
			q.UpdatedAt != p.UpdatedAt || q.Events != p.Events {
			t.Fatalf("round trip changed the profile: %+v vs %+v", p, q)
		}
		for name, m := range p.Modalities {
			n := q.Modalities[name]
			if n == nil || len(n.Mean) != len(m.Mean) || n.Ref != m.Ref || math.Float64bits(n.Weight) != math.Float64bits(m.Weight) {
				t.Fatalf("modality %q changed in a round trip", name)
			}
		}
	})
}
