package text

import (
	"unicode"
	"unicode/utf8"
)

// Subword vectors: a word the pre-trained vocabulary lacks (a brand, a code, a word
// of another language, a Chinese or Japanese character bigram) still gets a vector,
// the normalised sum of one fixed pseudo-random vector per hashed character n-gram
// of the word (n = 1 … 3 over "<word>", as in fastText's subword units):
//
//	v(w) = Σ_{g ∈ grams(<w>)} r(h(g) mod B),   then scaled to unit length
//
// with h the 64-bit FNV-1a hash, B = SubwordBuckets and r(b) the vector of Dim()
// numbers uniform in [−1, 1] drawn from splitmix64 seeded with b. The same word
// always gets the same vector, and words that share n-grams get similar ones, so a
// query word matches the items that contain it (or a close spelling) by cosine. The
// vectors are not learned: their bucket table r is what a training step would fit to
// the shop's data. Nothing is stored: r(b) is recomputed when needed.
//
// In pooling, a subword vector weighs 1 (an out-of-vocabulary word is rare, the SIF
// weight of a rare word is close to 1).

// SubwordBuckets is B, the number of hash buckets of the character n-grams.
const SubwordBuckets = 1 << 20

// WithSubwords returns an encoder with the same vocabulary that gives words outside
// it subword vectors instead of skipping them. It shares e's memory.
func (e *Encoder) WithSubwords() *Encoder {
	c := *e
	c.subwords = true
	return &c
}

// Subwords reports whether the encoder gives out-of-vocabulary words subword vectors.
func (e *Encoder) Subwords() bool { return e.subwords }

// subwordTo writes the unit subword vector of the lower-case token tok into dst.
func (e *Encoder) subwordTo(dst []float32, tok string) {
	clear(dst)
	var runes [66]int // byte offsets of the runes of "<tok>", for n-grams
	w := make([]byte, 0, len(tok)+2)
	w = append(w, '<')
	w = append(w, tok...)
	w = append(w, '>')
	n := 0
	for i := range string(w) {
		if n == len(runes)-1 {
			break
		}
		runes[n] = i
		n++
	}
	runes[n] = len(w)
	for size := 1; size <= 3; size++ {
		for s := 0; s+size <= n; s++ {
			g := w[runes[s]:runes[s+size]]
			if size == 1 && (g[0] == '<' || g[0] == '>') {
				continue
			}
			addBucket(dst, fnv64(g)%SubwordBuckets)
		}
	}
	normalize(dst)
}

// addBucket adds r(b) to dst.
func addBucket(dst []float32, b uint64) {
	x := b*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019
	for i := range dst {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		dst[i] += float32(int64(z)>>11) / float32(1<<52)
	}
}

// fnv64 is the 64-bit FNV-1a hash.
func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// isUnspaced reports whether r belongs to a script written without spaces between
// words (Chinese characters, Japanese kana), whose runs the tokenizer splits into
// character bigrams.
func isUnspaced(r rune) bool {
	return r >= 0x2E80 && (unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || r == 'ー')
}

// hasUnspaced reports whether s has a rune of isUnspaced.
func hasUnspaced(s string) bool {
	for _, r := range s {
		if isUnspaced(r) {
			return true
		}
	}
	return false
}

// splitUnspaced returns the next token of a raw token s that holds unspaced script,
// and what is left of s: a run of other runes whole; a run of one unspaced
// character alone; in a longer run, its first character bigram, leaving the run from
// its second character (so consecutive calls give every bigram: "红色长裙" gives
// "红色", "色长", "长裙").
func splitUnspaced(s string) (tok, rest string) {
	r0, n0 := utf8.DecodeRuneInString(s)
	if !isUnspaced(r0) {
		i := n0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if isUnspaced(r) {
				break
			}
			i += n
		}
		return s[:i], s[i:]
	}
	r1, n1 := utf8.DecodeRuneInString(s[n0:])
	if n0 >= len(s) || !isUnspaced(r1) {
		return s[:n0], s[n0:]
	}
	tok = s[:n0+n1]
	if r2, _ := utf8.DecodeRuneInString(s[n0+n1:]); n0+n1 < len(s) && isUnspaced(r2) {
		return tok, s[n0:]
	}
	return tok, s[n0+n1:]
}
