package text

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// fixture is a tiny vocabulary in GloVe order, with vectors simple enough to
// check results by hand.
const fixture = `the 1 0 0
drill 0 1 0
cordless 0 0 2
hammer 3 4 0
café 0 0 -1
`

func mustLoad(t testing.TB, s string) *Encoder {
	t.Helper()
	e, err := Load(strings.NewReader(s))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return e
}

func gzipped(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLoadPlainAndGzip(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"plain", []byte(fixture)},
		{"gzip", gzipped(t, fixture)},
		{"CRLF and blank lines", []byte("\n" + strings.ReplaceAll(fixture, "\n", "\r\n") + "\r\n\n")},
		{"tabs and repeated spaces", []byte(strings.ReplaceAll(fixture, " ", " \t "))},
		{"word2vec header", []byte("5 3\n" + fixture)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Load(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if e.Dim() != 3 || e.Len() != 5 {
				t.Fatalf("Dim, Len = %d, %d; want 3, 5", e.Dim(), e.Len())
			}
			v, ok := e.Vector("hammer")
			if !ok || !slices.Equal(v, []float32{3, 4, 0}) {
				t.Errorf("Vector(hammer) = %v, %v; want [3 4 0], true", v, ok)
			}
			if v, ok := e.Vector("café"); !ok || v[2] != -1 {
				t.Errorf("Vector(café) = %v, %v", v, ok)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantLine int // 0: not a FormatError
		wantMsg  string
	}{
		{"short line", "a 1 2 3\nb 1 2\n", 2, "2 numbers, want 3"},
		{"long line", "a 1 2\nb 1 2\nc 1 2 3\n", 3, "3 numbers, want 2"},
		{"not a number", "a 1 2\nb 1 x\n", 2, `value 2: "x" is not a number`},
		{"NaN", "a 1 2\n\nb NaN 2\n", 3, "not finite"},
		{"infinity", "a inf 2\n", 1, "not finite"},
		{"float32 overflow", "a 1 2\nb 1e39 2\n", 2, "does not fit in a float32"},
		{"word without numbers", "a\n", 1, "no numbers"},
		{"header dimension mismatch", "2 3\na 1 2\n", 2, "the header says 3"},
		{"empty", "", 0, "no vectors"},
		{"blank lines only", "\n \n\t\n", 0, "no vectors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tt.in))
			if err == nil {
				t.Fatal("Load: no error")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			var fe *FormatError
			switch {
			case tt.wantLine == 0 && errors.As(err, &fe):
				t.Errorf("got FormatError %v, want another error", err)
			case tt.wantLine != 0 && !errors.As(err, &fe):
				t.Errorf("error %v is not a *FormatError", err)
			case tt.wantLine != 0 && fe.Line != tt.wantLine:
				t.Errorf("FormatError.Line = %d, want %d", fe.Line, tt.wantLine)
			}
		})
	}
	if _, err := Load(strings.NewReader("")); !errors.Is(err, ErrEmpty) {
		t.Errorf("Load(empty) = %v, want ErrEmpty", err)
	}
	if _, err := Load(bytes.NewReader([]byte{0x1f, 0x8b, 1, 2, 3})); err == nil {
		t.Error("Load(corrupt gzip): no error")
	}
}

func TestLoadOptions(t *testing.T) {
	t.Run("duplicates keep the first", func(t *testing.T) {
		e := mustLoad(t, "a 1 2\nb 3 4\na 5 6\nc 7 8\n")
		if e.Len() != 3 {
			t.Fatalf("Len = %d, want 3", e.Len())
		}
		if v, _ := e.Vector("a"); v[0] != 1 {
			t.Errorf("Vector(a) = %v, want the first occurrence", v)
		}
		if v, _ := e.Vector("c"); v[0] != 7 {
			t.Errorf("Vector(c) = %v, want [7 8]", v)
		}
	})
	t.Run("MaxWords", func(t *testing.T) {
		e, err := LoadWith(strings.NewReader(fixture+"bad 1\n"), Options{MaxWords: 2})
		if err != nil {
			t.Fatalf("LoadWith: %v", err)
		}
		if e.Len() != 2 {
			t.Errorf("Len = %d, want 2", e.Len())
		}
		if _, ok := e.Vector("cordless"); ok {
			t.Error("word beyond MaxWords was kept")
		}
	})
	t.Run("SIF", func(t *testing.T) {
		e, err := LoadWith(strings.NewReader(fixture), Options{SIF: 0.5})
		if err != nil {
			t.Fatalf("LoadWith: %v", err)
		}
		if e.SIF() != 0.5 {
			t.Errorf("SIF() = %v, want 0.5", e.SIF())
		}
		if d := mustLoad(t, fixture); d.SIF() != DefaultSIF {
			t.Errorf("default SIF() = %v, want %v", d.SIF(), DefaultSIF)
		}
	})
	for _, opt := range []Options{{SIF: -1}, {MaxWords: -1}} {
		if _, err := LoadWith(strings.NewReader(fixture), opt); err == nil {
			t.Errorf("LoadWith(%+v): no error", opt)
		}
	}
}

// TestLoadReaders checks that chunking does not depend on how the input
// arrives: byte by byte, in odd-sized pieces, with a line longer than a
// chunk, or cut by a read error.
func TestLoadReaders(t *testing.T) {
	long := "long" + strings.Repeat(" 0.5", chunkSize/2) + "\n" // ~2 MiB, over one chunk
	tests := []struct {
		name    string
		r       io.Reader
		words   int
		wantErr string
	}{
		{"one byte at a time", iotest.OneByteReader(strings.NewReader(fixture)), 5, ""},
		{"half reads", iotest.HalfReader(strings.NewReader(fixture)), 5, ""},
		{"gzip one byte at a time", iotest.OneByteReader(bytes.NewReader(gzipped(t, fixture))), 5, ""},
		{"no final newline", strings.NewReader(strings.TrimSuffix(fixture, "\n")), 5, ""},
		{"line longer than a chunk", strings.NewReader(long + long), 1, ""},
		{"read error", io.MultiReader(strings.NewReader(fixture), iotest.ErrReader(errors.New("disk on fire"))), 0, "disk on fire"},
		{"truncated gzip", bytes.NewReader(gzipped(t, fixture)[:30]), 0, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Load(tt.r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if e.Len() != tt.words {
				t.Errorf("Len = %d, want %d", e.Len(), tt.words)
			}
		})
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "nope.txt.gz"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v, want an error wrapping os.ErrNotExist", err)
	}
}

// The shared datasets live beside the repository (../shared from the project
// root, so ../../../shared from this package).
const glove50k = "../../../shared/datasets/glove/glove-6B-100d-top50k.txt.gz"

var (
	realOnce sync.Once
	realEnc  *Encoder
	realErr  error
	realTook time.Duration
)

// realEncoder loads the 50k-word GloVe file once per test binary. A missing
// file fails the test: the real vocabulary is part of what is tested.
func realEncoder(t testing.TB) *Encoder {
	t.Helper()
	realOnce.Do(func() {
		start := time.Now()
		realEnc, realErr = LoadFile(glove50k)
		realTook = time.Since(start)
	})
	if realErr != nil {
		t.Fatalf("loading the shared GloVe file: %v", realErr)
	}
	return realEnc
}

func TestLoadGlove50k(t *testing.T) {
	e := realEncoder(t)
	t.Logf("loaded %d words × %d dims in %v", e.Len(), e.Dim(), realTook)
	if e.Len() != 50000 || e.Dim() != 100 {
		t.Fatalf("Len, Dim = %d, %d; want 50000, 100", e.Len(), e.Dim())
	}
	// The first and a later line of the file, checked against its text.
	if v, ok := e.Vector("the"); !ok || v[0] != -0.038194 || v[99] != 0.27062 {
		t.Errorf("Vector(the) = %v…, %v", v[:2], ok)
	}
	if _, ok := e.Vector("drill"); !ok {
		t.Error(`"drill" is missing`)
	}
	wThe, _ := e.Weight("the")
	wDrill, _ := e.Weight("drill")
	if !(wThe < 0.02 && wDrill > 0.9) {
		t.Errorf("Weight(the), Weight(drill) = %v, %v; want the frequent word discounted", wThe, wDrill)
	}
}
