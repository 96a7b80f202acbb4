package retail

import (
	"context"
	"fmt"
	"github.com/fusionrank/fusionrank/dataset/onlineretail"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/evaluation/baseline"
)

// Ks are the protocol's cutoffs.
var Ks = []int{5, 10, 20}

// DefaultDays is the default length of the test (and validation) period in
// calendar days.
const DefaultDays = 30

// SelectBy is the validation metric that picks among model variants.
const SelectBy = "NDCG@10"

// Options are the knobs of an evaluation run.
type Options struct {
	// Ks are the cutoffs; nil means Ks (5, 10, 20).
	Ks []int
	// Days is the length of the test and validation periods; 0 means DefaultDays.
	Days int
	// Workers is the number of scoring goroutines; 0 means GOMAXPROCS.
	Workers int
	// Progress, when not nil, receives progress bars (normally os.Stderr).
	Progress io.Writer
	// TestOnly skips the validation evaluation of a model from
	// Config.Extra (a second fit, on the validation split); the model's own
	// choices on its held-out cases are unaffected. For comparisons under a
	// tight budget.
	TestOnly bool
}

func (o Options) ks() []int {
	if o.Ks == nil {
		return Ks
	}
	return o.Ks
}

func (o Options) days() int {
	if o.Days <= 0 {
		return DefaultDays
	}
	return o.Days
}

// Evaluate fits m on the split's training data and returns HR@k, Recall@k
// and NDCG@k over the split's cases.
func Evaluate(ctx context.Context, m evaluation.Model, s *Split, o Options, label string) (evaluation.Metrics, error) {
	met, _, err := evaluate(ctx, m, s, o, label)
	return met, err
}

// evaluate is Evaluate that also returns every case's own metrics.
func evaluate(ctx context.Context, m evaluation.Model, s *Split, o Options, label string) (evaluation.Metrics, []evaluation.Metrics, error) {
	if err := m.Fit(ctx, s.Train); err != nil {
		return nil, nil, fmt.Errorf("retail: fit %s: %w", label, err)
	}
	r := evaluation.Runner{Workers: o.Workers, Progress: o.Progress, Label: label}
	acc, per, err := r.MultiTargetCases(ctx, m, s.Train.NumItems, s.Cases, o.ks())
	if err != nil {
		return nil, nil, err
	}
	return acc.Metrics(), per, nil
}

// Variant is a baseline setting; New builds the model for a split whose
// evaluation period starts at cutoff (so recent windows end at the cutoff).
type Variant struct {
	Name string
	New  func(cutoff int64) evaluation.Model
}

// PopVariants is the grid of popularity settings compared on validation:
// counting purchases or distinct buyers, over the whole training period or
// its last 90, 30 or 14 days.
func PopVariants() []Variant {
	var vs []Variant
	for _, distinct := range []bool{true, false} {
		for _, days := range []int{0, 90, 30, 14} {
			name := fmt.Sprintf("pop(distinct=%t,window=%s)", distinct, windowName(days))
			vs = append(vs, Variant{Name: name, New: func(cutoff int64) evaluation.Model {
				p := &baseline.Pop{Distinct: distinct}
				if days > 0 {
					p.Since = cutoff - int64(days)*int64(24*time.Hour)
				}
				return p
			}})
		}
	}
	return vs
}

func windowName(days int) string {
	if days == 0 {
		return "all"
	}
	return fmt.Sprintf("%dd", days)
}

