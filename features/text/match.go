package text

import (
	"math"
	"unsafe"
)

// Match is a search query's words prepared for matching item titles: the
// query's tokens (Tokenize), each reduced by Stem, in query order, repeats
// dropped. Its features are the lexical match features of the scorer
// (ranking.FeatMatchShare, ranking.FeatMatchAll, ranking.FeatMatchLast,
// ranking.FeatTitleWords), computed the same way in training and in a rerank
// request.
type Match struct {
	stems []string
}

// NewMatch prepares query for matching.
func NewMatch(query string) Match {
	var m Match
	for _, t := range Tokenize(query) {
		s := Stem(t)
		dup := false
		for _, o := range m.stems {
			dup = dup || o == s
		}
		if !dup {
			m.stems = append(m.stems, s)
		}
	}
	return m
}

// Empty reports whether the query has no word: its features are all 0.
func (m Match) Empty() bool { return len(m.stems) == 0 }

// MatchFeatures is the number of values Features writes.
const MatchFeatures = 4

// Features writes the match features of an item whose title is title into
// dst[:MatchFeatures]:
//
//	dst[0] the share of the query's words found in the title (after Stem)
//	dst[1] 1 when every query word is in the title, else 0
//	dst[2] 1 when the query's last word (in English usually the head noun,
//	       "bracket" in "l bracket") is in the title, else 0
//	dst[3] log(1 + the number of title words)
//
// An empty query writes zeros (the title length too, so that a request
// without words scores as before).
func (m Match) Features(dst []float32, title string) {
	clear(dst[:MatchFeatures])
	if len(m.stems) == 0 {
		return
	}
	// found[i]: the query's i-th stem is among the title's. The title is walked
	// once, each token lower-cased into buf and stemmed without allocating: a
	// rerank computes this for every candidate.
	var fb [16]bool
	found := fb[:0]
	if len(m.stems) > len(fb) {
		found = make([]bool, len(m.stems))
	} else {
		found = fb[:len(m.stems)]
	}
	var buf [64]byte
	words := 0
	t := tokenizer{s: title}
	for {
		tok, ok := t.next()
		if !ok {
			break
		}
		words++
		w := tok
		if !isLowerASCII(tok) {
			// Only read in this iteration, while buf holds it.
			b := appendLower(buf[:0], tok)
			w = unsafe.String(unsafe.SliceData(b), len(b))
		}
		base, y := stemParts(w)
		for i, s := range m.stems {
			if !found[i] && stemIs(s, base, y) {
				found[i] = true
			}
		}
	}
	n := 0
	for _, f := range found {
		if f {
			n++
		}
	}
	dst[0] = float32(n) / float32(len(m.stems))
	if n == len(m.stems) {
		dst[1] = 1
	}
	if found[len(found)-1] {
		dst[2] = 1
	}
	dst[3] = float32(math.Log1p(float64(words)))
}

// stemIs reports whether s is the stem base, followed by "y" when y.
func stemIs(s, base string, y bool) bool {
	if !y {
		return s == base
	}
	return len(s) == len(base)+1 && s[len(base)] == 'y' && s[:len(base)] == base
}

// Stem reduces an English word to a light stem so that singular and plural
// and simple verb forms match: "brackets" and "bracket", "hinges" and
// "hinge", "boxes" and "box", "railing" and "rail", "painted" and "paint". It strips, in this order, the first of "ies" (→ "y"), "es", "s",
// "ing", "ed" that leaves at least three characters; other words (numbers,
// short words) are returned as they are. It is not a linguistic stemmer: it
// only has to map the forms a shopper types and a title uses to one key.
func Stem(w string) string {
	base, y := stemParts(w)
	if y {
		return base + "y"
	}
	return base
}

// stemParts returns Stem(w) as a prefix of w and whether a "y" follows it
// (the "ies" rule), so that matching needs no new string.
func stemParts(w string) (string, bool) {
	n := len(w)
	switch {
	case n > 4 && w[n-3:] == "ies":
		return w[:n-3], true
	case n > 4 && w[n-2:] == "es" && (w[n-3] == 's' || w[n-3] == 'x' || w[n-3] == 'z' || w[n-4:n-2] == "ch" || w[n-4:n-2] == "sh"):
		return w[:n-2], false
	case n > 3 && w[n-1] == 's' && w[n-2] != 's' && w[n-2] != 'u' && w[n-2] != 'i':
		return w[:n-1], false
	case n > 5 && w[n-3:] == "ing":
		return w[:n-3], false
	case n > 4 && w[n-2:] == "ed":
		return w[:n-2], false
	}
	return w, false
}
