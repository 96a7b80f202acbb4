package photoset

import (
	"context"
	"image"
	"strings"
	"unicode"

	"github.com/fusionrank/fusionrank/vision"
)

// TextEncoder pools a text into one word vector; the feature store's
// built-in encoder (features/text) is one.
type TextEncoder interface {
	Dim() int
	EncodeTo(dst []float32, texts ...string) (known, unknown int)
}

// Texts returns the product's texts, each on its own: its title, then the
// sentences of its description.
func (p Product) Texts() []string {
	return append([]string{p.Title()}, Sentences(p.Description)...)
}

// Sentences splits text into sentences: a sentence ends at '.', '!' or '?'
// followed by a space or the end of the text. Empty pieces are dropped and
// the rest trimmed.
func Sentences(text string) []string {
	var out []string
	rs := []rune(text)
	start := 0
	for i, r := range rs {
		if (r == '.' || r == '!' || r == '?') && (i+1 == len(rs) || unicode.IsSpace(rs[i+1])) {
			if s := strings.TrimSpace(string(rs[start : i+1])); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(string(rs[start:])); s != "" {
		out = append(out, s)
	}
	return out
}

// Planars decodes the images at paths and resamples each to side × side
// sRGB planes (vision.Resize), on every core.
func Planars(ctx context.Context, paths []string, side int) ([]*vision.Planar, error) {
	out := make([]*vision.Planar, len(paths))
	err := DecodeAll(ctx, paths, func(i int, img image.Image) {
		p := vision.NewPlanar(side, side)
		vision.Resize(p, img)
		out[i] = p
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// TrainData reads what vision.Train learns from: the photos train (as
// side × side sRGB planes; twice the encoder's input size keeps augmented
// crops sharp), every product's web-shop photo, and, when enc is not nil,
// every product's texts (Texts) pooled by enc (texts with no known word are
// left out). The photos heldOut (may be empty) become the held-out photos
// Train scores after each epoch.
func (s *Set) TrainData(ctx context.Context, train, heldOut []Photo, side int, enc TextEncoder) (*vision.TrainData, error) {
	d := &vision.TrainData{}
	for _, p := range s.Products {
		d.Products = append(d.Products, p.Name)
	}
	var err error
	if d.Photos, d.Labels, err = planarsOf(ctx, train, side); err != nil {
		return nil, err
	}
	if d.HeldOut, d.HeldOutLabels, err = planarsOf(ctx, heldOut, side); err != nil {
		return nil, err
	}
	iconic, err := s.IconicPaths()
	if err != nil {
		return nil, err
	}
	if d.Iconic, err = Planars(ctx, iconic, side); err != nil {
		return nil, err
	}
	if enc != nil {
		d.Texts = s.TextVectors(enc)
	}
	return d, nil
}

// planarsOf decodes photos into side × side planes, with their products.
func planarsOf(ctx context.Context, photos []Photo, side int) ([]*vision.Planar, []int, error) {
	if len(photos) == 0 {
		return nil, nil, nil
	}
	paths := make([]string, len(photos))
	labels := make([]int, len(photos))
	for i, ph := range photos {
		paths[i], labels[i] = ph.Path, ph.Product
	}
	ps, err := Planars(ctx, paths, side)
	return ps, labels, err
}

// TextVectors pools every product's texts (Texts) with enc, by product;
// texts with no known word are left out.
func (s *Set) TextVectors(enc TextEncoder) [][][]float32 {
	out := make([][][]float32, len(s.Products))
	for i, p := range s.Products {
		for _, t := range p.Texts() {
			v := make([]float32, enc.Dim())
			if known, _ := enc.EncodeTo(v, t); known > 0 {
				out[i] = append(out[i], v)
			}
		}
	}
	return out
}
