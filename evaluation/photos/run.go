package photos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/features/text"
	"github.com/fusionrank/fusionrank/vision"
	"github.com/fusionrank/fusionrank/vision/photoset"
)

// Models lists the built-in models: the descriptor, the encoder and the
// comparison models of the fusion question (FusionModels).
var Models = append([]string{"descriptor", "encoder"}, FusionModels...)

// Ks are the cutoffs of HR@k; NDCG is reported at the cutoffs above 1.
var Ks = []int{1, 5, 10}

// Config is what `fusionrank eval photos` passes to Run.
type Config struct {
	// Data is the folder in the Grocery Store layout (required).
	Data string
	// Split is the evaluated split; default "val". It must not be the
	// training split.
	Split string
	// TrainSplit is what models learn from; default "train".
	TrainSplit string
	// Task is the task evaluated (photo or words).
	Task Task
	// Model is one of Models or a name in Extra.
	Model string
	// Extra maps further model names to constructors (the fusion models of
	// the comparison add themselves here).
	Extra map[string]func() Model
	// Encoder is the encoder file of model "encoder"; empty: train one on
	// TrainSplit with Train.
	Encoder string
	// Train are the training options of model "encoder" without a file.
	Train vision.TrainOptions
	// FusionHoldOut is the share of each product's training photos held
	// out of the encoder for the learned fusions (SplitTraining); 0 (the
	// default): none, the fusions are fitted on the encoder's own
	// training photos. HoldOutSeed seeds the split.
	FusionHoldOut float64
	HoldOutSeed   uint64
	// HoldOutScenes is the scene threshold of the hold-out
	// (photoset.Scenes; the fusion photos are whole scenes); 0: single
	// photos. `eval photos` defaults it to DefaultSceneThreshold.
	HoldOutScenes float32
	// Vectors is the path of GloVe-format word vectors (the text side of
	// both tasks; required for words).
	Vectors string
	// Workers bounds the goroutines; 0 means GOMAXPROCS.
	Workers int
	// Command is the command line, recorded in report.md.
	Command string
	// Progress, when not nil, receives progress (normally os.Stderr).
	Progress io.Writer
}

// Published are the anchors from the literature on this data (test split,
// 81 fine and 43 coarse classes): ImageNet-pretrained CNNs fine-tuned.
var Published = []evaluation.Row{{
	Label: "ImageNet-pretrained CNN, fine-tuned (published, test split)",
	Metrics: evaluation.Metrics{
		{Name: "HR", K: 1, Value: 0.860},
		{Name: "coarse_HR", K: 1, Value: 0.920},
	},
}}

