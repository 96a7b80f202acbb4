package photoset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/fusionrank/fusionrank/internal/kernel"
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
// Train scores after each epoch. The data's PhotosDigest is the Digest of
// train.
func (s *Set) TrainData(ctx context.Context, train, heldOut []Photo, side int, enc TextEncoder) (*vision.TrainData, error) {
	d := &vision.TrainData{PhotosDigest: s.Digest(train)}
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

// HoldOut splits photos by product, deterministically: of each product's n
// photos it holds out round(share·n), at least one when share > 0 and the
// product has two or more, never all of them, drawn by a permutation
// seeded by seed and the product id (so a product's choice does not depend
// on the other products' photos). It returns the indices into photos of
// the kept and of the held-out photos, each in the order of photos; every
// index is in exactly one of them. share must be in [0, 1). It is
// HoldOutGroups with every photo its own group.
func HoldOut(photos []Photo, share float64, seed uint64) (kept, held []int) {
	return HoldOutGroups(photos, nil, share, seed)
}

// HoldOutGroups is HoldOut holding out whole groups (group[i] is photo
// i's group, such as a scene from Scenes; nil: every photo alone): each
// product's groups are taken in an order seeded by seed and the product
// id, and a group is held out while fewer than round(share·n) photos are
// (at least one), unless it would bring the held-out photos past 1.5 times
// that or to all of the product's; when no group fits, the product's
// smallest group that is not all its photos is held out. A group must not
// span products.
func HoldOutGroups(photos []Photo, group []int, share float64, seed uint64) (kept, held []int) {
	if !(share >= 0 && share < 1) {
		panic(fmt.Sprintf("photoset: HoldOut share %v: want 0 ≤ share < 1", share))
	}
	if group != nil && len(group) != len(photos) {
		panic(fmt.Sprintf("photoset: HoldOutGroups: %d groups for %d photos", len(group), len(photos)))
	}
	type members struct{ idx []int }
	byProduct := map[int][]*members{}
	var products []int
	groupOf := map[int]*members{}
	for i, ph := range photos {
		if _, ok := byProduct[ph.Product]; !ok {
			products = append(products, ph.Product)
			byProduct[ph.Product] = nil
		}
		if group == nil {
			byProduct[ph.Product] = append(byProduct[ph.Product], &members{idx: []int{i}})
			continue
		}
		g, ok := groupOf[group[i]]
		if !ok {
			g = &members{}
			groupOf[group[i]] = g
			byProduct[ph.Product] = append(byProduct[ph.Product], g)
		} else if photos[g.idx[0]].Product != ph.Product {
			panic(fmt.Sprintf("photoset: HoldOutGroups: group %d spans products %d and %d", group[i], photos[g.idx[0]].Product, ph.Product))
		}
		g.idx = append(g.idx, i)
	}
	out := make([]bool, len(photos))
	for _, p := range products {
		gs := byProduct[p]
		n := 0
		for _, g := range gs {
			n += len(g.idx)
		}
		if share == 0 || n < 2 {
			continue
		}
		target := max(int(math.Round(share*float64(n))), 1)
		rng := rand.New(rand.NewPCG(seed, uint64(p)))
		h := 0
		for _, gi := range rng.Perm(len(gs)) {
			g := gs[gi]
			if h >= target {
				break
			}
			if h+len(g.idx) >= n || float64(h+len(g.idx)) > 1.5*float64(target) {
				continue
			}
			for _, i := range g.idx {
				out[i] = true
			}
			h += len(g.idx)
		}
		if h == 0 {
			var small *members
			for _, g := range gs {
				if len(g.idx) < n && (small == nil || len(g.idx) < len(small.idx)) {
					small = g
				}
			}
			if small != nil {
				for _, i := range small.idx {
					out[i] = true
				}
			}
		}
	}
	for i, o := range out {
		if o {
			held = append(held, i)
		} else {
			kept = append(kept, i)
		}
	}
	return kept, held
}

// Scenes groups each product's photos into scenes: two photos of one
// product whose fixed descriptors (vision.Descriptor) have a cosine of at
// least threshold are in one scene, and so, transitively, are the photos
// linked to them. It returns each photo's scene, numbered from 0 in the
// order of first appearance. Photos of a split taken of one shelf a few
// seconds apart are near-duplicates; holding out whole scenes
// (HoldOutGroups) keeps them on one side.
func Scenes(ctx context.Context, photos []Photo, threshold float32) ([]int, error) {
	desc, err := vision.NewDescriptor(vision.DescriptorWeights{})
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(photos))
	for i, ph := range photos {
		paths[i] = ph.Path
	}
	vs := make([][]float32, len(photos))
	err = DecodeAll(ctx, paths, func(i int, img image.Image) {
		v := make([]float32, vision.DescriptorDim)
		desc.EncodeTo(v, img)
		vs[i] = v
	})
	if err != nil {
		return nil, err
	}
	return scenesOf(photos, vs, threshold), nil
}

// scenesOf links same-product photos whose vectors (unit length) have a
// cosine of at least threshold, and numbers the connected sets.
func scenesOf(photos []Photo, vs [][]float32, threshold float32) []int {
	parent := make([]int, len(photos))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	byProduct := map[int][]int{}
	for i, ph := range photos {
		byProduct[ph.Product] = append(byProduct[ph.Product], i)
	}
	for _, idx := range byProduct {
		for a, i := range idx {
			for _, j := range idx[a+1:] {
				if kernel.DotFixed(vs[i], vs[j]) >= threshold {
					parent[find(i)] = find(j)
				}
			}
		}
	}
	scene := make([]int, len(photos))
	number := map[int]int{}
	for i := range photos {
		r := find(i)
		n, ok := number[r]
		if !ok {
			n = len(number)
			number[r] = n
		}
		scene[i] = n
	}
	return scene
}

// Digest names a list of photos: the hex SHA-256 of each photo's path
// relative to the set's folder and its product, in order. An encoder
// trained through TrainData records the digest of its photos
// (vision.Encoder.TrainedOn), so a protocol can check which photos it saw.
func (s *Set) Digest(photos []Photo) string {
	h := sha256.New()
	for _, ph := range photos {
		rel, err := filepath.Rel(s.Dir, ph.Path)
		if err != nil {
			rel = ph.Path
		}
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), ph.Product)
	}
	return hex.EncodeToString(h.Sum(nil))
}
