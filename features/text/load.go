package text

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// DefaultSIF is the default smoothing constant a of the SIF weight
// a/(a+p(w)); see the package documentation.
const DefaultSIF = 1e-3

// maxLineBytes bounds one line of a vector file (16 MiB, far above the
// 300-d files' ~3 KiB) so that a corrupt file cannot exhaust memory.
const maxLineBytes = 16 << 20

// Options are the knobs of [LoadWith]. The zero value gives the defaults.
type Options struct {
	// SIF is the smoothing constant a of the frequency weight a/(a+p(w)).
	// Zero means DefaultSIF (1e-3); it must not be negative.
	SIF float64
	// MaxWords, when positive, keeps only the first MaxWords distinct words
	// of the file (the most frequent ones, in GloVe order) and stops reading
	// there. Zero (the default) keeps every word.
	MaxWords int
}

// FormatError reports a malformed vector file. Line is 1-based.
type FormatError struct {
	Line int
	Msg  string
}

// Error implements the error interface.
func (e *FormatError) Error() string {
	return fmt.Sprintf("text: word vectors: line %d: %s", e.Line, e.Msg)
}

// ErrEmpty is returned when a vector file holds no word vector.
var ErrEmpty = errors.New("text: word vectors: no vectors in input")

// LoadFile reads word vectors in the GloVe text format from the file at path,
// plain or gzip-compressed, with the default options. See [Load].
func LoadFile(path string) (*Encoder, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	defer f.Close()
	e, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// Load reads word vectors in the GloVe text format from r with the default
// options. See [LoadWith].
func Load(r io.Reader) (*Encoder, error) {
	return LoadWith(r, Options{})
}

// LoadWith reads word vectors in the GloVe text format from r: one word per
// line, the word followed by its numbers, separated by spaces or tabs
// ("word v1 v2 … vN"). Lines must be in decreasing order of word frequency,
// as GloVe and word2vec files are, because the frequency weights are
// estimated from the rank. The input may be gzip-compressed; that is detected
// from its first two bytes, not from a file name.
//
// Every line must have the same number of values as the first, and every
// value must be a finite number that fits in a float32; a violation is a
// [*FormatError] naming the line. Blank lines are skipped, as is a first line
// of exactly two integers (the word2vec text header "count dim"), whose
// dimension must then match the vectors. When a word appears twice, the first
// (more frequent) occurrence is kept and later ones are ignored.
func LoadWith(r io.Reader, opt Options) (*Encoder, error) {
	if opt.SIF < 0 || math.IsNaN(opt.SIF) || math.IsInf(opt.SIF, 0) {
		return nil, fmt.Errorf("text: Options.SIF = %v, want a finite number >= 0", opt.SIF)
	}
	if opt.MaxWords < 0 {
		return nil, fmt.Errorf("text: Options.MaxWords = %d, want >= 0", opt.MaxWords)
	}
	a := opt.SIF
	if a == 0 {
		a = DefaultSIF
	}

	br := bufio.NewReaderSize(r, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("text: word vectors: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)

	e := &Encoder{index: make(map[string]int32, 1<<14)}
	headerDim := 0
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		word, rest, ok := firstField(line)
		if !ok {
			continue // blank line
		}
		if lineNo == 1 {
			if d, ok := word2vecHeader(word, rest); ok {
				headerDim = d
				continue
			}
		}
		if opt.MaxWords > 0 && len(e.words) >= opt.MaxWords {
			break
		}
		start := len(e.vecs)
		var err error
		e.vecs, err = appendValues(e.vecs, rest)
		if err != nil {
			return nil, &FormatError{Line: lineNo, Msg: fmt.Sprintf("word %q: %v", word, err)}
		}
		n := len(e.vecs) - start
		switch {
		case e.dim == 0:
			if n == 0 {
				return nil, &FormatError{Line: lineNo, Msg: fmt.Sprintf("word %q has no numbers after it", word)}
			}
			if headerDim != 0 && n != headerDim {
				return nil, &FormatError{Line: lineNo, Msg: fmt.Sprintf("word %q has %d numbers, the header says %d", word, n, headerDim)}
			}
			e.dim = n
		case n != e.dim:
			return nil, &FormatError{Line: lineNo, Msg: fmt.Sprintf("word %q has %d numbers, want %d like the first vector", word, n, e.dim)}
		}
		w := string(word)
		if _, dup := e.index[w]; dup {
			e.vecs = e.vecs[:start]
			continue
		}
		if len(e.words) >= math.MaxInt32 {
			return nil, &FormatError{Line: lineNo, Msg: "too many words"}
		}
		e.index[w] = int32(len(e.words))
		e.words = append(e.words, w)
		if len(w) > e.maxWordLen {
			e.maxWordLen = len(w)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &FormatError{Line: lineNo + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLineBytes)}
		}
		return nil, fmt.Errorf("text: word vectors: line %d: %w", lineNo+1, err)
	}
	if len(e.words) == 0 {
		return nil, ErrEmpty
	}
	// Release the slack of the growing block: a vocabulary is loaded once
	// and kept for the life of the process.
	if cap(e.vecs)-len(e.vecs) > len(e.vecs)/16 {
		e.vecs = append([]float32(nil), e.vecs...)
	}
	e.weights = sifWeights(len(e.words), a)
	e.sif = a
	return e, nil
}

// firstField splits line into its first field (the word) and the rest. It
// reports false for a blank line.
func firstField(line []byte) (word, rest []byte, ok bool) {
	line = bytes.TrimLeft(line, " \t")
	line = bytes.TrimRight(line, " \t\r")
	if len(line) == 0 {
		return nil, nil, false
	}
	i := bytes.IndexAny(line, " \t")
	if i < 0 {
		return line, nil, true
	}
	return line[:i], line[i+1:], true
}

// word2vecHeader reports whether the first line is a word2vec header "count
// dim" and returns its dimension.
func word2vecHeader(word, rest []byte) (dim int, ok bool) {
	rest = bytes.TrimLeft(rest, " \t")
	if len(rest) == 0 || bytes.ContainsAny(rest, " \t") {
		return 0, false
	}
	n, err1 := strconv.Atoi(string(word))
	d, err2 := strconv.Atoi(string(rest))
	if err1 != nil || err2 != nil || n < 0 || d <= 0 {
		return 0, false
	}
	return d, true
}

// appendValues parses the space- or tab-separated numbers of rest and
// appends them to dst.
func appendValues(dst []float32, rest []byte) ([]float32, error) {
	// One string conversion per line lets strconv parse substrings without
	// further allocation.
	s := string(rest)
	k := 0
	for len(s) > 0 {
		i := strings.IndexAny(s, " \t")
		var f string
		if i < 0 {
			f, s = s, ""
		} else {
			f, s = s[:i], s[i+1:]
		}
		if f == "" {
			continue // a run of separators
		}
		k++
		v, err := strconv.ParseFloat(f, 32)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return dst, fmt.Errorf("value %d (%q) does not fit in a float32", k, f)
			}
			return dst, fmt.Errorf("value %d (%q) is not a number", k, f)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return dst, fmt.Errorf("value %d (%q) is not finite", k, f)
		}
		dst = append(dst, float32(v))
	}
	return dst, nil
}

// sifWeights returns the SIF weight a/(a+p(r)) of each rank r = 1…n, with
// p(r) = 1/(r·H_n) the Zipf estimate of the word's unigram probability and
// H_n the n-th harmonic number.
func sifWeights(n int, a float64) []float32 {
	h := 0.0
	for r := n; r >= 1; r-- { // small terms first, for accuracy
		h += 1 / float64(r)
	}
	w := make([]float32, n)
	for i := range w {
		p := 1 / (float64(i+1) * h)
		w[i] = float32(a / (a + p))
	}
	return w
}