// Run reads the catalogue, fits the model on the training split and scores
// every query of the evaluated split for the task: each shopper photo
// (TaskPhoto), or each product's name and each sentence of its description
// (TaskWords). It returns the report: HR@1 (accuracy@1), HR@5, HR@10,
// NDCG@5, NDCG@10 and MRR over the products (fine) and the same with the
// prefix coarse_ over the coarse classes, the model's variants as extra
// rows, and the ranks of the fine targets for `eval compare`. It writes
// nothing.
func Run(ctx context.Context, cfg Config) (evaluation.Report, error) {
	start := time.Now()
	var rep evaluation.Report
	if cfg.Data == "" {
		return rep, errors.New("photos: no data folder")
	}
	if cfg.Split == "" {
		cfg.Split = "val"
	}
	if cfg.TrainSplit == "" {
		cfg.TrainSplit = "train"
	}
	if cfg.Split == cfg.TrainSplit {
		return rep, fmt.Errorf("photos: the evaluated split %q is the training split", cfg.Split)
	}
	m, err := newModel(cfg)
	if err != nil {
		return rep, err
	}
	set, err := photoset.Open(cfg.Data)
	if err != nil {
		return rep, err
	}
	train, err := set.Split(cfg.TrainSplit)
	if err != nil {
		return rep, err
	}
	evalPhotos, err := set.Split(cfg.Split)
	if err != nil {
		return rep, err
	}
	sum, err := Checksum(set, cfg.Split)
	if err != nil {
		return rep, err
	}
	var words *text.Encoder
	if cfg.Vectors != "" {
		progressf(cfg.Progress, "photos: loading word vectors %s\n", cfg.Vectors)
		if words, err = text.LoadFile(cfg.Vectors); err != nil {
			return rep, err
		}
	} else if cfg.Task == TaskWords {
		return rep, errors.New("photos: the words task needs word vectors")
	}
	parts, err := TrainingParts(ctx, train, cfg.FusionHoldOut, cfg.HoldOutScenes, cfg.HoldOutSeed)
	if err != nil {
		return rep, err
	}
	progressf(cfg.Progress, "photos: fitting %s on %d %s photos (encoder %d, fusion fit %d, selection %d)\n",
		cfg.Model, len(train), cfg.TrainSplit, len(parts.Encoder), len(parts.Fit), len(parts.Select))
	d := &Data{Task: cfg.Task, Set: set, Train: train, Parts: parts, Text: words, Workers: cfg.Workers, Progress: cfg.Progress}
	if err := m.Fit(ctx, d); err != nil {
		return rep, fmt.Errorf("photos: fit %s: %w", cfg.Model, err)
	}
	variants := m.Variants(cfg.Task)
	coarseOf := make([]int, len(set.Products))
	for i, p := range set.Products {
		coarseOf[i] = p.Coarse
	}
	sc := newScorer(len(variants), len(set.Products), len(set.Coarse), coarseOf)
	var cases []target
	if cfg.Task == TaskWords {
		var queries []string
		for _, p := range set.Products {
			for _, t := range p.Texts() {
				queries = append(queries, t)
				cases = append(cases, target{p.ID, p.Coarse})
			}
		}
		sc.grow(len(cases))
		bar := evaluation.NewProgress(cfg.Progress, len(queries), "photos: words "+cfg.Model)
		var bad error
		var mu sync.Mutex
		parallelFor(ctx, len(queries), cfg.Workers, func(i int, buf [][]float32) {
			if !m.ScoreTo(buf, TaskWords, Query{Words: queries[i]}) {
				mu.Lock()
				bad = fmt.Errorf("photos: model %s cannot link words to photos", cfg.Model)
				mu.Unlock()
				return
			}
			sc.record(i, buf, cases[i])
			bar.Add(1)
		}, sc.newBuf)
		bar.Finish()
		if bad != nil {
			return rep, bad
		}
	} else {
		paths := make([]string, len(evalPhotos))
		for i, ph := range evalPhotos {
			paths[i] = ph.Path
			cases = append(cases, target{ph.Product, ph.Coarse})
		}
		sc.grow(len(cases))
		bar := evaluation.NewProgress(cfg.Progress, len(paths), "photos: scoring "+cfg.Model)
		bufs := sync.Pool{New: func() any { return sc.newBuf() }}
		var bad error
		var mu sync.Mutex
		err := photoset.DecodeAll(ctx, paths, func(i int, img image.Image) {
			buf := bufs.Get().([][]float32)
			defer bufs.Put(buf)
			if !m.ScoreTo(buf, TaskPhoto, Query{Photo: img}) {
				mu.Lock()
				bad = fmt.Errorf("photos: model %s cannot score photos", cfg.Model)
				mu.Unlock()
				return
			}
			sc.record(i, buf, cases[i])
			bar.Add(1)
		})
		bar.Finish()
		if err != nil {
			return rep, err
		}
		if bad != nil {
			return rep, bad
		}
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("photos: %w", err)
	}
	rows := sc.metrics()
	rep = evaluation.Report{
		Dataset:      filepath.Base(filepath.Clean(cfg.Data)) + "/" + cfg.Split,
		SHA256:       sum,
		Model:        cfg.Model,
		ModelVersion: versionOf(m),
		CountKey:     evaluation.CountQueries,
		Count:        len(cases),
		Metrics:      rows[0],
		Title:        fmt.Sprintf("Grocery Store %s, %s: %s", cfg.Split, taskTitle(cfg.Task), cfg.Model),
		Command:      cfg.Command,
		Ranks:        sc.fine[0],
	}
	for v := 1; v < len(variants); v++ {
		rep.Extra = append(rep.Extra, evaluation.Row{Label: cfg.Model + ": " + variants[v], Metrics: rows[v]})
	}
	if cfg.Task == TaskPhoto {
		rep.Published = Published
	}
	if ps, ok := m.(PhotoSpace); ok && cfg.Task == TaskWords {
		row, err := unseenWordsRow(set, words, cases, ps.ProductPhotoVectors(), coarseOf)
		if err != nil {
			return rep, err
		}
		rep.Extra = append(rep.Extra, evaluation.Row{Label: cfg.Model + ": products unseen by the text link (linear, 5 folds)", Metrics: row, Plot: true})
	}
	rep.Notes = append(rep.Notes, protocolNote(cfg, set, len(train), len(cases), variants[0]))
	if parts.HoldOut > 0 {
		unit := "single photos"
		if parts.Scenes > 0 {
			unit = fmt.Sprintf("whole scenes (a product's photos linked by a fixed-descriptor cosine of at least %v)", parts.Scenes)
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("Fusion hold-out %v (seed %d), by %s: the encoder learns from %d of the %d training photos; the other %d (about that share of each product's photos) are queries it never saw, %d to fit the learned fusions on and %d to choose their epoch on.",
			parts.HoldOut, cfg.HoldOutSeed, unit, len(parts.Encoder), len(train), len(parts.Fit)+len(parts.Select), len(parts.Fit), len(parts.Select)))
	}
	if fn, ok := m.(interface{ FitNote() string }); ok && fn.FitNote() != "" {
		rep.Notes = append(rep.Notes, fn.FitNote())
	}
	if cr, ok := m.(evaluation.CurveReporter); ok {
		if c := cr.TrainingCurve(); c != nil && len(c.Loss) > 0 {
			rep.Curve = c
		}
	}
	if ts, ok := m.(interface{ TrainSeconds() float64 }); ok && ts.TrainSeconds() > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("The encoder was trained in this run on %d photos of the %s split: %.0f s.", len(parts.Encoder), cfg.TrainSplit, ts.TrainSeconds()))
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// unseenWordsRow builds the words queries' pooled vectors (in the order of
// cases: each product's Texts) and measures them against products the text
// link never saw (see PhotoSpace).
func unseenWordsRow(set *photoset.Set, words *text.Encoder, cases []target, photos [][]float32, coarseOf []int) (evaluation.Metrics, error) {
	var queries [][]float32
	texts := make([][][]float32, len(set.Products))
	for c, p := range set.Products {
		for _, t := range p.Texts() {
			v := make([]float32, words.Dim())
			if known, _ := words.EncodeTo(v, t); known > 0 {
				queries = append(queries, v)
				texts[c] = append(texts[c], v)
			} else {
				queries = append(queries, nil)
			}
		}
	}
	if len(queries) != len(cases) {
		return nil, fmt.Errorf("photos: %d words queries for %d cases", len(queries), len(cases))
	}
	return unseenWords(texts, queries, cases, photos, coarseOf, len(set.Coarse))
}

