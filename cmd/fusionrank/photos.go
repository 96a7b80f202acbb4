package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/features/photo"
	"github.com/fusionrank/fusionrank/vision"
)

// descriptorRecord is the registry row of the fixed descriptor, the image encoder of a
// shop that has trained none.
func descriptorRecord() features.EncoderRecord {
	return features.EncoderRecord{Version: vision.DescriptorVersion, Kind: features.EncoderDescriptor, Dim: vision.DescriptorDim,
		Config: map[string]any{"weights": vision.DefaultDescriptorWeights}}
}

// loadImageEncoder builds an encoder from a registry row: the descriptor, a CNN
// trained by `fusionrank train-images` (its safetensors file in the row), or an ONNX
// model (its path in the row's config).
func loadImageEncoder(cfg Config) func(ctx context.Context, rec features.EncoderRecord) (photo.Encoder, error) {
	return func(ctx context.Context, rec features.EncoderRecord) (photo.Encoder, error) {
		switch rec.Kind {
		case features.EncoderDescriptor:
			d, err := vision.NewDescriptor(vision.DescriptorWeights{})
			if err != nil {
				return nil, err
			}
			if rec.Version != d.Version() {
				return nil, fmt.Errorf("this binary computes the descriptor %s, not %s", d.Version(), rec.Version)
			}
			return d, nil
		case features.EncoderCNN:
			return vision.ReadEncoder(bytes.NewReader(rec.Weights))
		case features.EncoderONNX:
			path, _ := rec.Config["path"].(string)
			enc, err := openONNXImageEncoder(cfg, path, rec.Version)
			if err != nil {
				return nil, err
			}
			return enc, nil
		}
		return nil, fmt.Errorf("unknown image encoder kind %q", rec.Kind)
	}
}

// photoOptions returns the feature store's photo settings, or nil when photos are off.
func photoOptions(cfg Config) *features.PhotoOptions {
	if cfg.ImageEncoder == "off" {
		return nil
	}
	lim := photo.Limits{MaxBytes: cfg.ImageMaxBytes, MaxPixels: cfg.ImageMaxPixels}
	return &features.PhotoOptions{
		Limits:    lim,
		FetchWait: cfg.FetchWait,
		Fetcher: photo.NewFetcher(photo.FetchOptions{Timeout: cfg.FetchTimeout, MaxBytes: cfg.ImageMaxBytes,
			AllowPrivate: cfg.FetchPrivate}),
		LoadEncoder: loadImageEncoder(cfg),
	}
}

// maxPhotoBody is the request body limit of the routes that may carry a photo: the
// largest photo base64-encoded, and 1 MiB for the rest of the request.
func maxPhotoBody(cfg Config) int64 { return (cfg.ImageMaxBytes+2)/3*4 + 1<<20 }

// setUpPhotos registers the encoders the configuration names (the descriptor, active
// when nothing is; the pinned ONNX model of pinONNX) and loads the active one, so the
// first catalogue refresh reads its vectors.
func setUpPhotos(ctx context.Context, fs *features.Store, opt *features.PhotoOptions, pinned *features.EncoderRecord) error {
	if opt == nil {
		return nil
	}
	if _, err := fs.EnsureActiveEncoder(ctx, descriptorRecord()); err != nil {
		return fmt.Errorf("image encoder registry: %w", err)
	}
	if pinned != nil {
		if err := fs.RegisterEncoder(ctx, *pinned); err != nil {
			return fmt.Errorf("FUSIONRANK_IMAGE_ENCODER: %w", err)
		}
	}
	if _, err := fs.SyncEncoders(ctx); err != nil {
		return fmt.Errorf("image encoder: %w", err)
	}
	return nil
}

