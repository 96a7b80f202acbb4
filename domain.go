package fusionrank

import (
	"math"
	"time"
)

// Item is a product of the catalogue. Vectors holds caller-supplied modality vectors
// (for example "image"); the "text" vector is computed from Title and Description by the
// built-in encoder, the "photo" vector from the item's photo by the active image
// encoder, and "collab"/"attr" vectors are learned by training.
//
// The photo comes as ImageURL (fetched by the service), as Image (the file's bytes;
// base64 in JSON), or both (the bytes are encoded, the URL is what shoppers are
// shown).
type Item struct {
	ID          string               `json:"id"`
	Title       string               `json:"title"`
	Description string               `json:"description,omitempty"`
	Category    string               `json:"category,omitempty"`
	Brand       string               `json:"brand,omitempty"`
	Price       *float64             `json:"price,omitempty"`
	Attributes  map[string]any       `json:"attributes,omitempty"`
	Active      bool                 `json:"active"`
	Vectors     map[string][]float32 `json:"vectors,omitempty"`
	ImageURL    string               `json:"image_url,omitempty"`
	Image       []byte               `json:"image,omitempty"`
	CreatedAt   time.Time            `json:"created_at,omitzero"`
	UpdatedAt   time.Time            `json:"updated_at,omitzero"`
}

// EventType is the kind of an interaction.
type EventType string

// The event types, from weakest to strongest signal.
const (
	View      EventType = "view"
	Click     EventType = "click"
	AddToCart EventType = "add_to_cart"
	Purchase  EventType = "purchase"
)

// EventTypes lists the valid event types in order of strength.
var EventTypes = []EventType{View, Click, AddToCart, Purchase}

// Valid reports whether t is one of the known event types.
func (t EventType) Valid() bool {
	switch t {
	case View, Click, AddToCart, Purchase:
		return true
	}
	return false
}

// Event is one interaction of a user with an item. EventID is chosen by the client and
// makes ingestion idempotent.
type Event struct {
	EventID   string    `json:"event_id"`
	UserID    string    `json:"user_id"`
	ItemID    string    `json:"item_id"`
	Type      EventType `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	RequestID string    `json:"request_id,omitempty"`
	SessionID string    `json:"session_id,omitempty"`
}

// Limits on identifiers and text fields. They are part of the API contract.
const (
	MaxIDLen          = 128
	MaxTitleLen       = 1000
	MaxDescriptionLen = 20000
	MaxShortFieldLen  = 200
	MaxAttributes     = 100
)

// idChars marks the bytes an identifier may contain: letters, digits and . _ : @ ~ + = -
var idChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "._:@~+=-" {
		t[c] = true
	}
	return t
}()

// ValidID reports whether ValidateID accepts id, without building an error; hot paths
// call it first and ValidateID only to describe a failure.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen || id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idChars[id[i]] {
			return false
		}
	}
	return true
}

// ValidateID checks an item, user, event or request identifier: 1 to MaxIDLen bytes of
// letters, digits and . _ : @ ~ + = -, and neither "." nor "..". field names it in the
// error.
func ValidateID(field, id string) error {
	switch {
	case id == "":
		return Errorf(Invalid, "%s: must not be empty", field)
	case len(id) > MaxIDLen:
		return Errorf(Invalid, "%s: longer than %d bytes", field, MaxIDLen)
	case id == "." || id == "..":
		// A path segment "." or ".." is removed by clients that clean URL paths, so an
		// item or user with such an id could be stored but never read back.
		return Errorf(Invalid, "%s: %q is not allowed (it is a path segment that URL clients remove)", field, id)
	case !ValidID(id):
		return Errorf(Invalid, "%s: may contain only letters, digits and . _ : @ ~ + = -", field)
	}
	return nil
}

// ValidateVector checks that v has dim finite numbers.
func ValidateVector(field string, v []float32, dim int) error {
	if len(v) != dim {
		return Errorf(Invalid, "%s: expected %d numbers, got %d", field, dim, len(v))
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return Errorf(Invalid, "%s[%d]: not a finite number", field, i)
		}
	}
	return nil
}

// Normalize scales v to unit L2 norm in place and reports its original norm. A zero
// vector is left as it is.
func Normalize(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := math.Sqrt(s)
	if n > 0 {
		inv := float32(1 / n)
		for i := range v {
			v[i] *= inv
		}
	}
	return n
}

// ModalityInfo describes one vector an item or a profile has.
type ModalityInfo struct {
	Dim  int     `json:"dim"`
	Norm float64 `json:"norm,omitempty"`
}

// ItemView is an item as the API returns it: its fields, the modalities it has and
// the state of its photo.
type ItemView struct {
	Item
	Modalities map[string]ModalityInfo `json:"modalities"`
	// ImageStatus is "pending" while the photo at ImageURL is being fetched, "ready"
	// once it is stored (and encoded by the active image encoder), "failed" when it
	// could not be used (ImageError says why); empty without a photo.
	ImageStatus string     `json:"image_status,omitempty"`
	ImageError  string     `json:"image_error,omitempty"`
	ImageInfo   *ImageInfo `json:"image_info,omitempty"`
}

// Photo states of an item.
const (
	ImagePending = "pending"
	ImageReady   = "ready"
	ImageFailed  = "failed"
)

// ImageInfo describes a stored photo.
type ImageInfo struct {
	// DisplayURL is what a page shows: the shop's ImageURL, or the service's
	// /images/{sha256} when the shop sent only the bytes.
	DisplayURL  string `json:"display_url"`
	SHA256      string `json:"sha256,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	Bytes       int    `json:"bytes,omitempty"`
	// Encoders lists the image encoder versions the photo has a vector of.
	Encoders []string `json:"encoders,omitempty"`
}

