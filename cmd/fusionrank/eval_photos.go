package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/fusionrank/fusionrank/evaluation/photos"
	"github.com/fusionrank/fusionrank/vision"
)

func runEvalPhotos(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	names := slices.Clone(photos.Models)
	fs := evalFlags("photos", "--data DIR [--split val] [--task photo|words] --model "+strings.Join(names, "|")+" --out DIR",
		"Photo search on a catalogue in the Grocery Store layout (classes.csv, train.txt, val.txt, …). Models\n"+
			"learn from the training split only. --task photo: every photo of --split is a query and all\n"+
			"products are ranked (each known by its web-shop photo, its description and what the model learned).\n"+
			"--task words: each product's name and each sentence of its description is a query, the products\n"+
			"known by their photos only. HR@1 (accuracy@1), HR@5, HR@10, NDCG@5, NDCG@10 and MRR, fine (products)\n"+
			"and coarse (coarse classes); ranks.tsv holds the fine ranks for `eval compare`.", stderr)
	data := fs.String("data", "", "catalogue folder, e.g. ../shared/datasets/grocery-store (required)")
	split := fs.String("split", "val", "evaluated split (never the training split)")
	task := fs.String("task", "photo", "photo (photo → product) or words (words → photo)")
	model := fs.String("model", "", "model: "+strings.Join(names, "|")+" (required)")
	encoder := fs.String("encoder", "", "model encoder and the fusion models (image, text, collab, shoppers, early, late, attention): the encoder file from `fusionrank train-images` (default: train one on the training split in this run)")
	kind := fs.String("kind", vision.KindFeatures, "model encoder without --encoder: the image network, features or cnn (as train-images --kind)")
	epochs := fs.Int("epochs", 0, "model encoder without --encoder: training epochs (0: the default of train-images)")
	seed := fs.Uint64("seed", 1, "model encoder without --encoder: training seed")
	holdOut := fs.Float64("fusion-holdout", 0, "share of each product's training photos held out of the encoder, for the learned fusions to fit on (a quarter of them to choose early fusion's and attention's epoch); 0: none, the fusions fit on the encoder's own photos. With --encoder, the file must come from train-images with the same --fusion-holdout, --holdout-seed and --holdout-scenes")
	holdOutSeed := fs.Uint64("holdout-seed", 1, "seed of the --fusion-holdout split")
	holdOutScenes := fs.Float64("holdout-scenes", photos.DefaultSceneThreshold, "--fusion-holdout holds out whole scenes: a product's photos whose fixed descriptors have at least this cosine, transitively; 0: single photos")
	vectors := fs.String("vectors", firstNonEmpty(os.Getenv("FUSIONRANK_TEXT_VECTORS"), defaultGlove), "GloVe-format word vectors for the text side (FUSIONRANK_TEXT_VECTORS)")
	out := fs.String("out", "", "output directory for metrics.json, report.md, plots and ranks.tsv (required)")
	workers := fs.Int("workers", 0, "goroutines (0: one per CPU)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *data == "" || *out == "" {
		fs.Usage()
		return errors.New("eval photos: --data and --out are required")
	}
	if err := checkModel(*model, names); err != nil {
		return fmt.Errorf("eval photos: %w", err)
	}
	t, err := photos.ParseTask(*task)
	if err != nil {
		return fmt.Errorf("eval photos: --task: %w", err)
	}
	if *kind != vision.KindFeatures && *kind != vision.KindCNN {
		return fmt.Errorf("eval photos: --kind %q: want %s or %s", *kind, vision.KindFeatures, vision.KindCNN)
	}
	if *epochs < 0 {
		return fmt.Errorf("eval photos: --epochs %d: want 0 (the default) or more", *epochs)
	}
	if !(*holdOut >= 0 && *holdOut < 1) {
		return fmt.Errorf("eval photos: --fusion-holdout %v: want 0 ≤ share < 1", *holdOut)
	}
	if !(*holdOutScenes >= 0 && *holdOutScenes <= 1) {
		return fmt.Errorf("eval photos: --holdout-scenes %v: want a cosine in [0, 1]", *holdOutScenes)
	}
	cfg := photos.Config{
		Data: *data, Split: *split, Task: t, Model: *model,
		Encoder: *encoder, Train: trainImagesOptions(*kind, *epochs, *seed), FusionHoldOut: *holdOut, HoldOutSeed: *holdOutSeed, HoldOutScenes: float32(*holdOutScenes),
		Vectors: *vectors, Workers: *workers,
		Command: "fusionrank eval photos " + strings.Join(args, " "), Progress: progressWriter(stderr, *quiet),
	}
	rep, err := photos.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("eval photos: %w", err)
	}
	return writeEval(rep, *out, stdout, stderr)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
