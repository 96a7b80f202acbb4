package vision

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// randomPlanar returns a w×h sRGB image of smooth random blobs (so the
// convolutions see structure, not only noise).
func randomPlanar(rng *rand.Rand, w, h int) *Planar {
	p := NewPlanar(w, h)
	n := w * h
	for c := range 3 {
		a, fx, fy, ph := rng.Float64(), 1+3*rng.Float64(), 1+3*rng.Float64(), 6*rng.Float64()
		for y := range h {
			for x := range w {
				v := 0.5 + 0.4*a*math.Sin(fx*float64(x)/float64(w)*6+ph)*math.Cos(fy*float64(y)/float64(h)*6) + 0.1*rng.Float64()
				p.Pix[c*n+y*w+x] = float32(min(max(v, 0), 1))
			}
		}
	}
	return p
}

// tinyData returns a small labelled set: k products, per photos each, with
// web-shop photos and texts of dimension td (none when td is 0).
func tinyData(rng *rand.Rand, k, per, side, td int) *TrainData {
	d := &TrainData{}
	for c := range k {
		d.Products = append(d.Products, fmt.Sprintf("p%d", c))
		for range per {
			d.Photos = append(d.Photos, randomPlanar(rng, side, side))
			d.Labels = append(d.Labels, c)
		}
		d.Iconic = append(d.Iconic, randomPlanar(rng, side, side))
		if td > 0 {
			var ts [][]float32
			for range 2 {
				v := make([]float32, td)
				for i := range v {
					v[i] = float32(rng.NormFloat64())
				}
				unit(v)
				ts = append(ts, v)
			}
			d.Texts = append(d.Texts, ts)
		}
	}
	return d
}

// TestGradients checks every analytic gradient of the training loss (the
// convolutions through batch normalisation, ReLU, max-pooling and the
// strided stem, the head, the text tower and the product vectors) against
// central finite differences in float32 on a tiny network.

func TestGradients(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		mix  float64
	}{
		{"two stages of two, cutmix", Config{Size: 8, Widths: []int{4, 5}, Depth: 2, Dim: 6, TextHidden: 7}, 0.5},
		{"three stages of one", Config{Size: 16, Widths: []int{3, 4, 5}, Depth: 1, Dim: 4, TextHidden: 3}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) { checkGradients(t, tc.cfg, tc.mix) })
	}
}

func checkGradients(t *testing.T, cfg Config, mix float64) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := tinyData(rng, 3, 3, 16, 5)
	o := TrainOptions{
		Config: cfg,
		Batch:  8, Shards: 2, Iconic: 2, Texts: 4, Seed: 3, Scale: 4,
		Augment: Augment{NoAugment: true}, Mix: mix,
	}
	tr, r, err := newTrainer(d, o)
	if err != nil {
		t.Fatal(err)
	}
	// Push the BN shifts away from 0 so fewer ReLUs sit at their kink.
	for i := range tr.p.beta {
		for c := range tr.p.beta[i] {
			tr.p.beta[i][c] = 0.3 + 0.2*float32(r.Float64())
		}
	}
	tr.draw(r, []int{0, 2, 4, 6, 8, 1})
	_, douts := tr.forwardLoss()
	tr.backward(douts)
	lossAt := func() float64 {
		l, _ := tr.forwardLoss()
		return l
	}
	analytic := clonedParams(tr.g).tensors()
	fd := func(x *float32, h float32) float64 {
		orig := *x
		*x = orig + h
		lp := lossAt()
		*x = orig - h
		lm := lossAt()
		*x = orig
		return (lp - lm) / (2 * float64(h))
	}
	tol := func(v float64) float64 { return 2e-3 + 0.05*math.Abs(v) }
	var checked, bad, kinks int
	for k, pt := range tr.p.tensors() {
		if pt.stat {
			continue
		}
		g := analytic[k].data
		// A few entries of every tensor.
		for _, i := range []int{0, len(pt.data) / 3, len(pt.data) / 2, len(pt.data) - 1} {
			h := float32(1e-3) * max(1, float32(math.Abs(float64(pt.data[i]))))
			num, fine := fd(&pt.data[i], h), fd(&pt.data[i], h/4)
			if math.Abs(num-fine) > tol(num) {
				// A ReLU or a max-pool switches within ±h: the loss is not
				// differentiable there at this resolution.
				kinks++
				continue
			}
			got := float64(g[i])
			checked++
			if diff := math.Abs(num - got); diff > tol(num) {
				bad++
				t.Errorf("%s[%d]: analytic %.6g, finite difference %.6g", pt.name, i, got, num)
			}
		}
	}
	if checked < 40 || kinks > checked/8 {
		t.Fatalf("checked %d entries, %d skipped at kinks", checked, kinks)
	}
	t.Logf("%d gradient entries checked, %d off, %d skipped at kinks", checked, bad, kinks)
}
