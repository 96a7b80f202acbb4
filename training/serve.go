package training

import (
	"fmt"
	"math"
	"time"
)

// ScorerOptions are the scorer's servable defaults, chosen on the Beauty
// validation split (docs/evaluation.md): 64-d collab and attr vectors,
// d = 64, d_a = 16, five recent slots with the recency embedding, batches of
// 128 with 128 shared popularity-smoothed negatives plus 2 hard negatives
// per example (followers of its most recent item), the covis weight
// started at 1 (training starts from the counting model), AdamW at 2e-4
// without weight decay, at most 8 epochs with early stopping on the
// held-out NDCG@10 (patience 3; epoch 0, the initial model, counts). On
// timed data the counting start also has recent popularity: the initial
// pop_7d weight is the best of PopWeights on the held-out cases, a grid
// from 0 (counting alone) to 16 (recent popularity first, covis breaking
// its ties): on Online Retail the held-out cases choose 4 of {0, …, 4},
// the end of the grid, so it goes on to 16.
func ScorerOptions() Options {
	return Options{
		Seed: 1, CollabDim: 64, AttrDim: 64, DModel: 64, DAttn: 16, Recent: 5,
		Epochs: 8, Patience: 3, RecencyEmbedding: true, BatchSize: 128, Negatives: 128, NegPower: 0.75,
		HardNegatives: 2, InitCovis: 1, LR: 2e-4, EmbedStd: 0.1, MaxValidation: 1500,
		PopWeights: []float64{0, 0.25, 0.5, 1, 2, 4, 8, 16},
	}
}

// ServeOptions are the options of `fusionrank train`: ScorerOptions plus
// the sequence encoder (three members of dimension 128 over the last
// 20 distinct items, 4,096 shared negatives, dropout 0.5), whose mean score
// is the seq feature, its weight the best of SeqWeights on the held-out
// cases; the service computes it (ranking.SeqEncoder).
func ServeOptions() Options {
	o := ScorerOptions()
	o.Seq = &SeqOptions{Dim: 128, Window: 20, Negatives: 4096, BatchSize: 256, LR: 1e-3, Dropout: 0.5, Epochs: 20, Patience: 2, Members: 3}
	o.SeqWeights = []float64{0.06, 0.125, 0.18, 0.25, 0.35, 0.5, 0.7, 1}
	return o
}

// Candidate is one configuration a shop's model may be trained with.
type Candidate struct {
	// Name names the candidate in reports: "recent=collab" (attention),
	// "recent=text,fusion=late", "fusion=off", ….
	Name string
	// Recent is what the recent slots hold ("collab" or a fixed modality's
	// name), Fusion the fusion mode.
	Recent, Fusion string
	Options        Options
}

// ServeFusions are the fusion modes ServeCandidates tries by default:
// attention, late fusion and off. Early fusion (its MLP over the
// concatenation costs the most per example, and it lost to attention and
// late fusion on every behavioural data set measured, docs/evaluation.md)
// is tried when asked for.
var ServeFusions = []string{FusionAttention, FusionLate, FusionOff}

// ServeCandidates returns the configurations `fusionrank train` chooses
// among for d, all from o, for each fusion mode of fusions (nil:
// ServeFusions): the recent slots holding the learned collab vectors (o
// itself), and, when d has fixed modalities (text, photo), the recent slots
// holding the first fixed modality's vectors without the collab modality.
// Which works better depends on the shop: behaviour that repeats (Beauty)
// favours collab, a catalogue with many items bought once by few customers
// (Online Retail) favours the descriptions; and where no learned fusion
// beats the counting features, "off" serves them alone. Off ignores the
// query slots' contents, so it is one candidate, not one per recent
// modality.
func ServeCandidates(d *Data, o Options, fusions []string) []Candidate {
	if len(fusions) == 0 {
		fusions = ServeFusions
	}
	recents := []string{"collab"}
	if len(d.Fixed) > 0 && d.hasBehaviour() {
		// (Without behaviour the collab vectors are not learned: Train drops
		// them, and the two candidates would be the same.)
		recents = append(recents, d.Fixed[0].Name)
	}
	var cs []Candidate
	for _, f := range fusions {
		for k, r := range recents {
			c := Candidate{Name: "recent=" + r, Recent: r, Fusion: f, Options: o}
			c.Options.Fusion = f
			c.Options.NoCollab = k > 0
			switch f {
			case FusionAttention:
			case FusionOff:
				if k > 0 {
					continue
				}
				c.Name, c.Recent = "fusion=off", ""
			default:
				c.Name += ",fusion=" + f
			}
			cs = append(cs, c)
		}
	}
	return cs
}

// Tried is a candidate's outcome in Choose.
type Tried struct {
	Name string
	// Fusion is its fusion mode.
	Fusion string
	// Validation is the held-out NDCG@10 of its kept epoch.
	Validation float64
	// SearchValidation is the held-out searches' NDCG@10 of its kept epoch
	// (NaN without query slots or held-out searches).
	SearchValidation float64
	// BestEpoch is its kept epoch (0: the counting start).
	BestEpoch int
	// Seconds is its training wall time.
	Seconds float64
}

// Choose trains every candidate on d, validating on val, and returns the
// result with the best held-out criterion (NDCG@10, plus the held-out
// searches' NDCG@10 when there are some; the first on ties), its index and
// every candidate's outcome. Candidates with the same sequence encoder
// options share one encoder fit (the first's), as training it again would
// give the same encoder.
func Choose(d *Data, val []Case, cands []Candidate) (*Result, int, []Tried, error) {
	if len(cands) == 0 {
		return nil, -1, nil, fmt.Errorf("training: no candidate to choose from")
	}
	var best *Result
	bestK := -1
	tried := make([]Tried, len(cands))
	var seq []*SeqModel
	var seqOf *SeqOptions
	for k, c := range cands {
		o := c.Options
		if seq != nil && o.Seq != nil && len(o.SeqModels) == 0 && *o.Seq == *seqOf && o.Seed == cands[0].Options.Seed {
			o.SeqModels = seq
		}
		start := time.Now()
		res, err := Train(d, val, o)
		if err != nil {
			return nil, -1, nil, fmt.Errorf("training: candidate %s: %w", c.Name, err)
		}
		tried[k] = Tried{Name: c.Name, Fusion: res.Model.Config().FusionMode(), Validation: res.BestValidation, SearchValidation: res.SearchValidation, BestEpoch: res.BestEpoch, Seconds: time.Since(start).Seconds()}
		if seq == nil && o.Seq != nil && len(res.Seq) > 0 {
			seq, seqOf = res.Seq, o.Seq
		}
		// With query slots, the search validation counts too (see criterion).
		bv := math.NaN()
		if best != nil {
			bv = criterion(best.BestValidation, best.SearchValidation)
		}
		v := criterion(res.BestValidation, res.SearchValidation)
		if best == nil || (!math.IsNaN(v) && (math.IsNaN(bv) || v > bv)) {
			best, bestK = res, k
		}
	}
	return best, bestK, tried, nil
}