// versionOf returns the model's Version, or "none".
func versionOf(m Model) string {
	if v, ok := m.(evaluation.Versioner); ok {
		return v.Version()
	}
	return "none"
}

func taskTitle(t Task) string {
	if t == TaskWords {
		return "words → photo"
	}
	return "photo → product"
}

func protocolNote(cfg Config, set *photoset.Set, nTrain, nCases int, headline string) string {
	s := fmt.Sprintf("Models learn from the %d photos of the %s split (and the catalogue: %d products in %d coarse classes, each with a web-shop photo and a description). ",
		nTrain, cfg.TrainSplit, len(set.Products), len(set.Coarse))
	if cfg.Task == TaskWords {
		s += fmt.Sprintf("Each of the %d queries is a product's name or one sentence of its description; the products are known by their photos only (no text), so only a learned text–image link can rank them. "+
			"The queries are catalogue text: the models' text sides were fitted on the same names and sentences, so the headline measures how well the learned link ties a shop's own words to its photos. "+
			"The row \"products unseen by the text link\" answers each product's queries through a linear map from word vectors to the model's photo space fitted on the other folds' products only (%d folds, seeded): words for products the link never saw. ", nCases, UnseenFolds)
	} else {
		s += fmt.Sprintf("Each of the %d photos of the %s split is a query; all %d products are ranked. ", nCases, cfg.Split, len(set.Products))
	}
	s += fmt.Sprintf("The headline row represents each product by %s. HR@1 is accuracy@1. Coarse metrics rank the coarse classes, each scored by its best product. "+
		"Tied scores count as the expectation over a random order.", headline)
	return s
}

// newModel builds cfg.Model.
func newModel(cfg Config) (Model, error) {
	if f, ok := cfg.Extra[cfg.Model]; ok {
		return f(), nil
	}
	switch cfg.Model {
	case "descriptor":
		return &DescriptorModel{}, nil
	case "encoder":
		return &EncoderModel{Path: cfg.Encoder, Train: cfg.Train}, nil
	}
	if slices.Contains(FusionModels, cfg.Model) {
		return NewFusionModel(cfg.Model, EncoderModel{Path: cfg.Encoder, Train: cfg.Train}), nil
	}
	names := slices.Clone(Models)
	for n := range cfg.Extra {
		names = append(names, n)
	}
	slices.Sort(names)
	return nil, fmt.Errorf("photos: unknown model %q (want one of %v)", cfg.Model, names)
}

// Checksum returns the hex SHA-256 of what a run of split reads besides the
// training photos: classes.csv, every web-shop photo and description, the
// split file and every photo it lists (each file hashed, then the list of
// relative paths and hashes hashed in order).
func Checksum(set *photoset.Set, split string) (string, error) {
	files := []string{filepath.Join(set.Dir, "classes.csv")}
	for _, p := range set.Products {
		if p.Iconic != "" {
			files = append(files, p.Iconic)
		}
	}
	files = append(files, set.SplitPath(split))
	photos, err := set.Split(split)
	if err != nil {
		return "", err
	}
	for _, ph := range photos {
		files = append(files, ph.Path)
	}
	h := sha256.New()
	for _, f := range files {
		s, err := evaluation.FileSHA256(f)
		if err != nil {
			return "", fmt.Errorf("photos: checksum: %w", err)
		}
		rel, err := filepath.Rel(set.Dir, f)
		if err != nil {
			rel = f
		}
		fmt.Fprintf(h, "%s %s\n", filepath.ToSlash(rel), s)
	}
	for _, p := range set.Products {
		fmt.Fprintf(h, "description %d %x\n", p.ID, sha256.Sum256([]byte(p.Description)))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func progressf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}
