package fusion

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/training"
)

// Model is the fusion scorer as an evaluation.Model.
type Model struct {
	// Name labels the variant in versions ("fusion", "fusion-notext", …).
	Name string
	// Options are the training options.
	Options training.Options
	// Fixed, when not nil, returns fixed modalities for the training
	// sequences (the text vectors of the items, say).
	Fixed func(*evaluation.Sequences) ([]training.FixedModality, error)
	// Words, when not nil, returns the word vectors and each item's words (as
	// indices into them) for the training sequences: the model then has the
	// query slots `fusionrank train` gives a shop with a text modality, trained
	// with catalogue pseudo-queries (training.Search).
	Words func(*evaluation.Sequences) (vocab [][]float32, itemWords [][]int32, err error)
	// SeqCache, when not empty, is a directory where the trained sequence
	// encoders are kept, keyed by the training data, the held-out cases,
	// the encoder options and the seed. A fit whose key is there loads them
	// instead of training them again; training is deterministic, so the
	// result is the same, and models that differ only in the scorer (the
	// comparison models) share one encoder fit.
	SeqCache string
	// Serve, when true, fits what `fusionrank train` serves: every
	// configuration of training.ServeCandidates for the data, trained on
	// the same held-out cases, the best kept (training.Choose).
	Serve bool

	res     *training.Result
	chosen  string           // the served candidate's name (Serve)
	tried   []training.Tried // every candidate's held-out outcome (Serve)
	sc      *training.Scorer
	seconds float64
	pool    sync.Pool
}

// New returns an unfitted model.
func New(name string, o training.Options) *Model { return &Model{Name: name, Options: o} }

// Data converts evaluation sequences to training data (times from
// nanoseconds to seconds).
func Data(s *evaluation.Sequences) *training.Data {
	d := &training.Data{NumItems: s.NumItems, Attributes: s.ItemAttributes, NumAttributes: s.NumAttributes}
	d.Users = make([][]training.Event, len(s.Users))
	for u, seq := range s.Users {
		ev := make([]training.Event, len(seq))
		for k, it := range seq {
			ev[k].Item = it
			if s.Times != nil {
				ev[k].Time = s.Times[u][k] / int64(time.Second)
			}
		}
		d.Users[u] = ev
	}
	return d
}

// HoldOut splits d for early stopping (training.HoldOut).
func HoldOut(d *training.Data) (*training.Data, []training.Case) { return training.HoldOut(d) }

// Fit trains on train. Cancelling ctx stops the training at its next batch
// (training.Options.Stop): Fit then returns an error wrapping ctx's cause.
func (m *Model) Fit(ctx context.Context, train *evaluation.Sequences) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	d := Data(train)
	if m.Fixed != nil {
		f, err := m.Fixed(train)
		if err != nil {
			return fmt.Errorf("fusion: fixed modalities: %w", err)
		}
		d.Fixed = f
	}
	if m.Words != nil {
		v, iw, err := m.Words(train)
		if err != nil {
			return fmt.Errorf("fusion: words: %w", err)
		}
		d.Vocab, d.ItemWords = v, iw
	}
	in, val := HoldOut(d)
	o := m.Options
	o.Stop = ctx.Done()
	var cache string
	if o.Seq != nil && len(o.SeqModels) == 0 && m.SeqCache != "" {
		cache = filepath.Join(m.SeqCache, "seq-"+seqKey(in, val, o)+".gob")
		if f, err := os.Open(cache); err == nil {
			var sm []*training.SeqModel
			err = gob.NewDecoder(f).Decode(&sm)
			f.Close()
			if err != nil {
				return fmt.Errorf("fusion: %s: %w", cache, err)
			}
			o.SeqModels = sm
			cache = ""
		}
	}
	var res *training.Result
	var err error
	if m.Serve {
		var k int
		var tried []training.Tried
		res, k, tried, err = training.Choose(in, val, training.ServeCandidates(in, o, nil))
		if err == nil {
			m.chosen, m.tried = tried[k].Name, tried
		}
	} else {
		res, err = training.Train(in, val, o)
	}
	if err != nil {
		if errors.Is(err, training.ErrStopped) && ctx.Err() != nil {
			return fmt.Errorf("fusion: training interrupted: %w", context.Cause(ctx))
		}
		return fmt.Errorf("fusion: %w", err)
	}
	if cache != "" {
		if err := saveSeq(cache, res.Seq); err != nil {
			return fmt.Errorf("fusion: %w", err)
		}
	}
	m.res = res
	m.sc = res.NewScorer(d)
	m.seconds = time.Since(start).Seconds()
	m.pool.New = func() any { return new([]training.Event) }
	return nil
}

