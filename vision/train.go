package vision

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusionrank/fusionrank/internal/kernel"
)

// TrainData is what Train learns from. Label i always means Products[i].
type TrainData struct {
	// Products names the catalogue.
	Products []string
	// Photos are the shoppers' photos as sRGB planes (Resize of the decoded
	// photo; twice the encoder's Size keeps the crops sharp), with the
	// product each shows in Labels.
	Photos []*Planar
	Labels []int
	// Iconic[i], when not nil, is product i's web-shop photo (sRGB planes).
	Iconic []*Planar
	// Texts[i] holds product i's texts as pooled word vectors of
	// Config.TextDim numbers each (its name, the sentences of its
	// description); empty without a text tower.
	Texts [][][]float32
	// HeldOut photos and their labels are scored after every epoch (the
	// accuracy of the nearest learned product vector); never trained on.
	HeldOut       []*Planar
	HeldOutLabels []int
	// PhotosDigest names the photos of Photos (for a catalogue read by
	// package photoset, the Digest of its photo list); Train records it
	// in the encoder (Encoder.TrainedOn). Empty: not recorded.
	PhotosDigest string
}

// TrainOptions are the knobs of Train. A zero field takes its default.
type TrainOptions struct {
	// Config is the architecture; its Products are set from the data and
	// its TextDim from the texts.
	Config Config
	// Epochs is the number of passes over the photos; default
	// DefaultEpochs.
	Epochs int
	// Batch is the number of images per step (shopper and web-shop photos
	// together); default 64. It must be a multiple of Shards.
	Batch int
	// Iconic is how many of each step's images are web-shop photos (drawn
	// at random, augmented like the others); default 8, and 0 when there
	// are none. NoIconic turns them off.
	Iconic   int
	NoIconic bool
	// Texts is the number of text examples per step; default 32.
	Texts int
	// TextWeight weighs the text loss against the photo loss; default 1.
	TextWeight float64
	// Shards splits each step's images into this many fixed parts, each
	// forwarded and differentiated on its own (batch normalisation uses
	// each shard's statistics); their gradients are summed in shard order,
	// so results do not depend on Workers. Default 4.
	Shards int
	// Workers is the number of goroutines; 0 means GOMAXPROCS.
	Workers int
	// LR is AdamW's peak learning rate; default 3e-3. It rises linearly
	// over the first epoch, then follows a cosine to 0 at the last step.
	LR float64
	// WeightDecay is AdamW's decoupled weight decay on the weight matrices
	// (not on normalisation, biases or product vectors); default 5e-4.
	WeightDecay float64
	// Scale is s, the inverse temperature of the cosine softmax; default 16.
	Scale float64
	// Augment is the photo augmentation; the zero value is DefaultAugment.
	Augment Augment
	// Mix is the share of images that get a rectangle of another image of
	// their shard pasted in (CutMix): the loss is then the area-weighted
	// mix of both labels' cross-entropies. Default 0 (off).
	Mix float64
	// Dropout is the share of the hidden units of the features kind zeroed
	// in each training example; default 0.5. NoDropout turns it off.
	Dropout   float64
	NoDropout bool
	// Seed seeds the initial weights, the order of the photos and every
	// augmentation; the same seed and data give the same encoder.
	Seed uint64
	// Progress, when not nil, is called after every epoch.
	Progress func(EpochStats)
}

// DefaultEpochs is the number of epochs Train runs by default.
const DefaultEpochs = 30

// EpochStats describes one epoch of training.
type EpochStats struct {
	Epoch, Epochs int
	// Loss is the epoch's mean total loss; PhotoLoss, IconicLoss and
	// TextLoss its parts (mean cross-entropy per example).
	Loss, PhotoLoss, IconicLoss, TextLoss float64
	// HeldOut is the accuracy@1 of the held-out photos against the learned
	// product vectors (NaN without held-out photos).
	HeldOut float64
	// Seconds is the wall time since training started.
	Seconds float64
}

