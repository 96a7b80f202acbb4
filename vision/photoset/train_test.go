package photoset

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// photosOf returns n photos of each of products products, interleaved as a
// split file lists them.
func photosOf(products, n int) []Photo {
	var out []Photo
	for i := range n {
		for p := range products {
			out = append(out, Photo{Path: fmt.Sprintf("/d/%d/%d.jpg", p, i), Product: p})
		}
	}
	return out
}

// TestHoldOut: the split is a partition, holds out round(share·n) of each
// product's photos (at least one, never all), is the same for the same
// seed, depends on the seed, and a product's choice does not depend on the
// other products' photos.
func TestHoldOut(t *testing.T) {
	tests := []struct {
		name     string
		perProd  int
		share    float64
		wantHeld int // per product
	}{
		{"none", 9, 0, 0},
		{"a third of 9", 9, 0.33, 3},
		{"a third of 32", 32, 0.33, 11},
		{"at least one", 2, 0.1, 1},
		{"never all", 1, 0.9, 0},
		{"never all of 3", 3, 0.99, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			photos := photosOf(5, tt.perProd)
			kept, held := HoldOut(photos, tt.share, 7)
			all := append(slices.Clone(kept), held...)
			slices.Sort(all)
			for i, v := range all {
				if v != i {
					t.Fatalf("kept ∪ held is not every index once: %v", all)
				}
			}
			if !slices.IsSorted(kept) || !slices.IsSorted(held) {
				t.Error("kept or held out of the photos' order")
			}
			count := map[int]int{}
			for _, i := range held {
				count[photos[i].Product]++
			}
			for p := range 5 {
				if count[p] != tt.wantHeld {
					t.Errorf("product %d: %d held out, want %d", p, count[p], tt.wantHeld)
				}
			}
			k2, h2 := HoldOut(photos, tt.share, 7)
			if !slices.Equal(kept, k2) || !slices.Equal(held, h2) {
				t.Error("the same seed gave another split")
			}
		})
	}
	photos := photosOf(5, 30)
	_, a := HoldOut(photos, 0.33, 1)
	_, b := HoldOut(photos, 0.33, 2)
	if slices.Equal(a, b) {
		t.Error("seeds 1 and 2 held out the same photos")
	}
	// Product 0 alone, and beside the others: the same photos held out.
	var only []Photo
	var pathsAll []string
	for _, i := range a {
		if photos[i].Product == 0 {
			pathsAll = append(pathsAll, photos[i].Path)
		}
	}
	for _, ph := range photos {
		if ph.Product == 0 {
			only = append(only, ph)
		}
	}
	_, c := HoldOut(only, 0.33, 1)
	var pathsOnly []string
	for _, i := range c {
		pathsOnly = append(pathsOnly, only[i].Path)
	}
	if !slices.Equal(pathsAll, pathsOnly) {
		t.Errorf("product 0 alone holds out %v, beside the others %v", pathsOnly, pathsAll)
	}
	for _, bad := range []float64{-0.1, 1, 1.5} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("HoldOut accepted share %v", bad)
				}
			}()
			HoldOut(photos, bad, 1)
		}()
	}
}

// TestDigest: the digest names the list (order and products count) and not
// the folder it was opened from.
func TestDigest(t *testing.T) {
	a := &Set{Dir: "/d"}
	b := &Set{Dir: "/e"}
	photos := photosOf(3, 2)
	moved := make([]Photo, len(photos))
	for i, ph := range photos {
		moved[i] = ph
		moved[i].Path = "/e" + ph.Path[2:]
	}
	if a.Digest(photos) != b.Digest(moved) {
		t.Error("the same photos under another folder have another digest")
	}
	if a.Digest(photos) == a.Digest(photos[1:]) {
		t.Error("a photo fewer, the same digest")
	}
	swapped := slices.Clone(photos)
	swapped[0].Product = 2
	if a.Digest(photos) == a.Digest(swapped) {
		t.Error("another label, the same digest")
	}
}

// TestHoldOutGroups: whole groups are held out (no group on both sides),
// about share of each product (never more than 1.5 times the target,
// never all, at least one group), the same for the same seed; a group
// spanning products is refused.
func TestHoldOutGroups(t *testing.T) {
	photos := photosOf(5, 12)
	group := make([]int, len(photos))
	for i, ph := range photos {
		group[i] = ph.Product*100 + (i/5)/3 // four groups of 3 a product
	}
	kept, held := HoldOutGroups(photos, group, 0.33, 3)
	side := map[int]bool{}
	count := map[int]int{}
	for _, i := range held {
		side[group[i]] = true
		count[photos[i].Product]++
	}
	for _, i := range kept {
		if side[group[i]] {
			t.Errorf("group %d is on both sides", group[i])
		}
	}
	if len(kept)+len(held) != len(photos) {
		t.Errorf("%d kept and %d held of %d photos", len(kept), len(held), len(photos))
	}
	for p := range 5 {
		// target round(0.33·12) = 4: one group of 3, then one more (6 ≤ 1.5·4).
		if count[p] != 6 {
			t.Errorf("product %d: %d held out, want 6 (two groups of 3)", p, count[p])
		}
	}
	k2, h2 := HoldOutGroups(photos, group, 0.33, 3)
	if !slices.Equal(kept, k2) || !slices.Equal(held, h2) {
		t.Error("the same seed gave another split")
	}
	// One product in one big group and one small: the small one is held
	// out though it is under the target, the big one never.
	two := photosOf(1, 10)
	g := []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	_, h := HoldOutGroups(two, g, 0.33, 1)
	if !slices.Equal(h, []int{9}) {
		t.Errorf("held %v, want the small group [9]", h)
	}
	defer func() {
		if recover() == nil {
			t.Error("a group spanning two products was accepted")
		}
	}()
	HoldOutGroups(photosOf(2, 1), []int{7, 7}, 0.5, 1)
}

// TestScenes: same-product photos closer than the threshold are one scene,
// transitively; other products' photos never are.
func TestScenes(t *testing.T) {
	photos := []Photo{{Product: 0}, {Product: 0}, {Product: 0}, {Product: 0}, {Product: 1}}
	at := func(deg float64) []float32 {
		r := deg * math.Pi / 180
		return []float32{float32(math.Cos(r)), float32(math.Sin(r))}
	}
	// 0°, 10°, 20° chain (cos 10° ≈ 0.985, cos 20° ≈ 0.94); 90° apart;
	// product 1 at 0°, the same vector as photo 0.
	vs := [][]float32{at(0), at(10), at(20), at(90), at(0)}
	got := scenesOf(photos, vs, 0.98)
	if want := []int{0, 0, 0, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("scenes %v, want %v", got, want)
	}
	if got := scenesOf(photos, vs, 0.99); got[0] == got[1] {
		t.Errorf("photos 10° apart joined at threshold 0.99: %v", got)
	}
}
