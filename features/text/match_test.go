package text

import (
	"hash/maphash"
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
			want := matchReference(m, title)
			if got != want {
				t.Errorf("query %q, title %q: %v, want %v", q, title, got, want)
			}
			// The catalogue's prepared title gives the same values.
			ts := NewTitleStems(title)
			var of [MatchFeatures]float32
			m.FeaturesOf(of[:], &ts)
			if of != want {
				t.Errorf("query %q, title %q: FeaturesOf %v, want %v", q, title, of, want)
			}
		}
	}
	m := NewMatch("red summer bags")
	dst := make([]float32, MatchFeatures)
	if n := testing.AllocsPerRun(100, func() { m.Features(dst, "Vintage Red Leather Shoulder Bag with Brass Buckles") }); n != 0 {
		t.Errorf("Features allocates %v times per title", n)
	}
	ts := NewTitleStems("Vintage Red Leather Shoulder Bag with Brass Buckles")
	if n := testing.AllocsPerRun(100, func() { m.FeaturesOf(dst, &ts) }); n != 0 {
		t.Errorf("FeaturesOf allocates %v times per title", n)
	}
}

// TestStemHash: a title token's hash, computed from its stem's parts without
// building the stem, is the hash of the query's stem string (the "ies" → "y"
// rule included), and different stems hash apart.
func TestStemHash(t *testing.T) {
	for _, w := range []string{"berries", "batteries", "bracket", "brackets", "hinges", "railing", "水壶"} {
		if got, want := stemHash(stemParts(w)), maphash.String(stemSeed, Stem(w)); got != want {
			t.Errorf("%q: stemHash %x, hash of Stem %q %x", w, got, Stem(w), want)
		}
	}
	if stemHash(stemParts("berries")) == stemHash(stemParts("berr")) {
		t.Error(`"berries" (stem "berry") and "berr" hash alike`)
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

// BenchmarkMatchFeaturesOf: the same with the titles prepared as the catalogue
// keeps them (NewTitleStems), what a rerank computes.
func BenchmarkMatchFeaturesOf(b *testing.B) {
	m := NewMatch("red summer bags")
	dst := make([]float32, MatchFeatures)
	ts := NewTitleStems("Vintage red leather shoulder bag with brass buckles and adjustable strap")
	b.ReportAllocs()
	for b.Loop() {
		for range 100 {
			m.FeaturesOf(dst, &ts)
		}
	}
}
