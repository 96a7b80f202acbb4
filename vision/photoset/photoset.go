// Package photoset reads a photo catalogue in the layout of the Grocery
// Store dataset (Klasson, Zhang and Kjellström, WACV 2019): a folder with
// classes.csv (one product per line: name, product id, coarse class name,
// coarse class id, the path of its web-shop ("iconic") photo and of its
// description text), and split files such as train.txt and val.txt (one
// shopper photo per line: path, product id, coarse class id). Paths are
// relative to the folder (a leading "/" is read as relative too).
//
// It is the one reader of that layout: `fusionrank train-images` and
// `fusionrank eval photos` both use it. It does file I/O only; decoding
// goes through the standard image decoders (JPEG, PNG, GIF).
package photoset

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // the GIF decoder, for image.Decode
	_ "image/jpeg" // the JPEG decoder, for image.Decode
	_ "image/png"  // the PNG decoder, for image.Decode
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// Product is one catalogue entry (a fine class of the dataset).
type Product struct {
	// ID is the product's id in classes.csv, 0 … len(Products)−1.
	ID int
	// Name is the product's name as the dataset spells it ("Granny-Smith").
	Name string
	// Coarse is the id of the product's coarse class; CoarseName its name.
	Coarse     int
	CoarseName string
	// Iconic is the path of the product's web-shop photo ("" when none).
	Iconic string
	// Description is the product's description text ("" when none).
	Description string
}

// Title returns the product's name in words: "Granny-Smith" → "Granny Smith".
func (p Product) Title() string { return strings.ReplaceAll(p.Name, "-", " ") }

// Photo is one shopper photo of a split.
type Photo struct {
	// Path is the photo's file path (joined with the set's folder).
	Path string
	// Product and Coarse are the ids of the product shown and its coarse class.
	Product, Coarse int
}

// Set is an opened catalogue: its products and where its splits live.
type Set struct {
	// Dir is the folder the set was opened from.
	Dir string
	// Products lists the catalogue by id.
	Products []Product
	// Coarse lists the coarse class names by id.
	Coarse []string
}

// Open reads dir/classes.csv and every product's description. Product ids
// must be 0 … n−1 (each once) and coarse ids 0 … m−1 with one name each.
func Open(dir string) (*Set, error) {
	path := filepath.Join(dir, "classes.csv")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("photoset: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 6
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("photoset: %s: %w", path, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("photoset: %s: no products", path)
	}
	s := &Set{Dir: dir}
	byID := map[int]Product{}
	coarse := map[int]string{}
	for i, row := range rows[1:] {
		line := i + 2
		for k := range row {
			row[k] = strings.TrimSpace(row[k])
		}
		id, err1 := strconv.Atoi(row[1])
		cid, err2 := strconv.Atoi(row[3])
		if err1 != nil || err2 != nil || id < 0 || cid < 0 {
			return nil, fmt.Errorf("photoset: %s: line %d: product and coarse ids must be non-negative integers", path, line)
		}
		if row[0] == "" {
			return nil, fmt.Errorf("photoset: %s: line %d: empty product name", path, line)
		}
		if _, dup := byID[id]; dup {
			return nil, fmt.Errorf("photoset: %s: line %d: product id %d twice", path, line, id)
		}
		if name, ok := coarse[cid]; ok && name != row[2] {
			return nil, fmt.Errorf("photoset: %s: line %d: coarse id %d named %q and %q", path, line, cid, name, row[2])
		}
		coarse[cid] = row[2]
		p := Product{ID: id, Name: row[0], Coarse: cid, CoarseName: row[2]}
		if row[4] != "" {
			p.Iconic = s.resolve(row[4])
		}
		if row[5] != "" {
			b, err := os.ReadFile(s.resolve(row[5]))
			if err != nil {
				return nil, fmt.Errorf("photoset: product %s: description: %w", p.Name, err)
			}
			p.Description = strings.TrimSpace(string(b))
		}
		byID[id] = p
	}
	s.Products = make([]Product, len(byID))
	for id, p := range byID {
		if id >= len(byID) {
			return nil, fmt.Errorf("photoset: %s: product ids must be 0 … %d, got %d", path, len(byID)-1, id)
		}
		s.Products[id] = p
	}
	s.Coarse = make([]string, len(coarse))
	for id, name := range coarse {
		if id >= len(coarse) {
			return nil, fmt.Errorf("photoset: %s: coarse ids must be 0 … %d, got %d", path, len(coarse)-1, id)
		}
		s.Coarse[id] = name
	}
	return s, nil
}

// resolve joins a path from the set's files to its folder.
func (s *Set) resolve(p string) string {
	return filepath.Join(s.Dir, filepath.FromSlash(strings.TrimPrefix(p, "/")))
}

// SplitPath returns the path of the split file of name ("train" →
// dir/train.txt).
func (s *Set) SplitPath(name string) string { return filepath.Join(s.Dir, name+".txt") }

// Split reads the split file of name (see SplitPath). Every line must name
// a photo, a product id of the catalogue and that product's coarse id.
func (s *Set) Split(name string) ([]Photo, error) {
	if name == "" || strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("photoset: split %q: want a plain name such as train or val", name)
	}
	path := s.SplitPath(name)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("photoset: %w", err)
	}
	defer f.Close()
	var out []Photo
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		parts := strings.Split(text, ",")
		if len(parts) != 3 {
			return nil, fmt.Errorf("photoset: %s: line %d: want path, product id, coarse id", path, line)
		}
		pid, err1 := strconv.Atoi(strings.TrimSpace(parts[1]))
		cid, err2 := strconv.Atoi(strings.TrimSpace(parts[2]))
		if err1 != nil || err2 != nil || pid < 0 || pid >= len(s.Products) {
			return nil, fmt.Errorf("photoset: %s: line %d: product id must be 0 … %d", path, line, len(s.Products)-1)
		}
		if cid != s.Products[pid].Coarse {
			return nil, fmt.Errorf("photoset: %s: line %d: coarse id %d, but product %d is in coarse class %d", path, line, cid, pid, s.Products[pid].Coarse)
		}
		out = append(out, Photo{Path: s.resolve(strings.TrimSpace(parts[0])), Product: pid, Coarse: cid})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("photoset: %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("photoset: %s: no photos", path)
	}
	return out, nil
}

