package photos

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/internal/kernel"
	"github.com/fusionrank/fusionrank/ranking"
	"github.com/fusionrank/fusionrank/training"
)

// FusionModels are the comparison models of the fusion question: how to
// combine a product's modalities for a query. All of them sit on one
// trained encoder (EncoderModel: a file, or trained in Fit), so they share
// the data, the vectors and the budget; they differ only in how a
// product's modality vectors meet the query's:
//
//   - "image", "text", "collab", "shoppers": one modality alone, scored by
//     cosine: the web-shop photo's encoding, the description's (text
//     tower), the learned product vector, the mean of the training photos'
//     encodings;
//   - "late": one cosine per modality, combined with learned weights,
//     score = Σ_m w_m cos(q, v_m);
//   - "early": the query vector and the modality vectors concatenated into
//     one vector, through one hidden layer (64 ReLU units) to one score;
//   - "attention": the project's fusion scorer (package ranking): the
//     query vector is a query token attending over the product's modality
//     tokens, with the per-modality cosines as its scalar features, from
//     the cosine start (d = d_a = the encoder's dimension, projections, Wv
//     and Wo the identity), with the query's product and 8 others drawn
//     at random as the candidates of each training photo, trained with
//     training.TrainStep (the float64 reference pass).
//
// The modalities are those a task allows: photo search knows a product by
// its web-shop photo, its description and its learned vector; words →
// photo by its photos only (the web-shop photo and the training photos'
// mean). The learned models are fitted on training photos as queries (for
// the shoppers' mean, each photo's own product leaves that photo out):
// with a fusion hold-out (Parts), on photos the encoder never trained on,
// early fusion and attention keeping the epoch with the best MRR on
// further held-out photos (Parts.Select); without one, on the encoder's
// own training photos with fixed budgets (see the budgets below).
var FusionModels = []string{"image", "text", "collab", "shoppers", "early", "late", "attention"}

// FusionModel is one of FusionModels.
type FusionModel struct {
	// Mode is the model's name in FusionModels.
	Mode string
	// Encoder is the shared encoder (its Path or Train options).
	Encoder EncoderModel

	task  Task
	names []string      // the task's modality names
	mods  [][][]float32 // [modality][product] unit vectors
	// late: weights per modality.
	w []float64
	// early: A [H, D] on the query, B [M][H, D] on the modalities, bias b
	// [H], output u [H].
	early *earlyNet
	// attention
	att *ranking.Model
	// shoppers is the index of the shoppers modality in names (−1: none).
	shoppers int
	// What the fit used: the number of query and selection photos, whether
	// the encoder never saw them, the epochs kept, the training curve.
	fitted, selected int
	unseen           bool
	chosen           int
	lr               float64 // attention's learning rate (0: none, the start kept)
	curve            *evaluation.TrainingCurve
	// attention's best epoch of one learning rate (trainAttention)
	selModel *ranking.Model
	selEpoch int
	selBest  float64
}

// NewFusionModel returns the model mode of FusionModels with the encoder
// options of enc.
func NewFusionModel(mode string, enc EncoderModel) *FusionModel {
	return &FusionModel{Mode: mode, Encoder: enc}
}

// TrainingCurve returns early fusion's or attention's loss by epoch, with
// the selection MRR when the epoch was chosen (nil for the others).
func (m *FusionModel) TrainingCurve() *evaluation.TrainingCurve { return m.curve }

// FitNote says what the fusion was fitted on, for the report (empty for a
// single modality).
func (m *FusionModel) FitNote() string {
	if len(m.names) < 2 {
		return ""
	}
	s := fmt.Sprintf("The %s fusion is fitted on %d training photos as queries", m.Mode, m.fitted)
	if m.unseen {
		s += fmt.Sprintf(" that the encoder never trained on (fusion hold-out %v)", m.Encoder.holdOut)
	} else {
		s += " (the encoder's own training photos)"
	}
	switch {
	case m.Mode == "late":
		s += fmt.Sprintf("; %d full-batch steps; weights %.2f over %v.", lateSteps, m.w, m.names)
	case m.selected > 0 && m.Mode == "attention" && m.chosen == 0:
		s += fmt.Sprintf("; the cosine start kept (untrained): no epoch at learning rates %v (up to %d each) beat its MRR on %d further held-out training photos.", attentionLRs, maxAttentionEpochs, m.selected)
	case m.selected > 0 && m.Mode == "attention":
		s += fmt.Sprintf("; learning rate %g, epoch %d kept, chosen among learning rates %v, up to %d epochs each, and the cosine start by MRR on %d further held-out training photos.", m.lr, m.chosen, attentionLRs, maxAttentionEpochs, m.selected)
	case m.selected > 0:
		s += fmt.Sprintf("; epoch %d kept (0: the start), chosen by MRR on %d further held-out training photos.", m.chosen, m.selected)
	default:
		s += fmt.Sprintf("; %d epochs, no selection.", m.chosen)
	}
	return s
}

