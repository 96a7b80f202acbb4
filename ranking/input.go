package ranking

// Query is the query side of one request: the words of a search, a photo,
// the shopper's recent items, each a raw vector in its modality's native
// dimension.
type Query struct {
	// Tokens are the raw query tokens x_i, at most MaxQueryTokens of them.
	// Token i has length Modalities[Modality[i]].Dim unless it is masked.
	Tokens [][]float32
	// Modality[i] is the modality index m(i) of token i; same length as
	// Tokens.
	Modality []int
	// Mask[i] false marks token i as padding: it is ignored entirely and
	// may hold anything (even NaN or the wrong length). A nil Mask means
	// every token is valid.
	Mask []bool
}

// Candidate is one item with its raw modality tokens, as the training path
// sees it. Serving uses precomputed ItemKV rows instead.
type Candidate struct {
	// Tokens[j] is the item's raw vector y_j for modality j, of length
	// Modalities[j].Dim when valid. len(Tokens) is the number of
	// modalities.
	Tokens [][]float32
	// Mask[j] false marks modality j as missing: Tokens[j] is ignored and
	// may hold anything. A nil Mask means modality j is present exactly
	// when len(Tokens[j]) > 0.
	Mask []bool
	// Features are the candidate's scalar features f, NFeatures of them. A
	// nil slice means all zero.
	Features []float32
}

// Valid reports whether query token i takes part in the score: Mask[i], or
// every token when Mask is nil.
func (q *Query) Valid(i int) bool { return q.Mask == nil || q.Mask[i] }

// Valid reports whether the candidate has modality j: Mask[j], or, when
// Mask is nil, a non-empty token.
func (c *Candidate) Valid(j int) bool {
	if c.Mask == nil {
		return len(c.Tokens[j]) > 0
	}
	return c.Mask[j]
}

// CheckInputs panics, with a message prefixed "ranking: ", unless q and
// every candidate fit m's shapes; the training passes call it before their
// own forward pass.
func (m *Model) CheckInputs(q *Query, cands []Candidate) {
	m.checkQuery(q)
	for c := range cands {
		m.checkCandidate(&cands[c])
	}
}

func (m *Model) checkQuery(q *Query) {
	c := &m.cfg
	if len(q.Tokens) > c.MaxQueryTokens {
		panic("ranking: query has more tokens than MaxQueryTokens")
	}
	if len(q.Modality) != len(q.Tokens) {
		panic("ranking: query Modality length differs from Tokens length")
	}
	if q.Mask != nil && len(q.Mask) != len(q.Tokens) {
		panic("ranking: query Mask length differs from Tokens length")
	}
	for i, x := range q.Tokens {
		if !q.Valid(i) {
			continue
		}
		mi := q.Modality[i]
		if mi < 0 || mi >= len(c.Modalities) {
			panic("ranking: query token modality out of range")
		}
		if len(x) != c.Modalities[mi].Dim {
			panic("ranking: query token length differs from its modality's Dim")
		}
	}
}

func (m *Model) checkItemTokens(tokens [][]float32, mask []bool) {
	c := &m.cfg
	if len(tokens) != len(c.Modalities) {
		panic("ranking: item token count differs from the number of modalities")
	}
	if mask != nil && len(mask) != len(tokens) {
		panic("ranking: item mask length differs from the number of modalities")
	}
	for j, y := range tokens {
		valid := len(y) > 0
		if mask != nil {
			valid = mask[j]
		}
		if valid && len(y) != c.Modalities[j].Dim {
			panic("ranking: item token length differs from its modality's Dim")
		}
	}
}

func (m *Model) checkCandidate(cd *Candidate) {
	m.checkItemTokens(cd.Tokens, cd.Mask)
	if cd.Features != nil && len(cd.Features) != m.cfg.NFeatures {
		panic("ranking: candidate Features length differs from NFeatures")
	}
}
