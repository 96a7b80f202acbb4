package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fusionrank/fusionrank/internal/gz"

	"github.com/redis/go-redis/v9"
	"github.com/schollz/progressbar/v3"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/api"
	"github.com/fusionrank/fusionrank/dataset/onlineretail"
	"github.com/fusionrank/fusionrank/dataset/s3rec"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/features/text"
	"github.com/fusionrank/fusionrank/internal/redisconn"
	"github.com/fusionrank/fusionrank/vision/photoset"
)

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "searches" {
		return runImportSearches(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "items" && args[0] != "events") {
		fmt.Fprintln(stderr, "usage: fusionrank import items|events [--format ndjson|s3rec|online-retail] [--attributes FILE] FILE\n       fusionrank import searches --format homedepot [--holdout FRACTION] FILE")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flagErrHelp
		}
		return errors.New("say what to import: items, events or searches")
	}
	what := args[0]
	fs := newFlags("import "+what, "import "+what+" [flags] FILE", stderr)
	format := fs.String("format", "ndjson", "ndjson (the API's item or event objects, one per line; items may name a photo file as image_path, relative to FILE's folder), s3rec (Beauty.txt-style sequences), online-retail (the UCI Online Retail TSV) or grocery (items: a catalogue folder in the Grocery Store layout, each product with its web-shop photo and description)")
	attrs := fs.String("attributes", "", "s3rec: the item2attributes JSON file (items)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	cfg, err := loadConfig(os.Getenv, fs, args[1:])
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("give exactly one input FILE")
	}
	path := fs.Arg(0)
	var in io.Reader = strings.NewReader("")
	var size int64
	if *format == "ndjson" { // the data sets' readers open their files themselves
		r, closeIn, n, err := gz.Open(path)
		if err != nil {
			return err
		}
		defer closeIn()
		in, size = r, n
	}

	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	var enc *text.Encoder
	if what == "items" && cfg.TextVectors != "" {
		if enc, err = text.LoadFile(cfg.TextVectors); err != nil {
			return fmt.Errorf("FUSIONRANK_TEXT_VECTORS: %w", err)
		}
		if cfg.TextSubwords {
			enc = enc.WithSubwords()
		}
	}
	mods := make([]features.Modality, len(cfg.Modalities))
	for i, m := range cfg.Modalities {
		mods[i] = features.Modality{Name: m.Name, Dim: m.Dim}
	}
	// Imported events change profiles the service may hold in Redis: the store drops
	// those of the imported users (ImportEvents). Items need no Redis.
	var rdb redis.UniversalClient
	if what == "events" {
		// Not serving's 100 ms timeouts: a chunk's drop of its users' profiles is one
		// pipeline of thousands of scripts, and a failed drop leaves those profiles
		// stale in the serving processes until their TTL.
		c, err := redisconn.Open(cfg.RedisURL, redisconn.Tuning{DialTimeout: time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 10 * time.Second, ClusterStateReload: time.Second})
		if err != nil {
			return fmt.Errorf("FUSIONRANK_REDIS_URL: %w", err)
		}
		defer c.Close()
		rdb = c
	}
	var photos *features.PhotoOptions
	if what == "items" {
		photos = photoOptions(cfg)
	}
	pinned, err := pinONNX(cfg, photos)
	if err != nil {
		return err
	}
	store := features.New(db, rdb, features.Options{Modalities: mods, Text: enc, MaxFutureSkew: cfg.MaxFutureSkew, ImportStreams: cfg.ImportStreams, Photos: photos, Namespace: cfg.RedisNamespace,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	// Photos given as files are encoded here, with the active image encoder (and the
	// target of a switch); those given by URL are stored pending and fetched by the
	// serving processes.
	if err := setUpPhotos(ctx, store, photos, pinned); err != nil {
		return err
	}

	bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("importing "+what),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("rows"), progressbar.OptionThrottle(200*time.Millisecond))
	if *quiet {
		bar = progressbar.DefaultSilent(-1)
	}
	_ = size
	var last int
	progress := func(read int) { _ = bar.Add(read - last); last = read }
	rejected := 0
	reject := func(n int, err error) {
		rejected++
		if rejected <= 20 {
			fmt.Fprintf(stderr, "\nrow %d: %s\n", n, fusionrank.ErrorMessage(err))
		}
	}
	start := time.Now()
	var st features.ImportStats
	switch what + "/" + *format {
	case "items/ndjson":
		st, err = store.ImportItems(ctx, ndjsonItems(in, filepath.Dir(path)), reject, progress)
	case "items/grocery":
		next, err2 := groceryItems(path)
		if err2 != nil {
			return err2
		}
		st, err = store.ImportItems(ctx, next, reject, progress)
	case "events/ndjson":
		st, err = store.ImportEvents(ctx, ndjsonEvents(in), reject, progress)
	case "items/s3rec", "events/s3rec":
		d, err2 := s3rec.Load(path)
		if err2 != nil {
			return err2
		}
		if what == "events" {
			st, err = store.ImportEvents(ctx, each(d.Events()), reject, progress)
			break
		}
		if *attrs != "" {
			if err := d.LoadAttributes(*attrs); err != nil {
				return err
			}
		}
		st, err = store.ImportItems(ctx, each(d.Items()), reject, progress)
	case "items/online-retail", "events/online-retail":
		l, err2 := onlineretail.Load(path)
		if err2 != nil {
			return err2
		}
		if what == "events" {
			st, err = store.ImportEvents(ctx, each(l.Purchases()), reject, progress)
		} else {
			st, err = store.ImportItems(ctx, each(l.Items()), reject, progress)
		}
	default:
		return fmt.Errorf("--format %q: expected ndjson, s3rec, online-retail or grocery (items)", *format)
	}
	_ = bar.Finish()
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "\n%s: read %d, stored %d, duplicates %d, rejected %d in %.1fs (%.0f rows/s)\n",
		what, st.Read, st.Accepted, st.Duplicates, st.Rejected, secs, float64(st.Read)/secs)
	return err
}

