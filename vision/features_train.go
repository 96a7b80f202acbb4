package vision

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/fusionrank/fusionrank/internal/kernel"
)

// featureInfer is the scratch of one photo's encoding by the features kind.
type featureInfer struct {
	rs       resampler
	img, mir *Planar
	fw       featureWork
	x, h     []float32
	e        []float32
}

func newFeatureInfer(cfg Config) *featureInfer {
	return &featureInfer{
		img: NewPlanar(cfg.Size, cfg.Size),
		mir: NewPlanar(cfg.Size, cfg.Size),
		x:   make([]float32, 2*FeatureDim(cfg.Size)),
		h:   make([]float32, 2*cfg.Hidden),
		e:   make([]float32, 2*cfg.Dim),
	}
}

// encode writes the embedding of w.img (CIELAB) into dst: the unit
// embeddings of the photo and of its mirror image, averaged and scaled to
// unit length (a shelf photo mirrored is as likely a photo of the product,
// and the average is steadier than either).
func (w *featureInfer) encode(dst []float32, p *params) {
	fd, dim := len(p.fmean), p.cfg.Dim
	mirror(w.mir, w.img)
	featuresTo(w.x[:fd], w.img, &w.fw)
	featuresTo(w.x[fd:], w.mir, &w.fw)
	standardizeRows(w.x, 2, p.fmean, p.fstd)
	hiddenForward(w.h, w.x, p, 2, 0, nil)
	headForward(w.e, w.h, p, 2)
	a, b := w.e[:dim], w.e[dim:]
	unit(a)
	unit(b)
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
	unit(dst)
}

// mirror writes src flipped left to right into dst (same size).
func mirror(dst, src *Planar) {
	w := src.W
	for r := range 3 * src.H {
		s, d := src.Pix[r*w:(r+1)*w], dst.Pix[r*w:(r+1)*w]
		for x := range w {
			d[x] = s[w-1-x]
		}
	}
}

// standardizeRows maps each row x of X ([n, len(mean)]) to (x − mean)/std.
func standardizeRows(x []float32, n int, mean, std []float32) {
	d := len(mean)
	for i := range n {
		r := x[i*d : (i+1)*d]
		for j := range r {
			r[j] = (r[j] - mean[j]) / std[j]
		}
	}
}

// hiddenForward computes h = relu(X·fwᵀ + fb) for the n rows of x into h
// ([n, Hidden]). With drop > 0 (training) each unit is zeroed with
// probability drop, drawn from rng, and the others scaled by 1/(1−drop).
func hiddenForward(h, x []float32, p *params, n int, drop float64, rng *rand.Rand) {
	fd, hd := len(p.fmean), p.cfg.Hidden
	matMul(false, true, n, hd, fd, x, fd, p.fw, fd, 0, h, hd)
	keep := float32(1 / (1 - drop))
	for i := range n * hd {
		v := h[i] + p.fb[i%hd]
		if v < 0 {
			v = 0
		}
		if drop > 0 {
			if rng.Float64() < drop {
				v = 0
			} else {
				v *= keep
			}
		}
		h[i] = v
	}
}

// headForward computes e = H·headWᵀ + headB for the n rows of h into e
// ([n, Dim]).
func headForward(e, h []float32, p *params, n int) {
	hd, d := p.cfg.Hidden, p.cfg.Dim
	matMul(false, true, n, d, hd, h, hd, p.headW, hd, 0, e, d)
	for i := range n * d {
		e[i] += p.headB[i%d]
	}
}

// featureStatistics sets p's feature mean and standard deviation (plus
// 10⁻³, so constant features stay finite) from the rows of x ([n, fd]).
func featureStatistics(p *params, x []float32, n int) {
	fd := len(p.fmean)
	for j := range fd {
		var m, m2 float64
		for i := range n {
			v := float64(x[i*fd+j])
			m += v
			m2 += v * v
		}
		m /= float64(n)
		p.fmean[j] = float32(m)
		p.fstd[j] = float32(math.Sqrt(max(m2/float64(n)-m*m, 0)) + 1e-3)
	}
}

// renderFeatures renders view i of srcs[i] at size × size, converts it to
// CIELAB and writes its features into row i of x, for every i, on up to
// workers goroutines.
func renderFeatures(x []float32, srcs []*Planar, views []view, size, workers int) {
	fd := FeatureDim(size)
	type scratch struct {
		img *Planar
		fw  featureWork
	}
	pool := make(chan *scratch, max(workers, 1)*2)
	parallel(len(srcs), workers, func(i int) {
		var s *scratch
		select {
		case s = <-pool:
		default:
			s = &scratch{img: NewPlanar(size, size)}
		}
		views[i].render(s.img, srcs[i])
		ToLab(s.img)
		featuresTo(x[i*fd:(i+1)*fd], s.img, &s.fw)
		select {
		case pool <- s:
		default:
		}
	})
}