// seqKey hashes what a sequence encoder fit depends on: the training
// events, the held-out cases, the encoder options, the member count and the
// seed.
func seqKey(in *training.Data, val []training.Case, o training.Options) string {
	h := sha256.New()
	var b [8]byte
	put := func(v int64) {
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	put(int64(in.NumItems))
	for _, seq := range in.Users {
		put(int64(len(seq)))
		for _, e := range seq {
			put(int64(e.Item))
			put(e.Time)
		}
	}
	put(int64(len(val)))
	for _, c := range val {
		put(int64(c.Target))
		put(int64(len(c.History)))
	}
	fmt.Fprintf(h, "%+v|seed=%d|maxval=%d", *o.Seq, o.Seed, o.MaxValidation)
	return hex.EncodeToString(h.Sum(nil))[:24]
}

func saveSeq(path string, sm []*training.SeqModel) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := gob.NewEncoder(f).Encode(sm); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ScoreTo scores every item for history.
func (m *Model) ScoreTo(dst []float32, history []int32) {
	p := m.pool.Get().(*[]training.Event)
	ev := (*p)[:0]
	for _, it := range history {
		ev = append(ev, training.Event{Item: it})
	}
	m.sc.ScoreTo(dst, ev, 0)
	*p = ev
	m.pool.Put(p)
	for i, v := range dst {
		if math.IsNaN(float64(v)) {
			dst[i] = float32(math.Inf(-1))
		}
	}
}

// Result returns the training result (nil before Fit).
func (m *Model) Result() *training.Result { return m.res }

// Seconds returns the wall time of the last Fit.
func (m *Model) Seconds() float64 { return m.seconds }

// Version names the fitted state: the variant, its main options and the
// kept epoch.
func (m *Model) Version() string {
	o := m.Options
	v := fmt.Sprintf("%s(seed=%d,dim=%d,d=%d,da=%d,recent=%d,neg=%d,lr=%g,wd=%g", m.Name, o.Seed, o.CollabDim, o.DModel, o.DAttn, o.Recent, o.Negatives, o.LR, o.WeightDecay)
	if o.RecencyEmbedding {
		v += ",recency"
	}
	if o.Fusion != "" && o.Fusion != training.FusionAttention {
		v += ",fusion=" + o.Fusion
	}
	if o.NoCollab {
		v += ",nocollab"
	}
	if o.NoAttr {
		v += ",noattr"
	}
	if q := o.Seq; q != nil {
		v += fmt.Sprintf(",seq(dim=%d,window=%d,neg=%d,dropout=%g,members=%d", q.Dim, q.Window, q.Negatives, q.Dropout, max(q.Members, 1))
		v += ")"
	}
	if m.res != nil {
		if m.chosen != "" {
			v += ",chosen=" + m.chosen + ",tried=["
			for k, t := range m.tried {
				if k > 0 {
					v += ";"
				}
				v += fmt.Sprintf("%s:%.4f@epoch%d,%.0fs", t.Name, t.Validation, t.BestEpoch, t.Seconds)
			}
			v += "]"
		}
		v += fmt.Sprintf(",epoch=%d", m.res.BestEpoch)
		if m.res.Seq != nil {
			v += fmt.Sprintf(",seq_weight=%g", m.res.SeqWeight)
		}
		if len(m.Options.PopWeights) > 0 {
			v += fmt.Sprintf(",pop7d_init=%g", m.res.PopWeight)
		}
		v += fmt.Sprintf(",train=%.0fs", m.seconds)
	}
	return v + ")"
}

// TrainingCurve reports the loss and the held-out NDCG@10 per epoch: the
// scorer's, or the sequence encoder's when the scorer was not trained; nil
// when neither has a curve.
func (m *Model) TrainingCurve() *evaluation.TrainingCurve {
	if m.res == nil {
		return nil
	}
	if len(m.res.Curve.Loss) == 0 {
		// The scorer was not trained (Epochs < 0): the sequence
		// encoder's curve, if any.
		if len(m.res.SeqCurve.Loss) == 0 {
			return nil
		}
		return &evaluation.TrainingCurve{Loss: m.res.SeqCurve.Loss, Validation: m.res.SeqCurve.Validation, ValidationName: "sequence encoder alone: NDCG@10 (held-out last training item)"}
	}
	return &evaluation.TrainingCurve{Loss: m.res.Curve.Loss, Validation: m.res.Curve.Validation, ValidationName: "NDCG@10 (held-out last training item)"}
}