// Version returns the shared encoder's version.
func (m *FusionModel) Version() string { return m.Encoder.Version() }

// TrainSeconds returns the encoder's training time in Fit (0 from a file).
func (m *FusionModel) TrainSeconds() float64 { return m.Encoder.TrainSeconds() }

// Variants returns the model's one variant.
func (m *FusionModel) Variants(t Task) []string {
	return []string{m.Mode + " (" + fmt.Sprint(m.modalityNames(t)) + ")"}
}

func (m *FusionModel) modalityNames(t Task) []string {
	all := []string{"image", "text", "collab"}
	if t == TaskWords {
		all = []string{"image", "shoppers"}
	}
	switch m.Mode {
	case "image", "text", "collab", "shoppers":
		return []string{m.Mode}
	}
	return all
}

// Fit fits the shared encoder and then the fusion on the fusion photos as
// queries (Parts.Fit), choosing early fusion's and attention's epoch on
// Parts.Select when it is not empty.
func (m *FusionModel) Fit(ctx context.Context, d *Data) error {
	if err := m.Encoder.Fit(ctx, d); err != nil {
		return err
	}
	m.task = d.Task
	m.names = m.modalityNames(d.Task)
	e := &m.Encoder
	m.shoppers = -1
	for j, name := range m.names {
		var vs [][]float32
		switch name {
		case "image":
			vs = e.iconic
		case "text":
			vs = e.desc
		case "collab":
			vs = e.learned
		case "shoppers":
			vs = e.centroid
			m.shoppers = j
		default:
			return fmt.Errorf("photos: unknown modality %q", name)
		}
		if d.Task == TaskWords && (name == "text" || name == "collab") {
			return fmt.Errorf("photos: model %s: the words task knows products by their photos only", m.Mode)
		}
		if len(e.learned) > 0 && name == "collab" && isZero(e.learned[0]) {
			return fmt.Errorf("photos: model %s: the encoder has no learned product vectors", m.Mode)
		}
		m.mods = append(m.mods, vs)
	}
	if len(m.names) == 1 {
		return nil
	}
	parts := d.parts()
	fit, sel := m.queries(parts.Fit), m.queries(parts.Select)
	m.fitted, m.selected = len(parts.Fit), len(parts.Select)
	m.unseen = parts.HoldOut > 0
	rng := rand.New(rand.NewPCG(1, 0x667573696f6e))
	switch m.Mode {
	case "late":
		m.w = fitLate(fit.cos, fit.label, e.k, len(m.names))
		progressf(d.Progress, "photos: late fusion weights %v over %v\n", m.w, m.names)
	case "early":
		m.fitEarly(ctx, fit, sel, rng, d)
	case "attention":
		if err := m.fitAttention(ctx, fit, sel, rng, d); err != nil {
			return err
		}
	default:
		return fmt.Errorf("photos: unknown fusion model %q", m.Mode)
	}
	return ctx.Err()
}

// fusionQueries are training photos as a fusion's queries.
type fusionQueries struct {
	vec   [][]float32 // the photo's encoding
	label []int       // its product
	cos   [][]float32 // [i][c·M + j]: cosine with product c's modality j
	// own[i] is the shoppers' mean of the photo's product without the
	// photo itself (nil: no shoppers modality, or the product's only
	// photo): every training photo is in the means the products are
	// known by, and a query must not meet itself.
	own [][]float32
}