func (o TrainOptions) withDefaults(d *TrainData) TrainOptions {
	if o.Epochs == 0 {
		o.Epochs = DefaultEpochs
	}
	if o.Batch == 0 {
		o.Batch = 64
	}
	if o.Shards == 0 {
		o.Shards = 4
	}
	hasIconic := false
	for _, p := range d.Iconic {
		hasIconic = hasIconic || p != nil
	}
	if o.NoIconic || !hasIconic {
		o.Iconic = 0
	} else if o.Iconic == 0 {
		o.Iconic = 8
	}
	if o.Texts == 0 {
		o.Texts = 32
	}
	if o.TextWeight == 0 {
		o.TextWeight = 1
	}
	if o.LR == 0 {
		o.LR = 3e-3
	}
	if o.WeightDecay == 0 {
		o.WeightDecay = 5e-4
	}
	if o.Scale == 0 {
		o.Scale = 16
	}
	o.Augment = o.Augment.withDefaults()
	if o.NoDropout {
		o.Dropout = 0
	} else if o.Dropout == 0 {
		o.Dropout = 0.5
	}
	return o
}

// validate checks the data against the options.
func (d *TrainData) validate(o TrainOptions) (textDim int, err error) {
	k := len(d.Products)
	switch {
	case k < 2:
		return 0, fmt.Errorf("vision: train: %d products, want at least 2", k)
	case len(d.Photos) == 0:
		return 0, errors.New("vision: train: no photos")
	case len(d.Labels) != len(d.Photos):
		return 0, fmt.Errorf("vision: train: %d labels for %d photos", len(d.Labels), len(d.Photos))
	case d.Iconic != nil && len(d.Iconic) != k:
		return 0, fmt.Errorf("vision: train: %d iconic photos for %d products", len(d.Iconic), k)
	case d.Texts != nil && len(d.Texts) != k:
		return 0, fmt.Errorf("vision: train: texts for %d products, want %d", len(d.Texts), k)
	case len(d.HeldOutLabels) != len(d.HeldOut):
		return 0, fmt.Errorf("vision: train: %d held-out labels for %d photos", len(d.HeldOutLabels), len(d.HeldOut))
	case o.Batch%o.Shards != 0 || o.Batch <= o.Iconic || o.Shards < 1:
		return 0, fmt.Errorf("vision: train: batch %d, %d shards, %d web-shop photos per step: want a batch that is a multiple of the shards and larger than the web-shop share", o.Batch, o.Shards, o.Iconic)
	case o.Dropout < 0 || o.Dropout >= 1:
		return 0, fmt.Errorf("vision: train: dropout %v, want [0, 1)", o.Dropout)
	case o.Epochs < 1 || o.LR <= 0 || o.Scale <= 0 || o.WeightDecay < 0 || o.TextWeight < 0:
		return 0, fmt.Errorf("vision: train: epochs %d, lr %v, scale %v, weight decay %v, text weight %v: want positive values", o.Epochs, o.LR, o.Scale, o.WeightDecay, o.TextWeight)
	}
	for i, l := range append(append([]int(nil), d.Labels...), d.HeldOutLabels...) {
		if l < 0 || l >= k {
			return 0, fmt.Errorf("vision: train: label %d (example %d) out of range [0, %d)", l, i, k)
		}
	}
	for i, p := range append(append([]*Planar(nil), d.Photos...), d.HeldOut...) {
		if p == nil || p.W < 1 || p.H < 1 || len(p.Pix) != 3*p.W*p.H {
			return 0, fmt.Errorf("vision: train: photo %d is empty or malformed", i)
		}
	}
	for i, ts := range d.Texts {
		for j, t := range ts {
			if textDim == 0 {
				textDim = len(t)
			}
			if len(t) != textDim || textDim == 0 {
				return 0, fmt.Errorf("vision: train: text %d of product %d has %d numbers, want %d", j, i, len(t), textDim)
			}
			for _, v := range t {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return 0, fmt.Errorf("vision: train: text %d of product %d is not finite", j, i)
				}
			}
		}
	}
	return textDim, nil
}

// trainer is the state of one Train call.
type trainer struct {
	o      TrainOptions
	d      *TrainData
	p, g   *params
	opt    *adam
	shards []*trainWork
	sgrads []*params
	views  []view
	srcs   []*Planar
	labels []int
	iconic []bool
	mixes  []mix
	// Text examples of the step: product and text index.
	tprod, tidx []int
	// Loss parts of the step.
	photoLoss, iconicLoss, textLoss float64
	nPhoto, nIconic                 int
}

