// Package photosettest writes small synthetic catalogues in the Grocery
// Store layout (see package photoset) for tests: products that differ by
// colour and pattern, shopper photos with noise, shifts and scale changes,
// web-shop photos on white, one-sentence descriptions, and a word-vector
// file covering the descriptions' words.
package photosettest

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Options shape a synthetic catalogue. Zero fields take the defaults.
type Options struct {
	// Products is the number of products (at most 12); default 6. Their
	// coarse class is their colour: products 0–5 are six colours, 6–11
	// the same colours striped.
	Products int
	// Train and Val are the shopper photos per product in train.txt and
	// val.txt; defaults 6 and 2.
	Train, Val int
	// Side is the photos' side in pixels; default 48.
	Side int
	// Seed seeds the noise.
	Seed uint64
}

var colours = []struct {
	name string
	rgb  [3]uint8
}{
	{"red", [3]uint8{210, 30, 30}}, {"green", [3]uint8{40, 170, 50}}, {"blue", [3]uint8{30, 60, 200}},
	{"yellow", [3]uint8{230, 210, 40}}, {"purple", [3]uint8{130, 40, 150}}, {"orange", [3]uint8{240, 140, 20}},
}

// Write writes the catalogue into dir (classes.csv, train.txt, val.txt,
// the photos and descriptions) and the word vectors into dir/words.txt,
// whose path it returns.
func Write(dir string, o Options) (string, error) {
	if o.Products == 0 {
		o.Products = 6
	}
	if o.Products > 2*len(colours) {
		return "", fmt.Errorf("photosettest: %d products, at most %d", o.Products, 2*len(colours))
	}
	if o.Train == 0 {
		o.Train = 6
	}
	if o.Val == 0 {
		o.Val = 2
	}
	if o.Side == 0 {
		o.Side = 48
	}
	rng := rand.New(rand.NewPCG(o.Seed, 77))
	var classes strings.Builder
	classes.WriteString("Class Name (str),Class ID (int),Coarse Class Name (str),Coarse Class ID (int),Iconic Image Path (str),Product Description Path (str)\r\n")
	splits := map[string]*strings.Builder{"train": {}, "val": {}}
	words := map[string]bool{}
	for p := range o.Products {
		col := colours[p%len(colours)]
		striped := p >= len(colours)
		pattern := "plain"
		if striped {
			pattern = "striped"
		}
		name := fmt.Sprintf("%s-%s", strings.ToUpper(col.name[:1])+col.name[1:], pattern)
		coarse := strings.ToUpper(col.name[:1]) + col.name[1:]
		base := filepath.Join("iconic", coarse, name)
		if err := os.MkdirAll(filepath.Join(dir, base), 0o755); err != nil {
			return "", err
		}
		iconic := filepath.ToSlash(filepath.Join(base, name+"_Iconic.png"))
		descPath := filepath.ToSlash(filepath.Join(base, name+"_Description.txt"))
		desc := fmt.Sprintf("A %s %s box. It is %s and %s.", col.name, pattern, col.name, pattern)
		for _, w := range []string{"a", "box", "it", "is", "and", col.name, pattern} {
			words[w] = true
		}
		if err := os.WriteFile(filepath.Join(dir, descPath), []byte(desc), 0o644); err != nil {
			return "", err
		}
		if err := writePNG(filepath.Join(dir, iconic), draw(rng, o.Side, col.rgb, striped, false)); err != nil {
			return "", err
		}
		fmt.Fprintf(&classes, "%s,%d,%s,%d,/%s,/%s\r\n", name, p, coarse, p%len(colours), iconic, descPath)
		for _, split := range []string{"train", "val"} {
			n := o.Train
			if split == "val" {
				n = o.Val
			}
			folder := filepath.Join(split, coarse, name)
			if err := os.MkdirAll(filepath.Join(dir, folder), 0o755); err != nil {
				return "", err
			}
			for i := range n {
				path := filepath.ToSlash(filepath.Join(folder, fmt.Sprintf("%s_%03d.png", name, i+1)))
				if err := writePNG(filepath.Join(dir, path), draw(rng, o.Side, col.rgb, striped, true)); err != nil {
					return "", err
				}
				fmt.Fprintf(splits[split], "%s, %d, %d\n", path, p, p%len(colours))
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "classes.csv"), []byte(classes.String()), 0o644); err != nil {
		return "", err
	}
	for name, b := range splits {
		if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(b.String()), 0o644); err != nil {
			return "", err
		}
	}
	// Word vectors: each colour and pattern word gets its own direction, so
	// a text can be told apart by its words.
	var vb strings.Builder
	const dim = 8
	k := 0
	for _, w := range []string{"a", "box", "it", "is", "and", "plain", "striped", "red", "green", "blue", "yellow", "purple", "orange"} {
		if !words[w] && w != "plain" && w != "striped" {
			continue
		}
		vb.WriteString(w)
		for j := range dim {
			v := 0.1 * rng.NormFloat64()
			if j == k%dim {
				v += 1
			}
			fmt.Fprintf(&vb, " %.4f", v)
		}
		vb.WriteString("\n")
		k++
	}
	wpath := filepath.Join(dir, "words.txt")
	return wpath, os.WriteFile(wpath, []byte(vb.String()), 0o644)
}

// draw paints a product: a disc of its colour (striped or not) on a light
// background; a shopper photo (noisy) moves and scales the disc, changes
// the light and adds noise.
func draw(rng *rand.Rand, side int, rgb [3]uint8, striped, noisy bool) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, side, side))
	cx, cy, r, light := 0.5, 0.5, 0.35, 1.0
	if noisy {
		cx += 0.1 * (2*rng.Float64() - 1)
		cy += 0.1 * (2*rng.Float64() - 1)
		r *= 0.8 + 0.3*rng.Float64()
		light = 0.85 + 0.3*rng.Float64()
	}
	for y := range side {
		for x := range side {
			fx, fy := (float64(x)+0.5)/float64(side), (float64(y)+0.5)/float64(side)
			c := [3]float64{235, 235, 230}
			if math.Hypot(fx-cx, fy-cy) < r {
				f := 1.0
				if striped && int(fx*float64(side)/4)%2 == 0 {
					f = 0.45
				}
				for i := range c {
					c[i] = float64(rgb[i]) * f
				}
			}
			var px color.NRGBA
			px.A = 255
			for i := range c {
				v := c[i] * light
				if noisy {
					v += 12 * rng.NormFloat64()
				}
				v = math.Min(math.Max(v, 0), 255)
				switch i {
				case 0:
					px.R = uint8(v)
				case 1:
					px.G = uint8(v)
				case 2:
					px.B = uint8(v)
				}
			}
			m.SetNRGBA(x, y, px)
		}
	}
	return m
}

func writePNG(path string, m image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, m); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