var flagErrHelp = flag.ErrHelp

// importItem is an NDJSON item line: the API's item object, and the path of a photo
// file (relative to the folder of the input file) as image_path.
type importItem struct {
	fusionrank.Item
	ImagePath string `json:"image_path"`
}

// ndjsonItems reads one API item object per line; image_path names a photo file
// (relative to dir unless absolute) whose bytes become the item's image.
func ndjsonItems(r io.Reader, dir string) func() (fusionrank.Item, error) {
	sc := lineScanner(r)
	return func() (fusionrank.Item, error) {
		for sc.Scan() {
			b := strings.TrimSpace(sc.Text())
			if b == "" {
				continue
			}
			in := importItem{Item: fusionrank.Item{Active: true}}
			if err := api.DecodeStrict([]byte(b), &in); err != nil {
				return in.Item, err
			}
			if in.ImagePath != "" {
				if in.Image != nil {
					return in.Item, fusionrank.Errorf(fusionrank.Invalid, "image_path: give either image or image_path")
				}
				p := in.ImagePath
				if !filepath.IsAbs(p) {
					p = filepath.Join(dir, p)
				}
				data, err := os.ReadFile(p)
				if err != nil {
					return in.Item, fusionrank.Errorf(fusionrank.Invalid, "image_path: %v", err)
				}
				in.Image = data
			}
			return in.Item, nil
		}
		if err := sc.Err(); err != nil {
			return fusionrank.Item{}, err
		}
		return fusionrank.Item{}, features.Done()
	}
}

// ndjsonEvents reads one API event object per line.
func ndjsonEvents(r io.Reader) func() (fusionrank.Event, error) {
	sc := lineScanner(r)
	return func() (fusionrank.Event, error) {
		for sc.Scan() {
			b := strings.TrimSpace(sc.Text())
			if b == "" {
				continue
			}
			var ev fusionrank.Event
			err := api.DecodeEvent([]byte(b), &ev)
			return ev, err
		}
		if err := sc.Err(); err != nil {
			return fusionrank.Event{}, err
		}
		return fusionrank.Event{}, features.Done()
	}
}

func lineScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	return sc
}

// each returns an importer's iterator over xs.
func each[T any](xs []T) func() (T, error) {
	i := 0
	return func() (T, error) {
		if i == len(xs) {
			var zero T
			return zero, features.Done()
		}
		i++
		return xs[i-1], nil
	}
}

// groceryItems lists the products of a catalogue folder in the Grocery Store layout
// (vision/photoset reads it): id and title from the product's name, its coarse class
// as category, its description, and its web-shop photo as the item's image.
func groceryItems(dir string) (func() (fusionrank.Item, error), error) {
	set, err := photoset.Open(dir)
	if err != nil {
		return nil, err
	}
	i := 0
	return func() (fusionrank.Item, error) {
		if i == len(set.Products) {
			return fusionrank.Item{}, features.Done()
		}
		p := set.Products[i]
		i++
		it := fusionrank.Item{ID: p.Name, Title: p.Title(), Category: p.CoarseName, Description: p.Description, Active: true,
			Attributes: map[string]any{"product_id": p.ID, "coarse_id": p.Coarse}}
		if p.Iconic != "" {
			data, err := os.ReadFile(p.Iconic)
			if err != nil {
				return it, fusionrank.Errorf(fusionrank.Invalid, "image_path: %v", err)
			}
			it.Image = data
		}
		return it, nil
	}, nil
}
