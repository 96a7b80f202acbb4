// Package ranking is the fusion scorer: a cross-modal attention layer that
// lets the tokens of a query (the words of a search, a photo, the shopper's
// recent items) attend over each candidate item's modality embeddings
// (text, image, learned collab vector, attributes), so a product is judged
// by the modality that matters for this query.
//
// The package is pure computation: no I/O except encoding and decoding
// model files on an io.Reader or io.Writer, no context, no logging, and no
// imports from the rest of the project but internal/kernel. It holds the
// model, the served forward pass and the safetensors model file format.
// Every gradient (the scorer's float64 reference pass, its float32 training
// step, the sequence encoder's) and the optimizer live in package training.
//
// # Shapes
//
// A Config names M modalities (index j = 0…M−1, native dimension d_j), the
// model dimension d (DModel), the attention dimension d_a (DAttn), the
// number of scalar features F (NFeatures) and the number of query slots
// (MaxQueryTokens). The parameters, row-major float32, named as in model
// files and the golden file:
//
//	proj.j       P_j   d_j × d      projection of modality j
//	proj_bias.j  p_j   d            its bias
//	wq, wk, wv, wo     d × d_a      query, key, value and output maps
//	pos_bias     β     MaxQueryTokens, one per query slot
//	u            u     F            scalar-feature weights
//	b            b     1            bias
//
// Tensor names use the modality index; the Config (stored in the model
// file's metadata) maps indices to names.
//
// # Forward pass
//
// A query has Lq ≤ MaxQueryTokens tokens x_i, each a raw vector of some
// modality m(i), with a mask q_i (false = padding). A candidate c has one
// raw vector y_cj per modality, with a mask k_cj (false = the item lacks
// the modality), and scalar features f_c:
//
//	X_i  = x_i P_m(i) + p_m(i)        Y_cj = y_cj P_j + p_j
//	Q    = X Wq    R = X Wo           K_c  = Y_c Wk    V_c = Y_c Wv
//	S_c[i,j] = Q_i·K_cj / √d_a + β_i         for valid pairs (q_i and k_cj)
//	A_c  = softmax of S_c over all valid (i,j) pairs together
//	T_c[i,j] = R_i·V_cj
//	score_c = Σ_ij A_c[i,j] T_c[i,j] + u·f_c + b
//
// This is the default fusion mode, attention (Config.Fusion); the early,
// late and off modes replace the attention term and are described, with
// their explanations, in fusion.go.
//
// There is one softmax per candidate over every valid (token, modality)
// pair, not one per token. The explanations are the marginals of A_c:
// modality weights Σ_i A_c[i,j] (which modality of the product carried the
// match; length M) and token weights Σ_j A_c[i,j] (which query token did;
// length Lq). A candidate with no valid pair (every modality missing, or
// every query token padded) scores u·f_c + b and its explanations are all
// zero.
//
// # Masks
//
// Padded query tokens and missing item modalities never influence
// anything: their vectors are never read (they may be NaN, ±Inf, of the
// wrong length or nil), they get zero attention, zero gradient and no input
// gradient. A nil Query.Mask means every token is valid; a nil
// Candidate.Mask or ItemKVTo mask means modality j is present exactly when
// its token is non-empty.
//
// # Serving
//
// K_c and V_c depend only on the item and the model, so they are computed
// once, when a model loads and when an item changes, into an ItemKV: a
// contiguous store with one row per item of 2M × d_a float32: K_c[0…M−1]
// then V_c[0…M−1], plus a 64-bit modality mask per row. A request computes
// Q and R once (QueryTo, into a Workspace whose kernel.Attention holds
// Q/√d_a, R and β in groups of 16 tokens), then ScoreTo scores any list of
// ItemKV rows: per candidate, Lq·M dot products of length d_a for S and as
// many for T, then one softmax over at most Lq·M values. ScoreTo does not
// allocate; keep Workspaces in a sync.Pool.
//
//	kv := model.NewItemKV(len(items))            // when a model loads
//	for r, it := range items {
//		model.ItemKVTo(kv, r, it.Tokens, it.Mask)
//	}
//	ws := pool.Get().(*ranking.Workspace)          // per request
//	model.QueryTo(ws, query)
//	model.ScoreTo(scores, ws, kv, rows, features, &ranking.Explanations{Modality: mw})
//	pool.Put(ws)
//
// # Float policy
//
// Parameters, inputs and item keys and values are float32. Serving computes
// in float32: projections with float32 accumulation, attention scores and
// values as float32 dot products of length d_a, and the softmax with a
// float32 exponential (exp32: range reduction and a degree-6 polynomial,
// relative error below 3e-7); the scores match the float64 golden file to
// 1e-4 relative. Training (package training) updates the float32
// parameters from float64 gradients.
//
// # Kernels
//
// The numeric kernels live in internal/kernel: the projections of QueryTo
// and ItemKVTo are kernel.VecMatTo products, and the per-candidate
// attention and softmax are kernel.Attention.Score, which runs AVX-512 or
// AVX2 assembly chosen when the program starts, or its pure-Go twin (see
// that package; one plain go build gives the fast path). The plain
// reference (reference_test.go, the formulas as written) anchors the
// tests and the benchmarks: go test -bench Fusion reports ns/candidate
// (wall) and cpu-ns/candidate (thread CPU time, steadier on a shared
// machine) for BenchmarkFusion (ScoreTo) and BenchmarkFusionReference on
// the same shapes; -tags noavx512 or -tags purego measures the AVX2 path
// or the twin.
//
// # Model files
//
// WriteTo and ReadModel use the safetensors format: an 8-byte little-endian
// header length N; N bytes of JSON header, padded with spaces to a multiple
// of 8, mapping each tensor name to {"dtype", "shape", "data_offsets":
// [begin, end]} (byte offsets after the header) plus a "__metadata__"
// string map holding "fusionrank.config" (the Config as JSON) and
// "fusionrank.format" ("1"); then the tensors, little-endian F32, in the
// order of Model.Tensors, then the fusion mode's own (Model.ModeTensors:
// early.w1, early.b1, early.w2 or late.w). A config without "fusion" is an
// attention model. ReadModel also accepts F64 tensors (converted to
// float32) and files without fusionrank metadata (the config is then
// inferred from the shapes, modality j named strconv.Itoa(j)). It rejects,
// with errors wrapping ErrCorruptModel, a bad header length, a header that
// is not JSON, an invalid config, missing or unexpected tensors, other
// dtypes, shape or byte-length mismatches, overlapping or out-of-range
// offsets, truncated data and NaN or infinite values.
package ranking
