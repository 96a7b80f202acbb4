package text

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/fusionrank/fusionrank/internal/gz"
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
//
// LoadWith reads r from a second goroutine, so that decompression and
// parsing overlap, and returns only after that goroutine has stopped
// reading. With MaxWords set it stops reading soon after the last word kept.
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

	src, release, err := gz.Reader(r, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("text: word vectors: %w", err)
	}
	defer release()

	// Reading (and decompressing) runs in its own goroutine, handing over
	// chunks of whole lines, while this one parses: on two cores that
	// halves the load time of a gzip file. The reader is always drained
	// before returning, so it never outlives the call.
	chunks := make(chan chunk, 2)
	free := make(chan []byte, 4)
	done := make(chan struct{})
	go readChunks(src, chunks, free, done)
	defer func() {
		close(done)
		for range chunks {
		}
	}()

	l := loader{e: &Encoder{index: make(map[string]int32, 1<<14)}, maxWords: opt.MaxWords}
	stop := false
	for c := range chunks {
		data := c.data
		for len(data) > 0 && !stop {
			var line []byte
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				line, data = data, nil
			}
			var err error
			if stop, err = l.line(line); err != nil {
				return nil, err
			}
		}
		if cap(c.data) >= chunkSize {
			select {
			case free <- c.data[:0]:
			default:
			}
		}
		if stop {
			break
		}
		switch {
		case c.err == io.EOF:
		case errors.Is(c.err, errLineTooLong):
			return nil, &FormatError{Line: l.lineNo + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLineBytes)}
		case c.err != nil:
			return nil, fmt.Errorf("text: word vectors: after line %d: %w", l.lineNo, c.err)
		}
	}
	e := l.e
	if len(e.words) == 0 {
		return nil, ErrEmpty
	}
	e.vecs = l.vectors()
	e.weights = sifWeights(len(e.words), a)
	e.sif = a
	return e, nil
}

// loader holds the state of one LoadWith call between lines.
type loader struct {
	e         *Encoder
	maxWords  int
	headerDim int
	lineNo    int
	// The vectors are collected in fixed-size blocks, the full ones in done
	// and the one being filled in cur, and copied once into a block of the
	// exact size at the end. Growing one slice instead would keep the old
	// and the new array alive at each doubling, and leave up to a quarter
	// of the final size unused.
	done [][]float32
	cur  []float32
}

// blockFloats is the size of the loader's blocks (4 MiB of float32s), or one
// vector if that is larger.
const blockFloats = 1 << 20

// newBlock starts a new block for the vectors.
func (l *loader) newBlock() {
	if len(l.cur) > 0 {
		l.done = append(l.done, l.cur)
	}
	l.cur = make([]float32, 0, max(blockFloats, l.e.dim))
}

// vectors returns all vectors read, in one slice of the exact length.
func (l *loader) vectors() []float32 {
	n := len(l.cur)
	for _, b := range l.done {
		n += len(b)
	}
	out := make([]float32, 0, n)
	for _, b := range l.done {
		out = append(out, b...)
	}
	out = append(out, l.cur...)
	l.done, l.cur = nil, nil
	return out
}

