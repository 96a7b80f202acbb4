package text

import (
	"hash/maphash"
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
	stems  []string
	hashes []uint64 // stemHash of each stem
}

// TitleStems is a title prepared for Match: the hashes of its tokens' stems,
// in title order, and its number of words. The catalogue keeps one per item,
// so that a request compares a few integers per candidate instead of
// tokenizing every candidate's title.
type TitleStems struct {
	Hashes []uint64
	Words  int
}

// NewTitleStems prepares title for Match.FeaturesOf.
func NewTitleStems(title string) TitleStems {
	h, n := appendTitleStems(nil, title)
	return TitleStems{Hashes: h, Words: n}
}

// stemSeed seeds the stems' hashes. It is chosen when the process starts:
// the hashes are compared only within one process and never stored.
var stemSeed = maphash.MakeSeed()

// stemHash is the hash of the stem base, followed by "y" when y (stemParts),
// equal to maphash.String(stemSeed, Stem(w)). Two different stems share a
// hash with probability 2⁻⁶⁴.
func stemHash(base string, y bool) uint64 {
	if !y {
		return maphash.String(stemSeed, base)
	}
	var h maphash.Hash
	h.SetSeed(stemSeed)
	h.WriteString(base)
	h.WriteByte('y')
	return h.Sum64()
}

// appendTitleStems appends the stem hash of each of title's tokens
// (lower-cased, then stemParts) to dst and returns it with the number of
// tokens. It allocates only when dst is too short.
func appendTitleStems(dst []uint64, title string) ([]uint64, int) {
	var buf [64]byte
	words := 0
	t := tokenizer{s: title}
	for {
		tok, ok := t.next()
		if !ok {
			return dst, words
		}
		words++
		w := tok
		if !isLowerASCII(tok) {
			// Only read in this iteration, while buf holds it.
			b := appendLower(buf[:0], tok)
			w = unsafe.String(unsafe.SliceData(b), len(b))
		}
		dst = append(dst, stemHash(stemParts(w)))
	}
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
			m.hashes = append(m.hashes, maphash.String(stemSeed, s))
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
// without words scores as it would without the match features).
func (m Match) Features(dst []float32, title string) {
	if len(m.stems) == 0 {
		clear(dst[:MatchFeatures])
		return
	}
	var buf [32]uint64
	hashes, words := appendTitleStems(buf[:0], title)
	m.featuresOf(dst, hashes, words)
}

// FeaturesOf writes what Features writes for the title ts was prepared from.
func (m Match) FeaturesOf(dst []float32, ts *TitleStems) {
	m.featuresOf(dst, ts.Hashes, ts.Words)
}

func (m Match) featuresOf(dst []float32, title []uint64, words int) {
	clear(dst[:MatchFeatures])
	if len(m.hashes) == 0 {
		return
	}
	n, last := 0, false
	for i, q := range m.hashes {
		for _, h := range title {
			if h == q {
				n++
				last = last || i == len(m.hashes)-1
				break
			}
		}
	}
	dst[0] = float32(n) / float32(len(m.hashes))
	if n == len(m.hashes) {
		dst[1] = 1
	}
	if last {
		dst[2] = 1
	}
	dst[3] = float32(math.Log1p(float64(words)))
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
