package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/evaluation/rerank"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/features/text"
)

// runImportSearches runs `fusionrank import searches --format homedepot FILE`: a
// relevance judgement set loaded as search logs, so a data set and live traffic take one
// path into training and evaluation. Each query is a search, each judged product an
// impression (and an item of the catalogue, by its product id and title), its grade the
// outcome (relevance − 1, the NDCG gain); the engine score of each impression is BM25
// over the titles of the training searches' products (the search engine a shop would
// run, whose score it passes in rerank requests). --holdout keeps a share of the
// queries out of training (split by query with --seed, the split of `fusionrank eval
// rerank --train FILE`), for `fusionrank eval rerank --model served`.
func runImportSearches(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import searches", "import searches --format homedepot [--holdout FRACTION] FILE", stderr)
	format := fs.String("format", "homedepot", "homedepot (the Home Depot search relevance CSV: id, product_uid, product_title, search_term, relevance)")
	holdout := fs.Float64("holdout", 0, "share of the queries kept out of training, for evaluation (0: none)")
	seed := fs.Uint64("seed", rerank.DefaultSeed, "seed of the held-out split")
	engine := fs.String("engine", "bm25", "the engine score of each impression: bm25 (fitted on the training queries' titles) or none")
	cfg, err := loadConfig(os.Getenv, fs, args)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("give exactly one input FILE")
	}
	if *format != "homedepot" {
		return fusionrank.Errorf(fusionrank.Invalid, "--format %q: expected homedepot", *format)
	}
	if !(*holdout >= 0 && *holdout < 1) {
		return fusionrank.Errorf(fusionrank.Invalid, "--holdout %v: want a share in [0, 1)", *holdout)
	}
	if *engine != "bm25" && *engine != "none" {
		return fusionrank.Errorf(fusionrank.Invalid, "--engine %q: expected bm25 or none", *engine)
	}
	if cfg.TextVectors == "" {
		return errors.New("import searches: the items need the text encoder: set FUSIONRANK_TEXT_VECTORS")
	}
	start := time.Now()
	qs, err := rerank.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	train, test := rerank.SplitByQuery(qs, *holdout, *seed)
	var bm *rerank.BM25
	if *engine == "bm25" {
		if bm, err = rerank.NewBM25(rerank.DefaultBM25); err != nil {
			return err
		}
		if err := bm.Fit(ctx, train); err != nil {
			return err
		}
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	enc, err := text.LoadFile(cfg.TextVectors)
	if err != nil {
		return fmt.Errorf("FUSIONRANK_TEXT_VECTORS: %w", err)
	}
	if cfg.TextSubwords {
		enc = enc.WithSubwords()
	}
	store := features.New(db, nil, features.Options{Text: enc, Namespace: cfg.RedisNamespace,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})

	// The judged products become the catalogue's items.
	var items []fusionrank.Item
	seen := map[string]bool{}
	for _, q := range qs {
		for _, it := range q.Items {
			if !seen[it.ProductUID] {
				seen[it.ProductUID] = true
				items = append(items, fusionrank.Item{ID: it.ProductUID, Title: it.Title, Active: true})
			}
		}
	}
	k := 0
	next := func() (fusionrank.Item, error) {
		if k == len(items) {
			return fusionrank.Item{}, features.Done()
		}
		k++
		return items[k-1], nil
	}
	rejected := 0
	st, err := store.ImportItems(ctx, next, func(n int, err error) {
		rejected++
		if rejected <= 20 {
			fmt.Fprintf(stderr, "item %d: %s\n", n, fusionrank.ErrorMessage(err))
		}
	}, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "items: read %d, stored %d, rejected %d\n", st.Read, st.Accepted, st.Rejected)

	// The searches, one per query, replacing an earlier import of the same queries.
	log := features.NewSearchLog(db, nil)
	at := time.Now().UTC()
	held := make(map[string]bool, len(test)) // query texts are unique: the reader groups by text
	for _, q := range test {
		held[q.Text] = true
	}
	var batch []features.Search
	var ids []string
	nImp := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := log.Delete(ctx, ids); err != nil {
			return err
		}
		if err := log.Write(ctx, batch); err != nil {
			return err
		}
		batch, ids = batch[:0], ids[:0]
		return nil
	}
	for _, q := range qs {
		h := sha256.Sum256([]byte(q.Text))
		s := features.Search{ID: "homedepot-" + hex.EncodeToString(h[:8]), At: at, Source: features.SearchFromImport,
			Text: q.Text, Judged: true, Holdout: held[q.Text]}
		for _, it := range q.Items {
			grade := it.Gain()
			im := features.Impression{ItemID: it.ProductUID, Grade: &grade}
			if bm != nil {
				e := bm.Score(q.Text, it.Title)
				im.EngineScore = &e
			}
			s.Impressions = append(s.Impressions, im)
		}
		nImp += len(s.Impressions)
		batch = append(batch, s)
		ids = append(ids, s.ID)
		if len(batch) >= 2000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "searches: %d (%d held out), %d impressions in %.1fs\n", len(qs), len(test), nImp, time.Since(start).Seconds())
	return nil
}
