package ranking

import (
	"errors"
	"fmt"
	"slices"
)

// MaxModalities is the largest number of item modalities a model supports.
// Item modality masks are stored as a 64-bit set.
const MaxModalities = 64

// Modality names one kind of item embedding (text, image, collab, attr, …)
// and its native dimension.
type Modality struct {
	// Name identifies the modality, for example "text" or "image". Names
	// must be unique and non-empty within a Config.
	Name string `json:"name"`
	// Dim is the native dimension of the modality's vectors.
	Dim int `json:"dim"`
}

// Config is the shape of a fusion scorer. Modality j of an item is column j
// of the candidate token matrix; tensors in model files are named by the
// modality index (proj.0, proj_bias.0, …) and the Config maps the index to
// the name.
type Config struct {
	// Modalities lists the modalities in order; at least one, at most
	// MaxModalities.
	Modalities []Modality `json:"modalities"`
	// DModel is the shared model dimension d every modality is projected to.
	DModel int `json:"d_model"`
	// DAttn is the attention dimension d_a of Wq, Wk, Wv and Wo.
	DAttn int `json:"d_attn"`
	// NFeatures is the number of scalar features per candidate (may be 0).
	NFeatures int `json:"n_features"`
	// MaxQueryTokens is the number of query slots, and so the length of the
	// position bias β. A query may have fewer tokens, never more.
	MaxQueryTokens int `json:"max_query_tokens"`
	// Fusion is how the learned part combines the query tokens with a
	// candidate's modality vectors: FusionAttention, FusionEarly,
	// FusionLate or FusionOff (see FusionModes and fusion.go). Default ""
	// means FusionAttention, so model files written without it load as
	// attention models.
	Fusion string `json:"fusion,omitempty"`
}

// ErrInvalidConfig is wrapped by every error returned by Config.Validate.
var ErrInvalidConfig = errors.New("ranking: invalid config")

// Validate reports whether c describes a usable model. The error wraps
// ErrInvalidConfig and names the offending field.
func (c Config) Validate() error {
	if len(c.Modalities) == 0 {
		return fmt.Errorf("%w: no modalities", ErrInvalidConfig)
	}
	if len(c.Modalities) > MaxModalities {
		return fmt.Errorf("%w: %d modalities, at most %d supported", ErrInvalidConfig, len(c.Modalities), MaxModalities)
	}
	seen := make(map[string]int, len(c.Modalities))
	for j, m := range c.Modalities {
		if m.Name == "" {
			return fmt.Errorf("%w: modality %d has no name", ErrInvalidConfig, j)
		}
		if k, ok := seen[m.Name]; ok {
			return fmt.Errorf("%w: modality name %q used by %d and %d", ErrInvalidConfig, m.Name, k, j)
		}
		seen[m.Name] = j
		if m.Dim <= 0 {
			return fmt.Errorf("%w: modality %q: dim %d, must be positive", ErrInvalidConfig, m.Name, m.Dim)
		}
	}
	if c.DModel <= 0 {
		return fmt.Errorf("%w: d_model %d, must be positive", ErrInvalidConfig, c.DModel)
	}
	if c.DAttn <= 0 {
		return fmt.Errorf("%w: d_attn %d, must be positive", ErrInvalidConfig, c.DAttn)
	}
	if c.NFeatures < 0 {
		return fmt.Errorf("%w: n_features %d, must not be negative", ErrInvalidConfig, c.NFeatures)
	}
	if c.MaxQueryTokens <= 0 {
		return fmt.Errorf("%w: max_query_tokens %d, must be positive", ErrInvalidConfig, c.MaxQueryTokens)
	}
	if c.Fusion != "" && !slices.Contains(FusionModes, c.Fusion) {
		return fmt.Errorf("%w: fusion %q, want one of %v", ErrInvalidConfig, c.Fusion, FusionModes)
	}
	return nil
}

// FusionMode returns the model's fusion mode: Fusion, or FusionAttention
// when it is empty.
func (c Config) FusionMode() string {
	if c.Fusion == "" {
		return FusionAttention
	}
	return c.Fusion
}

// ModalityIndex returns the index of the modality called name, or -1.
func (c Config) ModalityIndex(name string) int {
	for j, m := range c.Modalities {
		if m.Name == name {
			return j
		}
	}
	return -1
}

func (c Config) clone() Config {
	c.Modalities = append([]Modality(nil), c.Modalities...)
	return c
}
