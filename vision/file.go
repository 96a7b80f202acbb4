package vision

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/fusionrank/fusionrank/ranking"
)

// Encoder files are safetensors files written with ranking.WriteTensors,
// the format of the project's model files: every tensor of the encoder as
// little-endian F32 under its name (conv.<l>.weight, conv.<l>.bn_scale,
// conv.<l>.bn_shift, conv.<l>.bn_mean, conv.<l>.bn_var, head.weight,
// head.bias, text.w1, text.b1, text.w2, text.b2, products), the Config
// as JSON in the metadata, and the digest of the training photos
// (Encoder.TrainedOn) when known.
const (
	// metaConfig is the metadata key holding the Config as JSON.
	metaConfig = "fusionrank.vision.config"
	// metaFormat is the metadata key holding the file format version.
	metaFormat = "fusionrank.vision.format"
	// metaTrainedOn is the metadata key holding Encoder.TrainedOn (absent
	// when empty).
	metaTrainedOn = "fusionrank.vision.trained_on"
	// fileFormat is the version WriteTo writes and ReadEncoder reads.
	fileFormat = "1"
)

// ErrCorruptEncoder is wrapped by every error ReadEncoder returns for a
// file that is not a valid encoder (as opposed to a read error of the
// underlying io.Reader).
var ErrCorruptEncoder = errors.New("vision: corrupt encoder file")

// WriteTo writes the encoder to w (see the file format above). It
// implements io.WriterTo.
func (e *Encoder) WriteTo(w io.Writer) (int64, error) {
	cj, err := json.Marshal(e.cfg)
	if err != nil {
		return 0, fmt.Errorf("vision: write encoder: %w", err)
	}
	var ts []ranking.Tensor
	for _, t := range e.p.tensors() {
		ts = append(ts, ranking.Tensor{Name: t.name, Shape: t.shape, Data: t.data})
	}
	meta := map[string]string{metaConfig: string(cj), metaFormat: fileFormat}
	if e.trainedOn != "" {
		meta[metaTrainedOn] = e.trainedOn
	}
	n, err := ranking.WriteTensors(w, ts, meta)
	if err != nil {
		return n, fmt.Errorf("vision: write encoder: %w", err)
	}
	return n, nil
}

// ReadEncoder reads an encoder written by WriteTo. It refuses, with an
// error wrapping ErrCorruptEncoder, anything ranking.ReadTensors refuses,
// a missing or invalid config, another format version, a missing,
// unexpected or misshapen tensor, and a negative running variance. The
// encoder read encodes exactly as the one written.
func ReadEncoder(r io.Reader) (*Encoder, error) {
	ts, meta, err := ranking.ReadTensors(r)
	if err != nil {
		if errors.Is(err, ranking.ErrCorruptModel) {
			return nil, fmt.Errorf("%w: %w", ErrCorruptEncoder, err)
		}
		return nil, fmt.Errorf("vision: read encoder: %w", err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCorruptEncoder, fmt.Sprintf(format, args...))
	}
	if v := meta[metaFormat]; v != fileFormat {
		return nil, bad("format version %q, this build reads %q", v, fileFormat)
	}
	cj, ok := meta[metaConfig]
	if !ok {
		return nil, bad("no %s metadata", metaConfig)
	}
	var cfg Config
	dec := json.NewDecoder(strings.NewReader(cj))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, bad("metadata %s is not a config: %v", metaConfig, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, bad("%v", err)
	}
	p := newParams(cfg)
	byName := make(map[string]ranking.Tensor, len(ts))
	for _, t := range ts {
		byName[t.Name] = t
	}
	want := p.tensors()
	for _, w := range want {
		t, ok := byName[w.name]
		if !ok {
			return nil, bad("missing tensor %s", w.name)
		}
		if !slices.Equal(t.Shape, w.shape) {
			return nil, bad("tensor %s: shape %v, config implies %v", w.name, t.Shape, w.shape)
		}
		copy(w.data, t.Data)
		delete(byName, w.name)
	}
	if len(byName) > 0 {
		var extra []string
		for name := range byName {
			extra = append(extra, name)
		}
		slices.Sort(extra)
		return nil, bad("unexpected tensors %s", strings.Join(extra, ", "))
	}
	for i, v := range p.vari {
		for c, x := range v {
			if x < 0 {
				return nil, bad("conv.%d.bn_var[%d] is negative (%v)", i, c, x)
			}
		}
	}
	e := newEncoder(p)
	e.trainedOn = meta[metaTrainedOn]
	return e, nil
}
