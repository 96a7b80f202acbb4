package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fusionrank/fusionrank/evaluation/photos"
	"github.com/fusionrank/fusionrank/features/text"
	"github.com/fusionrank/fusionrank/vision"
	"github.com/fusionrank/fusionrank/vision/photoset"
)

// trainImagesOptions returns the encoder training options of
// `fusionrank train-images` (and of `eval photos --model encoder` without
// a file): the package defaults for the kind (vision.KindFeatures unless
// kind says otherwise), with epochs (when positive) and seed.
func trainImagesOptions(kind string, epochs int, seed uint64) vision.TrainOptions {
	cfg := vision.DefaultFeaturesConfig
	if kind == vision.KindCNN {
		cfg = vision.DefaultConfig
		cfg.Kind = vision.KindCNN
	}
	cfg.TextHidden = 0
	return vision.TrainOptions{Config: cfg, Epochs: epochs, Seed: seed}
}

func runTrainImages(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train-images", "train-images --data DIR --out FILE [flags]", stderr)
	data := fs.String("data", "", "catalogue folder in the Grocery Store layout: classes.csv, SPLIT.txt, photos (required)")
	out := fs.String("out", "", "encoder file to write (safetensors; required)")
	split := fs.String("split", "train", "the split to train on")
	heldOut := fs.String("held-out", "", "a split scored after every epoch (accuracy@1 of the nearest learned product vector), never trained on; empty: none")
	vectors := fs.String("vectors", firstNonEmpty(os.Getenv("FUSIONRANK_TEXT_VECTORS"), defaultGlove), "GloVe-format word vectors for the text tower (FUSIONRANK_TEXT_VECTORS); empty: no text tower")
	epochs := fs.Int("epochs", 0, "training epochs (0: the default, "+strconv.Itoa(defaultImageEpochs())+")")
	seed := fs.Uint64("seed", 1, "seed of the initial weights, the photo order and the augmentation")
	holdOut := fs.Float64("fusion-holdout", 0, "share of each product's photos of --split held out of the training (as `eval photos --fusion-holdout` holds them out for the learned fusions); 0: none")
	holdOutSeed := fs.Uint64("holdout-seed", 1, "seed of the --fusion-holdout split")
	holdOutScenes := fs.Float64("holdout-scenes", photos.DefaultSceneThreshold, "--fusion-holdout holds out whole scenes: a product's photos whose fixed descriptors have at least this cosine, transitively; 0: single photos")
	workers := fs.Int("workers", 0, "goroutines (0: one per CPU); the result does not depend on it")
	kind := fs.String("kind", vision.KindFeatures, "image network: features (hand-made colour and gradient features through a learned hidden layer) or cnn (a convolutional network)")
	size := fs.Int("size", vision.DefaultConfig.Size, "side of the square photos are resampled to")
	hidden := fs.Int("hidden", vision.DefaultFeaturesConfig.Hidden, "kind features: width of the hidden layer")
	widths := fs.String("widths", joinInts(vision.DefaultConfig.Widths), "kind cnn: channels of each stage of the network, comma-separated")
	depth := fs.Int("depth", vision.DefaultConfig.Depth, "kind cnn: 3×3 convolutions per stage")
	dim := fs.Int("dim", vision.DefaultConfig.Dim, "embedding dimension")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *data == "" || *out == "" {
		fs.Usage()
		return errors.New("train-images: --data and --out are required")
	}
	if *epochs < 0 {
		return fmt.Errorf("train-images: --epochs %d: want 0 (the default) or more", *epochs)
	}
	if *kind != vision.KindFeatures && *kind != vision.KindCNN {
		return fmt.Errorf("train-images: --kind %q: want %s or %s", *kind, vision.KindFeatures, vision.KindCNN)
	}
	if !(*holdOut >= 0 && *holdOut < 1) {
		return fmt.Errorf("train-images: --fusion-holdout %v: want 0 ≤ share < 1", *holdOut)
	}
	if !(*holdOutScenes >= 0 && *holdOutScenes <= 1) {
		return fmt.Errorf("train-images: --holdout-scenes %v: want a cosine in [0, 1]", *holdOutScenes)
	}
	o := trainImagesOptions(*kind, *epochs, *seed)
	o.Workers = *workers
	if *kind == vision.KindCNN {
		ws, err := parseInts(*widths)
		if err != nil {
			return fmt.Errorf("train-images: --widths: %w", err)
		}
		o.Config = vision.Config{Kind: vision.KindCNN, Size: *size, Widths: ws, Depth: *depth, Dim: *dim}
	} else {
		o.Config = vision.Config{Kind: vision.KindFeatures, Size: *size, Hidden: *hidden, Dim: *dim}
	}
	if err := o.Config.Validate(); err != nil {
		return fmt.Errorf("train-images: %w", err)
	}
	start := time.Now()
	set, err := photoset.Open(*data)
	if err != nil {
		return fmt.Errorf("train-images: %w", err)
	}
	train, err := set.Split(*split)
	if err != nil {
		return fmt.Errorf("train-images: %w", err)
	}
	if *holdOut > 0 {
		// The encoder part of eval photos' split, so that its fusions fit
		// on photos this encoder never saw.
		parts, err := photos.TrainingParts(ctx, train, *holdOut, float32(*holdOutScenes), *holdOutSeed)
		if err != nil {
			return fmt.Errorf("train-images: %w", err)
		}
		fmt.Fprintf(stderr, "train-images: --fusion-holdout %v: training on %d photos, %d held out\n", *holdOut, len(parts.Encoder), len(train)-len(parts.Encoder))
		ks := make([]photoset.Photo, len(parts.Encoder))
		for i, j := range parts.Encoder {
			ks[i] = train[j]
		}
		train = ks
	}
	var held []photoset.Photo
	if *heldOut != "" {
		if *heldOut == *split {
			return fmt.Errorf("train-images: --held-out %s is the training split", *heldOut)
		}
		if held, err = set.Split(*heldOut); err != nil {
			return fmt.Errorf("train-images: %w", err)
		}
	}
	var enc photoset.TextEncoder
	if *vectors != "" {
		fmt.Fprintf(stderr, "train-images: loading word vectors %s\n", *vectors)
		te, err := text.LoadFile(*vectors)
		if err != nil {
			return fmt.Errorf("train-images: %w", err)
		}
		enc = te
	}
	side := 2 * *size
	fmt.Fprintf(stderr, "train-images: reading %d %s photos, %d products\n", len(train), *split, len(set.Products))
	d, err := set.TrainData(ctx, train, held, side, enc)
	if err != nil {
		return fmt.Errorf("train-images: %w", err)
	}
	o.Progress = func(s vision.EpochStats) {
		line := fmt.Sprintf("epoch %d/%d: loss %.4f (photos %.4f, web-shop photos %.4f, texts %.4f), %.0f s",
			s.Epoch, s.Epochs, s.Loss, s.PhotoLoss, s.IconicLoss, s.TextLoss, s.Seconds)
		if !math.IsNaN(s.HeldOut) {
			line += fmt.Sprintf(", held-out %s accuracy@1 %.4f", *heldOut, s.HeldOut)
		}
		fmt.Fprintln(stderr, line)
	}
	trainStart := time.Now()
	e, stats, err := vision.Train(d, o)
	if err != nil {
		return fmt.Errorf("train-images: %w", err)
	}
	trainSeconds := time.Since(trainStart).Seconds()
	if err := writeEncoderFile(*out, e); err != nil {
		return fmt.Errorf("train-images: %w", err)
	}
	last := stats[len(stats)-1]
	fmt.Fprintf(stdout, "encoder %s: %d products, dim %d, text tower %v; trained %d epochs in %.0f s (%.0f s in all)\n",
		e.Version(), len(e.Products()), e.Dim(), e.HasText(), last.Epochs, trainSeconds, time.Since(start).Seconds())
	if !math.IsNaN(last.HeldOut) {
		fmt.Fprintf(stdout, "held-out %s (%d photos): accuracy@1 %.4f (nearest learned product vector)\n", *heldOut, len(held), last.HeldOut)
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// joinInts formats xs as "1,2,3".
func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// parseInts parses "1,2,3".
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q: want comma-separated integers", s)
		}
		out = append(out, v)
	}
	return out, nil
}

// defaultImageEpochs is vision.Train's default number of epochs.
func defaultImageEpochs() int { return vision.DefaultEpochs }

// writeEncoderFile writes e to path through a temporary file in the same
// folder, renamed into place, so a failed write leaves no half file.
func writeEncoderFile(path string, e *vision.Encoder) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := e.WriteTo(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