// trainFeatures is Train for the features kind: every epoch draws a fresh
// view of every photo and of o.Iconic web-shop photos per step's worth,
// computes their features, and takes AdamW steps of o.Batch images (with
// o.Texts texts) on the cosine-softmax loss against the learned product
// vectors, through the hidden layer (dropout o.Dropout) and the head.
func trainFeatures(t *trainer, rng *rand.Rand) (*Encoder, []EpochStats) {
	o, d, p := t.o, t.d, t.p
	cfg := p.cfg
	fd, hd, dim := FeatureDim(cfg.Size), cfg.Hidden, cfg.Dim
	k := len(d.Products)
	// The images of an epoch: every photo once, and web-shop photos in the
	// share o.Iconic / o.Batch of the batches.
	var icons []int
	for c, ic := range d.Iconic {
		if ic != nil {
			icons = append(icons, c)
		}
	}
	nIconic := 0
	if o.Iconic > 0 && len(icons) > 0 {
		nIconic = len(d.Photos) * o.Iconic / (o.Batch - o.Iconic)
	}
	n := len(d.Photos) + nIconic
	srcs := make([]*Planar, n)
	labels := make([]int, n)
	iconic := make([]bool, n)
	views := make([]view, n)
	x := make([]float32, n*fd)
	steps := n / o.Batch
	total := steps * o.Epochs
	bs := o.Batch
	xb := make([]float32, bs*fd)
	h := make([]float32, bs*hd)
	dh := make([]float32, bs*hd)
	e := make([]float32, bs*dim)
	u := make([]float32, bs*dim)
	norms := make([]float32, bs)
	du := make([]float32, bs*dim)
	start := time.Now()
	var stats []EpochStats
	step := 0
	for ep := range o.Epochs {
		// Draw the epoch's images and views on this goroutine, in order.
		perm := rng.Perm(len(d.Photos))
		for i, j := range perm {
			srcs[i], labels[i], iconic[i] = d.Photos[j], d.Labels[j], false
		}
		for i := len(d.Photos); i < n; i++ {
			c := icons[rng.IntN(len(icons))]
			srcs[i], labels[i], iconic[i] = d.Iconic[c], c, true
		}
		order := rng.Perm(n)
		for i := range views {
			views[i] = o.Augment.draw(rng)
		}
		renderFeatures(x, srcs, views, cfg.Size, o.Workers)
		if ep == 0 {
			featureStatistics(p, x, n)
		}
		standardizeRows(x, n, p.fmean, p.fstd)
		var sum EpochStats
		var nPhoto, nIcon float64
		for s := range steps {
			idx := order[s*bs : (s+1)*bs]
			for b, i := range idx {
				copy(xb[b*fd:(b+1)*fd], x[i*fd:(i+1)*fd])
			}
			t.drawTexts(rng)
			hiddenForward(h, xb, p, bs, o.Dropout, rng)
			headForward(e, h, p, bs)
			for b := range bs {
				copy(u[b*dim:(b+1)*dim], e[b*dim:(b+1)*dim])
				norms[b] = unit(u[b*dim : (b+1)*dim])
			}
			t.g.zeroTrainable()
			cl := newCosLoss(p, o.Scale)
			var photoLoss, iconLoss float64
			var np, ni int
			clear(du)
			for b, i := range idx {
				l := cl.add(u[b*dim:(b+1)*dim], labels[i], 1/float32(bs), du[b*dim:(b+1)*dim])
				if iconic[i] {
					iconLoss += l
					ni++
				} else {
					photoLoss += l
					np++
				}
			}
			loss := (photoLoss + iconLoss) / float64(bs)
			textLoss := t.textLossOf(cl)
			loss += o.TextWeight * textLoss
			cl.finish(t.g, p)
			// Back through the unit embeddings, the head and the hidden layer.
			for b := range bs {
				ub, db := u[b*dim:(b+1)*dim], du[b*dim:(b+1)*dim]
				if norms[b] == 0 {
					clear(db)
					continue
				}
				dd := kernel.DotFixed(ub, db)
				for j := range dim {
					db[j] = (db[j] - ub[j]*dd) / norms[b]
				}
			}
			matMul(true, false, dim, hd, bs, du, dim, h, hd, 0, t.g.headW, hd)
			for i := range bs * dim {
				t.g.headB[i%dim] += du[i]
			}
			matMul(false, false, bs, hd, dim, du, dim, p.headW, hd, 0, dh, hd)
			for i := range bs * hd {
				if h[i] <= 0 {
					dh[i] = 0
				}
				t.g.fb[i%hd] += dh[i]
			}
			matMul(true, false, hd, fd, bs, dh, hd, xb, fd, 0, t.g.fw, fd)
			t.opt.step(p, t.g, schedule(o.LR, step, steps, total), o.WeightDecay)
			step++
			sum.Loss += loss
			if np > 0 {
				sum.PhotoLoss += photoLoss / float64(np)
				nPhoto++
			}
			if ni > 0 {
				sum.IconicLoss += iconLoss / float64(ni)
				nIcon++
			}
			sum.TextLoss += textLoss
		}
		es := EpochStats{
			Epoch: ep + 1, Epochs: o.Epochs,
			Loss: sum.Loss / float64(steps), PhotoLoss: sum.PhotoLoss / max(nPhoto, 1),
			IconicLoss: sum.IconicLoss / max(nIcon, 1), TextLoss: sum.TextLoss / float64(steps),
			HeldOut: math.NaN(),
		}
		_ = k
		if len(d.HeldOut) > 0 {
			es.HeldOut = heldOutAccuracy(newEncoder(clonedParams(p)), d.HeldOut, d.HeldOutLabels, o.Workers)
		}
		es.Seconds = time.Since(start).Seconds()
		stats = append(stats, es)
		if o.Progress != nil {
			o.Progress(es)
		}
	}
	return newEncoder(p), stats
}
