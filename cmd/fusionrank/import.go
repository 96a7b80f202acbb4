package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/schollz/progressbar/v3"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/api"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/features/text"
	"github.com/fusionrank/fusionrank/vision/photoset"
)

func init() {
	register("import", "bulk load items, events (ndjson, s3rec, online-retail) or searches (homedepot) through COPY", runImport)
}

// openInput opens a plain or gzip file (by its magic bytes).
func openInput(path string) (io.Reader, func(), int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	st, _ := f.Stat()
	br := bufio.NewReaderSize(f, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		return gz, func() { gz.Close(); f.Close() }, st.Size(), nil
	}
	return br, func() { f.Close() }, st.Size(), nil
}

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
	if *format != "grocery" { // a folder, read by groceryItems
		r, closeIn, n, err := openInput(path)
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
		c, err := openRedis(cfg.RedisURL)
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
	store := features.New(db, rdb, features.Options{Modalities: mods, Text: enc, MaxFutureSkew: cfg.MaxFutureSkew, Photos: photos, Namespace: cfg.RedisNamespace,
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
	case "items/s3rec":
		next, err2 := s3recItems(in, *attrs)
		if err2 != nil {
			return err2
		}
		st, err = store.ImportItems(ctx, next, reject, progress)
	case "events/s3rec":
		st, err = store.ImportEvents(ctx, s3recEvents(in), reject, progress)
	case "items/online-retail":
		next, err2 := retailRows(in, true)
		if err2 != nil {
			return err2
		}
		st, err = store.ImportItems(ctx, next.items, reject, progress)
	case "events/online-retail":
		next, err2 := retailRows(in, false)
		if err2 != nil {
			return err2
		}
		st, err = store.ImportEvents(ctx, next.events, reject, progress)
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
			err := api.DecodeStrict([]byte(b), &ev)
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

// s3recBase is the time of every user's first interaction in an s3rec import; the
// following ones come one second apart (the files carry order, not time).
var s3recBase = time.Date(2014, 1, 1, 0, 0, 0, 0, time.UTC)

// s3recEvents turns "user item1 item2 …" lines into purchase events with ids
// "s3:<user>:<position>", so a rerun stores nothing twice.
func s3recEvents(r io.Reader) func() (fusionrank.Event, error) {
	sc := lineScanner(r)
	var user string
	var items []string
	pos := 0
	return func() (fusionrank.Event, error) {
		for pos >= len(items) {
			if !sc.Scan() {
				if err := sc.Err(); err != nil {
					return fusionrank.Event{}, err
				}
				return fusionrank.Event{}, features.Done()
			}
			f := strings.Fields(sc.Text())
			if len(f) < 2 {
				continue
			}
			user, items, pos = f[0], f[1:], 0
		}
		p := pos
		pos++
		return fusionrank.Event{EventID: "s3:" + user + ":" + strconv.Itoa(p), UserID: user, ItemID: items[p],
			Type: fusionrank.Purchase, Timestamp: s3recBase.Add(time.Duration(p) * time.Second)}, nil
	}
}

// s3recItems lists the items of a sequence file (ids in ascending numeric order), with
// their attribute ids from the item2attributes JSON as the attribute "attrs".
func s3recItems(r io.Reader, attrPath string) (func() (fusionrank.Item, error), error) {
	seen := map[string]bool{}
	var ids []string
	sc := lineScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for _, id := range f[min(1, len(f)):] {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sortNumeric(ids)
	attrs := map[string][]int{}
	if attrPath != "" {
		b, err := os.ReadFile(attrPath)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &attrs); err != nil {
			return nil, fmt.Errorf("%s: %w", attrPath, err)
		}
	}
	i := 0
	return func() (fusionrank.Item, error) {
		if i == len(ids) {
			return fusionrank.Item{}, features.Done()
		}
		id := ids[i]
		i++
		it := fusionrank.Item{ID: id, Title: "item " + id, Active: true}
		if a, ok := attrs[id]; ok {
			it.Attributes = map[string]any{"attrs": a}
		}
		return it, nil
	}, nil
}

func sortNumeric(ids []string) {
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	for i := 1; i < len(ids); i++ { // insertion sort is fine: ids arrive nearly sorted
		for j := i; j > 0 && (num(ids[j]) < num(ids[j-1]) || (num(ids[j]) == num(ids[j-1]) && ids[j] < ids[j-1])); j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
}

type retailSource struct {
	items  func() (fusionrank.Item, error)
	events func() (fusionrank.Event, error)
}

// retailRows reads the UCI Online Retail TSV (header InvoiceNo, StockCode, Description,
// Quantity, InvoiceDate in ns since epoch, UnitPrice, CustomerID, Country). Items: each
// StockCode with its last non-empty Description as title and last UnitPrice as price.
// Events: each invoice line with a CustomerID and a positive quantity, not a
// cancellation (InvoiceNo starting with C), as a purchase with id
// "or:<InvoiceNo>:<row>" (the row number makes reruns idempotent).
func retailRows(r io.Reader, items bool) (*retailSource, error) {
	sc := lineScanner(r)
	if !sc.Scan() {
		return nil, errors.New("online-retail: empty file")
	}
	col := map[string]int{}
	for i, h := range strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t") {
		col[strings.TrimSpace(h)] = i
	}
	for _, c := range []string{"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"} {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("online-retail: header lacks %s", c)
		}
	}
	get := func(f []string, c string) string {
		if i := col[c]; i < len(f) {
			return strings.TrimSpace(f[i])
		}
		return ""
	}
	src := &retailSource{}
	if items {
		type info struct {
			title string
			price float64
		}
		byID := map[string]*info{}
		var order []string
		for sc.Scan() {
			f := strings.Split(sc.Text(), "\t")
			id := get(f, "StockCode")
			if id == "" {
				continue
			}
			in := byID[id]
			if in == nil {
				in = &info{}
				byID[id] = in
				order = append(order, id)
			}
			if d := get(f, "Description"); d != "" && d != "?" {
				in.title = d
			}
			if p, err := strconv.ParseFloat(get(f, "UnitPrice"), 64); err == nil && p > 0 {
				in.price = p
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
		i := 0
		src.items = func() (fusionrank.Item, error) {
			if i == len(order) {
				return fusionrank.Item{}, features.Done()
			}
			id := order[i]
			i++
			in := byID[id]
			it := fusionrank.Item{ID: retailItemID(id), Title: strings.ToLower(in.title), Active: true, Category: retailCategory(in.title)}
			if in.price > 0 {
				p := in.price
				it.Price = &p
			}
			return it, nil
		}
		return src, nil
	}
	row := 1
	src.events = func() (fusionrank.Event, error) {
		for sc.Scan() {
			row++
			f := strings.Split(sc.Text(), "\t")
			inv, cust := get(f, "InvoiceNo"), get(f, "CustomerID")
			q, _ := strconv.ParseFloat(get(f, "Quantity"), 64)
			if cust == "" || strings.HasPrefix(inv, "C") || q <= 0 {
				continue
			}
			ns, err := strconv.ParseInt(get(f, "InvoiceDate"), 10, 64)
			if err != nil {
				return fusionrank.Event{}, fmt.Errorf("row %d: InvoiceDate %q is not ns since epoch", row, get(f, "InvoiceDate"))
			}
			cust = strings.TrimSuffix(cust, ".0")
			return fusionrank.Event{EventID: "or:" + inv + ":" + strconv.Itoa(row), UserID: "c" + cust, ItemID: retailItemID(get(f, "StockCode")),
				Type: fusionrank.Purchase, Timestamp: time.Unix(0, ns).UTC()}, nil
		}
		if err := sc.Err(); err != nil {
			return fusionrank.Event{}, err
		}
		return fusionrank.Event{}, features.Done()
	}
	return src, nil
}

// retailItemID makes a StockCode a valid item id.
func retailItemID(code string) string {
	var b strings.Builder
	for _, r := range code {
		if r < 128 && (r == '-' || r == '.' || r == '_' || (r >= '0' && r <= '9') || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z')) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return "sku-" + b.String()
}

// retailCategory takes the description's last word (HEART, BAG, MUG, …) as a coarse
// category: the data set has none, and the demo's filters and diversity want one.
func retailCategory(title string) string {
	f := strings.Fields(strings.ToLower(title))
	if len(f) == 0 {
		return ""
	}
	return strings.Trim(f[len(f)-1], ".,;:!?()'\"")
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