// UserFeatures is what the online store knows about a user.
type UserFeatures struct {
	UserID      string                  `json:"user_id"`
	RecentItems []string                `json:"recent_items"`
	Profile     map[string]ModalityInfo `json:"profile"`
	UpdatedAt   *time.Time              `json:"updated_at"`
	Source      string                  `json:"source"`
}

// EventResult is the outcome of an event batch. Every event of the batch is counted in
// exactly one of Accepted (stored now), Duplicates (an exact replay of a stored event),
// Conflicts (its id is stored with a different payload; nothing stored) and Rejected
// (invalid; nothing stored).
type EventResult struct {
	Accepted   int              `json:"accepted"`
	Duplicates int              `json:"duplicates"`
	Conflicts  []EventConflict  `json:"conflicts"`
	Rejected   []EventRejection `json:"rejected"`
	Warnings   []string         `json:"warnings,omitempty"`
}

// EventRejection says why the event at Index was not accepted.
type EventRejection struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// EventConflict reports the event at Index whose id is already stored with a different
// payload: Field names the first field that differs (user_id, item_id, type, timestamp,
// request_id or session_id). The stored event is kept and the sent one is not stored;
// an event id is used once, and a retry must repeat the event exactly.
type EventConflict struct {
	Index   int    `json:"index"`
	EventID string `json:"event_id"`
	Field   string `json:"field"`
	Error   string `json:"error"`
}

// BatchResult is the outcome of a bulk item load. Every line before Stopped.Line (all
// lines when Stopped is nil) was either stored (counted in Accepted) or is listed in
// Rejected; no line from Stopped.Line on was stored.
type BatchResult struct {
	Accepted int             `json:"accepted"`
	Rejected []LineRejection `json:"rejected"`
	Stopped  *BatchStop      `json:"stopped,omitempty"`
}

// BatchStop says where and why a bulk load stopped before the end of its body (a
// store failed, the body was over its limit or arrived too slowly).
type BatchStop struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// LineRejection says why the item on Line (counted from 1) was not accepted.
type LineRejection struct {
	Line  int    `json:"line"`
	ID    string `json:"id,omitempty"`
	Error string `json:"error"`
}

// ModelInfo is one version in the model registry.
type ModelInfo struct {
	Version string `json:"version"`
	Active  bool   `json:"active"`
	// Fusion is the model's fusion mode (attention, early, late or off).
	Fusion      string             `json:"fusion"`
	CreatedAt   time.Time          `json:"created_at"`
	ActivatedAt *time.Time         `json:"activated_at,omitempty"`
	DataSHA256  string             `json:"data_sha256,omitempty"`
	Metrics     map[string]float64 `json:"metrics"`
	Config      map[string]any     `json:"config"`
}

// ImageEncoderInfo is one version in the image encoder registry.
type ImageEncoderInfo struct {
	Version string `json:"version"`
	Kind    string `json:"kind"`
	Dim     int    `json:"dim"`
	// Active is the encoder item and query photos are encoded with; Target is the one
	// the catalogue is being re-encoded with, which becomes active once every photo
	// has its vector (Encoded of Photos so far).
	Active      bool               `json:"active"`
	Target      bool               `json:"target"`
	Encoded     int64              `json:"encoded"`
	Photos      int64              `json:"photos"`
	CreatedAt   time.Time          `json:"created_at"`
	ActivatedAt *time.Time         `json:"activated_at,omitempty"`
	Metrics     map[string]float64 `json:"metrics"`
	Config      map[string]any     `json:"config"`
}

// ModelStats is the click-through and conversion of the answers one model version gave.
type ModelStats struct {
	ModelVersion string  `json:"model_version"`
	Requests     int64   `json:"requests"`
	Impressions  int64   `json:"impressions"`
	Clicks       int64   `json:"clicks"`
	Purchases    int64   `json:"purchases"`
	CTR          float64 `json:"ctr"`
	Conversion   float64 `json:"conversion"`
}
