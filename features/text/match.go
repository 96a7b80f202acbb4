package text

import "math"

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
	words := Tokenize(title)
	in := func(s string) bool {
		for _, w := range words {
			if Stem(w) == s {
				return true
			}
		}
		return false
	}
	found := 0
	for _, s := range m.stems {
		if in(s) {
			found++
		}
	}
	dst[0] = float32(found) / float32(len(m.stems))
	if found == len(m.stems) {
		dst[1] = 1
	}
	if in(m.stems[len(m.stems)-1]) {
		dst[2] = 1
	}
	dst[3] = float32(math.Log1p(float64(len(words))))
}

// Stem reduces an English word to a light stem so that singular and plural
// and simple verb forms match: "brackets" and "bracket", "hinges" and
// "hinge", "boxes" and "box", "railing" and "rail", "painted" and "paint". It strips, in this order, the first of "ies" (→ "y"), "es", "s",
// "ing", "ed" that leaves at least three characters; other words (numbers,
// short words) are returned as they are. It is not a linguistic stemmer: it
// only has to map the forms a shopper types and a title uses to one key.
func Stem(w string) string {
	n := len(w)
	switch {
	case n > 4 && w[n-3:] == "ies":
		return w[:n-3] + "y"
	case n > 4 && w[n-2:] == "es" && (w[n-3] == 's' || w[n-3] == 'x' || w[n-3] == 'z' || w[n-4:n-2] == "ch" || w[n-4:n-2] == "sh"):
		return w[:n-2]
	case n > 3 && w[n-1] == 's' && w[n-2] != 's' && w[n-2] != 'u' && w[n-2] != 'i':
		return w[:n-1]
	case n > 5 && w[n-3:] == "ing":
		return w[:n-3]
	case n > 4 && w[n-2:] == "ed":
		return w[:n-2]
	}
	return w
}
