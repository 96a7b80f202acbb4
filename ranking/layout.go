package ranking

import (
	"fmt"
	"math"
)

// Layout fixes which query slot holds which token, so that the position bias β of each
// slot has one meaning, in training and in serving alike:
//
//	slots [0, Recent)                      the shopper's recent items (collab vectors), most recent first
//	next len(ProfileMods) slots            the shopper's profile, one mean vector per modality
//	next len(QueryMods) slots              caller-supplied query vectors (an image, say)
//	remaining Words slots                  the words of a search, one text token each
//
// Slots without a token are padding (masked).
type Layout struct {
	Recent      int      `json:"recent"`
	RecentMod   string   `json:"recent_modality"`
	ProfileMods []string `json:"profile_modalities"`
	QueryMods   []string `json:"query_modalities"`
	Words       int      `json:"words"`
}

// Tokens returns the number of query slots, the model's MaxQueryTokens.
func (l Layout) Tokens() int { return l.Recent + len(l.ProfileMods) + len(l.QueryMods) + l.Words }

// QueryParts are the raw tokens of one query before layout.
type QueryParts struct {
	Recent  [][]float32          // vectors of RecentMod of the recent items, most recent first (nil entries: missing)
	Profile map[string][]float32 // profile mean per modality
	Vectors map[string][]float32 // caller query vectors per modality
	Words   [][]float32          // text token per word
	WordIDs []string             // the words, for explanations
}

// Build writes the query into q (reusing its slices) for a model with config cfg. It
// returns the label of every slot, for explanations ("" for padding).
func (l Layout) Build(q *Query, cfg Config, p QueryParts, labels []string) []string {
	n := l.Tokens()
	if cap(q.Tokens) < n {
		q.Tokens = make([][]float32, n)
		q.Modality = make([]int, n)
		q.Mask = make([]bool, n)
	}
	q.Tokens, q.Modality, q.Mask = q.Tokens[:n], q.Modality[:n], q.Mask[:n]
	labels = append(labels[:0], make([]string, n)...)
	for i := range q.Mask {
		q.Mask[i] = false
		q.Tokens[i] = nil
		q.Modality[i] = 0
	}
	put := func(slot int, mod string, v []float32, label string) {
		j := cfg.ModalityIndex(mod)
		if j < 0 || v == nil || len(v) != cfg.Modalities[j].Dim || !finite(v) {
			return
		}
		q.Tokens[slot], q.Modality[slot], q.Mask[slot] = v, j, true
		labels[slot] = label
	}
	s := 0
	for i := 0; i < l.Recent; i++ {
		if i < len(p.Recent) {
			put(s, l.RecentMod, p.Recent[i], fmt.Sprintf("recent:%d", i))
		}
		s++
	}
	for _, m := range l.ProfileMods {
		put(s, m, p.Profile[m], "profile:"+m)
		s++
	}
	for _, m := range l.QueryMods {
		put(s, m, p.Vectors[m], "query:"+m)
		s++
	}
	for i := 0; i < l.Words; i++ {
		if i < len(p.Words) {
			label := "word"
			if i < len(p.WordIDs) {
				label = "word:" + p.WordIDs[i]
			}
			put(s, "text", p.Words[i], label)
		}
		s++
	}
	return labels
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// FeatureNames are the scalar features f_c of the scorer, in order. Counts enter as
// log(1+x); the engine score is standardised within the request; seq is the
// sequence encoder's score (SeqEncoder), 0 for models without one. The match
// features compare a search's words with the candidate's title (package
// features/text, Match.Features): the share of the query's words in the title,
// whether all are, whether the last is, and log(1 + title words); all four are
// 0 without query words. New features are appended, so a model trained with
// fewer (a prefix) still loads.
var FeatureNames = []string{"pop_1h", "pop_1d", "pop_7d", "covis", "engine_score", "has_engine_score", "seq",
	"match_share", "match_all", "match_last", "title_words"}

// NMatch is the number of match features (FeatMatchShare … FeatTitleWords).
const NMatch = 4

// NFeatures is len(FeatureNames).
const NFeatures = 11

// Feature indexes.
const (
	FeatPop1h = iota
	FeatPop1d
	FeatPop7d
	FeatCovis
	FeatEngine
	FeatHasEngine
	FeatSeq
	FeatMatchShare
	FeatMatchAll
	FeatMatchLast
	FeatTitleWords
)

// CovisDecay weighs the co-visitation count with the j-th most recent item by
// CovisDecay^j; CovisItems recent items are used.
const (
	CovisDecay = 0.7
	CovisItems = 5
)

// CovisFeature combines co-visitation counts with the recent items (counts[j] for the
// j-th most recent) into one feature.
func CovisFeature(counts []float64) float32 {
	var s, w float64 = 0, 1
	for _, c := range counts {
		s += w * math.Log1p(c)
		w *= CovisDecay
	}
	return float32(s)
}