// queries builds the fusion queries of the training photos at idx (indices
// into Data.Train, the rows of the encoder's train and label).
func (m *FusionModel) queries(idx []int) fusionQueries {
	e := &m.Encoder
	k, M := e.k, len(m.names)
	var q fusionQueries
	var sums [][]float32
	var counts []int
	if m.shoppers >= 0 {
		sums, counts = make([][]float32, k), make([]int, k)
		for c := range k {
			sums[c] = make([]float32, e.enc.Dim())
		}
		for i, v := range e.train {
			addTo(sums[e.label[i]], v)
			counts[e.label[i]]++
		}
	}
	for _, i := range idx {
		v, y := e.train[i], e.label[i]
		var own []float32
		if m.shoppers >= 0 && counts[y] > 1 {
			own = make([]float32, len(v))
			copy(own, sums[y])
			for x := range own {
				own[x] -= v[x]
			}
			unit(own)
		}
		row := make([]float32, k*M)
		for j := range M {
			for c := range k {
				row[c*M+j] = kernel.DotFixed(v, m.modality(j, c, y, own))
			}
		}
		q.vec = append(q.vec, v)
		q.label = append(q.label, y)
		q.cos = append(q.cos, row)
		q.own = append(q.own, own)
	}
	return q
}

// modality returns product c's vector of modality j for a query whose own
// product is y with the shoppers' mean own (y −1 or own nil: none).
func (m *FusionModel) modality(j, c, y int, own []float32) []float32 {
	if j == m.shoppers && c == y && own != nil {
		return own
	}
	return m.mods[j][c]
}

// selectionMRR is the mean reciprocal rank of the queries' products under
// the model as it stands (ties count half).
func (m *FusionModel) selectionMRR(q fusionQueries) float64 {
	if len(q.vec) == 0 {
		return math.NaN()
	}
	out := make([]float32, m.Encoder.k)
	var sum float64
	for i, v := range q.vec {
		m.scoreTo(out, v, q.label[i], q.own[i])
		y := q.label[i]
		rank := 1.0
		for c, s := range out {
			switch {
			case c == y:
			case s > out[y]:
				rank++
			case s == out[y]:
				rank += 0.5
			}
		}
		sum += 1 / rank
	}
	return sum / float64(len(q.vec))
}

func isZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// The fusions' budgets. Without a selection slice (Parts.Select empty),
// early fusion trains fusionEpochs epochs and attention attentionEpochs
// (its float64 training pass costs about 10 CPU-seconds an epoch on 2,640
// queries; it starts from the cosine start, so it begins where the mean
// cosine is). With one, early fusion trains up to maxEarlyEpochs and
// attention up to maxAttentionEpochs at each learning rate of
// attentionLRs, each stopping after selectPatience epochs without a better
// selection MRR, and they keep the epoch (0: the start) and learning rate
// with the best. Late fusion's three weights take lateSteps full-batch
// steps.
const (
	fusionEpochs       = 10
	attentionEpochs    = 2
	maxEarlyEpochs     = 100
	maxAttentionEpochs = 20
	selectPatience     = 5
	lateSteps          = 200
)

// selector keeps the best epoch by selection MRR.
type selector struct {
	best      float64
	bestEpoch int
	curve     evaluation.TrainingCurve
}

// epoch records epoch ep's loss and selection MRR and says whether it is
// the best so far and whether to stop.
func (s *selector) epoch(ep int, loss, mrr float64) (better, stop bool) {
	if ep > 0 {
		s.curve.Loss = append(s.curve.Loss, loss)
		s.curve.Validation = append(s.curve.Validation, mrr)
	}
	if ep == 0 || mrr > s.best {
		s.best, s.bestEpoch = mrr, ep
		return true, false
	}
	return false, ep-s.bestEpoch >= selectPatience
}

// fitLate learns w by full-batch Adam on the softmax cross-entropy over
// the products of score_c = Σ_j w_j cos[c·M+j].
func fitLate(cos [][]float32, label []int, k, M int) []float64 {
	w := make([]float64, M)
	for j := range w {
		w[j] = 10 / float64(M)
	}
	mo, vo := make([]float64, M), make([]float64, M)
	s := make([]float64, k)
	for step := 1; step <= lateSteps; step++ {
		g := make([]float64, M)
		for i, row := range cos {
			mx := math.Inf(-1)
			for c := range k {
				s[c] = 0
				for j := range M {
					s[c] += w[j] * float64(row[c*M+j])
				}
				mx = max(mx, s[c])
			}
			var z float64
			for c := range k {
				s[c] = math.Exp(s[c] - mx)
				z += s[c]
			}
			for c := range k {
				p := s[c] / z
				if c == label[i] {
					p--
				}
				for j := range M {
					g[j] += p * float64(row[c*M+j]) / float64(len(cos))
				}
			}
		}
		for j := range M {
			mo[j] = 0.9*mo[j] + 0.1*g[j]
			vo[j] = 0.999*vo[j] + 0.001*g[j]*g[j]
			mh := mo[j] / (1 - math.Pow(0.9, float64(step)))
			vh := vo[j] / (1 - math.Pow(0.999, float64(step)))
			w[j] -= 0.1 * mh / (math.Sqrt(vh) + 1e-8)
		}
	}
	return w
}