// maxPixels bounds the pixels of an image Decode accepts (a decompression
// bomb's header promises far more than its bytes hold).
const maxPixels = 64 << 20

// Decode reads and decodes one image file (JPEG, PNG or GIF), refusing
// images over 64 megapixels before decoding their pixels.
func Decode(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("photoset: %w", err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("photoset: %s: %w", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, fmt.Errorf("photoset: %s: %d×%d pixels, want 1 … %d", path, cfg.Width, cfg.Height, maxPixels)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("photoset: %s: %w", path, err)
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("photoset: %s: %w", path, err)
	}
	return img, nil
}

// DecodeAll decodes the files of paths on every core and calls fn(i, img)
// for each, from several goroutines at once (fn must be safe for concurrent
// use; it is called exactly once per path unless an error stops the work).
// The first error (by path order, among those seen) is returned, or ctx's
// error when it is done first. The images are not kept, so a caller can
// reduce each to what it needs (a vector, a small copy) as it arrives.
func DecodeAll(ctx context.Context, paths []string, fn func(i int, img image.Image)) error {
	workers := min(runtime.GOMAXPROCS(0), max(len(paths), 1))
	var mu sync.Mutex
	errAt, firstErr := len(paths), error(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				img, err := Decode(paths[i])
				if err != nil {
					mu.Lock()
					if i < errAt {
						errAt, firstErr = i, err
					}
					mu.Unlock()
					continue
				}
				fn(i, img)
			}
		}()
	}
	var ctxErr error
feed:
	for i := range paths {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
			ctxErr = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if ctxErr != nil {
		return fmt.Errorf("photoset: %w", ctxErr)
	}
	return nil
}

// ErrNoIconic is returned by IconicPaths when a product has no web-shop photo.
var ErrNoIconic = errors.New("photoset: product without an iconic photo")

// IconicPaths returns every product's web-shop photo path, by id.
func (s *Set) IconicPaths() ([]string, error) {
	out := make([]string, len(s.Products))
	for i, p := range s.Products {
		if p.Iconic == "" {
			return nil, fmt.Errorf("%w: %s", ErrNoIconic, p.Name)
		}
		out[i] = p.Iconic
	}
	return out, nil
}
