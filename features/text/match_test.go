package text

import (
	"math"
	"strings"
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

// matchReference is the match features' formula written plainly: the title's
// tokens (Tokenize), each stemmed (Stem), searched for every query stem.
func matchReference(m Match, title string) [MatchFeatures]float32 {
	var out [MatchFeatures]float32
	if len(m.stems) == 0 {
		return out
	}
	words := Tokenize(title)
	in := func(s string) bool {
		for _, w := range words {
			if Stem(w) == s {
				return true
			}
		}
		return false
	}
	found := 0
	for _, s := range m.stems {
		if in(s) {
			found++
		}
	}
	out[0] = float32(found) / float32(len(m.stems))
	if found == len(m.stems) {
		out[1] = 1
	}
	if in(m.stems[len(m.stems)-1]) {
		out[2] = 1
	}
	out[3] = float32(math.Log1p(float64(len(words))))
	return out
}

// TestMatchFeaturesAsReference: Features (one pass over the title, no allocation)
// gives the reference formula's values on titles with capitals, plurals in "ies",
// accents, unspaced scripts and long queries; and allocates nothing.
func TestMatchFeaturesAsReference(t *testing.T) {
	titles := []string{"", "Berries & Cherries Basket", "L BRACKETS, 2-Pack", "Zinc-plated hinges (boxes of 10)",
		"Crème Brûlée Torch", "不锈钢 水壶 Kettle", "painted railing", "Étagère shelves", strings.Repeat("Long ", 40) + "Strawberries"}
	queries := []string{"", "berry basket", "l bracket", "hinge box", "creme brulee", "水壶", "paint rail",
		"etagere shelf", "strawberry " + strings.Repeat("a b c d e f ", 4), "Cherries"}
	for _, q := range queries {
		m := NewMatch(q)
		for _, title := range titles {
			var got [MatchFeatures]float32
			m.Features(got[:], title)
			if want := matchReference(m, title); got != want {
				t.Errorf("query %q, title %q: %v, want %v", q, title, got, want)
			}
		}
	}
	m := NewMatch("red summer bags")
	dst := make([]float32, MatchFeatures)
	if n := testing.AllocsPerRun(100, func() { m.Features(dst, "Vintage Red Leather Shoulder Bag with Brass Buckles") }); n != 0 {
		t.Errorf("Features allocates %v times per title", n)
	}
}

// BenchmarkMatchFeatures: the match features of 100 candidates' titles, what one
// rerank request with query text computes.
func BenchmarkMatchFeatures(b *testing.B) {
	m := NewMatch("red summer bags")
	dst := make([]float32, MatchFeatures)
	title := "Vintage red leather shoulder bag with brass buckles and adjustable strap"
	b.ReportAllocs()
	for b.Loop() {
		for range 100 {
			m.Features(dst, title)
		}
	}
}