// earlyNet scores score = u·relu(A q + Σ_j B_j v_j + b).
type earlyNet struct {
	h, dim int
	a      []float64   // [H, D]
	b      [][]float64 // [M][H, D]
	bias   []float64
	u      []float64
}

// hidden writes A q into aq and the products' Σ_j B_j v_jc into bv[c].
func (n *earlyNet) project(dst []float64, w []float64, v []float32) {
	for r := range n.h {
		var s float64
		row := w[r*n.dim : (r+1)*n.dim]
		for x, vx := range v {
			s += row[x] * float64(vx)
		}
		dst[r] = s
	}
}

// clone returns a deep copy of n.
func (n *earlyNet) clone() *earlyNet {
	c := &earlyNet{h: n.h, dim: n.dim, a: slices.Clone(n.a), bias: slices.Clone(n.bias), u: slices.Clone(n.u)}
	for _, b := range n.b {
		c.b = append(c.b, slices.Clone(b))
	}
	return c
}

// fitEarly trains the early-fusion network on the queries fit by Adam on
// the softmax cross-entropy over all products, with the epoch chosen on
// sel (see the budgets); it sets m.early.
func (m *FusionModel) fitEarly(ctx context.Context, fit, sel fusionQueries, rng *rand.Rand, d *Data) {
	const H = 64
	mods := m.mods
	D := m.Encoder.enc.Dim()
	M, k := len(mods), len(mods[0])
	n := &earlyNet{h: H, dim: D, a: make([]float64, H*D), bias: make([]float64, H), u: make([]float64, H)}
	std := math.Sqrt(2 / float64(D*(M+1)))
	for i := range n.a {
		n.a[i] = rng.NormFloat64() * std
	}
	for range M {
		b := make([]float64, H*D)
		for i := range b {
			b[i] = rng.NormFloat64() * std
		}
		n.b = append(n.b, b)
	}
	for i := range n.u {
		n.u[i] = rng.NormFloat64() / math.Sqrt(H)
	}
	m.early = n
	params := append([][]float64{n.a, n.bias, n.u}, n.b...)
	grads := make([][]float64, len(params))
	mo, vo := make([][]float64, len(params)), make([][]float64, len(params))
	for i, p := range params {
		grads[i], mo[i], vo[i] = make([]float64, len(p)), make([]float64, len(p)), make([]float64, len(p))
	}
	bv := make([][]float64, k) // Σ_j B_j v_jc
	for c := range bv {
		bv[c] = make([]float64, H)
	}
	tmp := make([]float64, H)
	aq := make([]float64, H)
	own := make([]float64, H)
	full := make([]float64, H)
	hc := make([][]float64, k)
	for c := range hc {
		hc[c] = make([]float64, H)
	}
	s := make([]float64, k)
	dbv := make([][]float64, k)
	for c := range dbv {
		dbv[c] = make([]float64, H)
	}
	diff := make([]float32, D)
	epochs := fusionEpochs
	var pick selector
	if len(sel.vec) > 0 {
		epochs = maxEarlyEpochs
		pick.epoch(0, 0, m.selectionMRR(sel))
		pick.curve.ValidationName = "MRR (selection photos)"
	}
	best := n.clone()
	const batch = 32
	step := 0
	for ep := 1; ep <= epochs; ep++ {
		if ctx.Err() != nil {
			return
		}
		perm := rng.Perm(len(fit.vec))
		var loss float64
		var seen int
		for b0 := 0; b0+batch <= len(perm); b0 += batch {
			for c := range k {
				clear(bv[c])
				for j := range M {
					n.project(tmp, n.b[j], mods[j][c])
					for r := range H {
						bv[c][r] += tmp[r]
					}
				}
				clear(dbv[c])
			}
			for _, g := range grads {
				clear(g)
			}
			for _, i := range perm[b0 : b0+batch] {
				q := fit.vec[i]
				y := fit.label[i]
				n.project(aq, n.a, q)
				// The query's own product: the shoppers' mean without it.
				ownVec := fit.own[i]
				if ownVec != nil {
					j := m.shoppers
					for x := range diff {
						diff[x] = ownVec[x] - mods[j][y][x]
					}
					copy(own, bv[y])
					n.project(tmp, n.b[j], ownVec)
					n.project(full, n.b[j], mods[j][y])
					for r := range H {
						own[r] += tmp[r] - full[r]
					}
				}
				mx := math.Inf(-1)
				for c := range k {
					src := bv[c]
					if c == y && ownVec != nil {
						src = own
					}
					var sc float64
					for r := range H {
						v := aq[r] + src[r] + n.bias[r]
						if v < 0 {
							v = 0
						}
						hc[c][r] = v
						sc += n.u[r] * v
					}
					s[c] = sc
					mx = max(mx, sc)
				}
				var z float64
				for c := range k {
					s[c] = math.Exp(s[c] - mx)
					z += s[c]
				}
				loss -= math.Log(s[y] / z)
				seen++
				daq := tmp
				clear(daq)
				for c := range k {
					p := s[c] / z
					if c == y {
						p--
					}
					p /= batch
					for r := range H {
						grads[2][r] += p * hc[c][r]
						if hc[c][r] > 0 {
							dh := p * n.u[r]
							grads[1][r] += dh
							daq[r] += dh
							dbv[c][r] += dh
							if c == y && ownVec != nil {
								// B_j met own, not the full mean: move that
								// part of the gradient (added below for the
								// full mean) to own.
								row := grads[3+m.shoppers][r*D : (r+1)*D]
								for x, dx := range diff {
									row[x] += dh * float64(dx)
								}
							}
						}
					}
				}
				for r := range H {
					row := grads[0][r*D : (r+1)*D]
					for x, qx := range q {
						row[x] += daq[r] * float64(qx)
					}
				}
			}
			for j := range M {
				g := grads[3+j]
				for c := range k {
					for r := range H {
						if dbv[c][r] == 0 {
							continue
						}
						row := g[r*D : (r+1)*D]
						for x, vx := range mods[j][c] {
							row[x] += dbv[c][r] * float64(vx)
						}
					}
				}
			}
			step++
			for i, p := range params {
				g := grads[i]
				for x := range p {
					mo[i][x] = 0.9*mo[i][x] + 0.1*g[x]
					vo[i][x] = 0.999*vo[i][x] + 0.001*g[x]*g[x]
					mh := mo[i][x] / (1 - math.Pow(0.9, float64(step)))
					vh := vo[i][x] / (1 - math.Pow(0.999, float64(step)))
					p[x] -= 1e-3 * (mh/(math.Sqrt(vh)+1e-8) + 1e-4*p[x])
				}
			}
		}
		loss /= float64(max(seen, 1))
		if len(sel.vec) == 0 {
			pick.curve.Loss = append(pick.curve.Loss, loss)
			progressf(d.Progress, "photos: early fusion epoch %d/%d: loss %.4f\n", ep, epochs, loss)
			continue
		}
		mrr := m.selectionMRR(sel)
		better, stop := pick.epoch(ep, loss, mrr)
		progressf(d.Progress, "photos: early fusion epoch %d/%d: loss %.4f, selection MRR %.4f\n", ep, epochs, loss, mrr)
		if better {
			best = n.clone()
		}
		if stop {
			break
		}
	}
	if len(sel.vec) > 0 {
		m.early = best
		m.chosen = pick.bestEpoch
	} else {
		m.chosen = epochs
	}
	m.curve = &pick.curve
}

