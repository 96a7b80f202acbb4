package photos

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

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
// mean). The learned models are fitted on the training photos as queries
// (for the shoppers' mean, each photo's own product leaves that photo
// out): early fusion 10 epochs of Adam, late fusion's weights 200
// full-batch steps, attention 2 epochs (see attentionEpochs).
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
}

// NewFusionModel returns the model mode of FusionModels with the encoder
// options of enc.
func NewFusionModel(mode string, enc EncoderModel) *FusionModel {
	return &FusionModel{Mode: mode, Encoder: enc}
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

// Fit fits the shared encoder and then the fusion on the training photos.
func (m *FusionModel) Fit(ctx context.Context, d *Data) error {
	if err := m.Encoder.Fit(ctx, d); err != nil {
		return err
	}
	m.task = d.Task
	m.names = m.modalityNames(d.Task)
	e := &m.Encoder
	k := e.k
	// Leave-one-out means of the training photos, for the training
	// queries of the shoppers modality.
	sums := make([][]float32, k)
	counts := make([]int, k)
	for c := range k {
		sums[c] = make([]float32, len(e.centroid[c]))
	}
	for i, v := range e.train {
		addTo(sums[e.label[i]], v)
		counts[e.label[i]]++
	}
	for _, name := range m.names {
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
	// The training examples: every training photo, its product, and per
	// modality its cosine with every product (the shoppers' mean without
	// the photo itself).
	n := len(e.train)
	M := len(m.names)
	loo := make([]float32, len(e.centroid[0]))
	cos := make([][]float32, n) // [i][c*M + j]
	for i, q := range e.train {
		row := make([]float32, k*M)
		for j, name := range m.names {
			for c := range k {
				v := m.mods[j][c]
				if name == "shoppers" && c == e.label[i] && counts[c] > 1 {
					copy(loo, sums[c])
					for x := range loo {
						loo[x] -= q[x]
					}
					unit(loo)
					v = loo
				}
				row[c*M+j] = kernel.DotFixed(q, v)
			}
		}
		cos[i] = row
	}
	rng := rand.New(rand.NewPCG(1, 0x667573696f6e))
	switch m.Mode {
	case "late":
		m.w = fitLate(cos, e.label, k, M)
		progressf(d.Progress, "photos: late fusion weights %v over %v\n", m.w, m.names)
	case "early":
		m.early = fitEarly(ctx, e.train, e.label, m.mods, m.names, sums, counts, rng)
	case "attention":
		var err error
		if m.att, err = fitAttention(ctx, e.train, e.label, cos, m.mods, m.names, sums, counts, rng, d); err != nil {
			return err
		}
	default:
		return fmt.Errorf("photos: unknown fusion model %q", m.Mode)
	}
	return nil
}

func isZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// fusionEpochs is the training budget of the early fusion; attentionEpochs
// the fusion scorer's, smaller because its float64 training pass costs
// about 10 CPU-seconds an epoch here (it starts from the cosine start, so
// it begins where the mean cosine is).
const (
	fusionEpochs    = 10
	attentionEpochs = 2
)

// fitLate learns w by full-batch Adam on the softmax cross-entropy over
// the products of score_c = Σ_j w_j cos[c·M+j].
func fitLate(cos [][]float32, label []int, k, M int) []float64 {
	w := make([]float64, M)
	for j := range w {
		w[j] = 10 / float64(M)
	}
	mo, vo := make([]float64, M), make([]float64, M)
	s := make([]float64, k)
	for step := 1; step <= 200; step++ {
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

func fitEarly(ctx context.Context, train [][]float32, label []int, mods [][][]float32, names []string, sums [][]float32, counts []int, rng *rand.Rand) *earlyNet {
	const H = 64
	D := len(train[0])
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
	hc := make([][]float64, k)
	for c := range hc {
		hc[c] = make([]float64, H)
	}
	s := make([]float64, k)
	dbv := make([][]float64, k)
	for c := range dbv {
		dbv[c] = make([]float64, H)
	}
	loo := make([]float32, D)
	const batch = 32
	step := 0
	for range fusionEpochs {
		if ctx.Err() != nil {
			return n
		}
		perm := rng.Perm(len(train))
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
				q := train[i]
				y := label[i]
				n.project(aq, n.a, q)
				// The query's own product: the shoppers' mean without it.
				var own []float64
				for j, name := range names {
					if name == "shoppers" && counts[y] > 1 {
						copy(loo, sums[y])
						for x := range loo {
							loo[x] -= q[x]
						}
						unit(loo)
						n.project(tmp, n.b[j], loo)
						own = make([]float64, H)
						copy(own, bv[y])
						full := make([]float64, H)
						n.project(full, n.b[j], mods[j][y])
						for r := range H {
							own[r] += tmp[r] - full[r]
						}
					}
				}
				mx := math.Inf(-1)
				for c := range k {
					src := bv[c]
					if c == y && own != nil {
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
	}
	return n
}

// fitAttention trains the fusion scorer: modalities = the task's item
// modalities plus "query" (the query vector's slot, which no product has);
// the candidates of a training photo are its product and 8 others drawn
// at random; the scalar features are the per-modality cosines.
func fitAttention(ctx context.Context, train [][]float32, label []int, cos [][]float32, mods [][][]float32, names []string, sums [][]float32, counts []int, rng *rand.Rand, d *Data) (*ranking.Model, error) {
	D := len(train[0])
	M, k := len(mods), len(mods[0])
	cfg := ranking.Config{DModel: D, DAttn: D, NFeatures: M, MaxQueryTokens: 1}
	for _, name := range names {
		cfg.Modalities = append(cfg.Modalities, ranking.Modality{Name: name, Dim: D})
	}
	cfg.Modalities = append(cfg.Modalities, ranking.Modality{Name: "query", Dim: D})
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	model := ranking.NewRandomModel(cfg, rng)
	// The cosine start (as the rerank protocol's fusion): every projection,
	// Wv and Wo the identity, Wq and Wk small, so that at first every
	// modality is attended alike and R·V_j is the cosine of the query with
	// modality j: the score starts as the mean cosine plus u·f.
	for _, t := range model.Tensors() {
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
	opt := training.NewAdam(training.AdamConfig{LR: 1e-3, WeightDecay: 1e-4})
	g := training.NewGrads(model)
	const batch, negatives = 32, 8
	loo := make([][]float32, len(train))
	for i, q := range train {
		y := label[i]
		for j, name := range names {
			_ = j
			if name == "shoppers" && counts[y] > 1 {
				v := make([]float32, D)
				copy(v, sums[y])
				for x := range v {
					v[x] -= q[x]
				}
				unit(v)
				loo[i] = v
			}
		}
	}
	for ep := range attentionEpochs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		perm := rng.Perm(len(train))
		var loss float64
		var steps int
		for b0 := 0; b0+batch <= len(perm); b0 += batch {
			ex := make([]training.Example, batch)
			for e, i := range perm[b0 : b0+batch] {
				y := label[i]
				cands := []int{y}
				for len(cands) < negatives+1 {
					c := rng.IntN(k)
					if c != y {
						cands = append(cands, c)
					}
				}
				ex[e].Query = ranking.Query{Tokens: [][]float32{train[i]}, Modality: []int{M}}
				for _, c := range cands {
					toks := make([][]float32, M+1)
					mask := make([]bool, M+1)
					feats := make([]float32, M)
					for j, name := range names {
						toks[j], mask[j] = mods[j][c], true
						if name == "shoppers" && c == y && loo[i] != nil {
							toks[j] = loo[i]
						}
						feats[j] = cos[i][c*M+j]
					}
					ex[e].Candidates = append(ex[e].Candidates, ranking.Candidate{Tokens: toks, Mask: mask, Features: feats})
				}
			}
			loss += training.TrainStep(model, opt, g, ex, nil)
			steps++
		}
		progressf(d.Progress, "photos: attention epoch %d/%d: loss %.4f\n", ep+1, attentionEpochs, loss/float64(max(steps, 1)))
	}
	return model, nil
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
	M := len(m.mods)
	out := dst[0]
	switch {
	case M == 1:
		scoreAll(out, v, m.mods[0])
	case m.w != nil:
		for c := range out {
			var s float64
			for j := range M {
				s += m.w[j] * float64(kernel.DotFixed(v, m.mods[j][c]))
			}
			out[c] = float32(s)
		}
	case m.early != nil:
		n := m.early
		aq := make([]float64, n.h)
		tmp := make([]float64, n.h)
		n.project(aq, n.a, v)
		for c := range out {
			h := make([]float64, n.h)
			copy(h, aq)
			for j := range M {
				n.project(tmp, n.b[j], m.mods[j][c])
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
				toks[j], mask[j] = m.mods[j][c], true
				feats[j] = kernel.DotFixed(v, m.mods[j][c])
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
