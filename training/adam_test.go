package training

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fusionrank/fusionrank/internal/rankingtest"
	"github.com/fusionrank/fusionrank/ranking"
)

// adamRef is a scalar AdamW written straight from the paper, the reference
// for Step and StepEmbeddings.
func adamRef(c AdamConfig, w float64, grads []float64) float64 {
	var m, v float64
	for t, g := range grads {
		m = c.Beta1*m + (1-c.Beta1)*g
		v = c.Beta2*v + (1-c.Beta2)*g*g
		mh := m / (1 - math.Pow(c.Beta1, float64(t+1)))
		vh := v / (1 - math.Pow(c.Beta2, float64(t+1)))
		w -= c.LR * (mh/(math.Sqrt(vh)+c.Eps) + c.WeightDecay*w)
	}
	return w
}

func TestAdamMatchesReference(t *testing.T) {
	tests := []struct {
		name string
		cfg  AdamConfig
	}{
		{"defaults", AdamConfig{}},
		{"adamw", AdamConfig{LR: 0.05, WeightDecay: 0.1}},
		{"betas", AdamConfig{LR: 0.01, Beta1: 0.5, Beta2: 0.9, Eps: 1e-6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg.withDefaults()
			s := rankingtest.Shape{Dims: []int{3, 2}, D: 2, DA: 2, F: 1, LQ: 1}
			rng := rand.New(rand.NewPCG(1, 2))
			m := ranking.NewRandomModel(s.Config(), rng)
			w0 := m.Wq[1]
			e := NewEmbeddings(3, 2, 1, rng)
			e0 := e.Data[2] // row 1, column 0
			opt := NewAdam(tt.cfg)
			g := NewGrads(m)
			sg := NewSparseGrad(2)
			var hist []float64
			for step := range 5 {
				gv := math.Sin(float64(step)+1) * 0.3
				hist = append(hist, gv)
				g.Zero()
				g.Wq[1] = gv
				opt.Step(m, g)
				sg.Reset()
				sg.Add(1, []float64{gv / 2, 0}, 1) // row 1, split over two
				sg.Add(1, []float64{gv / 2, 0}, 1) // Adds that must sum
				opt.StepEmbeddings(e, sg)
			}
			want := adamRef(cfg, float64(w0), hist)
			if !rankingtest.Close(float64(m.Wq[1]), want, 1e-6, 1e-7) {
				t.Errorf("model weight %v, reference %v", m.Wq[1], want)
			}
			want = adamRef(cfg, float64(e0), hist)
			if !rankingtest.Close(float64(e.Data[2]), want, 1e-5, 1e-7) {
				t.Errorf("embedding weight %v, reference %v", e.Data[2], want)
			}
			if opt.Steps() != 5 {
				t.Errorf("Steps() = %d, want 5", opt.Steps())
			}
		})
	}
}

// syntheticTask is a next-item task a trainer would pose: the query is the
// learned collab vector of the shopper's last item, the candidates are the
// whole catalogue (a fixed random text vector plus the learned collab
// vector each), the positive is a fixed successor of the last item.
type syntheticTask struct {
	items int
	text  [][]float32
	next  []int
	emb   *Embeddings
}

func newSyntheticTask(rng *rand.Rand) *syntheticTask {
	st := &syntheticTask{items: 12, emb: NewEmbeddings(12, 4, 0.3, rng)}
	for range st.items {
		st.text = append(st.text, rankingtest.RandVec(rng, 5))
	}
	st.next = rng.Perm(st.items)
	return st
}

func (st *syntheticTask) batch(rng *rand.Rand, n int) ([]Example, []int) {
	var batch []Example
	var last []int
	for range n {
		h := rng.IntN(st.items)
		ex := Example{
			Query:    ranking.Query{Tokens: [][]float32{st.emb.Row(h)}, Modality: []int{1}},
			Positive: st.next[h],
		}
		for c := range st.items {
			ex.Candidates = append(ex.Candidates, ranking.Candidate{Tokens: [][]float32{st.text[c], st.emb.Row(c)}})
		}
		batch = append(batch, ex)
		last = append(last, h)
	}
	return batch, last
}

// train runs steps of TrainStep plus embedding updates and returns the mean
// loss of the first and last ten steps.
func trainSynthetic(seed uint64, steps int) (first, last float64, m *ranking.Model, emb *Embeddings) {
	rng := rand.New(rand.NewPCG(seed, 3))
	st := newSyntheticTask(rng)
	cfg := ranking.Config{Modalities: []ranking.Modality{{Name: "text", Dim: 5}, {Name: "collab", Dim: 4}}, DModel: 8, DAttn: 8, MaxQueryTokens: 1}
	m = ranking.NewRandomModel(cfg, rng)
	opt := NewAdam(AdamConfig{LR: 0.02, WeightDecay: 1e-4})
	g := NewGrads(m)
	sg := NewSparseGrad(4)
	ig := make([]InputGrads, 8)
	for step := range steps {
		batch, hist := st.batch(rng, len(ig))
		loss := TrainStep(m, opt, g, batch, ig)
		sg.Reset()
		for k := range batch {
			sg.Add(hist[k], ig[k].Query[0], 1)
			for c := range batch[k].Candidates {
				sg.Add(c, ig[k].Candidates[c][1], 1)
			}
		}
		opt.StepEmbeddings(st.emb, sg)
		if step < 10 {
			first += loss / 10
		}
		if step >= steps-10 {
			last += loss / 10
		}
	}
	return first, last, m, st.emb
}

func TestTrainingLearnsSyntheticTask(t *testing.T) {
	first, last, _, _ := trainSynthetic(1, 400)
	t.Logf("mean loss: first 10 steps %.3f, last 10 steps %.3f (chance %.3f)", first, last, math.Log(12))
	if last > 0.25*first {
		t.Errorf("loss went from %.3f to %.3f, want at least a 4× drop", first, last)
	}
}

func TestTrainingIsReproducible(t *testing.T) {
	_, l1, m1, e1 := trainSynthetic(7, 30)
	_, l2, m2, e2 := trainSynthetic(7, 30)
	if l1 != l2 {
		t.Errorf("losses differ: %v vs %v", l1, l2)
	}
	a, b := m1.Tensors(), m2.Tensors()
	for k := range a {
		if !slices.Equal(a[k].Data, b[k].Data) {
			t.Errorf("tensor %s differs between identical runs", a[k].Name)
		}
	}
	if !slices.Equal(e1.Data, e2.Data) {
		t.Error("embedding tables differ between identical runs")
	}
}
