package photos

import (
	"context"
	"fmt"

	"github.com/fusionrank/fusionrank/vision/photoset"
)

// SelectShare is the share of the fusion photos (Parts.Fit before it is
// split) held back as Parts.Select, on which early fusion and attention
// choose their epoch.
const SelectShare = 0.25

// Parts divides the training photos between the image encoder and the
// learned fusions, as indices into Data.Train, each in the order of Train.
//
// With a fusion hold-out (SplitTraining with share > 0) the three are
// disjoint and cover Train: the encoder learns from Encoder only, so the
// fusions' queries (Fit) and selection photos (Select) are photos it never
// saw, as a new shopper's photo is; held out by whole scenes, they are not
// near-duplicates of the encoder's photos either. Without one, Encoder and Fit are all of
// Train and Select is empty: the fusions are fitted on the encoder's own
// training photos with fixed budgets.
type Parts struct {
	Encoder, Fit, Select []int
	// HoldOut is the share of each product's photos held out of the
	// encoder (0: none); Scenes is the scene threshold of the hold-out
	// (0: single photos).
	HoldOut float64
	Scenes  float32
}

// SplitTraining divides train (see Parts): with share = 0, every photo is
// the encoder's and the fusions'; with 0 < share < 1, photoset.HoldOutGroups
// holds about share of each product's photos out of the encoder, whole
// scenes at a time (scene[i] is photo i's, from photoset.Scenes; nil: each
// photo alone; seeded by seed), and of those it holds SelectShare out of
// the fusions' fit for selection, again by whole scenes (seed + 1). The
// same photos, scenes, share and seed always give the same parts.
func SplitTraining(train []photoset.Photo, scene []int, share float64, seed uint64) (Parts, error) {
	if !(share >= 0 && share < 1) {
		return Parts{}, fmt.Errorf("photos: fusion hold-out %v: want 0 ≤ share < 1", share)
	}
	if share == 0 {
		all := make([]int, len(train))
		for i := range all {
			all[i] = i
		}
		return Parts{Encoder: all, Fit: all}, nil
	}
	enc, fusion := photoset.HoldOutGroups(train, scene, share, seed)
	fusionPhotos := make([]photoset.Photo, len(fusion))
	var fusionScene []int
	for i, j := range fusion {
		fusionPhotos[i] = train[j]
		if scene != nil {
			fusionScene = append(fusionScene, scene[j])
		}
	}
	fit, sel := photoset.HoldOutGroups(fusionPhotos, fusionScene, SelectShare, seed+1)
	p := Parts{Encoder: enc, HoldOut: share}
	for _, i := range fit {
		p.Fit = append(p.Fit, fusion[i])
	}
	for _, i := range sel {
		p.Select = append(p.Select, fusion[i])
	}
	if len(p.Fit) == 0 {
		return Parts{}, fmt.Errorf("photos: fusion hold-out %v leaves the fusions no photo to fit on", share)
	}
	return p, nil
}

// DefaultSceneThreshold is the cosine of the fixed descriptor at which
// two photos of a product are one scene for the fusion hold-out
// (photoset.Scenes). The Grocery Store training split's photos come in
// near-duplicate scenes, so single held-out photos are hardly new to an
// encoder trained on the rest; at 0.94 a held-out photo's nearest
// remaining training photo (fixed descriptor) shows its product about as
// often as a validation photo's does (docs/evaluation.md, Grocery Store).
const DefaultSceneThreshold = 0.94

// TrainingParts returns the parts of train for a fusion hold-out of share
// (SplitTraining), the scenes found with threshold (0: every photo alone).
func TrainingParts(ctx context.Context, train []photoset.Photo, share float64, threshold float32, seed uint64) (Parts, error) {
	var scene []int
	if share > 0 && threshold > 0 {
		var err error
		if scene, err = photoset.Scenes(ctx, train, threshold); err != nil {
			return Parts{}, err
		}
	}
	p, err := SplitTraining(train, scene, share, seed)
	if scene != nil {
		p.Scenes = threshold
	}
	return p, err
}

// parts returns d.Parts, or all of Train for both when it is the zero value.
func (d *Data) parts() Parts {
	if d.Parts.Encoder != nil {
		return d.Parts
	}
	p, _ := SplitTraining(d.Train, nil, 0, 0)
	return p
}

// photosAt returns the photos of train at idx.
func photosAt(train []photoset.Photo, idx []int) []photoset.Photo {
	out := make([]photoset.Photo, len(idx))
	for i, j := range idx {
		out[i] = train[j]
	}
	return out
}
