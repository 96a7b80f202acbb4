// Package training learns the fusion scorer (package ranking) from
// interaction sequences: the scorer's weights, a learned "collab" vector per
// item and "attr" attribute embeddings, jointly. It is pure computation: no
// I/O, no context, no logging (progress goes to an optional callback).
//
// # Examples
//
// Every event at position t ≥ 1 of a user's sequence whose history is not
// empty is an example: the positive is the event's item, the history the
// user's earlier events (in timed data, the events strictly before the
// target's time, so items of the same basket are not history).
//
// # Query and items
//
// Queries follow ranking.Layout exactly as serving builds them: slots
// 0 … Recent−1 hold the collab vectors of the user's distinct recent items,
// most recent first; then one profile slot per fixed modality m holding the
// time-decayed mean of the history's vectors (the feature store's rule)
//
//	profile_m = Σ_e w_e 2^{−(Ref−t_e)/h} v_m(e) / Σ_e w_e 2^{−(Ref−t_e)/h}
//
// with Ref the latest history time and h = ProfileHalfLife. Candidate c has
// the tokens collab_c (learned), attr_c = mean_{a ∈ attrs(c)} A_a (learned
// attribute table A) and its fixed vectors. With Options.RecencyEmbedding the recent
// tokens first pass through ranking.RecencyEmbedding: x'_k = x_k + e_k.
//
// # Scalar features (point in time)
//
// For an example of user u with target time T, following ranking.FeatureNames:
//
//	pop_w    = log(1 + #interactions with c in [T−w, T))         w = 1h, 1d, 7d
//	covis    = CovisFeature(n_0 … n_4),  n_j = #(r_j → c) direct follows before T
//	engine_score = has_engine_score = 0   (search examples: the engine's score, below)
//	seq      = the sequence encoder's score (below), 0 without one
//
// r_j the j-th most recent distinct history item. In untimed data (every
// Time 0) there is no clock shared between users: counts then include every
// other user's interactions and u's own before the target, never the
// target's own transition or anything after it, and the pop windows are 0.
// Serving-time features (Scorer) count every training interaction.
//
// # Queries (Data.Vocab, Data.Searches)
//
// When d has the "text" modality and a vocabulary, the layout also has
// Options.Words word slots and one query-vector slot per other fixed
// modality (a photo), and the scorer learns them, with the engine_score
// weight, from search examples trained between the behavioural batches:
//
//   - logged searches: each shown item with an outcome is a positive against
//     the shown items of a lower outcome above it (and the one just below,
//     when not taken): position-aware, so the engine's order is not simply
//     relearned; in a judged search (a judgement set) against every item of
//     a lower grade. The query holds the search's words and vectors and the
//     user's history before the search; the engine's scores are standardised
//     over the items shown, as serving standardises a request's;
//   - catalogue pseudo-queries: one to four of an item's own words (and, for
//     a third each, its photo vector alone or with them) against
//     SearchNegatives random items, no engine score; they fill up to
//     PseudoQueries per epoch and are at least PseudoShare of the logged
//     examples.
//
// Each is the softmax cross-entropy of the positive over its candidates
// (the float64 reference pass, LossAndGrad), the batch mean times the mix weight
// (Options.SearchMix) stepping the same optimizer. Every tenth logged search
// with two outcomes is held out; early stopping and the choice among
// candidates maximise the behavioural plus the search validation NDCG@10.
// The start is the cosine start: Wv = Wo = [I; 0], the text projection the
// identity (d = d_a = the text dimension when there is no behaviour) or a
// random map onto the first min(d, d_a) dimensions, Wq and Wk scaled by 0.1,
// so R_i·V_c starts near the cosine of a query word with an item's text; the
// engine weight starts at the best of EngineWeights on the held-out searches.
// Without behaviour (a judgement set alone) the collab modality and the
// sequence encoder are left out.
//
// # Loss and optimisation
//
// A batch of B examples shares one candidate set C: the batch's positives
// plus Negatives items drawn with probability ∝ (1+count)^NegPower. Example
// b's loss is the softmax cross-entropy of its positive over C, the items of
// its own history excluded (as evaluation and serving exclude them):
//
//	L_b = −s_b,pos + log Σ_{c ∈ C∖H_b} exp(s_b,c)
//
// with s the fusion score of package ranking. Gradients of the mean batch
// loss flow into the scorer, the collab rows (query and candidate side),
// the attribute rows (1/|attrs(c)| each) and the recency embedding; AdamW (Adam,
// lazy for the embedding tables) applies them. The item side (K_c, V_c) is
// computed once per batch; examples are split into a fixed number of shards
// summed in order, so results are bit-identical for a seed whatever the
// number of goroutines.
//
// # The scorer's gradient (reference.go, batch.go)
//
// Training minimises the softmax cross-entropy of the positive p among its
// candidates, L = logsumexp_c(score_c) − score_p. With P_c the softmax of
// the scores and δ_c = P_c − [c = p], LossAndGrad accumulates, for each
// candidate with a valid pair (sums over valid pairs only):
//
//	∂L/∂b += δ_c          ∂L/∂u += δ_c f_c
//	dA[i,j] = δ_c T[i,j]                     dT[i,j] = δ_c A[i,j]
//	dS[i,j] = A[i,j] (dA[i,j] − Σ_kl A[k,l] dA[k,l])
//	∂L/∂β_i += Σ_j dS[i,j]
//	dQ_i += Σ_j dS[i,j] K_j / √d_a         dK_j = Σ_i dS[i,j] Q_i / √d_a
//	dR_i += Σ_j dT[i,j] V_j                dV_j = Σ_i dT[i,j] R_i
//	∂L/∂Wk += Y_jᵀ dK_j    ∂L/∂Wv += Y_jᵀ dV_j    dY_j = dK_j Wkᵀ + dV_j Wvᵀ
//	∂L/∂P_j += y_jᵀ dY_j   ∂L/∂p_j += dY_j        ∂L/∂y_j = dY_j P_jᵀ
//
// and after all candidates, for each valid query token:
//
//	∂L/∂Wq += X_iᵀ dQ_i    ∂L/∂Wo += X_iᵀ dR_i    dX_i = dQ_i Wqᵀ + dR_i Woᵀ
//	∂L/∂P_m(i) += x_iᵀ dX_i   ∂L/∂p_m(i) += dX_i   ∂L/∂x_i = dX_i P_m(i)ᵀ
//
// The input gradients ∂L/∂x_i and ∂L/∂y_cj (InputGrads) let a trainer
// learn embedding tables, such as items' collab vectors and attribute
// vectors, by backpropagating into the inputs: accumulate them per table
// row in a SparseGrad and apply Adam.StepEmbeddings.
//
//	g := training.NewGrads(model)
//	opt := training.NewAdam(training.AdamConfig{LR: 1e-3, WeightDecay: 1e-4})
//	ig := make([]training.InputGrads, len(batch))
//	loss := training.TrainStep(model, opt, g, batch, ig)   // zero, accumulate, average, step
//	sg.Reset()
//	for k := range batch { sg.Add(collabRow[k], ig[k].Query[0], 1); … }
//	opt.StepEmbeddings(collab, sg)
//
// Finer control: LossAndGrad accumulates into g (call it per example, from
// several goroutines with one Grads each and Grads.Add), then Adam.Step.
//
// LossAndGrad (reference.go) is the float64 reference pass: it reads the
// float32 parameters and inputs and computes everything in float64, so its
// gradients match the golden file to 1e-4 relative and finite differences
// to 1e-3. The behavioural batches train with exampleStep (batch.go), the
// same formulas in float32 over a batch's shared candidates, tested
// against LossAndGrad; the search examples, whose candidate lists are
// explicit, and the offline comparisons that train on explicit lists
// (evaluation/rerank, evaluation/photos) use LossAndGrad and TrainStep.
// Gradients (Grads, InputGrads, SparseGrad) and the model's Adam moments
// are float64; embedding-table moments are float32 to halve their memory.
// Adam writes the updated weights back as float32.
//
// # Sequence encoder (Options.Seq)
//
// With Options.Seq, a SeqModel is trained first, on the same examples
// (every position of every training sequence) and with early stopping on
// the same validation cases:
//
//	h      = Σ_{k < min(W, |R|)} g_k ⊙ E[r_k]
//	seq(c) = h · E[c] + b_c
//
// r_k the k-th most recent distinct history item (as the feature store keeps
// recent items), E the item embeddings (one table for the history and the
// scored item), g_k a learned gate per position. Its loss is the
// softmax cross-entropy of the positive over the batch's positives and
// SeqOptions.Negatives shared negatives (uniform, or ∝ (1+count)^NegPower
// with log(Negatives·q_c) subtracted from the logits), the history excluded,
// inverted dropout on h; AdamW. SeqOptions.Members models (seeds Seed, Seed+1, …) are
// trained and their mean score is the scorer's seq feature in training and
// scoring. Its weight u starts at the best of Options.SeqWeights on up to
// Options.ChooseValidation validation cases (the score is linear in u, so
// one scoring per case serves every candidate weight; the scorer otherwise
// initialised as usual); with
// Epochs < 0 the scorer is not trained further. Training the scorer on top
// does not pay on Beauty: the seq score is fitted on the very examples the
// scorer trains on, so it is more confident there than on unseen histories
// and the scorer learns to over-trust it (held-out NDCG falls from the first
// epoch); early stopping then keeps the start.
//
// The service computes seq(c) (Result.SeqEncoder exports the encoder as
// one ranking.SeqEncoder: the gates and each item's row [E[c], b_c]; M
// members side by side, gates divided by M and biases averaged, so the one
// score is the members' mean).
//
// The encoder's pass is three matrix products per shard of a batch
// (logits, ∂L/∂queries, ∂L/∂output rows: kernel.MatMulTo), with
// per-example softmax, masking and pooling around them.
//
// Every numeric kernel of the passes (dot products, scaled adds, the
// vector-matrix products of the projections, gradient accumulation into
// float64 with kernel.Axpy64 and kernel.AddOuter64, the matrix products)
// is internal/kernel's: AVX-512 or AVX2 assembly chosen when the program
// starts, or the pure-Go twin. Sums of products differ between those
// levels in the last bits of float32; the float64 gradient accumulation is
// exact on every level. A training run is reproducible on one machine
// (same level); across levels the losses agree to about seven digits.
//
// The initial weight of pop_7d is likewise the best of Options.PopWeights
// (timed data only, chosen the same way), so the start is counting plus recent popularity.
// Validation cases (HoldOut: each user's last event) are scored at their own
// time: point-in-time features count the interactions before the target.
//
// After each epoch the model is scored on the validation cases through the
// serving path (Layout.Build, ItemKV, QueryTo, ScoreTo) and NDCG@10 over the
// whole catalogue, history masked but for the target, decides early
// stopping; the best epoch's weights are returned. The metric is
// evaluation's (evaluation.HitNDCG with ties at their expected rank), the
// one `fusionrank eval` reports; PopularityNDCG, the registry's popularity
// bar, uses it too.
//
// # Fusion modes (Options.Fusion)
//
// The scorer's learned part fuses the query tokens with a candidate's
// modality vectors in one of ranking's fusion modes (ranking/fusion.go),
// all served; the non-attention modes replace its term in s_c, keeping the
// projections X_s, Y_cj, the scalar features and the training loop (mix.go):
//
//	early: e_c = w2 · relu(W1 [x̄; Y_c1; …; Y_cM] + b1),  x̄ = mean_s X_s
//	late:  e_c = Σ_j w_j (x̄ · Y_cj)
//	off:   e_c = 0
//
// a missing modality a zero block (early) or a zero score (late), a
// candidate without any modality e_c = 0; w2 and w start at 0, so the start
// is the counting model.
//
// # What is served (ServeOptions, ServeCandidates, Choose)
//
// ServeOptions are the servable defaults. ServeCandidates lists the
// configurations a shop is trained with: for each fusion mode (attention,
// late and off by default; early on request), the recent slots holding the
// learned collab vectors, or, when the data has fixed modalities, the first
// fixed modality's vectors without collab (NoCollab); off once. Choose
// trains each on the same held-out cases (sharing one sequence encoder fit)
// and keeps the best by held-out NDCG@10 (plus the held-out searches'
// NDCG@10 when the shop has searches: criterion).
package training
