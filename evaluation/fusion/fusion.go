package fusion

import (
	"context"
	"fmt"
	"math"
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

	res     *training.Result
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

// Fit trains on train.
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
	in, val := HoldOut(d)
	res, err := training.Train(in, val, m.Options)
	if err != nil {
		return fmt.Errorf("fusion: %w", err)
	}
	m.res = res
	m.sc = res.NewScorer(d)
	m.seconds = time.Since(start).Seconds()
	m.pool.New = func() any { return new([]training.Event) }
	return nil
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
	if o.Encoder {
		v += ",encoder"
	}
	if q := o.Seq; q != nil {
		v += fmt.Sprintf(",seq(dim=%d,window=%d,neg=%d,dropout=%g,members=%d", q.Dim, q.Window, q.Negatives, q.Dropout, max(q.Members, 1))
		if q.Attention {
			v += ",attention"
		}
		if q.Tied {
			v += ",tied"
		}
		if q.Prior {
			v += ",prior"
		}
		v += ")"
	}
	if m.res != nil {
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
