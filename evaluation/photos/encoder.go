package photos

import (
	"context"
	"fmt"
	"image"
	"os"
	"sync"
	"time"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/vision"
	"github.com/fusionrank/fusionrank/vision/photoset"
)

// EncoderModel is the trained convolutional encoder (vision.Encoder): read
// from a file that `fusionrank train-images` wrote, or trained in Fit on the
// training split's encoder part (Parts.Encoder: all of it without a fusion
// hold-out). Query photos and product photos are encoded by it, texts
// by its text tower, and compared by cosine.
//
// For photos a product is known by its learned product vector (the
// headline: training pulled it towards the product's shopper photos, its
// web-shop photo and its texts), and, as extra rows, by that vector plus
// the encodings of its web-shop photo and description (unit vectors
// summed), by each of those alone, by the mean of its training photos and
// by its nearest training photo.
// For words a product is known by its photos only: its web-shop photo and
// the mean of its training photos (the headline), and each alone.
type EncoderModel struct {
	// Path is the encoder file; empty means: train one in Fit. A file that
	// records its training photos (vision.Encoder.TrainedOn) must have been
	// trained on exactly Parts.Encoder; with a fusion hold-out it must
	// record them.
	Path string
	// Train are the options of the training in Fit (Path empty); Fit fills
	// in Workers and Progress.
	Train vision.TrainOptions

	enc     *vision.Encoder
	holdOut float64 // Parts.HoldOut of the Fit
	text    textPooler
	k       int
	curve   *evaluation.TrainingCurve
	seconds float64
	// Per product, unit vectors (nil rows when the part is missing).
	learned, iconic, desc, centroid, all, photos [][]float32
	// Every training photo's encoding and product.
	train [][]float32
	label []int
}

// Version returns the encoder's version.
func (m *EncoderModel) Version() string {
	if m.enc == nil {
		return "none"
	}
	return m.enc.Version()
}

// TrainingCurve returns the loss by epoch when Fit trained the encoder.
func (m *EncoderModel) TrainingCurve() *evaluation.TrainingCurve { return m.curve }

// TrainSeconds returns the wall time of the training in Fit (0 when read
// from a file).
func (m *EncoderModel) TrainSeconds() float64 { return m.seconds }

// Variants names the product representations (see EncoderModel).
func (m *EncoderModel) Variants(t Task) []string {
	if t == TaskWords {
		return []string{"web-shop photo + shopper photos (mean)", "web-shop photo", "shopper photos (mean)"}
	}
	return []string{"learned product vector", "learned vector + web-shop photo + description", "web-shop photo", "description", "shopper photos (mean)", "nearest shopper photo"}
}

// Fit reads or trains the encoder and encodes every product's parts.
func (m *EncoderModel) Fit(ctx context.Context, d *Data) error {
	if d.Text != nil {
		m.text = d.Text
	}
	if m.Path != "" {
		f, err := os.Open(m.Path)
		if err != nil {
			return fmt.Errorf("photos: %w", err)
		}
		m.enc, err = vision.ReadEncoder(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("photos: %s: %w", m.Path, err)
		}
	} else if err := m.trainEncoder(ctx, d); err != nil {
		return err
	}
	// The encoder must have learned from the photos the protocol gives it
	// and no others: with a fusion hold-out, a file trained on all the
	// training photos has seen the fusions' queries.
	parts := d.parts()
	m.holdOut = parts.HoldOut
	want := d.Set.Digest(photosAt(d.Train, parts.Encoder))
	name := m.Path
	if name == "" {
		name = "the encoder trained in this run"
	}
	switch got := m.enc.TrainedOn(); {
	case got == want:
	case got == "" && parts.HoldOut > 0:
		return fmt.Errorf("photos: %s does not record its training photos; with a fusion hold-out the encoder must be one trained on the encoder part (train-images --fusion-holdout %v)", name, parts.HoldOut)
	case got != "":
		return fmt.Errorf("photos: %s was trained on other photos than this run's %d encoder photos (fusion hold-out %v; train-images with the same --fusion-holdout, --holdout-seed and --holdout-scenes)", name, len(parts.Encoder), parts.HoldOut)
	}
	names := m.enc.Products()
	m.k = len(d.Set.Products)
	// The learned vectors must be this catalogue's, in its order.
	if len(names) > 0 {
		if len(names) != m.k {
			return fmt.Errorf("photos: the encoder learned %d products, the catalogue has %d", len(names), m.k)
		}
		for i, p := range d.Set.Products {
			if names[i] != p.Name {
				return fmt.Errorf("photos: the encoder's product %d is %q, the catalogue's %q", i, names[i], p.Name)
			}
		}
	}
	dim := m.enc.Dim()
	iconic, err := d.Set.IconicPaths()
	if err != nil {
		return err
	}
	if m.iconic, err = m.encodeAll(ctx, iconic); err != nil {
		return err
	}
	paths := make([]string, len(d.Train))
	for i, ph := range d.Train {
		paths[i] = ph.Path
	}
	progressf(d.Progress, "photos: encoding %d training photos\n", len(paths))
	train, err := m.encodeAll(ctx, paths)
	if err != nil {
		return err
	}
	m.centroid = make([][]float32, m.k)
	for c := range m.k {
		m.centroid[c] = make([]float32, dim)
	}
	m.train, m.label = train, make([]int, len(train))
	for i, v := range train {
		m.label[i] = d.Train[i].Product
		addTo(m.centroid[m.label[i]], v)
	}
	m.learned = make([][]float32, m.k)
	m.desc = make([][]float32, m.k)
	m.all = make([][]float32, m.k)
	m.photos = make([][]float32, m.k)
	for c, p := range d.Set.Products {
		unit(m.centroid[c])
		m.learned[c] = make([]float32, dim)
		if len(names) > 0 {
			m.enc.ProductVectorTo(m.learned[c], c)
		}
		m.desc[c] = make([]float32, dim)
		if m.text != nil && m.enc.HasText() && m.enc.TextDim() == m.text.Dim() {
			x := make([]float32, m.text.Dim())
			if known, _ := m.text.EncodeTo(x, p.Description); known > 0 {
				m.enc.EncodeTextTo(m.desc[c], x)
			}
		}
		m.all[c] = sumUnit(m.learned[c], m.iconic[c], m.desc[c])
		m.photos[c] = sumUnit(m.iconic[c], m.centroid[c])
	}
	return nil
}