func runEncoders(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "encoders list | register FILE [--activate] | activate VERSION"
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: fusionrank "+synopsis)
		fmt.Fprintln(stderr, "\nregister stores an encoder file written by `fusionrank train-images` in the registry;")
		fmt.Fprintln(stderr, "activate switches to it: the serving processes re-encode every item photo with it in the")
		fmt.Fprintln(stderr, "background and serve it once the whole catalogue has its vectors.")
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return flagErrHelp
	}
	sub := args[0]
	fs := newFlags("encoders "+sub, synopsis, stderr)
	activate := fs.Bool("activate", false, "register: also start the switch to the new version")
	cfg, err := loadConfig(os.Getenv, fs, args[1:])
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	// The registry calls need no Redis and no catalogue; photos are on so that the
	// store knows how to load encoders.
	opt := photoOptions(cfg)
	if opt == nil {
		opt = photoOptions(Config{ImageEncoder: "registry", ImageMaxBytes: photo.DefaultMaxBytes, ImageMaxPixels: photo.DefaultMaxPixels, FetchTimeout: time.Second})
	}
	store := features.New(db, nil, features.Options{Photos: opt})
	if _, err := store.EnsureActiveEncoder(ctx, descriptorRecord()); err != nil {
		return err
	}
	switch sub {
	case "list":
		if fs.NArg() != 0 {
			return errors.New("usage: fusionrank encoders list")
		}
		es, err := store.ListEncoders(ctx)
		if err != nil {
			return err
		}
		for _, e := range es {
			state := ""
			switch {
			case e.Active:
				state = "ACTIVE"
			case e.Target:
				state = fmt.Sprintf("SWITCHING (%d of %d photos encoded)", e.Encoded, e.Photos)
			}
			var metrics []string
			for k, v := range e.Metrics {
				metrics = append(metrics, fmt.Sprintf("%s=%.4f", k, v))
			}
			sort.Strings(metrics)
			fmt.Fprintf(stdout, "%s\t%s\tdim %d\t%s\t%s\t%s\n", e.Version, e.Kind, e.Dim, e.CreatedAt.Format(time.RFC3339), strings.Join(metrics, " "), state)
		}
	case "register":
		if fs.NArg() != 1 {
			return errors.New("usage: fusionrank encoders register FILE [--activate]")
		}
		rec, err := cnnRecord(fs.Arg(0))
		if err != nil {
			return err
		}
		if err := store.RegisterEncoder(ctx, rec); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "registered %s (cnn, dim %d)\n", rec.Version, rec.Dim)
		if *activate {
			return activateEncoder(ctx, store, rec.Version, stdout)
		}
	case "activate":
		if fs.NArg() != 1 {
			return errors.New("usage: fusionrank encoders activate VERSION")
		}
		return activateEncoder(ctx, store, fs.Arg(0), stdout)
	default:
		return fmt.Errorf("unknown encoders subcommand %q", sub)
	}
	return nil
}

func activateEncoder(ctx context.Context, store *features.Store, version string, stdout io.Writer) error {
	e, err := store.ActivateEncoder(ctx, version)
	if err != nil {
		return err
	}
	if e.Active {
		fmt.Fprintf(stdout, "%s is active\n", e.Version)
		return nil
	}
	fmt.Fprintf(stdout, "switching to %s: the serving processes re-encode %d photos (%d done) and switch when all are\n", e.Version, e.Photos, e.Encoded)
	return nil
}

// cnnRecord reads an encoder file of `fusionrank train-images` into a registry row.
func cnnRecord(path string) (features.EncoderRecord, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return features.EncoderRecord{}, err
	}
	enc, err := vision.ReadEncoder(bytes.NewReader(data))
	if err != nil {
		return features.EncoderRecord{}, fmt.Errorf("%s: %w", path, err)
	}
	var cfg map[string]any
	if b, err := json.Marshal(enc.Config()); err == nil {
		_ = json.Unmarshal(b, &cfg)
	}
	return features.EncoderRecord{Version: enc.Version(), Kind: features.EncoderCNN, Dim: enc.Dim(), Weights: data, Config: cfg}, nil
}
