package photos

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank/features/text"
	"github.com/fusionrank/fusionrank/vision/photoset"
	"github.com/fusionrank/fusionrank/vision/photoset/photosettest"
)

// TestSplitTraining: with a hold-out the encoder, fit and selection parts
// are disjoint, cover the training photos, hold out that share of every
// product's photos from the encoder, and are the same for the same seed;
// without one, the encoder and the fusions share every photo.
func TestSplitTraining(t *testing.T) {
	_, _, train := writeSet(t, photosettest.Options{Products: 6, Train: 12, Val: 1, Seed: 2})
	p, err := SplitTraining(train, nil, 0.33, 1)
	if err != nil {
		t.Fatal(err)
	}
	all := slices.Concat(p.Encoder, p.Fit, p.Select)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("the parts are not a partition of the %d photos: %v", len(train), all)
		}
	}
	perProduct := func(idx []int) map[int]int {
		m := map[int]int{}
		for _, i := range idx {
			m[train[i].Product]++
		}
		return m
	}
	enc, fit, sel := perProduct(p.Encoder), perProduct(p.Fit), perProduct(p.Select)
	for c := range 6 {
		// 12 photos: round(0.33·12) = 4 held out of the encoder, of them
		// round(0.25·4) = 1 for selection.
		if enc[c] != 8 || fit[c] != 3 || sel[c] != 1 {
			t.Errorf("product %d: encoder %d, fit %d, selection %d photos; want 8, 3, 1", c, enc[c], fit[c], sel[c])
		}
	}
	q, err := SplitTraining(train, nil, 0.33, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Encoder, q.Encoder) || !slices.Equal(p.Fit, q.Fit) || !slices.Equal(p.Select, q.Select) {
		t.Error("the same seed split the photos differently")
	}
	r, err := SplitTraining(train, nil, 0.33, 2)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(p.Encoder, r.Encoder) {
		t.Error("seeds 1 and 2 gave the encoder the same photos")
	}
	none, err := SplitTraining(train, nil, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(none.Encoder) != len(train) || !slices.Equal(none.Encoder, none.Fit) || len(none.Select) != 0 {
		t.Errorf("no hold-out: encoder %d, fit %d, selection %d photos of %d", len(none.Encoder), len(none.Fit), len(none.Select), len(train))
	}
	if _, err := SplitTraining(train, nil, 1, 1); err == nil {
		t.Error("a hold-out of every photo was accepted")
	}
	// By scenes (three photos of a product a scene): no scene in two parts.
	scene := make([]int, len(train))
	seen := map[int]int{}
	for i, ph := range train {
		scene[i] = ph.Product*100 + seen[ph.Product]/3
		seen[ph.Product]++
	}
	ps, err := SplitTraining(train, scene, 0.33, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.Select) == 0 || len(ps.Fit) == 0 {
		t.Errorf("parts by scenes: %d fit, %d selection photos", len(ps.Fit), len(ps.Select))
	}
	partOf := map[int]string{}
	for name, idx := range map[string][]int{"encoder": ps.Encoder, "fit": ps.Fit, "selection": ps.Select} {
		for _, i := range idx {
			if other, ok := partOf[scene[i]]; ok && other != name {
				t.Errorf("scene %d is in the %s and the %s part", scene[i], other, name)
			}
			partOf[scene[i]] = name
		}
	}
	// The scenes of TrainingParts are photoset.Scenes'.
	pt, err := TrainingParts(context.Background(), train, 0.33, 0.999, 1)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := photoset.Scenes(context.Background(), train, 0.999)
	if err != nil {
		t.Fatal(err)
	}
	want, err := SplitTraining(train, sc, 0.33, 1)
	if err != nil {
		t.Fatal(err)
	}
	if pt.Scenes != 0.999 || !slices.Equal(pt.Encoder, want.Encoder) || !slices.Equal(pt.Select, want.Select) {
		t.Errorf("TrainingParts: scenes %v, encoder part %v, want %v", pt.Scenes, pt.Encoder, want.Encoder)
	}
}

// TestFusionHoldOut: the encoder trained in a run learns from the encoder
// part only (its record of its training photos is that part's, not the
// training split's), the fusions are fitted on the other photos, and an
// encoder file that saw the fusion photos is refused.
func TestFusionHoldOut(t *testing.T) {
	words, set, train := writeSet(t, photosettest.Options{Products: 6, Train: 9, Val: 2, Seed: 5})
	dir := set.Dir
	vecs, err := text.LoadFile(words)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := SplitTraining(train, nil, 0.33, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := NewFusionModel("late", EncoderModel{Train: tinyEncoder})
	d := &Data{Task: TaskPhoto, Set: set, Train: train, Parts: parts, Text: vecs}
	if err := m.Fit(ctx, d); err != nil {
		t.Fatal(err)
	}
	seen := m.Encoder.enc.TrainedOn()
	if want := set.Digest(photosAt(train, parts.Encoder)); seen != want {
		t.Errorf("the encoder was trained on %s, want the encoder part %s", seen, want)
	}
	if seen == set.Digest(train) {
		t.Error("the encoder was trained on every training photo")
	}
	if m.fitted != len(parts.Fit) || !m.unseen || !strings.Contains(m.FitNote(), "never trained on") {
		t.Errorf("late fusion fitted on %d photos (want %d), unseen %v; note %q", m.fitted, len(parts.Fit), m.unseen, m.FitNote())
	}
	// An encoder trained on every training photo, offered to a run with a
	// hold-out, is refused; offered to a run without one, accepted.
	full := &EncoderModel{Train: tinyEncoder}
	if err := full.Fit(ctx, &Data{Task: TaskPhoto, Set: set, Train: train, Text: vecs}); err != nil {
		t.Fatal(err)
	}
	path := dir + "/full.safetensors"
	writeEncoder(t, path, full)
	for _, share := range []float64{0.33, 0} {
		p, err := SplitTraining(train, nil, share, 1)
		if err != nil {
			t.Fatal(err)
		}
		err = (&EncoderModel{Path: path}).Fit(ctx, &Data{Task: TaskPhoto, Set: set, Train: train, Parts: p, Text: vecs})
		if share > 0 && (err == nil || !strings.Contains(err.Error(), "trained on other photos")) {
			t.Errorf("hold-out %v: an encoder that saw the fusion photos: %v, want a refusal", share, err)
		}
		if share == 0 && err != nil {
			t.Errorf("no hold-out: %v", err)
		}
	}
}

// writeEncoder writes m's encoder to path.
func writeEncoder(t *testing.T, path string, m *EncoderModel) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.enc.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeSet writes a generated catalogue (photosettest.Write) into a temporary
// folder and returns the word-vector file Write made, the set and its
// training split.
func writeSet(t *testing.T, o photosettest.Options) (string, *photoset.Set, []photoset.Photo) {
	t.Helper()
	dir := t.TempDir()
	words, err := photosettest.Write(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	set, err := photoset.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	train, err := set.Split("train")
	if err != nil {
		t.Fatal(err)
	}
	return words, set, train
}