// Train learns an encoder from d: a small convolutional network (Config)
// whose unit embeddings of a product's photos, of its web-shop photo and
// (through the text tower) of its texts all score highest against that
// product's learned vector. The loss is the cosine-softmax cross-entropy
// over the products (see the package documentation); training is AdamW
// with a warm-up and a cosine schedule. It is deterministic: the same data,
// options and seed give bit-identical weights, whatever the number of
// workers.
func Train(d *TrainData, o TrainOptions) (*Encoder, []EpochStats, error) {
	t, rng, err := newTrainer(d, o)
	if err != nil {
		return nil, nil, err
	}
	o = t.o
	if t.p.cfg.features() {
		e, stats := trainFeatures(t, rng)
		e.trainedOn = d.PhotosDigest
		return e, stats, nil
	}
	photosPerStep := o.Batch - o.Iconic
	steps := (len(d.Photos) + photosPerStep - 1) / photosPerStep
	total := steps * o.Epochs
	start := time.Now()
	var stats []EpochStats
	step := 0
	for ep := range o.Epochs {
		perm := rng.Perm(len(d.Photos))
		var sum EpochStats
		var nSteps float64
		for s := range steps {
			// The last step of an epoch wraps around to fill the batch.
			idx := make([]int, photosPerStep)
			for k := range idx {
				idx[k] = perm[(s*photosPerStep+k)%len(perm)]
			}
			lr := schedule(o.LR, step, steps, total)
			loss := t.step(rng, idx, lr)
			step++
			sum.Loss += loss
			sum.PhotoLoss += t.photoLoss
			sum.IconicLoss += t.iconicLoss
			sum.TextLoss += t.textLoss
			nSteps++
		}
		es := EpochStats{
			Epoch: ep + 1, Epochs: o.Epochs,
			Loss: sum.Loss / nSteps, PhotoLoss: sum.PhotoLoss / nSteps,
			IconicLoss: sum.IconicLoss / nSteps, TextLoss: sum.TextLoss / nSteps,
			HeldOut: math.NaN(),
		}
		if len(d.HeldOut) > 0 {
			es.HeldOut = heldOutAccuracy(newEncoder(clonedParams(t.p)), d.HeldOut, d.HeldOutLabels, o.Workers)
		}
		es.Seconds = time.Since(start).Seconds()
		stats = append(stats, es)
		if o.Progress != nil {
			o.Progress(es)
		}
	}
	e := newEncoder(t.p)
	e.trainedOn = d.PhotosDigest
	return e, stats, nil
}

// newTrainer checks the data and options and sets up the initial weights,
// the shards and the optimizer. It returns the random source that drives
// the rest of training.
func newTrainer(d *TrainData, o TrainOptions) (*trainer, *rand.Rand, error) {
	o = o.withDefaults(d)
	textDim, err := d.validate(o)
	if err != nil {
		return nil, nil, err
	}
	cfg := o.Config.withDefaults()
	cfg.Products = append([]string(nil), d.Products...)
	cfg.TextDim = textDim
	if textDim > 0 && cfg.TextHidden == 0 {
		cfg.TextHidden = DefaultConfig.TextHidden
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if textDim == 0 {
		o.Texts = 0
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x766973696f6e))
	t := &trainer{o: o, d: d, p: newParams(cfg), g: newParams(cfg)}
	t.p.init(rng)
	t.opt = newAdam(t.p)
	if cfg.features() {
		return t, rng, nil
	}
	per := o.Batch / o.Shards
	for range o.Shards {
		t.shards = append(t.shards, newTrainWork(t.p, per))
		t.sgrads = append(t.sgrads, newParams(cfg))
	}
	return t, rng, nil
}

// schedule returns the learning rate of a step: linear warm-up from
// peak/10 over the first epoch, then a cosine from peak to 0.
func schedule(peak float64, step, perEpoch, total int) float64 {
	if step < perEpoch {
		return peak * (0.1 + 0.9*float64(step)/float64(perEpoch))
	}
	f := float64(step-perEpoch) / float64(max(total-perEpoch, 1))
	return peak * 0.5 * (1 + math.Cos(math.Pi*f))
}

// clonedParams returns a deep copy of p.
func clonedParams(p *params) *params {
	q := newParams(p.cfg)
	src, dst := p.tensors(), q.tensors()
	for i := range src {
		copy(dst[i].data, src[i].data)
	}
	return q
}

