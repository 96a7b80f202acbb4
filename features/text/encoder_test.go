package text

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// naiveWeight recomputes the documented SIF weight of the word at 0-based
// position i of a vocabulary of n words, independently of sifWeights.
func naiveWeight(i, n int, a float64) float64 {
	h := 0.0
	for k := 1; k <= n; k++ {
		h += 1 / float64(k)
	}
	p := 1 / (float64(i+1) * h)
	return a / (a + p)
}

// naiveEncode is the reference for EncodeTo: tokenise with Tokenize, sum the
// weighted vectors in float64, normalise.
func naiveEncode(e *Encoder, texts ...string) (v []float64, known, unknown int) {
	v = make([]float64, e.Dim())
	for _, s := range texts {
		for _, tok := range Tokenize(s) {
			i, ok := e.index[tok]
			if !ok {
				unknown++
				continue
			}
			known++
			w := naiveWeight(int(i), e.Len(), e.SIF())
			vec, _ := e.Vector(tok)
			for d := range v {
				v[d] += w * float64(vec[d])
			}
		}
	}
	var ss float64
	for _, x := range v {
		ss += x * x
	}
	if ss > 0 {
		for d := range v {
			v[d] /= math.Sqrt(ss)
		}
	}
	return v, known, unknown
}

func closeTo(got []float32, want []float64, tol float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol {
			return false
		}
	}
	return true
}

func TestEncodeTo(t *testing.T) {
	e := mustLoad(t, fixture)
	// Weights of the 5-word fixture, by hand: H_5 = 137/60, p(r) = 60/(137 r).
	wDrill := naiveWeight(1, 5, DefaultSIF)    // rank 2
	wCordless := naiveWeight(2, 5, DefaultSIF) // rank 3
	n := math.Hypot(wDrill, 2*wCordless)
	tests := []struct {
		name                 string
		texts                []string
		want                 []float64
		wantKnown, wantUnkwn int
	}{
		{"no text", nil, []float64{0, 0, 0}, 0, 0},
		{"empty strings", []string{"", " - "}, []float64{0, 0, 0}, 0, 0},
		{"all unknown", []string{"Unheard-of words"}, []float64{0, 0, 0}, 0, 3},
		{"one word is its unit vector", []string{"Hammer!"}, []float64{0.6, 0.8, 0}, 1, 0},
		{"weights combine", []string{"Cordless drill"}, []float64{0, wDrill / n, 2 * wCordless / n}, 2, 0},
		{"title and description pooled", []string{"Cordless", "DRILL, the"}, nil, 3, 0},
		{"repetitions count", []string{"drill drill cordless"}, nil, 3, 0},
		{"unknown words ignored", []string{"cordless xyzzy drill"}, nil, 2, 1},
		{"non-ASCII lower-cased", []string{"CAFÉ"}, []float64{0, 0, -1}, 1, 0},
		{"tokens do not span texts", []string{"dri", "ll"}, []float64{0, 0, 0}, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []float32{9, 9, 9} // EncodeTo must overwrite, not add
			known, unknown := e.EncodeTo(dst, tt.texts...)
			ref, rk, ru := naiveEncode(e, tt.texts...)
			if known != tt.wantKnown || unknown != tt.wantUnkwn || rk != known || ru != unknown {
				t.Errorf("known, unknown = %d, %d; want %d, %d (reference %d, %d)", known, unknown, tt.wantKnown, tt.wantUnkwn, rk, ru)
			}
			if tt.want != nil && !closeTo(dst, tt.want, 1e-6) {
				t.Errorf("EncodeTo = %v, want %v", dst, tt.want)
			}
			if !closeTo(dst, ref, 1e-6) {
				t.Errorf("EncodeTo = %v, reference %v", dst, ref)
			}
		})
	}
}

func TestEncodeToPanicsOnShape(t *testing.T) {
	e := mustLoad(t, fixture)
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.HasPrefix(s, "text: EncodeTo") {
			t.Errorf("recover() = %v, want a text: EncodeTo panic", r)
		}
	}()
	e.EncodeTo(make([]float32, 2), "drill")
}