// trainEncoder trains the encoder on the training split (Fit without Path).
func (m *EncoderModel) trainEncoder(ctx context.Context, d *Data) error {
	o := m.Train
	cfg := o.Config
	if cfg.Size == 0 {
		cfg.Size = vision.DefaultConfig.Size
	}
	photos := photosAt(d.Train, d.parts().Encoder)
	progressf(d.Progress, "photos: reading %d training photos for the encoder\n", len(photos))
	var enc photoset.TextEncoder
	if d.Text != nil {
		enc = d.Text
	}
	td, err := d.Set.TrainData(ctx, photos, nil, 2*cfg.Size, enc)
	if err != nil {
		return err
	}
	o.Workers = d.Workers
	var curve evaluation.TrainingCurve
	curve.ValidationName = ""
	user := o.Progress
	o.Progress = func(s vision.EpochStats) {
		curve.Loss = append(curve.Loss, s.Loss)
		progressf(d.Progress, "photos: epoch %d/%d: loss %.4f (photos %.4f, web-shop photos %.4f, texts %.4f), %.0f s\n",
			s.Epoch, s.Epochs, s.Loss, s.PhotoLoss, s.IconicLoss, s.TextLoss, s.Seconds)
		if user != nil {
			user(s)
		}
	}
	start := time.Now()
	m.enc, _, err = vision.Train(td, o)
	if err != nil {
		return err
	}
	m.seconds = time.Since(start).Seconds()
	m.curve = &curve
	return nil
}

// ProductPhotoVectors returns the products' photo representations (the
// web-shop photo plus the training photos' mean).
func (m *EncoderModel) ProductPhotoVectors() [][]float32 { return m.photos }

// encodeAll decodes and encodes the images at paths (unit vectors).
func (m *EncoderModel) encodeAll(ctx context.Context, paths []string) ([][]float32, error) {
	out := make([][]float32, len(paths))
	err := photoset.DecodeAll(ctx, paths, func(i int, img image.Image) {
		v := make([]float32, m.enc.Dim())
		m.enc.EncodeTo(v, img)
		out[i] = v
	})
	return out, err
}

var vecPool sync.Pool

// ScoreTo scores the products for one query (see Model).
func (m *EncoderModel) ScoreTo(dst [][]float32, t Task, q Query) bool {
	dim := m.enc.Dim()
	v, _ := vecPool.Get().([]float32)
	if len(v) != dim {
		v = make([]float32, dim)
	}
	defer vecPool.Put(v)
	if t == TaskWords {
		if m.text == nil || !m.enc.HasText() || m.enc.TextDim() != m.text.Dim() {
			return false
		}
		x := make([]float32, m.text.Dim())
		if known, _ := m.text.EncodeTo(x, q.Words); known == 0 {
			clear(v)
		} else {
			m.enc.EncodeTextTo(v, x)
		}
		scoreAll(dst[0], v, m.photos)
		scoreAll(dst[1], v, m.iconic)
		scoreAll(dst[2], v, m.centroid)
		return true
	}
	m.enc.EncodeTo(v, q.Photo)
	scoreAll(dst[0], v, m.learned)
	scoreAll(dst[1], v, m.all)
	scoreAll(dst[2], v, m.iconic)
	scoreAll(dst[3], v, m.desc)
	scoreAll(dst[4], v, m.centroid)
	nearest(dst[5], v, m.train, m.label)
	return true
}
