package text

import (
	"fmt"
	"math"

	"github.com/fusionrank/fusionrank/internal/kernel"
)

// Encoder turns text into vectors with a fixed vocabulary of word vectors.
// It is immutable after loading and safe for concurrent use.
type Encoder struct {
	dim   int
	words []string         // words in file (frequency) order
	index map[string]int32 // word → position in words
	// vecs holds every vector in one block: word i is vecs[i*dim:(i+1)*dim].
	vecs []float32
	// weights holds the SIF weight of each word, by position.
	weights    []float32
	sif        float64
	maxWordLen int // longest word in bytes: longer tokens are unknown
}

// Dim returns the dimension of the word vectors and of every encoding.
func (e *Encoder) Dim() int { return e.dim }

// Len returns the number of words in the vocabulary.
func (e *Encoder) Len() int { return len(e.words) }

// SIF returns the smoothing constant a of the frequency weight a/(a+p(w)).
func (e *Encoder) SIF() float64 { return e.sif }

// Vector returns the stored (unnormalised) vector of word and true, or nil
// and false when word is not in the vocabulary. word is looked up as given,
// without tokenising or lower-casing. The returned slice shares the
// encoder's memory: callers must not modify it.
func (e *Encoder) Vector(word string) ([]float32, bool) {
	i, ok := e.index[word]
	if !ok {
		return nil, false
	}
	return e.vec(int(i)), true
}

// Weight returns the SIF weight a/(a+p(w)) of word and true, or 0 and false
// when word is not in the vocabulary. word is looked up as given.
func (e *Encoder) Weight(word string) (float32, bool) {
	i, ok := e.index[word]
	if !ok {
		return 0, false
	}
	return e.weights[i], true
}

// vec returns the vector of the word at position i, with its capacity
// clipped so that an append by a caller cannot overwrite the next word.
func (e *Encoder) vec(i int) []float32 {
	lo, hi := i*e.dim, (i+1)*e.dim
	return e.vecs[lo:hi:hi]
}

// lookupBufLen is the size of the stack buffer used to lower-case a token
// before its look-up; longer tokens that need lower-casing allocate.
const lookupBufLen = 128

// EncodeTo writes into dst the pooled text vector of texts (typically an
// item's title and description) and returns how many of their tokens were
// in the vocabulary (known) and how many were not (unknown).
//
// The vector is the SIF-weighted sum of the known tokens' word vectors,
// Σ a/(a+p(w))·v(w), each occurrence counted, scaled to unit L2 norm (see the
// package documentation). When no token is known, or the sum is exactly
// zero, dst is set to the zero vector. The texts are tokenised separately, so
// no token spans two of them. EncodeTo does not allocate, except to
// lower-case a token whose lower-case form is longer than 128 bytes.
//
// EncodeTo panics if len(dst) != e.Dim().
func (e *Encoder) EncodeTo(dst []float32, texts ...string) (known, unknown int) {
	if len(dst) != e.dim {
		panic(fmt.Sprintf("text: EncodeTo: len(dst) = %d, want Dim() = %d", len(dst), e.dim))
	}
	clear(dst)
	var buf [lookupBufLen]byte
	for _, s := range texts {
		t := tokenizer{s: s}
		for {
			tok, ok := t.next()
			if !ok {
				break
			}
			i, found := e.lookup(buf[:0], tok)
			if !found {
				unknown++
				continue
			}
			known++
			kernel.Axpy(dst, e.weights[i], e.vec(int(i)))
		}
	}
	if known > 0 {
		normalize(dst)
	}
	return known, unknown
}

// lookup finds the lower-case form of the raw token tok, using buf (of
// length zero) as scratch space.
func (e *Encoder) lookup(buf []byte, tok string) (int32, bool) {
	if isLowerASCII(tok) {
		if len(tok) > e.maxWordLen {
			return 0, false
		}
		i, ok := e.index[tok]
		return i, ok
	}
	// Lower-casing never shrinks a UTF-8 string by more than a factor of
	// three, so longer tokens cannot be in the vocabulary.
	if len(tok) > 3*e.maxWordLen {
		return 0, false
	}
	b := appendLower(buf, tok)
	i, ok := e.index[string(b)] // the conversion does not allocate
	return i, ok
}

// AppendTokens tokenises query (see [Tokenize]) and appends to dst, for each
// token in the vocabulary in query order, its word vector scaled to unit L2
// norm (a zero vector stays zero), Dim() numbers per token. It returns the
// extended slice, the number of tokens appended (known) and the number of
// tokens skipped because they are not in the vocabulary (unknown). It does
// not allocate when dst has room for the result.
func (e *Encoder) AppendTokens(dst []float32, query string) (out []float32, known, unknown int) {
	var buf [lookupBufLen]byte
	t := tokenizer{s: query}
	for {
		tok, ok := t.next()
		if !ok {
			return dst, known, unknown
		}
		i, found := e.lookup(buf[:0], tok)
		if !found {
			unknown++
			continue
		}
		known++
		start := len(dst)
		dst = append(dst, e.vec(int(i))...)
		normalize(dst[start:])
	}
}

// Tokens tokenises query and returns, for each token in the vocabulary in
// query order, the token and its word vector scaled to unit L2 norm, plus the
// number of tokens skipped because they are not in the vocabulary. The
// vectors are freshly allocated (one block for all of them). It is the
// convenient form of [Encoder.AppendTokens] for callers that also want the
// words, for example to explain which query word matched.
func (e *Encoder) Tokens(query string) (words []string, vecs [][]float32, unknown int) {
	var buf [lookupBufLen]byte
	var block []float32
	t := tokenizer{s: query}
	for {
		tok, ok := t.next()
		if !ok {
			break
		}
		i, found := e.lookup(buf[:0], tok)
		if !found {
			unknown++
			continue
		}
		words = append(words, e.words[i])
		block = append(block, e.vec(int(i))...)
	}
	if len(words) == 0 {
		return nil, nil, unknown
	}
	vecs = make([][]float32, len(words))
	for k := range vecs {
		lo, hi := k*e.dim, (k+1)*e.dim
		vecs[k] = block[lo:hi:hi]
		normalize(vecs[k])
	}
	return words, vecs, unknown
}

// normalize scales v to unit L2 norm in place; a zero vector stays zero. The
// norm is accumulated in float64.
func normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
}
