package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank/vision"
	"github.com/fusionrank/fusionrank/vision/photoset/photosettest"
)

// TestTrainImagesAndEvalPhotos trains a tiny encoder with train-images on
// a synthetic catalogue, evaluates it and the descriptor with eval photos
// (both tasks), and compares the two photo runs case by case: the path a
// shop's data scientist takes, through the CLI glue.
func TestTrainImagesAndEvalPhotos(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "shop")
	words, err := photosettest.Write(data, photosettest.Options{Products: 8, Train: 6, Val: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "encoder.safetensors")
	var stdout, stderr bytes.Buffer
	args := []string{"--data", data, "--out", model, "--vectors", words, "--held-out", "val", "--epochs", "6",
		"--kind", "cnn", "--size", "16", "--widths", "8,16", "--depth", "1", "--dim", "16"}
	if err := runTrainImages(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("train-images: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "held-out val (16 photos): accuracy@1") || !strings.Contains(stderr.String(), "epoch 6/6") {
		t.Errorf("train-images output lacks the held-out figure or the progress:\n%s\n%s", stdout.String(), stderr.String())
	}
	f, err := os.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := vision.ReadEncoder(f)
	f.Close()
	if err != nil {
		t.Fatalf("the encoder file does not read back: %v", err)
	}
	if !enc.HasText() || len(enc.Products()) != 8 || !strings.Contains(stdout.String(), enc.Version()) {
		t.Errorf("encoder %s: text %v, %d products; stdout %s", enc.Version(), enc.HasText(), len(enc.Products()), stdout.String())
	}
	// The default kind: features through a learned hidden layer.
	featModel := filepath.Join(dir, "features.safetensors")
	stdout.Reset()
	if err := runTrainImages(context.Background(), []string{"--data", data, "--out", featModel, "--vectors", words, "--epochs", "3",
		"--size", "16", "--hidden", "16", "--dim", "16"}, &stdout, &stderr); err != nil {
		t.Fatalf("train-images --kind features: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "encoder feat-") {
		t.Errorf("train-images with the default kind did not write a features encoder:\n%s", stdout.String())
	}
	eval := func(name string, extra ...string) map[string]any {
		out := filepath.Join(dir, name)
		var so, se bytes.Buffer
		a := append([]string{"photos", "--data", data, "--vectors", words, "--quiet", "--out", out}, extra...)
		if err := runEval(context.Background(), a, &so, &se); err != nil {
			t.Fatalf("eval %v: %v\n%s", extra, err, se.String())
		}
		raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	e := eval("encoder", "--model", "encoder", "--encoder", model)
	if e["model_version"] != enc.Version() || e["queries"] != float64(16) {
		t.Errorf("encoder run: version %v (want %s), queries %v", e["model_version"], enc.Version(), e["queries"])
	}
	eval("descriptor", "--model", "descriptor")
	if f := eval("features", "--model", "encoder", "--encoder", featModel); !strings.HasPrefix(f["model_version"].(string), "feat-") {
		t.Errorf("features run: version %v", f["model_version"])
	}
	w := eval("words", "--model", "encoder", "--encoder", model, "--task", "words")
	if w["queries"] != float64(8*3) { // each product's name and its description's two sentences
		t.Errorf("words run: %v queries, want 24", w["queries"])
	}
	// The fusion comparison models, on the same encoder file.
	for _, task := range []string{"photo", "words"} {
		for _, mdl := range []string{"image", "late", "early", "attention"} {
			r := eval(task+"-"+mdl, "--model", mdl, "--encoder", model, "--task", task)
			if r["model_version"] != enc.Version() {
				t.Errorf("%s %s: version %v", task, mdl, r["model_version"])
			}
		}
	}
	// The fusion hold-out (single photos; scenes are tested in package
	// photos): an encoder trained without a third of each product's
	// photos, the fusions fitted on those; the file trained on every photo
	// is refused for such a run, and the hold-out file for a run without
	// one.
	heldModel := filepath.Join(dir, "held.safetensors")
	stdout.Reset()
	stderr.Reset()
	if err := runTrainImages(context.Background(), []string{"--data", data, "--out", heldModel, "--vectors", words, "--epochs", "3",
		"--size", "16", "--hidden", "16", "--dim", "16", "--fusion-holdout", "0.34", "--holdout-scenes", "0"}, &stdout, &stderr); err != nil {
		t.Fatalf("train-images --fusion-holdout: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "training on 32 photos, 16 held out") {
		t.Errorf("train-images --fusion-holdout 0.34 of 6 photos a product: %s", stderr.String())
	}
	for _, task := range []string{"photo", "words"} {
		eval("held-"+task, "--model", "attention", "--encoder", heldModel, "--task", task, "--fusion-holdout", "0.34", "--holdout-scenes", "0")
		report, err := os.ReadFile(filepath.Join(dir, "held-"+task, "report.md"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(report), "never trained on") || !strings.Contains(string(report), "held-out training photos") {
			t.Errorf("attention with a fusion hold-out, %s: report.md lacks the fit's protocol:\n%s", task, report)
		}
	}
	for _, c := range []struct{ file, share string }{{featModel, "0.34"}, {heldModel, "0"}} {
		err := runEval(context.Background(), []string{"photos", "--data", data, "--vectors", words, "--quiet", "--out", filepath.Join(dir, "x"),
			"--model", "late", "--encoder", c.file, "--fusion-holdout", c.share, "--holdout-scenes", "0"}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "trained on other photos") {
			t.Errorf("%s with --fusion-holdout %s: %v, want a refusal", filepath.Base(c.file), c.share, err)
		}
	}
	if err := runEval(context.Background(), []string{"photos", "--data", data, "--vectors", words, "--quiet", "--out", filepath.Join(dir, "x"),
		"--model", "text", "--encoder", model, "--task", "words"}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "photos only") {
		t.Errorf("the text-only model on the words task: %v, want a refusal", err)
	}
	stdout.Reset()
	if err := runEval(context.Background(), []string{"compare", "--k", "1", "--resamples", "200", filepath.Join(dir, "encoder"), filepath.Join(dir, "descriptor")}, &stdout, &stderr); err != nil {
		t.Fatalf("compare: %v", err)
	}
	if !strings.Contains(stdout.String(), "| HR@1 |") {
		t.Errorf("compare output lacks HR@1:\n%s", stdout.String())
	}
	if err := runEval(context.Background(), []string{"compare", filepath.Join(dir, "encoder"), filepath.Join(dir, "words")}, &stdout, &stderr); err == nil {
		t.Error("compare accepted a photo run against a words run")
	}
}

func TestEvalPhotosErrors(t *testing.T) {
	tests := []struct {
		name, want string
		args       []string
	}{
		{"needs data", "--data and --out are required", []string{"photos", "--model", "descriptor"}},
		{"bad model", `--model "nope"`, []string{"photos", "--data", "d", "--out", "o", "--model", "nope"}},
		{"bad task", "unknown task", []string{"photos", "--data", "d", "--out", "o", "--model", "descriptor", "--task", "smell"}},
		{"missing folder", "no such file", []string{"photos", "--data", "/nonexistent", "--out", "o", "--model", "descriptor", "--quiet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runEval(context.Background(), tt.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	err := runTrainImages(context.Background(), []string{"--data", "d", "--out", "o", "--kind", "cnn", "--widths", "8,x"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--widths") {
		t.Errorf("train-images with bad widths: %v", err)
	}
}
