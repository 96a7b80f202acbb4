package text

import (
	"unicode"
	"unicode/utf8"
)

// Tokenize splits s into lower-case word tokens, the same tokens the
// [Encoder] looks up. A token is a maximal run of Unicode letters and digits
// (combining marks are kept inside a word, so decomposed accents survive);
// everything else separates tokens. In particular:
//
//   - hyphens, slashes, dots and other punctuation split: "12-Gauge" gives
//     "12", "gauge"; "1/2" gives "1", "2"; "3.5" gives "3", "5";
//   - letters and digits stay together: "2x4" and "r22" are one token each;
//   - an apostrophe (' or ’) between two word characters splits the word, and
//     an English clitic directly after it (s, t, d, m, ll, re, ve) is dropped:
//     "Men's" gives "men", "don't" gives "don", "o'Neill" gives "o", "neill".
//
// Lower-casing is rune by rune with [unicode.ToLower]. The rules are fixed and
// independent of any vocabulary, so the same string always gives the same
// tokens. Tokenize returns nil when s has no token.
func Tokenize(s string) []string {
	var out []string
	var buf [64]byte
	t := tokenizer{s: s}
	for {
		tok, ok := t.next()
		if !ok {
			return out
		}
		if isLowerASCII(tok) {
			out = append(out, tok)
			continue
		}
		out = append(out, string(appendLower(buf[:0], tok)))
	}
}

// tokenizer walks a string and yields its tokens as substrings of the input,
// not yet lower-cased. It never allocates.
type tokenizer struct {
	s string
	i int
	// pend is the rest of a raw token with unspaced script (Chinese, Japanese)
	// being split by splitUnspaced.
	pend string
	// apos is true when the previous token ended at an apostrophe that is
	// directly followed by a word character: the next token starts right
	// there and is dropped if it is a clitic.
	apos bool
}

// next returns the next raw token, or false at the end of the input. A run of
// Chinese or Japanese characters, written without spaces, yields its character
// bigrams (see splitUnspaced).
func (t *tokenizer) next() (string, bool) {
	if t.pend != "" {
		var tok string
		tok, t.pend = splitUnspaced(t.pend)
		return tok, true
	}
	tok, ok := t.nextRaw()
	if ok && hasUnspaced(tok) {
		tok, t.pend = splitUnspaced(tok)
	}
	return tok, ok
}

// nextRaw returns the next maximal run of word characters.
func (t *tokenizer) nextRaw() (string, bool) {
	for {
		if !t.apos {
			// Skip separators up to the start of the next token.
			for t.i < len(t.s) {
				r, n := rune(t.s[t.i]), 1
				if r >= utf8.RuneSelf {
					r, n = utf8.DecodeRuneInString(t.s[t.i:])
				}
				if isWordStart(r) {
					break
				}
				t.i += n
			}
			if t.i >= len(t.s) {
				return "", false
			}
		}
		afterApos := t.apos
		start := t.i
		for t.i < len(t.s) {
			r, n := rune(t.s[t.i]), 1
			if r >= utf8.RuneSelf {
				r, n = utf8.DecodeRuneInString(t.s[t.i:])
			}
			if !isWordRune(r) {
				break
			}
			t.i += n
		}
		tok := t.s[start:t.i]
		t.apos = false
		if r, n := utf8.DecodeRuneInString(t.s[t.i:]); r == '\'' || r == '’' {
			if next, _ := utf8.DecodeRuneInString(t.s[t.i+n:]); isWordStart(next) {
				t.apos = true
				t.i += n
			}
		}
		if afterApos && isClitic(tok) {
			continue
		}
		return tok, true
	}
}

// isWordStart reports whether r can start a token.
func isWordStart(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// isWordRune reports whether r can continue a token.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// isClitic reports whether tok, compared without case, is one of the English
// clitics that follow an apostrophe: s, t, d, m, ll, re, ve.
func isClitic(tok string) bool {
	switch len(tok) {
	case 1:
		switch tok[0] | 0x20 {
		case 's', 't', 'd', 'm':
			return true
		}
	case 2:
		a, b := tok[0]|0x20, tok[1]|0x20
		return a == 'l' && b == 'l' || a == 'r' && b == 'e' || a == 'v' && b == 'e'
	}
	return false
}

// isLowerASCII reports whether s is pure ASCII without upper-case letters,
// so that lower-casing would not change it.
func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// appendLower appends the lower-case form of s to dst, rune by rune.
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += n
	}
	return dst
}