// TestEncodeToReal checks EncodeTo against the float64 reference on seeded
// random texts drawn from the real vocabulary, and that the encoding carries
// meaning: related product texts are closer than unrelated ones.
func TestEncodeToReal(t *testing.T) {
	e := realEncoder(t)
	rng := rand.New(rand.NewPCG(1, 2))
	dst := make([]float32, e.Dim())
	for trial := range 200 {
		var words []string
		for range rng.IntN(30) {
			if rng.IntN(10) == 0 {
				words = append(words, "qqzx"+string(rune('a'+rng.IntN(26))))
				continue
			}
			w := e.words[rng.IntN(e.Len())]
			if rng.IntN(3) == 0 {
				w = strings.ToUpper(w)
			}
			words = append(words, w)
		}
		text := strings.Join(words, " ")
		known, unknown := e.EncodeTo(dst, text)
		ref, rk, ru := naiveEncode(e, text)
		if known != rk || unknown != ru || !closeTo(dst, ref, 1e-5) {
			t.Fatalf("trial %d, %q: EncodeTo disagrees with the reference (%d/%d vs %d/%d)", trial, text, known, unknown, rk, ru)
		}
	}

	cos := func(a, b string) float64 {
		va, vb := make([]float32, e.Dim()), make([]float32, e.Dim())
		e.EncodeTo(va, a)
		e.EncodeTo(vb, b)
		s := 0.0
		for i := range va {
			s += float64(va[i]) * float64(vb[i])
		}
		return s
	}
	pairs := []struct{ anchor, near, far string }{
		{"cordless drill with battery", "18-volt lithium-ion power drill", "white bath towel set"},
		{"kitchen faucet in chrome", "single-handle sink faucet", "garden hose nozzle"},
		{"interior wall paint, eggshell", "semi-gloss latex paint", "stainless steel screws"},
	}
	for _, p := range pairs {
		near, far := cos(p.anchor, p.near), cos(p.anchor, p.far)
		t.Logf("cos(%q, %q) = %.3f; with %q = %.3f", p.anchor, p.near, near, p.far, far)
		if near <= far {
			t.Errorf("%q is not closer to %q than to %q", p.anchor, p.near, p.far)
		}
	}
}

func TestEncodeToAllocs(t *testing.T) {
	e := realEncoder(t)
	dst := make([]float32, e.Dim())
	title, desc := typicalItem()
	allocs := testing.AllocsPerRun(100, func() { e.EncodeTo(dst, title, desc) })
	if allocs != 0 {
		t.Errorf("EncodeTo allocates %v times per call, want 0", allocs)
	}
	buf := make([]float32, 0, 64*e.Dim())
	allocs = testing.AllocsPerRun(100, func() { e.AppendTokens(buf[:0], "Cordless DRILL 18-Volt Men's boots") })
	if allocs != 0 {
		t.Errorf("AppendTokens allocates %v times per call with room in dst, want 0", allocs)
	}
}

