package recommend

import (
	"context"
	"time"

	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/features/text"
)

// FeatureStore is what the ranking use cases read of the feature store:
// *features.Store implements it. Reads that can fail (profiles, counters) take the
// request's context; the in-process ones (the catalogue, the popularity snapshot) do
// not.
type FeatureStore interface {
	// Catalog returns the in-memory catalogue of items and their vectors.
	Catalog() *features.Catalog
	// Modalities lists the model-independent modalities, text first.
	Modalities() []features.Modality
	// Text returns the text encoder, nil without one.
	Text() *text.Encoder
	// Now is the store's clock.
	Now() time.Time

	// ServingProfile returns a shopper's profile and where it came from
	// (features.SourceCache, SourceRebuilt or SourcePostgres), or an error when it is
	// unavailable for the moment (the request then goes on without it).
	ServingProfile(ctx context.Context, userID string) (*features.Profile, string, error)

	// EncodePhoto checks and encodes a query photo with the active image encoder and
	// returns the vector and the encoder's version; field names the photo in errors.
	EncodePhoto(field string, data []byte) ([]float32, string, error)
	// EncodePhotoWith encodes a photo with the image encoder of version, when it is
	// loaded.
	EncodePhotoWith(version string, data []byte) ([]float32, bool)

	// PopularitiesOf fills dst with the popularity windows of the catalogue slots from
	// the in-process snapshot; false when no snapshot is kept.
	PopularitiesOf(dst []features.Popularity, slots []int32) bool
	// Popularities reads the items' popularity windows at now from the counters.
	Popularities(ctx context.Context, itemIDs []string, now time.Time) ([]features.Popularity, error)
	// TrendingOf returns up to n trending slots from the snapshot; false without one.
	TrendingOf(n int) ([]int32, bool)
	// Trending reads up to n trending item ids and their counts from the counters.
	Trending(ctx context.Context, n int, now time.Time) ([]string, []float64, error)
	// CovisitationTo writes counts[j*len(candidates)+i]: how often candidate i
	// directly followed recent[j].
	CovisitationTo(ctx context.Context, recent, candidates []string, counts []float64) error
	// CovisNeighbours returns, for each item, its most frequent direct followers.
	CovisNeighbours(ctx context.Context, items []string, n int) ([][]features.Neighbour, error)
}

var _ FeatureStore = (*features.Store)(nil)
