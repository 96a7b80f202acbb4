package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/postgres"
	"github.com/fusionrank/fusionrank/ranking"
	"github.com/fusionrank/fusionrank/recommend"
	"github.com/fusionrank/fusionrank/training"
)

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", "train [flags]", stderr)
	activate := fs.Bool("activate", false, "make the new version the active model")
	version := fs.String("version", "", "version name (default fr-YYYYMMDD-HHMMSS)")
	epochs := fs.Int("epochs", 0, "maximum epochs (0: the trainer's default)")
	seed := fs.Uint64("seed", 1, "random seed (same seed and data: same weights)")
	maxUsers := fs.Int("max-users", 0, "train on at most this many users (0: all), for quick runs")
	quiet := fs.Bool("quiet", false, "no progress")
	lr := fs.Float64("lr", 0, "learning rate (0: the trainer's default)")
	pseudoShare := fs.Float64("pseudo-share", 0, "least catalogue pseudo-queries per epoch as a share of the logged search examples (0: the trainer's default, 0.25; negative: none beyond filling up to the pseudo-query count)")
	patience := fs.Int("patience", 0, "epochs without a better validation before stopping (0: the trainer's default)")
	seq := fs.Bool("seq", true, "train the sequence encoder too (its score is the seq feature)")
	mix := fs.String("search-mix", "1", "weight of the search examples (logged searches, pseudo-queries) against the behavioural ones; several, comma-separated (say 0.5,1,2), train one model each and keep the best on the held-out cases (behavioural plus search NDCG@10)")
	querySlots := fs.Bool("query-slots", true, "give the model query slots (the search's words and a photo's vector) and train them on logged searches and catalogue pseudo-queries, when the shop has a text modality and FUSIONRANK_TEXT_VECTORS is set; false: a behavioural model without them")
	recent := fs.String("recent", "auto", "what the recent slots hold: auto (each candidate trained, the best on the held-out cases served), collab, or a catalogue modality such as text")
	fusionFlag := fs.String("fusion", "auto", "the fusion modes to train candidates with, the best on the held-out cases served: auto (attention, late, off), all (early too), or a comma-separated list of attention, early, late, off")
	cfg, err := loadConfig(os.Getenv, fs, args)
	if err != nil {
		return err
	}
	if _, err := parseMix(*mix); err != nil {
		return err
	}
	fusions, err := parseFusions(*fusionFlag)
	if err != nil {
		return err
	}
	if *version == "" {
		*version = "fr-" + time.Now().UTC().Format("20060102-150405")
	}
	if err := fusionrank.ValidateID("--version", *version); err != nil {
		return err
	}
	logf := func(format string, a ...any) {
		if !*quiet {
			fmt.Fprintf(stderr, format+"\n", a...)
		}
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	// The training data is read from the replica when there is one; the model is
	// registered on the primary.
	reads := db
	if replica, err := openReplica(ctx, cfg); err != nil {
		return err
	} else if replica != nil {
		defer replica.Close()
		reads = replica
	}
	start := time.Now()
	data, ids, err := loadTrainingData(ctx, reads, cfg, *maxUsers, logf)
	if err != nil {
		return err
	}
	nSearch := 0
	if *querySlots {
		if nSearch, err = loadSearchData(ctx, reads, cfg, data, ids, logf); err != nil {
			return err
		}
	} else {
		logf("--query-slots=false: no query slots, no search examples")
	}
	if len(data.Users) == 0 && nSearch == 0 {
		return fusionrank.Errorf(fusionrank.Conflict, "no events or searches to learn from: import or send events first")
	}
	// Validation: each user's last event, predicted from the events before it.
	in, val := training.HoldOut(data.Data)
	data.Data = in
	logf("training on %d users, %d items, %d searches, %d validation cases (%.1fs to load)", len(data.Users), data.NumItems, len(data.Searches), len(val), time.Since(start).Seconds())
	// training's servable defaults; --seed and --epochs override them. The
	// candidates (which modality the recent slots hold) are trained on the same
	// held-out cases and the best is served.
	opt := training.ServeOptions()
	if !*seq {
		opt = training.ScorerOptions()
	}
	opt.Seed = *seed
	opt.OnSeqEpoch = func(e int, loss, v float64) {
		logf("sequence encoder epoch %d: loss %.4f, validation NDCG@10 %.4f", e, loss, v)
	}
	if *epochs > 0 {
		opt.Epochs = *epochs
	}
	searchOptions(&opt, *mix)
	if *lr > 0 {
		opt.LR = *lr
	}
	if *patience > 0 {
		opt.Patience = *patience
	}
	opt.PseudoShare = *pseudoShare
	opt.Stop = ctx.Done() // SIGINT/SIGTERM stop training at its next batch
	cands := training.ServeCandidates(data.Data, opt, fusions)
	if *recent != "auto" {
		// Off does not read the recent slots: it stays a candidate.
		var keep []training.Candidate
		found := false
		names := []string{}
		for _, c := range cands {
			if c.Recent != "" && !slices.Contains(names, c.Recent) {
				names = append(names, c.Recent)
			}
			if c.Recent == *recent || c.Recent == "" {
				keep = append(keep, c)
				found = found || c.Recent == *recent
			}
		}
		if !found && len(names) > 0 {
			return fusionrank.Errorf(fusionrank.Invalid, "--recent %q: want auto or one of %s for this shop", *recent, strings.Join(names, ", "))
		}
		cands = keep
	}
	// On SIGINT/SIGTERM return at once (nothing was registered); training itself
	// stops at its next batch (Options.Stop).
	type trained struct {
		res    *training.Result
		chosen int
		tried  []training.Tried
		err    error
	}
	done := make(chan trained, 1)
	go func() {
		res, k, tried, err := training.Choose(data.Data, val, cands)
		done <- trained{res, k, tried, err}
	}()
	var res *training.Result
	var t trained
	select {
	case <-ctx.Done():
		return fmt.Errorf("train: interrupted; nothing registered: %w", ctx.Err())
	case t = <-done:
		if t.err != nil {
			return t.err
		}
		res = t.res
	}
	// Every candidate's held-out figures and the choice: the result of the run, so on
	// stdout (the registry keeps them in notes.candidates and notes.chosen).
	for _, c := range t.tried {
		line := fmt.Sprintf("candidate %-28s fusion %-9s held-out NDCG@10 %.4f", c.Name, c.Fusion, c.Validation)
		if !math.IsNaN(c.SearchValidation) {
			line += fmt.Sprintf(", searches NDCG@10 %.4f", c.SearchValidation)
		}
		fmt.Fprintf(stdout, "%s (kept epoch %d, %.0fs)\n", line, c.BestEpoch, c.Seconds)
	}
	fmt.Fprintf(stdout, "chosen: %s (fusion %s)\n", t.tried[t.chosen].Name, t.tried[t.chosen].Fusion)
	for e := range res.Curve.Loss {
		logf("epoch %d: loss %.4f, validation NDCG@10 %.4f, search validation NDCG@10 %.4f", e+1, res.Curve.Loss[e], res.Curve.Validation[e], res.Curve.SearchValidation[e])
	}
	popNDCG := training.PopularityNDCG(data.Data, val, 10)
	metrics := map[string]float64{"NDCG@10": res.BestValidation, "pop_NDCG@10": popNDCG, "best_epoch": float64(res.BestEpoch),
		"validation_cases": float64(len(val)), "train_seconds": time.Since(start).Seconds()}
	searchMetrics(metrics, res, *mix)
	if res.Layout.Words > 0 {
		logf("search: %d examples from logs, %d pseudo-queries per epoch, mix %g; validation searches NDCG@10 %.4f (engine order %.4f); engine_score weight %.4f",
			res.SearchExamples, res.PseudoQueries, res.SearchMix, res.SearchValidation, res.EngineValidation, res.Model.U[ranking.FeatEngine])
	}
	logf("validation NDCG@10: fusion %.4f, popularity %.4f", res.BestValidation, popNDCG)

	learned := map[string]map[string][]float32{}
	var learnedMods []string
	for _, mod := range []string{"collab", "attr"} {
		vecs := res.ItemVectors(mod)
		if vecs == nil {
			continue
		}
		learnedMods = append(learnedMods, mod)
		for i, v := range vecs {
			if v == nil {
				continue
			}
			if learned[ids[i]] == nil {
				learned[ids[i]] = map[string][]float32{}
			}
			learned[ids[i]][mod] = v
		}
	}
	candidates := map[string]any{}
	for _, c := range t.tried {
		note := map[string]any{"best_epoch": c.BestEpoch, "train_seconds": c.Seconds, "fusion": c.Fusion}
		// NaN (no such held-out cases: a shop with searches only has no behavioural
		// ones) is left out: JSON has no NaN.
		if !math.IsNaN(c.Validation) {
			note["NDCG@10"] = c.Validation
		}
		if !math.IsNaN(c.SearchValidation) {
			note["search_NDCG@10"] = c.SearchValidation
		}
		candidates[c.Name] = note
	}
	spec := recommend.Spec{Ranking: res.Model.Config(), Layout: res.Layout, Features: ranking.FeatureNames, Learned: learnedMods,
		Notes: map[string]any{"users": len(data.Users), "items": data.NumItems, "seed": *seed,
			"chosen": t.tried[t.chosen].Name, "fusion": t.tried[t.chosen].Fusion, "candidates": candidates}}
	if res.Model.Config().ModalityIndex(features.PhotoModality) >= 0 {
		spec.PhotoEncoder = data.photoEncoder
	}
	enc, rows, err := res.SeqEncoder()
	if err != nil {
		return err
	}
	if enc != nil {
		// The encoder's rows of the items it saw in training.
		seen := make([]bool, data.NumItems)
		for _, seq := range data.Users {
			for _, e := range seq {
				seen[e.Item] = true
			}
		}
		spec.Seq = enc
		metrics["seq_weight"] = res.SeqWeight
		for i, row := range rows {
			if !seen[i] {
				continue
			}
			if learned[ids[i]] == nil {
				learned[ids[i]] = map[string][]float32{}
			}
			learned[ids[i]][recommend.SeqModality] = row
		}
	}
	for k, v := range metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(metrics, k) // no such cases (a shop with searches only has no behavioural validation)
		}
	}
	reg := recommend.NewRegistry(db)
	if err := reg.Register(ctx, *version, res.Model, res.RecencyEmbedding, spec, metrics, data.sha, learned); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "registered %s (validation NDCG@10 %.4f vs popularity %.4f, %.0fs)\n", *version, res.BestValidation, popNDCG, time.Since(start).Seconds())
	if *activate {
		if _, err := reg.ActivateModel(ctx, *version); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "activated %s\n", *version)
	}
	return nil
}

