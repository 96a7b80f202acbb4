package photos

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/fusionrank/fusionrank/evaluation"
)

// DefaultRidge is the ridge penalty λ of the linear text links.
const DefaultRidge = 1.0

// linearLink is a ridge regression from pooled word vectors to a model's
// photo space: W = (XᵀX + λI)⁻¹ XᵀY for rows x (a text's word vector) and y
// (the photo vector of the text's product).
type linearLink struct {
	w       *mat.Dense // in × out
	in, out int
}

// fitLink fits the link on the texts of the products in use (all when use
// is nil): texts[c] are product c's pooled word vectors, targets[c] its
// photo vector.
func fitLink(texts [][][]float32, targets [][]float32, use []bool, lambda float64) (*linearLink, error) {
	var rows, in, out int
	for c, ts := range texts {
		if use != nil && !use[c] {
			continue
		}
		rows += len(ts)
		if len(ts) > 0 {
			in, out = len(ts[0]), len(targets[c])
		}
	}
	if rows == 0 {
		return nil, errors.New("photos: text link: no product text has a known word")
	}
	x := mat.NewDense(rows, in, nil)
	y := mat.NewDense(rows, out, nil)
	r := 0
	for c, ts := range texts {
		if use != nil && !use[c] {
			continue
		}
		for _, v := range ts {
			for j, f := range v {
				x.Set(r, j, float64(f))
			}
			for j, f := range targets[c] {
				y.Set(r, j, float64(f))
			}
			r++
		}
	}
	var a mat.Dense
	a.Mul(x.T(), x)
	for i := range in {
		a.Set(i, i, a.At(i, i)+lambda)
	}
	var b mat.Dense
	b.Mul(x.T(), y)
	l := &linearLink{w: new(mat.Dense), in: in, out: out}
	if err := l.w.Solve(&a, &b); err != nil {
		return nil, fmt.Errorf("photos: text link: %w", err)
	}
	return l, nil
}

// apply writes the unit image of x under the link into dst.
func (l *linearLink) apply(dst, x []float32) {
	for j := range l.out {
		var s float64
		for i, xi := range x {
			s += float64(xi) * l.w.At(i, j)
		}
		dst[j] = float32(s)
	}
	unit(dst)
}

// PhotoSpace is implemented by models that compare texts with products'
// photo vectors in one space. For them the words task also measures
// products the text side never saw: the products are split into
// UnseenFolds folds, and each fold's queries are answered through a linear
// text link fitted on the other folds' texts and photo vectors only.
type PhotoSpace interface {
	// ProductPhotoVectors returns each product's photo vector (from its
	// photos only), the product side of the words task.
	ProductPhotoVectors() [][]float32
}

// UnseenFolds is the number of product folds of the unseen-products words
// measurement.
const UnseenFolds = 5

// foldsOf assigns each of n products to one of k folds, seeded.
func foldsOf(n, k int, seed uint64) []int {
	perm := rand.New(rand.NewPCG(seed, 0x666f6c64)).Perm(n)
	f := make([]int, n)
	for i, p := range perm {
		f[p] = i % k
	}
	return f
}

// unseenWords answers each words query of a product through a linear text
// link fitted without that product's fold (see PhotoSpace), ranking all
// products by their photo vectors, and returns the metrics, fine and
// coarse.
func unseenWords(texts [][][]float32, queries [][]float32, cases []target, photos [][]float32, coarseOf []int, nCoarse int) (evaluation.Metrics, error) {
	n := len(photos)
	folds := foldsOf(n, UnseenFolds, 1)
	links := make([]*linearLink, UnseenFolds)
	for f := range links {
		use := make([]bool, n)
		for c := range use {
			use[c] = folds[c] != f
		}
		var err error
		if links[f], err = fitLink(texts, photos, use, DefaultRidge); err != nil {
			return nil, err
		}
	}
	sc := newScorer(1, n, nCoarse, coarseOf)
	sc.grow(len(queries))
	buf := sc.newBuf()
	v := make([]float32, len(photos[0]))
	for i, x := range queries {
		if x == nil {
			clear(v)
		} else {
			links[folds[cases[i].product]].apply(v, x)
		}
		scoreAll(buf[0], v, photos)
		sc.record(i, buf, cases[i])
	}
	return sc.metrics()[0], nil
}
