package kernel

// Lanes is the number of query tokens the attention kernel processes
// together: one lane group, the 16 float32 of a 512-bit vector (two 256-bit
// halves on AVX2).
const Lanes = 16

// Attention is the query side of the attention kernel and its scratch
// memory. For a query of lq tokens, each with a key-side vector Q_i
// (already scaled, typically by 1/√da), a value-side vector R_i and a bias
// β_i, and a candidate with m modalities (keys K_j and values V_j, each of
// da float32), Score computes
//
//	S_ij = Q_i·K_j + β_i,  T_ij = R_i·V_j
//	A = softmax of S over the valid pairs (token i set, modality j present)
//	score = Σ_ij A_ij T_ij
//
// Tokens are stored in groups of Lanes, token-minor (element e of the
// group's tokens is one vector), so the products run along the tokens: one
// fused multiply-add with a broadcast key or value element per element of
// da, and the softmax works on whole vectors.
//
// The zero value is ready for Reset. An Attention grows on first use and
// then reuses its memory; it must not be used by two goroutines at once.
type Attention struct {
	m, da, lq, groups int
	q, r              []float32 // groups × da × Lanes, token-minor
	beta              []float32 // groups × Lanes
	valid             []uint16  // groups: bit l set when token g·Lanes+l is set
	s, t              []float32 // groups × m × Lanes: S (then e^(S−max)), T
	z                 float32   // Σ e^(S−max) of the last Score
	any               bool
}

// resize returns s with length n, reusing its memory when it can; the contents are
// not cleared.
func resize(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Reset prepares a for candidates of m modalities (1 ≤ m ≤ 64), vectors of
// da elements (da ≥ 1) and a query of lq tokens, none of them set.
func (a *Attention) Reset(m, da, lq int) {
	if m < 1 || m > 64 || da < 1 || lq < 0 {
		panic("kernel: Attention.Reset: need 1 ≤ m ≤ 64, da ≥ 1 and lq ≥ 0")
	}
	g := (lq + Lanes - 1) / Lanes
	a.m, a.da, a.lq, a.groups = m, da, lq, g
	a.q = resize(a.q, g*da*Lanes)
	a.r = resize(a.r, g*da*Lanes)
	a.beta = resize(a.beta, g*Lanes)
	a.s = resize(a.s, g*m*Lanes)
	a.t = resize(a.t, g*m*Lanes)
	if cap(a.valid) < g {
		a.valid = make([]uint16, g)
	}
	a.valid = a.valid[:g]
	clear(a.q)
	clear(a.r)
	clear(a.beta)
	clear(a.valid)
	a.any = false
}

// SetToken sets query token i (0 ≤ i < lq): its key-side vector q, its
// value-side vector r (both of da elements) and its bias beta. Tokens
// never set are padding: they take no attention.
func (a *Attention) SetToken(i int, q, r []float32, beta float32) {
	if uint(i) >= uint(a.lq) || len(q) != a.da || len(r) != a.da {
		panic("kernel: Attention.SetToken: token index or vector length out of range")
	}
	g, l := i/Lanes, i%Lanes
	qg := a.q[g*a.da*Lanes : (g+1)*a.da*Lanes]
	rg := a.r[g*a.da*Lanes : (g+1)*a.da*Lanes]
	for e := range a.da {
		qg[e*Lanes+l] = q[e]
		rg[e*Lanes+l] = r[e]
	}
	a.beta[g*Lanes+l] = beta
	a.valid[g] |= 1 << l
	a.any = true
}

// Any reports whether any token is set.
func (a *Attention) Any() bool { return a.any }

// Score returns Σ_ij A_ij T_ij for one candidate whose key j is
// k[j·ld : j·ld+da] and value j is v[j·ld : j·ld+da] (ld ≥ da), over the
// modalities in mods (bit j: modality j present; not zero, below 1<<m).
// At least one token must be set. It does not allocate; the attention
// weights stay in a until the next Score (ModalityWeightsTo,
// TokenWeightsTo).
func (a *Attention) Score(k, v []float32, ld int, mods uint64) float32 {
	m, da := a.m, a.da
	if !a.any || mods == 0 || (m < 64 && mods>>m != 0) {
		panic("kernel: Attention.Score: needs a set token and a modality set within m")
	}
	if ld < da || len(k) < (m-1)*ld+da || len(v) < (m-1)*ld+da {
		panic("kernel: Attention.Score: keys or values shorter than m rows of ld")
	}
	if a.groups == 1 && m <= 4 {
		if score, z, ok := attendGroup(m, a.q, a.r, k, v, ld, da, a.beta, a.valid[0], mods, a.s); ok {
			a.z = z
			return score
		}
	}
	for g := range a.groups {
		q := a.q[g*da*Lanes : (g+1)*da*Lanes]
		r := a.r[g*da*Lanes : (g+1)*da*Lanes]
		for j0 := 0; j0 < m; j0 += 4 {
			nj := min(4, m-j0)
			o := (g*m + j0) * Lanes
			attnDots(nj, q, r, k[j0*ld:], v[j0*ld:], ld, da, a.s[o:o+nj*Lanes], a.t[o:o+nj*Lanes])
		}
	}
	score, z := softmax(a.s, a.t, a.beta, a.valid, m, a.groups, mods)
	a.z = z
	return score
}

// ModalityWeightsTo writes Σ_i A_ij of the last Score into dst[j] for the
// m modalities: which modality carried the match (they sum to 1).
func (a *Attention) ModalityWeightsTo(dst []float32) {
	m := a.m
	if len(dst) != m {
		panic("kernel: Attention.ModalityWeightsTo: dst length differs from m")
	}
	inv := 1 / a.z
	for j := range m {
		var w float32
		for g := range a.groups {
			for _, e := range a.s[(g*m+j)*Lanes : (g*m+j+1)*Lanes] {
				w += e
			}
		}
		dst[j] = w * inv
	}
}

// TokenWeightsTo writes Σ_j A_ij of the last Score into dst[i] for the lq
// tokens: which token carried the match (zero on padding).
func (a *Attention) TokenWeightsTo(dst []float32) {
	m := a.m
	if len(dst) != a.lq {
		panic("kernel: Attention.TokenWeightsTo: dst length differs from lq")
	}
	inv := 1 / a.z
	for i := range dst {
		g, l := i/Lanes, i%Lanes
		var w float32
		for j := range m {
			w += a.s[(g*m+j)*Lanes+l]
		}
		dst[i] = w * inv
	}
}
