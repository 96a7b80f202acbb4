// Package text is the feature store's built-in text encoder: it turns an
// item's title and description into one fixed-size vector (the item's "text"
// modality), and a search query into one vector per word (the query tokens
// of the fusion scorer). It is pure Go and uses pre-trained word vectors; it
// does no I/O beyond reading the vector file once.
//
// # Word vectors
//
// The vectors are read in the GloVe text format, one word per line followed by
// its numbers ("word v1 … vN"), plain or gzip-compressed (detected from the
// magic bytes). The default vocabulary is GloVe 6B 100-d (Pennington, Socher
// and Manning, 2014); scripts/install-glove-full.sh installs the full
// 341,479-word copy, and a 50,000-word copy is in the shared datasets. All
// vectors are stored in one contiguous []float32 block indexed by a map from
// word to position, about 400 bytes per 100-d word plus the map.
//
// # Tokenisation
//
// [Tokenize] lower-cases (rune by rune, [unicode.ToLower]) and splits the text
// into maximal runs of Unicode letters and digits. Hyphens, slashes, dots and
// all other punctuation separate tokens ("12-Gauge" → "12", "gauge"; "1/2" →
// "1", "2"), because product text is full of hyphenated measurements whose
// parts are in the vocabulary while the compounds mostly are not. An
// apostrophe inside a word separates too, and an English clitic after it (s,
// t, d, m, ll, re, ve) is dropped ("Men's" → "men", "don't" → "don"): the
// GloVe vocabulary has no entry for the joined forms, and the possessive
// carries no meaning for ranking.
//
// # Pooling an item's text
//
// GloVe files list words in decreasing corpus frequency, so the unigram
// probability of the word of rank r (1-based, over the V words loaded) is
// estimated with Zipf's law (exponent 1):
//
//	p(r) = 1 / (r · H_V),   H_V = Σ_{k=1..V} 1/k
//
// Each word gets the smooth inverse frequency (SIF) weight of Arora, Liang and
// Ma (2017), which discounts frequent words ("the", "and", "with") without a
// stop list:
//
//	w(r) = a / (a + p(r)),   a = 1e-3 by default (Options.SIF)
//
// With the 50k vocabulary (H_V ≈ 11.4) "the" weighs about 0.01, the 100th word
// about 0.53 and the 1000th about 0.92. The encoding of an item whose title
// and description have the known tokens t_1 … t_n (repetitions counted,
// unknown tokens ignored) is
//
//	u = Σ_i w(t_i) · v(t_i),   e = u / ‖u‖₂
//
// and the zero vector when n = 0 (or u = 0). Unlike the SIF paper, the common
// principal component is not removed: it would need the whole catalogue, and
// an item's vector must not change when other items arrive. Vectors are unit
// length, so the dot product of two encodings is their cosine.
//
// # Query tokens
//
// A search query is tokenised the same way, and each known token becomes its
// own vector v(t)/‖v(t)‖₂ (no frequency weight: attention decides which word
// matters), in query order; unknown tokens are skipped and counted.
//
// # Performance
//
// Encoding a title and description does not allocate in steady state: tokens
// are substrings of the input, and look-ups of tokens that need lower-casing
// go through a stack buffer. An Encoder is immutable after loading and safe
// for concurrent use.
package text
