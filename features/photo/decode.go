package photo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"

	"golang.org/x/image/webp"

	"github.com/fusionrank/fusionrank"
)

// Limits bound what a photo may be. Zero values take the defaults.
type Limits struct {
	// MaxBytes caps the encoded file. Default 8 MiB.
	MaxBytes int64
	// MaxPixels caps width × height, read from the file's header before any pixel
	// is decoded, so a small file that would expand to gigabytes (a decompression
	// bomb) is refused at the cost of reading its header. Default 36 million
	// (6000 × 6000).
	MaxPixels int64
}

// Defaults of Limits.
const (
	DefaultMaxBytes  = 8 << 20
	DefaultMaxPixels = 36_000_000
)

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxPixels == 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	return l
}

// Info describes a decoded photo.
type Info struct {
	ContentType string // image/jpeg, image/png, image/gif or image/webp, sniffed from the bytes
	Width       int
	Height      int
	Bytes       int
	SHA256      string // hex digest of the bytes
}

// format is one supported file type: its sniffed content type and its decoders.
type format struct {
	name   string
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var formats = map[string]format{
	"image/jpeg": {"JPEG", jpeg.DecodeConfig, jpeg.Decode},
	"image/png":  {"PNG", png.DecodeConfig, png.Decode},
	"image/gif":  {"GIF", gif.DecodeConfig, gif.Decode}, // the first frame
	"image/webp": {"WebP", webp.DecodeConfig, webp.Decode},
}

// Sniff returns the content type of data as the WHATWG sniffing rules read its first
// bytes (net/http.DetectContentType), whatever a caller or a server claimed.
func Sniff(data []byte) string { return http.DetectContentType(data) }

// Check validates data against the limits from its header alone: size, type (sniffed)
// and pixel count. Errors are Invalid and start with field. It reads no pixels.
func Check(field string, data []byte, lim Limits) (Info, error) {
	lim = lim.WithDefaults()
	info := Info{Bytes: len(data)}
	switch {
	case len(data) == 0:
		return info, fusionrank.Errorf(fusionrank.Invalid, "%s: empty; expected a JPEG, PNG, GIF or WebP file", field)
	case int64(len(data)) > lim.MaxBytes:
		return info, fusionrank.Errorf(fusionrank.Invalid, "%s: %d bytes is over the limit of %d bytes", field, len(data), lim.MaxBytes)
	}
	info.ContentType = Sniff(data)
	f, ok := formats[info.ContentType]
	if !ok {
		return info, fusionrank.Errorf(fusionrank.Invalid, "%s: not an image: the content is %s; expected a JPEG, PNG, GIF or WebP file", field, info.ContentType)
	}
	cfg, err := f.config(bytes.NewReader(data))
	if err != nil {
		return info, fusionrank.Errorf(fusionrank.Invalid, "%s: not a valid %s file: %s", field, f.name, decodeError(err))
	}
	info.Width, info.Height = cfg.Width, cfg.Height
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return info, fusionrank.Errorf(fusionrank.Invalid, "%s: the %s file has no pixels (%d×%d)", field, f.name, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > lim.MaxPixels {
		return info, fusionrank.Errorf(fusionrank.Invalid, "%s: %d×%d is %d pixels, over the limit of %d", field, cfg.Width, cfg.Height, px, lim.MaxPixels)
	}
	sum := sha256.Sum256(data)
	info.SHA256 = hex.EncodeToString(sum[:])
	return info, nil
}

// Decode validates data as Check does and decodes it. A file whose header is fine
// but whose pixels are cut short or corrupt (a truncated JPEG) is an Invalid error
// that names field.
func Decode(field string, data []byte, lim Limits) (image.Image, Info, error) {
	info, err := Check(field, data, lim)
	if err != nil {
		return nil, info, err
	}
	f := formats[info.ContentType]
	img, err := f.decode(bytes.NewReader(data))
	if err != nil {
		return nil, info, fusionrank.Errorf(fusionrank.Invalid, "%s: not a valid %s file: %s", field, f.name, decodeError(err))
	}
	if b := img.Bounds(); b.Dx() != info.Width || b.Dy() != info.Height {
		return nil, info, fusionrank.Errorf(fusionrank.Invalid, "%s: the %s file's pixels (%d×%d) differ from its header (%d×%d)", field, f.name, b.Dx(), b.Dy(), info.Width, info.Height)
	}
	return img, info, nil
}

// decodeError says what a decoder's error means for a caller.
func decodeError(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "the file is truncated"
	}
	return fmt.Sprint(err)
}