func TestTokens(t *testing.T) {
	e := mustLoad(t, fixture)
	tests := []struct {
		name      string
		query     string
		wantWords []string
		wantVecs  [][]float32
		unknown   int
	}{
		{"empty", "", nil, nil, 0},
		{"all unknown", "foo bar", nil, nil, 2},
		{"order kept, unknown skipped, normalised", "Hammer foo THE café",
			[]string{"hammer", "the", "café"},
			[][]float32{{0.6, 0.8, 0}, {1, 0, 0}, {0, 0, -1}}, 1},
		{"repeated words repeated", "drill drill", []string{"drill", "drill"}, [][]float32{{0, 1, 0}, {0, 1, 0}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			words, vecs, unknown := e.Tokens(tt.query)
			if !slices.Equal(words, tt.wantWords) || unknown != tt.unknown {
				t.Errorf("Tokens(%q) words, unknown = %q, %d; want %q, %d", tt.query, words, unknown, tt.wantWords, tt.unknown)
			}
			if len(vecs) != len(tt.wantVecs) {
				t.Fatalf("got %d vectors, want %d", len(vecs), len(tt.wantVecs))
			}
			for i := range vecs {
				if !closeTo(vecs[i], f64(tt.wantVecs[i]), 1e-6) {
					t.Errorf("vector %d = %v, want %v", i, vecs[i], tt.wantVecs[i])
				}
			}
			// AppendTokens gives the same numbers after what dst held.
			flat, known, unk := e.AppendTokens([]float32{7}, tt.query)
			if known != len(tt.wantWords) || unk != tt.unknown || len(flat) != 1+known*e.Dim() || flat[0] != 7 {
				t.Fatalf("AppendTokens: len %d, known %d, unknown %d", len(flat), known, unk)
			}
			if !slices.Equal(flat[1:], slices.Concat(vecs...)) {
				t.Errorf("AppendTokens = %v, Tokens = %v", flat[1:], vecs)
			}
		})
	}
	// Tokens must not hand out the encoder's memory.
	_, vecs, _ := e.Tokens("hammer")
	vecs[0][0] = 42
	if v, _ := e.Vector("hammer"); v[0] != 3 {
		t.Error("modifying a Tokens vector changed the vocabulary")
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func TestVectorAndWeight(t *testing.T) {
	e := mustLoad(t, fixture)
	if _, ok := e.Vector("Drill"); ok {
		t.Error(`Vector("Drill") found: look-ups must be exact`)
	}
	v, ok := e.Vector("drill")
	if !ok || cap(v) != e.Dim() {
		t.Fatalf("Vector(drill) = %v, %v, cap %d; want capacity clipped to Dim", v, ok, cap(v))
	}
	_ = append(v, 99) // must not overwrite "cordless"
	if c, _ := e.Vector("cordless"); c[0] != 0 {
		t.Error("append to a Vector result overwrote the next word")
	}
	prev := float32(0)
	for i, w := range e.words {
		got, ok := e.Weight(w)
		want := naiveWeight(i, e.Len(), DefaultSIF)
		if !ok || math.Abs(float64(got)-want) > 1e-6 {
			t.Errorf("Weight(%q) = %v, %v; want %v", w, got, ok, want)
		}
		if got <= prev {
			t.Errorf("Weight(%q) = %v is not above the more frequent word's %v", w, got, prev)
		}
		prev = got
	}
	if _, ok := e.Weight("nope"); ok {
		t.Error(`Weight("nope") found`)
	}
}

// typicalItem returns a Home Depot style title and description.
func typicalItem() (title, desc string) {
	title = "Simpson Strong-Tie 12-Gauge Galvanized Steel Angle Bracket (2-Pack)"
	desc = "Not only do angles make joints stronger, they also provide more consistent, " +
		"straight corners. Simpson Strong-Tie offers a wide variety of angles in various sizes " +
		"and thicknesses to handle light-duty jobs or projects where a structural connection is needed. " +
		"Some can be bent (skewed) to match the project. For outdoor projects or those where " +
		"moisture is present, use our ZMAX zinc-coated connectors, which provide extra resistance " +
		"against corrosion (look for a \"Z\" at the end of the model number)."
	return title, desc
}

func BenchmarkEncodeTo(b *testing.B) {
	e := realEncoder(b)
	dst := make([]float32, e.Dim())
	title, desc := typicalItem()
	known, unknown := e.EncodeTo(dst, title, desc)
	b.SetBytes(int64(len(title) + len(desc)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e.EncodeTo(dst, title, desc)
	}
	// After the loop: ResetTimer deletes metrics reported before it.
	b.ReportMetric(float64(known+unknown), "tokens/op")
}

func BenchmarkAppendTokens(b *testing.B) {
	e := realEncoder(b)
	buf := make([]float32, 0, 16*e.Dim())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf, _, _ = e.AppendTokens(buf[:0], "cordless hammer drill 18-volt")
	}
}

func BenchmarkLoadGlove50k(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadFile(glove50k); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEncoderConcurrent runs the encoder from several goroutines (run with
// -race): it is immutable after loading, so every goroutine must get the
// single-threaded answer.
func TestEncoderConcurrent(t *testing.T) {
	e := mustLoad(t, fixture)
	want := make([]float32, e.Dim())
	e.EncodeTo(want, "Cordless drill, HAMMER and café")
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			dst := make([]float32, e.Dim())
			var buf []float32
			for range 500 {
				e.EncodeTo(dst, "Cordless drill, HAMMER and café")
				if !slices.Equal(dst, want) {
					errs <- "EncodeTo result differs under concurrency"
					return
				}
				buf, _, _ = e.AppendTokens(buf[:0], "drill hammer")
			}
		})
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}
