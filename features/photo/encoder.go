package photo

import "image"

// Encoder turns a photo into a vector of the "photo" modality. Implementations are
// safe for concurrent use and write unit-norm vectors.
type Encoder interface {
	// Dim is the length of every vector EncodeTo writes.
	Dim() int
	// Version names the encoder's formula and weights: two encoders with one version
	// write the same vector for the same photo.
	Version() string
	// EncodeTo writes the vector of img into dst (len(dst) == Dim()).
	EncodeTo(dst []float32, img image.Image)
}