// CoPurchaseVariants is the grid of co-occurrence settings compared on
// validation: groups by basket or by whole history, raw or cosine counts,
// recency decay over the history items, a window of the 10 latest items,
// and a mix with the last 14 days' popularity (weights 0.1, 0.3, 1).
func CoPurchaseVariants() []Variant {
	type spec struct {
		basket, cosine bool
		recent         int
		decay, popw    float64
		popDays        int
	}
	specs := []spec{
		{basket: false, decay: 0.9}, {basket: true, decay: 0.9},
	}
	for _, basket := range []bool{false, true} {
		for _, decay := range []float64{1, 0.9, 0.8} {
			specs = append(specs, spec{basket: basket, cosine: true, decay: decay})
		}
	}
	specs = append(specs, spec{basket: true, cosine: true, recent: 10, decay: 1})
	for _, pw := range []float64{0.1, 0.3, 1} {
		specs = append(specs, spec{basket: true, cosine: true, decay: 0.9, popw: pw, popDays: 14})
	}
	var vs []Variant
	for _, sp := range specs {
		mk := func(cutoff int64) *baseline.CoPurchase {
			c := &baseline.CoPurchase{Basket: sp.basket, Cosine: sp.cosine, Recent: sp.recent, Decay: sp.decay, PopWeight: sp.popw}
			if sp.popDays > 0 {
				c.PopSince = cutoff - int64(sp.popDays)*int64(24*time.Hour)
			}
			return c
		}
		name := (&baseline.CoPurchase{Basket: sp.basket, Cosine: sp.cosine, Recent: sp.recent, Decay: sp.decay, PopWeight: sp.popw}).Version()
		if sp.popDays > 0 {
			name = strings.TrimSuffix(name, ")") + fmt.Sprintf(",pop_window=%dd)", sp.popDays)
		}
		vs = append(vs, Variant{Name: name, New: func(cutoff int64) evaluation.Model { return mk(cutoff) }})
	}
	return vs
}

// Config describes one `fusionrank eval retail` run.
type Config struct {
	// Data is the path of the log (.tsv or .tsv.gz).
	Data string
	// Model is "pop", "copurchase", or a name in Extra.
	Model string
	// Extra maps further model names (the fusion scorer and its ablations)
	// to constructors; such a model is fitted and scored on the validation
	// split, then refitted and scored on the test split.
	Extra map[string]func() evaluation.Model
	// Command is the command line, recorded in report.md.
	Command string
	Options
}

