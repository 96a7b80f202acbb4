package photos

import (
	"context"
	"image"
	"sync"

	"github.com/fusionrank/fusionrank/vision"
	"github.com/fusionrank/fusionrank/vision/photoset"
)

// DescriptorModel is the fixed descriptor (vision.Descriptor) with nothing
// trained: a query photo's descriptor is compared by cosine with the
// descriptors of each product's training photos (the best one scores the
// product), and, as variants, with their mean and with the web-shop photo's. For words it learns the one
// thing it can, a ridge regression from the pooled word vector of a
// product's texts to its photo representation (the simplest learned
// text–image link).
type DescriptorModel struct {
	// Ridge is the ridge penalty λ of the text link; 0 means DefaultRidge.
	Ridge float64

	desc     *vision.Descriptor
	k        int
	iconic   [][]float32 // per product, unit
	centroid [][]float32 // per product, unit mean of its training photos
	both     [][]float32 // per product, unit (centroid + iconic)
	train    [][]float32 // every training photo, unit
	label    []int
	link     *linearLink // nil without word vectors
	text     textPooler
}

// textPooler pools words into one vector (features/text.Encoder).
type textPooler interface {
	Dim() int
	EncodeTo(dst []float32, texts ...string) (known, unknown int)
}

// Version returns the descriptor's version.
func (m *DescriptorModel) Version() string { return vision.DescriptorVersion }

// Variants names the product representations: for photos, the nearest
// training photo of the product (the headline: on a split of the training
// photos it ranked first of these), the training photos' mean, the mean
// plus the web-shop photo, the web-shop photo alone; for words, the photo
// representations.
func (m *DescriptorModel) Variants(t Task) []string {
	if t == TaskWords {
		return []string{"shopper photos + web-shop photo", "shopper photos (mean)", "web-shop photo"}
	}
	return []string{"nearest shopper photo", "shopper photos (mean)", "shopper photos (mean) + web-shop photo", "web-shop photo"}
}

// Fit describes every web-shop and training photo and, with word vectors,
// fits the text link.
func (m *DescriptorModel) Fit(ctx context.Context, d *Data) error {
	var err error
	if m.desc, err = vision.NewDescriptor(vision.DescriptorWeights{}); err != nil {
		return err
	}
	m.k = len(d.Set.Products)
	iconic, err := d.Set.IconicPaths()
	if err != nil {
		return err
	}
	if m.iconic, err = m.describeAll(ctx, iconic); err != nil {
		return err
	}
	paths := make([]string, len(d.Train))
	m.label = make([]int, len(d.Train))
	for i, ph := range d.Train {
		paths[i], m.label[i] = ph.Path, ph.Product
	}
	progressf(d.Progress, "photos: describing %d training photos\n", len(paths))
	if m.train, err = m.describeAll(ctx, paths); err != nil {
		return err
	}
	m.centroid = make([][]float32, m.k)
	m.both = make([][]float32, m.k)
	for c := range m.k {
		m.centroid[c] = make([]float32, vision.DescriptorDim)
	}
	for i, v := range m.train {
		addTo(m.centroid[m.label[i]], v)
	}
	for c := range m.k {
		unit(m.centroid[c])
		m.both[c] = append([]float32(nil), m.centroid[c]...)
		addTo(m.both[c], m.iconic[c])
		unit(m.both[c])
	}
	if d.Text != nil {
		m.text = d.Text
		return m.fitLink(d.Set)
	}
	return nil
}

// fitLink fits the linear text link on every product's texts
// (Product.Texts) and photo representation.
func (m *DescriptorModel) fitLink(set *photoset.Set) error {
	lambda := m.Ridge
	if lambda == 0 {
		lambda = DefaultRidge
	}
	var err error
	m.link, err = fitLink(set.TextVectors(m.text), m.both, nil, lambda)
	return err
}

// ProductPhotoVectors returns the products' photo representations
// (web-shop photo plus the training photos' mean).
func (m *DescriptorModel) ProductPhotoVectors() [][]float32 { return m.both }

// describeAll decodes and describes the images at paths (unit vectors).
func (m *DescriptorModel) describeAll(ctx context.Context, paths []string) ([][]float32, error) {
	out := make([][]float32, len(paths))
	err := photoset.DecodeAll(ctx, paths, func(i int, img image.Image) {
		v := make([]float32, vision.DescriptorDim)
		m.desc.EncodeTo(v, img)
		out[i] = v
	})
	return out, err
}

var descPool = sync.Pool{New: func() any { return make([]float32, vision.DescriptorDim) }}

// ScoreTo scores the products for one query (see Model).
func (m *DescriptorModel) ScoreTo(dst [][]float32, t Task, q Query) bool {
	v := descPool.Get().([]float32)
	defer descPool.Put(v)
	if t == TaskWords {
		if m.link == nil {
			return false
		}
		x := make([]float32, m.text.Dim())
		if known, _ := m.text.EncodeTo(x, q.Words); known == 0 {
			clear(v)
		} else {
			m.link.apply(v, x)
		}
		scoreAll(dst[0], v, m.both)
		scoreAll(dst[1], v, m.centroid)
		scoreAll(dst[2], v, m.iconic)
		return true
	}
	m.desc.EncodeTo(v, q.Photo)
	nearest(dst[0], v, m.train, m.label)
	scoreAll(dst[1], v, m.centroid)
	scoreAll(dst[2], v, m.both)
	scoreAll(dst[3], v, m.iconic)
	return true
}
