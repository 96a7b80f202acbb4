package s3rec

import (
	"context"
	"fmt"
	seqfile "github.com/fusionrank/fusionrank/dataset/s3rec"
	"io"
	"path/filepath"
	"time"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/evaluation/baseline"
)

// Ks are the protocol's cutoffs.
var Ks = []int{5, 10, 20}

// PublishedBeauty holds the full-ranking results on Beauty published with
// S3-Rec (Zhou et al., CIKM 2020), as listed in the datasets README.
var PublishedBeauty = []evaluation.Row{
	published("PopRec (published)", 0.0080, 0.0044, 0.0152, 0.0068, 0.0217, 0.0084),
	published("GRU4Rec (published)", 0.0164, 0.0099, 0.0283, 0.0137, 0.0479, 0.0187),
	published("SASRec (published)", 0.0387, 0.0249, 0.0605, 0.0318, 0.0902, 0.0394),
	published("BERT4Rec (published)", 0.0203, 0.0124, 0.0347, 0.0170, 0.0599, 0.0233),
	published("S3-Rec (published)", 0.0387, 0.0244, 0.0647, 0.0327, 0.0994, 0.0414),
}

func published(label string, v ...float64) evaluation.Row {
	var ms evaluation.Metrics
	for i, k := range Ks {
		ms = append(ms, evaluation.Metric{Name: "HR", K: k, Value: v[2*i]}, evaluation.Metric{Name: "NDCG", K: k, Value: v[2*i+1]})
	}
	return evaluation.Row{Label: label, Metrics: ms}
}

// Options are the knobs of an evaluation run.
type Options struct {
	// Ks are the cutoffs; nil means Ks (5, 10, 20).
	Ks []int
	// Tie is the tie rule; the default TiesExpected reproduces PopRec (see
	// the package documentation).
	Tie evaluation.TieRule
	// Workers is the number of scoring goroutines; 0 means GOMAXPROCS.
	Workers int
	// Progress, when not nil, receives progress bars (normally os.Stderr).
	Progress io.Writer
	// TestOnly skips the validation row of a model from Config.Extra (a
	// second fit, on the validation split); the model's own choices on its
	// held-out cases are unaffected. For comparisons under a tight budget.
	TestOnly bool
	// Users, when positive and below the number of users, scores only
	// this many test (and validation) users, evenly spaced in file order;
	// training data is unchanged. Paired comparisons need both runs on
	// the same Users. For comparisons under a tight budget.
	Users int
}

func (o Options) ks() []int {
	if o.Ks == nil {
		return Ks
	}
	return o.Ks
}

// Evaluate fits m on train, scores every case and returns HR@k and NDCG@k.
func Evaluate(ctx context.Context, m evaluation.Model, train *evaluation.Sequences, cases []evaluation.Case, o Options, label string) (evaluation.Metrics, error) {
	met, _, err := evaluate(ctx, m, train, cases, o, label)
	return met, err
}

// evaluate is Evaluate that also returns every case's rank.
func evaluate(ctx context.Context, m evaluation.Model, train *evaluation.Sequences, cases []evaluation.Case, o Options, label string) (evaluation.Metrics, []evaluation.Rank, error) {
	if err := m.Fit(ctx, train); err != nil {
		return nil, nil, fmt.Errorf("s3rec: fit %s: %w", label, err)
	}
	r := evaluation.Runner{Workers: o.Workers, Progress: o.Progress, Label: label}
	acc, ranks, err := r.LeaveOneOut(ctx, m, train.NumItems, cases, o.ks(), o.Tie)
	if err != nil {
		return nil, nil, err
	}
	return acc.Metrics(), ranks, nil
}