// fitAttention trains the fusion scorer: modalities = the task's item
// modalities plus "query" (the query vector's slot, which no product has);
// the candidates of a training photo are its product and 8 others drawn
// at random; the scalar features are the per-modality cosines. With
// selection photos it trains from the cosine start once per learning rate
// of attentionLRs and keeps the learning rate and epoch (0: the start)
// with the best selection MRR; without, it trains attentionEpochs at the
// first. It sets m.att.
func (m *FusionModel) fitAttention(ctx context.Context, fit, sel fusionQueries, rng *rand.Rand, d *Data) error {
	mods, names := m.mods, m.names
	D := m.Encoder.enc.Dim()
	M := len(mods)
	cfg := ranking.Config{DModel: D, DAttn: D, NFeatures: M, MaxQueryTokens: 1}
	for _, name := range names {
		cfg.Modalities = append(cfg.Modalities, ranking.Modality{Name: name, Dim: D})
	}
	cfg.Modalities = append(cfg.Modalities, ranking.Modality{Name: "query", Dim: D})
	if err := cfg.Validate(); err != nil {
		return err
	}
	start := ranking.NewRandomModel(cfg, rng)
	// The cosine start (as the rerank protocol's fusion): every projection,
	// Wv and Wo the identity, Wq and Wk small, so that at first every
	// modality is attended alike and R·V_j is the cosine of the query with
	// modality j: the score starts as the mean cosine plus u·f.
	for _, t := range start.Tensors() {
		switch {
		case t.Name == "wv" || t.Name == "wo" || strings.HasPrefix(t.Name, "proj."):
			clear(t.Data)
			for i := 0; i < t.Shape[0]; i++ {
				t.Data[i*t.Shape[1]+i] = 1
			}
		case t.Name == "wq" || t.Name == "wk":
			for i := range t.Data {
				t.Data[i] *= 0.1
			}
		}
	}
	if len(sel.vec) == 0 {
		m.att = start.Clone()
		m.lr = attentionLRs[0]
		curve, err := m.trainAttention(ctx, fit, sel, m.lr, attentionEpochs, rng.Uint64(), d)
		m.chosen, m.curve = attentionEpochs, curve
		return err
	}
	m.att = start
	startMRR := m.selectionMRR(sel)
	progressf(d.Progress, "photos: attention at the cosine start: selection MRR %.4f\n", startMRR)
	best, bestMRR := start, startMRR
	m.chosen, m.lr = 0, 0
	trainSeed := rng.Uint64()
	for _, lr := range attentionLRs {
		m.att = start.Clone()
		curve, err := m.trainAttention(ctx, fit, sel, lr, maxAttentionEpochs, trainSeed, d)
		if err != nil {
			return err
		}
		if m.selBest > bestMRR {
			best, bestMRR, m.chosen, m.lr = m.selModel, m.selBest, m.selEpoch, lr
			m.curve = curve
		}
		if m.curve == nil {
			m.curve = curve
		}
	}
	m.att, m.selModel = best, nil
	progressf(d.Progress, "photos: attention keeps learning rate %g, epoch %d: selection MRR %.4f\n", m.lr, m.chosen, bestMRR)
	return nil
}

