package photos

import (
	"context"
	"fmt"
	"image"
	"io"

	"github.com/fusionrank/fusionrank/features/text"
	"github.com/fusionrank/fusionrank/vision/photoset"
)

// Task is one of the protocol's two tasks.
type Task int

const (
	// TaskPhoto: a shopper's photo is the query; products are known by
	// their web-shop photo, their description and what the model learned
	// from the training photos.
	TaskPhoto Task = iota
	// TaskWords: a product's name or one sentence of its description is the
	// query; products are known by their photos only.
	TaskWords
)

// String returns the task's flag name: photo or words.
func (t Task) String() string {
	switch t {
	case TaskPhoto:
		return "photo"
	case TaskWords:
		return "words"
	}
	return fmt.Sprintf("Task(%d)", int(t))
}

// ParseTask parses the names returned by Task.String.
func ParseTask(s string) (Task, error) {
	for _, t := range []Task{TaskPhoto, TaskWords} {
		if t.String() == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("photos: unknown task %q (want photo or words)", s)
}

// Data is what a model may learn from: the catalogue (names, descriptions,
// web-shop photos) and the labelled photos of the training split.
type Data struct {
	// Task is the task the model will be asked (models that fit something
	// per task fit it for this one).
	Task Task
	Set  *photoset.Set
	// Train are the training split's photos, all of them: the shoppers'
	// means and the nearest-photo rows use every one.
	Train []photoset.Photo
	// Parts says which of Train the encoder learns from and which the
	// learned fusions are fitted and selected on (see SplitTraining); the
	// zero value: the encoder and the fusions use all of Train.
	Parts Parts
	// Text holds the word vectors for models with a text side (nil when
	// none were given).
	Text *text.Encoder
	// Workers bounds the goroutines a model uses; 0 means GOMAXPROCS.
	Workers int
	// Progress, when not nil, receives progress lines (normally os.Stderr).
	Progress io.Writer
}

// Query is one case of a task: a photo (TaskPhoto) or words (TaskWords).
type Query struct {
	Photo image.Image
	Words string
}

// Model is what the protocol evaluates. Fit is called once with the
// training split; then ScoreTo is called from several goroutines at once
// (it must be safe for concurrent use).
//
// A model may represent products in several ways (its variants: the first
// is the model's own and the headline row, the others are parts of it
// reported as extra rows, such as "web-shop photo only"). ScoreTo writes,
// for one query of task t, one score per product (higher is better) into
// dst[v] for each variant v of Variants(t). In TaskWords the product side
// must use the products' photos only, never their texts. ScoreTo returns
// false when the model cannot answer the task at all (then the protocol
// reports an error).
type Model interface {
	Fit(ctx context.Context, d *Data) error
	Variants(t Task) []string
	ScoreTo(dst [][]float32, t Task, q Query) bool
}