// MarkovVariants is the grid of Markov settings that Run compares on the
// validation targets; the first is the plain first-order chain. The grid
// covers the history window (order and decay), row normalisation,
// smoothing towards popularity and reverse transitions.
func MarkovVariants() []*baseline.Markov {
	vs := []*baseline.Markov{{Order: 1}}
	for _, order := range []int{2, 3, 5, 10} {
		for _, decay := range []float64{0.3, 0.6} {
			vs = append(vs, &baseline.Markov{Order: order, Decay: decay})
		}
	}
	for _, order := range []int{3, 5} {
		vs = append(vs, &baseline.Markov{Order: order, Decay: 0.3, Normalize: true})
	}
	for _, pw := range []float64{0.01, 0.05} {
		vs = append(vs, &baseline.Markov{Order: 5, Decay: 0.3, Normalize: true, PopWeight: pw})
	}
	for _, rev := range []float64{0.1, 0.25} {
		vs = append(vs, &baseline.Markov{Order: 1, Reverse: rev}, &baseline.Markov{Order: 5, Decay: 0.3, Reverse: rev})
	}
	return vs
}

// Config describes one `fusionrank eval s3rec` run.
type Config struct {
	// Sequences is the path of the sequences file; Attributes, optional,
	// the item-to-attributes JSON.
	Sequences  string
	Attributes string
	// Model is "pop", "markov", or a name in Extra.
	Model string
	// Extra maps further model names (the fusion scorer) to constructors;
	// such a model is fitted and scored on validation, then refitted and
	// scored on test.
	Extra map[string]func() evaluation.Model
	// Command is the command line, recorded in report.md.
	Command string
	Options
}

// SelectBy is the validation metric that picks among model variants.
const SelectBy = "NDCG@10"