// attentionLRs are the learning rates the fusion scorer tries (the first
// without selection photos).
var attentionLRs = []float64{1e-3, 1e-4, 1e-5}

// trainAttention trains m.att on fit for up to epochs epochs at learning
// rate lr. With selection photos it stops after selectPatience epochs
// without a better selection MRR and leaves the best epoch (≥ 1) in
// m.selModel, m.selEpoch and m.selBest.
func (m *FusionModel) trainAttention(ctx context.Context, fit, sel fusionQueries, lr float64, epochs int, seed uint64, d *Data) (*evaluation.TrainingCurve, error) {
	model := m.att
	M, k := len(m.mods), len(m.mods[0])
	rng := rand.New(rand.NewPCG(seed, 0x6174746e))
	opt := training.NewAdam(training.AdamConfig{LR: lr, WeightDecay: 1e-4})
	g := training.NewGrads(model)
	const batch, negatives = 32, 8
	var pick selector
	pick.curve.ValidationName = "MRR (selection photos)"
	m.selModel, m.selEpoch, m.selBest = nil, 0, math.Inf(-1)
	for ep := 1; ep <= epochs; ep++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		perm := rng.Perm(len(fit.vec))
		var loss float64
		var steps int
		for b0 := 0; b0+batch <= len(perm); b0 += batch {
			ex := make([]training.Example, batch)
			for e, i := range perm[b0 : b0+batch] {
				y := fit.label[i]
				cands := []int{y}
				for len(cands) < negatives+1 {
					c := rng.IntN(k)
					if c != y {
						cands = append(cands, c)
					}
				}
				ex[e].Query = ranking.Query{Tokens: [][]float32{fit.vec[i]}, Modality: []int{M}}
				for _, c := range cands {
					toks := make([][]float32, M+1)
					mask := make([]bool, M+1)
					feats := make([]float32, M)
					for j := range M {
						toks[j], mask[j] = m.modality(j, c, y, fit.own[i]), true
						feats[j] = fit.cos[i][c*M+j]
					}
					ex[e].Candidates = append(ex[e].Candidates, ranking.Candidate{Tokens: toks, Mask: mask, Features: feats})
				}
			}
			loss += training.TrainStep(model, opt, g, ex, nil)
			steps++
		}
		loss /= float64(max(steps, 1))
		if len(sel.vec) == 0 {
			pick.curve.Loss = append(pick.curve.Loss, loss)
			progressf(d.Progress, "photos: attention epoch %d/%d: loss %.4f\n", ep, epochs, loss)
			continue
		}
		mrr := m.selectionMRR(sel)
		pick.curve.Loss = append(pick.curve.Loss, loss)
		pick.curve.Validation = append(pick.curve.Validation, mrr)
		progressf(d.Progress, "photos: attention lr %g epoch %d/%d: loss %.4f, selection MRR %.4f\n", lr, ep, epochs, loss, mrr)
		if mrr > m.selBest {
			m.selModel, m.selEpoch, m.selBest = model.Clone(), ep, mrr
		}
		if ep-m.selEpoch >= selectPatience {
			break
		}
	}
	return &pick.curve, nil
}

