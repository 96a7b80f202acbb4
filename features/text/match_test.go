package text

import (
	"math"
	"testing"
)

func TestStem(t *testing.T) {
	for w, want := range map[string]string{
		"brackets": "bracket", "bracket": "bracket", "hinges": "hinge", "boxes": "box", "batteries": "battery",
		"railing": "rail", "painted": "paint", "glass": "glass", "bus": "bus", "shed": "shed", "ring": "ring",
		"2x4": "2x4", "12": "12", "is": "is",
	} {
		if got := Stem(w); got != want {
			t.Errorf("Stem(%q) = %q, want %q", w, got, want)
		}
	}
}

func TestMatchFeatures(t *testing.T) {
	dst := make([]float32, MatchFeatures+1)
	dst[MatchFeatures] = 7 // not written
	m := NewMatch("L Brackets l bracket, galvanized")
	if len(m.stems) != 3 {
		t.Fatalf("stems %q: repeats must be dropped", m.stems)
	}
	title := "Simpson Strong-Tie 12-Gauge Angle Bracket (L)"
	m.Features(dst, title)
	want := []float32{2.0 / 3, 0, 0, float32(math.Log1p(8))} // simpson strong tie 12 gauge angle bracket l
	for k := range want {
		if math.Abs(float64(dst[k]-want[k])) > 1e-6 {
			t.Fatalf("features %v, want %v", dst[:MatchFeatures], want)
		}
	}
	if dst[MatchFeatures] != 7 {
		t.Fatal("wrote past MatchFeatures")
	}
	NewMatch("angle brackets").Features(dst, title)
	if dst[0] != 1 || dst[1] != 1 || dst[2] != 1 {
		t.Fatalf("every word in the title: %v", dst[:MatchFeatures])
	}
	empty := NewMatch(" ,. ")
	if !empty.Empty() {
		t.Fatal("a query without words is empty")
	}
	empty.Features(dst, title)
	for k := range MatchFeatures {
		if dst[k] != 0 {
			t.Fatalf("empty query: %v, want zeros", dst[:MatchFeatures])
		}
	}
}