// Run loads the log, evaluates the configured model as the package
// documentation describes and returns the report (test metrics as the
// headline, validation rows as extras). It writes nothing.
func Run(ctx context.Context, cfg Config) (evaluation.Report, error) {
	start := time.Now()
	var rep evaluation.Report
	logf(cfg.Progress, "retail: reading %s\n", cfg.Data)
	l, err := onlineretail.Load(cfg.Data)
	if err != nil {
		return rep, err
	}
	sum, err := evaluation.FileSHA256(cfg.Data)
	if err != nil {
		return rep, err
	}
	o := cfg.Options
	test, val := TestSplit(l, o.days()), ValidationSplit(l, o.days())
	logf(cfg.Progress, "retail: %d rows, %d purchases kept, %d items, %d customers\n", l.Read, l.Kept, l.NumItems(), len(l.CustomerIDs))
	for _, s := range []struct {
		name string
		s    *Split
	}{{"validation", val}, {"test", test}} {
		logf(cfg.Progress, "retail: %s period %s … %s: %d customers, %d targets (%d of items unseen in training), %d new customers skipped\n",
			s.name, day(s.s.Cutoff), day(s.s.End), len(s.s.Cases), s.s.Targets, s.s.ColdTargets, s.s.ColdCustomers)
	}
	rep = evaluation.Report{
		Dataset: filepath.Base(cfg.Data), SHA256: sum, Model: cfg.Model,
		CountKey: evaluation.CountUsers, Count: len(test.Cases),
		Title:   "Online Retail, temporal split: " + cfg.Model,
		Command: cfg.Command,
	}
	var variants []Variant
	switch cfg.Model {
	case "pop":
		variants = PopVariants()
	case "copurchase":
		variants = CoPurchaseVariants()
	default:
		newModel, ok := cfg.Extra[cfg.Model]
		if !ok {
			return rep, fmt.Errorf("retail: unknown model %q", cfg.Model)
		}
		variants = []Variant{{Name: cfg.Model, New: func(int64) evaluation.Model { return newModel() }}}
	}
	var chosen Variant
	var bestVal evaluation.Metrics
	var rows []evaluation.Row
	if o.TestOnly && len(variants) == 1 {
		chosen = variants[0]
	} else if chosen, bestVal, rows, err = selectVariant(ctx, variants, val, o); err != nil {
		return rep, err
	}
	rep.Extra = rows
	model := chosen.New(test.Cutoff)
	if rep.Metrics, rep.CaseValues, err = evaluate(ctx, model, test, o, "test "+chosen.Name); err != nil {
		return rep, err
	}
	rep.ModelVersion = evaluation.VersionOf(model)
	if _, ok := model.(evaluation.Versioner); !ok {
		rep.ModelVersion = chosen.Name
	}
	if c, ok := model.(evaluation.CurveReporter); ok {
		rep.Curve = c.TrainingCurve()
	}
	var head []evaluation.Row
	if bestVal != nil {
		head = []evaluation.Row{{Label: cfg.Model + " (validation)", Metrics: bestVal, Plot: true}}
	}
	if len(variants) > 1 {
		head[0].Label = "selected, " + chosen.Name + " (validation)"
	} else {
		rep.Extra = nil // the one variant is the head row
	}
	if cfg.Model != "pop" {
		// The popularity baseline, selected the same way, on the same test
		// customers: the bar any other model has to clear.
		popChosen, _, _, err := selectVariant(ctx, PopVariants(), val, Options{Ks: o.Ks, Days: o.Days, Workers: o.Workers})
		if err != nil {
			return rep, err
		}
		popTest, err := Evaluate(ctx, popChosen.New(test.Cutoff), test, o, "test "+popChosen.Name)
		if err != nil {
			return rep, err
		}
		head = append(head, evaluation.Row{Label: "reference: " + popChosen.Name + " (test)", Metrics: popTest, Plot: true})
	}
	rep.Extra = append(head, rep.Extra...)
	rep.Notes = append(rep.Notes, fmt.Sprintf(
		"Protocol: temporal split. Test period %s … %s (the last %d calendar days, UTC), trained on everything before it; "+
			"validation period %s … %s, trained on everything before that. A case is a customer with at least one purchase "+
			"before the period and at least one target (a distinct item bought in the period and never before it): %d test "+
			"customers with %d targets (%d of them items nobody bought before the period), %d new customers skipped. "+
			"Every item is scored, the customer's past items are masked, ties go to the lower stock code. "+
			"Variants are compared on validation by %s and only the selected one is scored on test.",
		day(test.Cutoff), day(test.End), o.days(), day(val.Cutoff), day(val.End),
		len(test.Cases), test.Targets, test.ColdTargets, test.ColdCustomers, SelectBy))
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// selectVariant evaluates every variant on the validation split and returns
// the best by SelectBy (the first on ties), its metrics, and one row per
// variant.
func selectVariant(ctx context.Context, variants []Variant, val *Split, o Options) (Variant, evaluation.Metrics, []evaluation.Row, error) {
	best, bestScore := -1, -1.0
	var bestVal evaluation.Metrics
	var rows []evaluation.Row
	for i, v := range variants {
		m, err := Evaluate(ctx, v.New(val.Cutoff), val, o, "validation "+v.Name)
		if err != nil {
			return Variant{}, nil, nil, err
		}
		rows = append(rows, evaluation.Row{Label: v.Name + " (validation)", Metrics: m})
		if s, _ := m.Get(SelectBy); s > bestScore {
			best, bestScore, bestVal = i, s, m
		}
	}
	return variants[best], bestVal, rows, nil
}

func day(ns int64) string { return time.Unix(0, ns).UTC().Format("2006-01-02 15:04") }

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}