// ScoreTo scores every product for one query (see Model).
func (m *FusionModel) ScoreTo(dst [][]float32, t Task, q Query) bool {
	if t != m.task {
		return false
	}
	e := &m.Encoder
	v := make([]float32, e.enc.Dim())
	if t == TaskWords {
		if e.text == nil || !e.enc.HasText() || e.enc.TextDim() != e.text.Dim() {
			return false
		}
		x := make([]float32, e.text.Dim())
		if known, _ := e.text.EncodeTo(x, q.Words); known > 0 {
			e.enc.EncodeTextTo(v, x)
		}
	} else {
		e.enc.EncodeTo(v, q.Photo)
	}
	return m.scoreTo(dst[0], v, -1, nil)
}

// scoreTo writes every product's score for the query vector v into out;
// product y's shoppers' mean is own when y ≥ 0 and own is not nil (a
// training photo as the query, see fusionQueries).
func (m *FusionModel) scoreTo(out, v []float32, y int, own []float32) bool {
	M := len(m.mods)
	switch {
	case M == 1:
		for c := range out {
			out[c] = kernel.DotFixed(v, m.modality(0, c, y, own))
		}
	case m.w != nil:
		for c := range out {
			var s float64
			for j := range M {
				s += m.w[j] * float64(kernel.DotFixed(v, m.modality(j, c, y, own)))
			}
			out[c] = float32(s)
		}
	case m.early != nil:
		n := m.early
		aq := make([]float64, n.h)
		tmp := make([]float64, n.h)
		h := make([]float64, n.h)
		n.project(aq, n.a, v)
		for c := range out {
			copy(h, aq)
			for j := range M {
				n.project(tmp, n.b[j], m.modality(j, c, y, own))
				for r := range h {
					h[r] += tmp[r]
				}
			}
			var s float64
			for r, x := range h {
				if x += n.bias[r]; x > 0 {
					s += n.u[r] * x
				}
			}
			out[c] = float32(s)
		}
	case m.att != nil:
		cands := make([]ranking.Candidate, len(out))
		for c := range cands {
			toks := make([][]float32, M+1)
			mask := make([]bool, M+1)
			feats := make([]float32, M)
			for j := range M {
				toks[j], mask[j] = m.modality(j, c, y, own), true
				feats[j] = kernel.DotFixed(v, toks[j])
			}
			cands[c] = ranking.Candidate{Tokens: toks, Mask: mask, Features: feats}
		}
		s := make([]float64, len(out))
		training.ScoresTo(s, m.att, ranking.Query{Tokens: [][]float32{v}, Modality: []int{M}}, cands)
		for c := range out {
			out[c] = float32(s[c])
		}
	default:
		return false
	}
	return true
}