// Run loads the data, evaluates the configured model as the package
// documentation describes and returns the report (test metrics as the
// headline, validation and variant rows as extras, the published Beauty rows
// beside them). It writes nothing; see evaluation.Report.WriteDir.
func Run(ctx context.Context, cfg Config) (evaluation.Report, error) {
	start := time.Now()
	var rep evaluation.Report
	d, err := seqfile.Load(cfg.Sequences)
	if err != nil {
		return rep, err
	}
	if cfg.Attributes != "" {
		if err := d.LoadAttributes(cfg.Attributes); err != nil {
			return rep, err
		}
	}
	sum, err := evaluation.FileSHA256(cfg.Sequences)
	if err != nil {
		return rep, err
	}
	logf(cfg.Progress, "s3rec: %d users, %d items, %d interactions\n", len(d.Seqs), d.NumItems(), d.Interactions())
	valTrain, valCases := Split(d, Validation)
	testTrain, testCases := Split(d, Test)
	o := cfg.Options
	valCases, testCases = spacedCases(valCases, o.Users), spacedCases(testCases, o.Users)

	rep = evaluation.Report{
		Dataset: filepath.Base(cfg.Sequences), SHA256: sum, Model: cfg.Model,
		CountKey: evaluation.CountUsers, Count: len(testCases),
		Title:   "S3-Rec protocol on " + filepath.Base(cfg.Sequences) + ": " + cfg.Model,
		Command: cfg.Command, Published: PublishedBeauty,
	}
	var test evaluation.Metrics
	switch cfg.Model {
	case "pop":
		// PopRec: popularity over every interaction, targets included.
		p := &baseline.Pop{}
		if test, rep.Ranks, err = evaluate(ctx, p, All(d), testCases, o, "pop test"); err != nil {
			return rep, err
		}
		rep.ModelVersion = "pop(all interactions)"
		val, err := Evaluate(ctx, &baseline.Pop{}, All(d), valCases, o, "pop validation")
		if err != nil {
			return rep, err
		}
		trainOnly, err := Evaluate(ctx, &baseline.Pop{}, testTrain, testCases, o, "pop-train test")
		if err != nil {
			return rep, err
		}
		rep.Extra = []evaluation.Row{
			{Label: "pop, all interactions (validation)", Metrics: val},
			{Label: "pop, training interactions only (test)", Metrics: trainOnly, Plot: true},
		}
		rep.Notes = append(rep.Notes, popNote)
	case "markov":
		best, bestVal := -1.0, evaluation.Metrics(nil)
		var bestM *baseline.Markov
		for _, v := range MarkovVariants() {
			val, err := Evaluate(ctx, v, valTrain, valCases, o, "validation "+v.Version())
			if err != nil {
				return rep, err
			}
			rep.Extra = append(rep.Extra, evaluation.Row{Label: v.Version() + " (validation)", Metrics: val})
			if s, _ := val.Get(SelectBy); s > best {
				best, bestVal, bestM = s, val, v
			}
		}
		// The plain first-order chain on test too, for reference.
		if bestM.Version() != (&baseline.Markov{Order: 1}).Version() {
			plain, err := Evaluate(ctx, &baseline.Markov{Order: 1}, testTrain, testCases, o, "markov order 1 test")
			if err != nil {
				return rep, err
			}
			rep.Extra = append([]evaluation.Row{{Label: "markov(order=1) (test)", Metrics: plain, Plot: true}}, rep.Extra...)
		}
		if test, rep.Ranks, err = evaluate(ctx, bestM, testTrain, testCases, o, "test "+bestM.Version()); err != nil {
			return rep, err
		}
		// Popularity under the same validation rules, for scale.
		popVal, err := Evaluate(ctx, &baseline.Pop{}, valTrain, valCases, o, "pop validation")
		if err != nil {
			return rep, err
		}
		rep.ModelVersion = bestM.Version()
		rep.Extra = append([]evaluation.Row{
			{Label: "selected, " + bestM.Version() + " (validation)", Metrics: bestVal},
			{Label: "pop, training interactions only (validation)", Metrics: popVal},
		}, rep.Extra...)
		rep.Notes = append(rep.Notes, markovNote)
	default:
		newModel, ok := cfg.Extra[cfg.Model]
		if !ok {
			return rep, fmt.Errorf("s3rec: unknown model %q", cfg.Model)
		}
		var val evaluation.Metrics
		if !o.TestOnly {
			if val, err = Evaluate(ctx, newModel(), valTrain, valCases, o, cfg.Model+" validation"); err != nil {
				return rep, err
			}
		}
		m := newModel()
		if test, rep.Ranks, err = evaluate(ctx, m, testTrain, testCases, o, cfg.Model+" test"); err != nil {
			return rep, err
		}
		rep.ModelVersion = evaluation.VersionOf(m)
		if val != nil {
			rep.Extra = []evaluation.Row{{Label: cfg.Model + " (validation)", Metrics: val}}
		}
		if c, ok := m.(evaluation.CurveReporter); ok {
			rep.Curve = c.TrainingCurve()
		}
	}
	rep.Metrics = test
	rep.Notes = append(rep.Notes, protocolNote(o.Tie))
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

const popNote = "`pop` is PopRec as published: popularity counted over every interaction in the file, the " +
	"validation and test targets included, with the user's history masked. Counting the test targets " +
	"leaks them into the popularity; the row \"training interactions only\" shows the leak-free number."

const markovNote = "`markov` variants are compared on the validation targets only (training data: each user's " +
	"items before the validation item), the best by " + SelectBy + " is refitted on the test training data " +
	"(each user's items before the test item, the validation item included) and scored once on test."

func protocolNote(tie evaluation.TieRule) string {
	return fmt.Sprintf("Protocol: leave one out; every item of the catalogue is scored, the user's history (all items "+
		"before the target) is masked, ties are ranked by the %q rule; HR@k and NDCG@k are averaged over users.", tie.String())
}

// spacedCases returns n of cs, evenly spaced (cs when n ≤ 0 or n ≥ len(cs)).
func spacedCases(cs []evaluation.Case, n int) []evaluation.Case {
	if n <= 0 || n >= len(cs) {
		return cs
	}
	out := make([]evaluation.Case, n)
	for k := range out {
		out[k] = cs[k*len(cs)/n]
	}
	return out
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}