// line parses one line (without its newline). It reports stop when
// MaxWords words have been read.
func (l *loader) line(line []byte) (stop bool, err error) {
	l.lineNo++
	e := l.e
	word, rest, ok := firstField(line)
	if !ok {
		return false, nil // blank line
	}
	if l.lineNo == 1 {
		if d, ok := word2vecHeader(word, rest); ok {
			l.headerDim = d
			return false, nil
		}
	}
	if l.maxWords > 0 && len(e.words) >= l.maxWords {
		return true, nil
	}
	if e.dim > 0 && cap(l.cur)-len(l.cur) < e.dim {
		l.newBlock()
	}
	start := len(l.cur)
	l.cur, err = appendValues(l.cur, rest)
	if err != nil {
		return false, &FormatError{Line: l.lineNo, Msg: fmt.Sprintf("word %q: %v", word, err)}
	}
	n := len(l.cur) - start
	switch {
	case e.dim == 0:
		if n == 0 {
			return false, &FormatError{Line: l.lineNo, Msg: fmt.Sprintf("word %q has no numbers after it", word)}
		}
		if l.headerDim != 0 && n != l.headerDim {
			return false, &FormatError{Line: l.lineNo, Msg: fmt.Sprintf("word %q has %d numbers, the header says %d", word, n, l.headerDim)}
		}
		e.dim = n
	case n != e.dim:
		return false, &FormatError{Line: l.lineNo, Msg: fmt.Sprintf("word %q has %d numbers, want %d like the first vector", word, n, e.dim)}
	}
	if _, dup := e.index[string(word)]; dup {
		l.cur = l.cur[:start]
		return false, nil
	}
	if len(e.words) >= math.MaxInt32 {
		return false, &FormatError{Line: l.lineNo, Msg: "too many words"}
	}
	w := string(word)
	e.index[w] = int32(len(e.words))
	e.words = append(e.words, w)
	e.maxWordLen = max(e.maxWordLen, len(w))
	return false, nil
}

// chunkSize is the size of the blocks of whole lines handed from the reading
// goroutine to the parsing one.
const chunkSize = 1 << 20

// errLineTooLong reports a line longer than maxLineBytes.
var errLineTooLong = errors.New("line too long")

// chunk is a block of whole lines, and the error that ended the input after
// it (io.EOF at the end; then the last line may lack its newline).
type chunk struct {
	data []byte
	err  error
}

// readChunks reads r into blocks that end at a line boundary and sends them
// on out, reusing the buffers that come back on free, until the input ends,
// fails, or done is closed. It closes out when it returns.
func readChunks(r io.Reader, out chan<- chunk, free <-chan []byte, done <-chan struct{}) {
	defer close(out)
	var carry []byte // the incomplete last line of the previous block
	for {
		var buf []byte
		select {
		case buf = <-free:
		default:
			buf = make([]byte, 0, chunkSize)
		}
		buf = append(buf[:0], carry...)
		carry = carry[:0]
		var err error
		for {
			for len(buf) < cap(buf) && err == nil {
				var n int
				n, err = r.Read(buf[len(buf):cap(buf)])
				buf = buf[:len(buf)+n]
			}
			if err != nil || bytes.IndexByte(buf, '\n') >= 0 {
				break
			}
			if cap(buf) >= maxLineBytes {
				err = errLineTooLong
				break
			}
			buf = slices.Grow(buf, cap(buf)) // one line fills the block: double it
		}
		switch {
		case err == nil:
			cut := bytes.LastIndexByte(buf, '\n') + 1
			carry = append(carry, buf[cut:]...)
			buf = buf[:cut]
		case err != io.EOF:
			// Lines after the last newline are incomplete: report the error
			// after the complete ones.
			buf = buf[:bytes.LastIndexByte(buf, '\n')+1]
		}
		select {
		case out <- chunk{data: buf, err: err}:
		case <-done:
			return
		}
		if err != nil {
			return
		}
	}
}

// firstField splits line into its first field (the word) and the rest. It
// reports false for a blank line.
func firstField(line []byte) (word, rest []byte, ok bool) {
	line = bytes.TrimLeft(line, " \t")
	line = bytes.TrimRight(line, " \t\r")
	if len(line) == 0 {
		return nil, nil, false
	}
	for i, c := range line {
		if c == ' ' || c == '\t' {
			return line[:i], line[i+1:], true
		}
	}
	return line, nil, true
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
	k := 0
	for len(rest) > 0 {
		i := 0
		for i < len(rest) && rest[i] != ' ' && rest[i] != '\t' {
			i++
		}
		f := rest[:i]
		if i < len(rest) {
			i++
		}
		rest = rest[i:]
		if len(f) == 0 {
			continue // a run of separators
		}
		k++
		v, err := parseFloat32(f)
		if err != nil {
			return dst, fmt.Errorf("value %d: %v", k, err)
		}
		dst = append(dst, v)
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
