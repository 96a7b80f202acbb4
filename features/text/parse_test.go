package text

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// checkTwin asserts that parseFloat32 (fast path or fallback) agrees bit for
// bit with strconv.ParseFloat(s, 32) on a valid finite number, and that the
// fast path, when it accepts s, is exact.
func checkTwin(t *testing.T, s string) {
	t.Helper()
	want, werr := strconv.ParseFloat(s, 32)
	got, err := parseFloat32([]byte(s))
	valid := werr == nil && !math.IsInf(want, 0) && !math.IsNaN(want)
	if valid != (err == nil) {
		t.Fatalf("parseFloat32(%q) error = %v; strconv: %v, %v", s, err, want, werr)
	}
	if valid && math.Float32bits(got) != math.Float32bits(float32(want)) {
		t.Fatalf("parseFloat32(%q) = %v (%#x), strconv %v (%#x)", s, got, math.Float32bits(got), float32(want), math.Float32bits(float32(want)))
	}
	if f, ok := parseFloat32Fast([]byte(s)); ok && (werr != nil || math.Float32bits(f) != math.Float32bits(float32(want))) {
		t.Fatalf("parseFloat32Fast(%q) = %v, strconv %v, %v", s, f, want, werr)
	}
}

func TestParseFloat32Edges(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "+0", "0.0", "-0.000", "1", "-1", "+1", ".5", "5.", "-.5",
		"0.038194", "-0.24487", "5.821154", "-0.0000088524", "4.7565e-05", "1e10", "1e-10",
		"1e11", "1e-11", "1E5", "1e+5", "16777215", "16777216", "16777217", "0.16777217",
		"123456789", "3.4028235e38", "3.5e38", "1e-46", "1.401298464324817e-45",
		"7.038531e-26", "0.1", "0.2", "0.3", "0.7", "9999999e-10", "8388609e3",
		"", "-", "+", ".", "e5", "1e", "1e+", "--1", "1.2.3", "1e5e5", "0x1p-2", "1_000",
		"nan", "NaN", "inf", "-Inf", "infinity", " 1", "1 ", "1,5", "١",
	} {
		checkTwin(t, s)
	}
}

func TestParseFloat32Random(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		var s string
		switch rng.IntN(3) {
		case 0: // GloVe-like: up to 8 significant digits, small exponents
			s = strconv.FormatFloat(rng.NormFloat64()*math.Pow(10, float64(rng.IntN(7)-5)), 'f', rng.IntN(10), 64)
		case 1:
			s = strconv.FormatFloat(rng.NormFloat64(), 'e', rng.IntN(9), 32)
		default: // random digits, to hit the 2^24 and 10^10 edges
			m := rng.Uint32N(1 << 25)
			s = strconv.FormatUint(uint64(m), 10) + "e" + strconv.Itoa(rng.IntN(25)-12)
		}
		checkTwin(t, s)
	}
}

// TestParseFloat32GloveFile checks every value of the shared 50k file.
func TestParseFloat32GloveFile(t *testing.T) {
	f, err := os.Open(glove50k)
	if err != nil {
		t.Fatalf("opening the shared GloVe file: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	n, fast := 0, 0
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		for _, v := range fields[1:] {
			want, _ := strconv.ParseFloat(string(v), 32)
			got, err := parseFloat32(v)
			if err != nil || math.Float32bits(got) != math.Float32bits(float32(want)) {
				t.Fatalf("parseFloat32(%q) = %v, %v; strconv %v", v, got, err, want)
			}
			if _, ok := parseFloat32Fast(v); ok {
				fast++
			}
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d values, %d on the fast path", n, fast)
}

func BenchmarkParseFloat32(b *testing.B) {
	vals := [][]byte{[]byte("-0.038194"), []byte("0.72812"), []byte("-0.0000088524"), []byte("5.821154")}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			for _, v := range vals {
				parseFloat32(v)
			}
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for b.Loop() {
			for _, v := range vals {
				strconv.ParseFloat(string(v), 32)
			}
		}
	})
}