// parallel runs fn(i) for i in [0, n) on up to workers goroutines.
func parallel(n, workers int, fn func(i int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// step trains on one batch: the photos idx plus o.Iconic web-shop photos
// and o.Texts texts drawn with rng. It returns the step's loss.
func (t *trainer) step(rng *rand.Rand, idx []int, lr float64) float64 {
	t.draw(rng, idx)
	loss, douts := t.forwardLoss()
	t.backward(douts)
	t.updateRunningStats()
	t.opt.step(t.p, t.g, lr, t.o.WeightDecay)
	return loss
}

// draw picks the step's images (the photos idx, then o.Iconic web-shop
// photos), a view of each, and the text examples, all with rng on the
// calling goroutine in a fixed order.
func (t *trainer) draw(rng *rand.Rand, idx []int) {
	o, d := t.o, t.d
	k := len(d.Products)
	t.srcs, t.labels, t.views, t.iconic, t.mixes = t.srcs[:0], t.labels[:0], t.views[:0], t.iconic[:0], t.mixes[:0]
	for _, i := range idx {
		t.srcs = append(t.srcs, d.Photos[i])
		t.labels = append(t.labels, d.Labels[i])
		t.iconic = append(t.iconic, false)
	}
	for range o.Iconic {
		var c int
		for {
			c = rng.IntN(k)
			if d.Iconic[c] != nil {
				break
			}
		}
		t.srcs = append(t.srcs, d.Iconic[c])
		t.labels = append(t.labels, c)
		t.iconic = append(t.iconic, true)
	}
	// Spread the web-shop photos over the shards (each shard normalises
	// its batch on its own).
	perm := rng.Perm(len(t.srcs))
	srcs, labels, iconic := slices.Clone(t.srcs), slices.Clone(t.labels), slices.Clone(t.iconic)
	for to, from := range perm {
		t.srcs[to], t.labels[to], t.iconic[to] = srcs[from], labels[from], iconic[from]
	}
	for range t.srcs {
		t.views = append(t.views, o.Augment.draw(rng))
	}
	per := o.Batch / o.Shards
	size := t.p.cfg.Size
	for i := range t.srcs {
		m := mix{partner: -1}
		if o.Mix > 0 && per > 1 && rng.Float64() < o.Mix {
			// A partner from the same shard, and a box of area share
			// 1−λ, λ uniform, clipped to the frame.
			j := rng.IntN(per - 1)
			if j >= i%per {
				j++
			}
			m.partner = i - i%per + j
			lam := rng.Float64()
			bw, bh := int(float64(size)*math.Sqrt(1-lam)), int(float64(size)*math.Sqrt(1-lam))
			cx, cy := rng.IntN(size), rng.IntN(size)
			m.x0, m.y0 = max(cx-bw/2, 0), max(cy-bh/2, 0)
			m.x1, m.y1 = min(cx+bw/2, size), min(cy+bh/2, size)
			m.kept = 1 - float32((m.x1-m.x0)*(m.y1-m.y0))/float32(size*size)
			if m.x1 <= m.x0 || m.y1 <= m.y0 {
				m = mix{partner: -1}
			}
		}
		t.mixes = append(t.mixes, m)
	}
	t.drawTexts(rng)
}

// drawTexts picks the step's o.Texts text examples with rng.
func (t *trainer) drawTexts(rng *rand.Rand) {
	k := len(t.d.Products)
	t.tprod, t.tidx = t.tprod[:0], t.tidx[:0]
	for range t.o.Texts {
		c := rng.IntN(k)
		if len(t.d.Texts[c]) == 0 {
			continue
		}
		t.tprod = append(t.tprod, c)
		t.tidx = append(t.tidx, rng.IntN(len(t.d.Texts[c])))
	}
}

// mix is one image's CutMix: the box [x0, x1) × [y0, y1) of the output
// comes from the view of image partner (−1: no mix); kept is the share of
// the image's own pixels.
type mix struct {
	partner        int
	x0, y0, x1, y1 int
	kept           float32
}

// forwardLoss renders the drawn views, runs every shard forward and
// computes the batch loss; it zeroes t.g, adds the product-vector and
// text-tower gradients to it and returns the gradient at each shard's
// embeddings.
func (t *trainer) forwardLoss() (float64, [][]float32) {
	o := t.o
	per := o.Batch / o.Shards
	parallel(len(t.shards), o.Workers, func(s int) {
		w := t.shards[s]
		view := NewPlanar(t.p.cfg.Size, t.p.cfg.Size)
		other := NewPlanar(t.p.cfg.Size, t.p.cfg.Size)
		for b := range per {
			i := s*per + b
			t.views[i].render(view, t.srcs[i])
			if m := t.mixes[i]; m.partner >= 0 {
				t.views[m.partner].render(other, t.srcs[m.partner])
				pasteBox(view, other, m.x0, m.y0, m.x1, m.y1)
			}
			ToLab(view)
			putInput(w.x0, view, b, per)
		}
		w.forward()
	})
	douts := make([][]float32, len(t.shards))
	for s := range douts {
		douts[s] = make([]float32, t.p.cfg.Dim*per)
	}
	t.g.zeroTrainable()
	return t.loss(douts), douts
}

// backward differentiates every shard into its own gradient and adds them
// to t.g in shard order.
func (t *trainer) backward(douts [][]float32) {
	parallel(len(t.shards), t.o.Workers, func(s int) {
		t.sgrads[s].zeroTrainable()
		t.shards[s].backward(t.sgrads[s], douts[s])
	})
	for s := range t.shards {
		t.g.addConv(t.sgrads[s])
	}
}

// loss computes the step's loss (photo and web-shop cross-entropy, mean
// over the images, plus TextWeight times the text cross-entropy, mean over
// the texts), writes the gradient at each shard's unit embeddings into
// douts and adds the product-vector and text-tower gradients to t.g.
func (t *trainer) loss(douts [][]float32) float64 {
	p, o := t.p, t.o
	dim := p.cfg.Dim
	cl := newCosLoss(p, o.Scale)
	nImg := len(t.srcs)
	per := o.Batch / o.Shards
	t.photoLoss, t.iconicLoss, t.textLoss = 0, 0, 0
	var nPhoto, nIconic int
	emb := make([]float32, dim)
	demb := make([]float32, dim)
	wImg := 1 / float32(nImg)
	for i := range nImg {
		sh, b := i/per, i%per
		out := t.shards[sh].out
		for j := range dim {
			emb[j] = out[j*per+b]
		}
		clear(demb)
		var l float64
		if m := t.mixes[i]; m.partner >= 0 {
			l = float64(m.kept)*cl.add(emb, t.labels[i], wImg*m.kept, demb) +
				float64(1-m.kept)*cl.add(emb, t.labels[m.partner], wImg*(1-m.kept), demb)
		} else {
			l = cl.add(emb, t.labels[i], wImg, demb)
		}
		for j := range dim {
			douts[sh][j*per+b] = demb[j]
		}
		if !t.iconic[i] {
			t.photoLoss += l
			nPhoto++
		} else {
			t.iconicLoss += l
			nIconic++
		}
	}
	total := (t.photoLoss + t.iconicLoss) / float64(nImg)
	if nPhoto > 0 {
		t.photoLoss /= float64(nPhoto)
	}
	if nIconic > 0 {
		t.iconicLoss /= float64(nIconic)
	}
	t.textLoss = t.textLossOf(cl)
	total += o.TextWeight * t.textLoss
	cl.finish(t.g, p)
	return total
}

// textLossOf adds the step's text examples (drawTexts) to cl: their mean
// cross-entropy, weighted by TextWeight, whose text-tower gradient it adds
// to t.g. It returns the mean cross-entropy (0 without texts).
func (t *trainer) textLossOf(cl *cosLoss) float64 {
	n := len(t.tprod)
	if n == 0 {
		return 0
	}
	p := t.p
	dim, th := p.cfg.Dim, p.cfg.TextHidden
	h := make([]float32, th)
	dh := make([]float32, th)
	temb := make([]float32, dim)
	demb := make([]float32, dim)
	wt := float32(t.o.TextWeight) / float32(n)
	var loss float64
	for e := range n {
		x := t.d.Texts[t.tprod[e]][t.tidx[e]]
		norm := textForward(temb, h, p, x)
		clear(demb)
		loss += cl.add(temb, t.tprod[e], wt, demb)
		textBackward(t.g, p, x, h, temb, norm, demb, dh)
	}
	return loss / float64(n)
}

// cosLoss is the cosine-softmax cross-entropy against the unit product
// vectors p̂_c with scale s, accumulated over a step's examples.
type cosLoss struct {
	k, dim int
	s      float32
	// prod are the unit product vectors, pnorm their norms before
	// normalisation, dprod the gradient at the unit vectors.
	prod, pnorm, dprod, logits []float32
}

func newCosLoss(p *params, scale float64) *cosLoss {
	dim, k := p.cfg.Dim, len(p.cfg.Products)
	cl := &cosLoss{k: k, dim: dim, s: float32(scale),
		prod: make([]float32, k*dim), pnorm: make([]float32, k),
		dprod: make([]float32, k*dim), logits: make([]float32, k)}
	copy(cl.prod, p.prod)
	for c := range k {
		cl.pnorm[c] = unit(cl.prod[c*dim : (c+1)*dim])
	}
	return cl
}

// add returns the cross-entropy of label y for the unit vector x, adds its
// gradient at x (scaled by weight) to dx and at the unit product vectors to
// cl.dprod.
func (cl *cosLoss) add(x []float32, y int, weight float32, dx []float32) float64 {
	k, dim, s, prod, logits := cl.k, cl.dim, cl.s, cl.prod, cl.logits
	mx := float32(math.Inf(-1))
	for c := range k {
		logits[c] = s * kernel.DotFixed(x, prod[c*dim:(c+1)*dim])
		mx = max(mx, logits[c])
	}
	var z float64
	for c := range k {
		z += math.Exp(float64(logits[c] - mx))
	}
	l := math.Log(z) - float64(logits[y]-mx)
	for c := range k {
		pc := float32(math.Exp(float64(logits[c]-mx)) / z)
		if c == y {
			pc--
		}
		g := weight * s * pc
		if g == 0 {
			continue
		}
		row := prod[c*dim : (c+1)*dim]
		drow := cl.dprod[c*dim : (c+1)*dim]
		for j := range dim {
			dx[j] += g * row[j]
			drow[j] += g * x[j]
		}
	}
	return l
}

// finish adds the gradient at the product vectors (back through their
// normalisation) to g.prod.
func (cl *cosLoss) finish(g, p *params) {
	dim := cl.dim
	for c := range cl.k {
		if cl.pnorm[c] == 0 {
			continue
		}
		u, du := cl.prod[c*dim:(c+1)*dim], cl.dprod[c*dim:(c+1)*dim]
		d := kernel.DotFixed(u, du)
		for j := range dim {
			g.prod[c*dim+j] += (du[j] - u[j]*d) / cl.pnorm[c]
		}
	}
}

// pasteBox copies the box [x0, x1) × [y0, y1) of src into dst (same size).
func pasteBox(dst, src *Planar, x0, y0, x1, y1 int) {
	n := dst.W * dst.H
	for c := range 3 {
		for y := y0; y < y1; y++ {
			o := c*n + y*dst.W
			copy(dst.Pix[o+x0:o+x1], src.Pix[o+x0:o+x1])
		}
	}
}

// textBackward adds to g the gradient of the text tower for input x, hidden
// activations h, unit output t with pre-normalisation norm, given the
// gradient dt at t. dh is scratch of TextHidden numbers.
func textBackward(g, p *params, x, h, t []float32, norm float32, dt, dh []float32) {
	td, th, d := p.cfg.TextDim, p.cfg.TextHidden, p.cfg.Dim
	if norm == 0 {
		return
	}
	dd := kernel.DotFixed(t, dt)
	clear(dh)
	for r := range d {
		gr := (dt[r] - t[r]*dd) / norm
		g.tb2[r] += gr
		row := p.tw2[r*th : (r+1)*th]
		grow := g.tw2[r*th : (r+1)*th]
		for j := range th {
			grow[j] += gr * h[j]
			dh[j] += gr * row[j]
		}
	}
	for j := range th {
		if h[j] <= 0 {
			continue
		}
		gj := dh[j]
		g.tb1[j] += gj
		grow := g.tw1[j*td : (j+1)*td]
		for i := range td {
			grow[i] += gj * x[i]
		}
	}
}

// zeroTrainable zeroes every tensor but the running statistics.
func (p *params) zeroTrainable() {
	for _, t := range p.tensors() {
		if !t.stat {
			clear(t.data)
		}
	}
}

// addConv adds the convolution, normalisation and head gradients of q to p.
func (p *params) addConv(q *params) {
	for i := range p.w {
		addTo(p.w[i], q.w[i])
		addTo(p.gamma[i], q.gamma[i])
		addTo(p.beta[i], q.beta[i])
	}
	addTo(p.headW, q.headW)
	addTo(p.headB, q.headB)
}

// bnMomentum is the weight of a step's batch statistics in the running
// mean and variance used for inference.
const bnMomentum = 0.1

// updateRunningStats folds the step's batch statistics (the mean over the
// shards, in shard order; the variance made unbiased) into the running
// statistics.
func (t *trainer) updateRunningStats() {
	for i, l := range t.p.layers {
		m := float32(t.shards[0].n * l.out * l.out)
		corr := m / max(m-1, 1)
		inv := 1 / float32(len(t.shards))
		for c := range l.cout {
			var mu, v float32
			for _, w := range t.shards {
				mu += w.bmean[i][c]
				v += w.bvar[i][c]
			}
			mu *= inv
			v *= inv * corr
			t.p.mean[i][c] = (1-bnMomentum)*t.p.mean[i][c] + bnMomentum*mu
			t.p.vari[i][c] = (1-bnMomentum)*t.p.vari[i][c] + bnMomentum*v
		}
	}
}

// adam is AdamW over the trainable tensors of params, with float32
// moments. Weight decay applies to the tensors named in decayed.
type adam struct {
	m, v  [][]float32
	decay []bool
	t     int
}

func newAdam(p *params) *adam {
	a := &adam{}
	for _, t := range p.tensors() {
		a.m = append(a.m, make([]float32, len(t.data)))
		a.v = append(a.v, make([]float32, len(t.data)))
		a.decay = append(a.decay, isWeightMatrix(t.name))
	}
	return a
}

// isWeightMatrix reports whether a tensor gets weight decay: the
// convolution, head and text-tower weight matrices.
func isWeightMatrix(name string) bool {
	switch name {
	case "head.weight", "hidden.weight", "text.w1", "text.w2":
		return true
	}
	return len(name) > 7 && name[:5] == "conv." && name[len(name)-7:] == ".weight"
}

func (a *adam) step(p, g *params, lr, wd float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	a.t++
	c1 := 1 - math.Pow(b1, float64(a.t))
	c2 := 1 - math.Pow(b2, float64(a.t))
	ps, gs := p.tensors(), g.tensors()
	for k, t := range ps {
		if t.stat {
			continue
		}
		gd, m, v := gs[k].data, a.m[k], a.v[k]
		decay := float32(0)
		if a.decay[k] {
			decay = float32(lr * wd)
		}
		lrc := float32(lr / c1)
		ic2 := float32(1 / c2)
		for i, w := range t.data {
			gv := gd[i]
			m[i] = b1*m[i] + (1-b1)*gv
			v[i] = b2*v[i] + (1-b2)*gv*gv
			t.data[i] = w - lrc*m[i]/(float32(math.Sqrt(float64(v[i]*ic2)))+eps) - decay*w
		}
	}
}

// heldOutAccuracy returns the share of photos whose nearest learned
// product vector is their label's.
func heldOutAccuracy(e *Encoder, photos []*Planar, labels []int, workers int) float64 {
	k, dim := len(e.cfg.Products), e.cfg.Dim
	prod := make([]float32, k*dim)
	for c := range k {
		e.ProductVectorTo(prod[c*dim:(c+1)*dim], c)
	}
	hits := make([]bool, len(photos))
	parallel(len(photos), workers, func(i int) {
		v := make([]float32, dim)
		e.EncodeTo(v, photos[i])
		best, bs := -1, float32(math.Inf(-1))
		for c := range k {
			if s := kernel.DotFixed(v, prod[c*dim:(c+1)*dim]); s > bs {
				best, bs = c, s
			}
		}
		hits[i] = best == labels[i]
	})
	n := 0
	for _, h := range hits {
		if h {
			n++
		}
	}
	return float64(n) / float64(len(photos))
}