type trainingData struct {
	*training.Data
	sha          string
	photoEncoder string         // the image encoder of the photo modality's vectors ("" without)
	users        map[string]int // user id → index in Data.Users
}

// loadTrainingData reads the catalogue's fixed vectors and attributes and the event log
// in time order (the feature store's point-in-time export) into the trainer's form.
// ids[i] is the item id of dense index i.
func loadTrainingData(ctx context.Context, db *postgres.DB, cfg Config, maxUsers int, logf func(string, ...any)) (*trainingData, []string, error) {
	index := map[string]int32{}
	var ids []string
	metas, err := features.ItemAttributes(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range metas {
		index[m.ID] = int32(len(ids))
		ids = append(ids, m.ID)
	}
	d := &training.Data{NumItems: len(ids)}
	// Fixed modalities: text and the caller-supplied ones, as stored.
	fixed := map[string]*training.FixedModality{}
	err = features.EachFixedVector(ctx, db, func(id, mod string, dim int, v []float32) {
		i, ok := index[id]
		if !ok {
			return
		}
		f := fixed[mod]
		if f == nil {
			f = &training.FixedModality{Name: mod, Dim: dim, Vectors: make([][]float32, len(ids))}
			fixed[mod] = f
		}
		if dim == f.Dim && v != nil {
			f.Vectors[i] = v
		}
	})
	if err != nil {
		return nil, nil, err
	}
	// The photo modality: the active image encoder's vectors; the model records the
	// encoder's version and reads photo vectors of that version only.
	photoVersion, photoVecs, err := features.PhotoVectors(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	if len(photoVecs) > 0 {
		f := &training.FixedModality{Name: features.PhotoModality, Vectors: make([][]float32, len(ids))}
		for id, v := range photoVecs {
			if i, ok := index[id]; ok {
				f.Dim, f.Vectors[i] = len(v), v
			}
		}
		if f.Dim > 0 {
			fixed[f.Name] = f
		}
	}
	names := make([]string, 0, len(fixed))
	for n := range fixed {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d.Fixed = append(d.Fixed, *fixed[n])
	}
	// Attributes: category, brand and every attribute value, as "key=value" tokens.
	attrIndex := map[string]int32{}
	d.Attributes = make([][]int32, len(ids))
	for i, m := range metas {
		var toks []string
		if m.Category != "" {
			toks = append(toks, "category="+m.Category)
		}
		if m.Brand != "" {
			toks = append(toks, "brand="+m.Brand)
		}
		for k, v := range m.Attributes {
			switch v := v.(type) {
			case []any:
				for _, x := range v {
					toks = append(toks, fmt.Sprintf("%s=%v", k, x))
				}
			case string, float64, bool:
				toks = append(toks, fmt.Sprintf("%s=%v", k, v))
			}
		}
		for _, t := range toks {
			a, ok := attrIndex[t]
			if !ok {
				a = int32(len(attrIndex))
				attrIndex[t] = a
			}
			d.Attributes[i] = append(d.Attributes[i], a)
		}
	}
	d.NumAttributes = len(attrIndex)
	if d.NumAttributes == 0 {
		d.Attributes = nil
	}
	// Events, in time order, through the point-in-time export.
	store := features.New(db, nil, features.Options{Rules: features.ProfileRules{HalfLife: cfg.HalfLife, Weights: cfg.EventWeights}})
	users := map[string]int{}
	h := sha256.New()
	n, err := store.Export(ctx, features.ExportOptions{MaxHistory: 1}, func(ex features.Example) error {
		ev := ex.Event
		fmt.Fprintf(h, "%s\x00%d\n", ev.EventID, ev.Timestamp.UnixNano())
		i, ok := index[ev.ItemID]
		if !ok {
			return nil
		}
		u, ok := users[ev.UserID]
		if !ok {
			if maxUsers > 0 && len(users) >= maxUsers {
				return nil
			}
			u = len(d.Users)
			users[ev.UserID] = u
			d.Users = append(d.Users, nil)
		}
		w := cfg.EventWeights[ev.Type]
		d.Users[u] = append(d.Users[u], training.Event{Item: i, Time: ev.Timestamp.Unix(), Weight: float32(w)})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	logf("read %d events of %d users; %d items, %d attributes, fixed modalities %s", n, len(users), len(ids), d.NumAttributes, strings.Join(names, ","))
	return &trainingData{photoEncoder: photoVersion, Data: d, sha: hex.EncodeToString(h.Sum(nil)), users: users}, ids, nil
}

// parseFusions reads --fusion: auto (training.ServeFusions), all (every mode), or a
// comma-separated list of modes.
func parseFusions(s string) ([]string, error) {
	switch s {
	case "auto":
		return training.ServeFusions, nil
	case "all":
		return training.FusionModes, nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(training.FusionModes, f) {
			return nil, fusionrank.Errorf(fusionrank.Invalid, "--fusion %q: want auto, all or a comma-separated list of %s", s, strings.Join(training.FusionModes, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}
