// Package baseline holds the counting recommenders that every offline
// evaluation compares the fusion scorer with. Each implements
// evaluation.Model: Fit on training sequences, then ScoreTo for any history,
// safe for concurrent use. Item indices are dense, 0 … n−1.
//
// # Pop
//
//	score(j) = |{(u, i) : s_ui = j, t_ui ≥ Since}|
//
// the number of interactions with j (or, with Distinct, of users who
// interacted with j), optionally within a recent window. The same list is
// returned for every user; the evaluator masks the history.
//
// # Markov
//
// With T(a→b) the number of times b directly followed a in a training
// sequence (plus Reverse × the number of times a directly followed b),
// optionally divided by a's row sum (Normalize), and the user's history
// h_1 … h_m (oldest first):
//
//	score(j) = λ · pop(j)/max pop + Σ_{l=0}^{L−1} decay^l · T(h_{m−l} → j)
//
// with L = Order (default 1), decay default 0.5 and λ = PopWeight (default
// 1e-3: with raw counts, which are whole numbers, λ only breaks ties and
// ranks items that have no transition from the history, so the chain falls
// back to popularity for unknown or dead-end items). Transitions are stored
// in CSR form; scoring costs O(n + Σ_l |row(h_{m−l})|).
//
// # CoPurchase
//
// A group is a user's whole training history, or with Basket one basket
// (the user's interactions that share a timestamp, one invoice), taken as
// a set. With n_a the number of groups containing a,
//
//	C(a, b) = |{groups ∋ a, b}|           (a ≠ b), or C(a, b)/sqrt(n_a·n_b) with Cosine
//	score(j) = λ · buyers(j)/max buyers + Σ_{r=0}^{R−1} decay^r · C(h_r, j)
//
// where h_0, h_1, … are the user's distinct history items from the most
// recently bought backwards and R = Recent (default all). The matrix is
// built row by row in parallel from an inverted index, costing Σ_g |g|²
// over groups g, and stored sparse.
package baseline
