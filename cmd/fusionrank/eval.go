package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/evaluation/fusion"
	"github.com/fusionrank/fusionrank/evaluation/retail"
	"github.com/fusionrank/fusionrank/evaluation/s3rec"
	"github.com/fusionrank/fusionrank/training"
)

// fusionFlags are the eval flags that shape the fusion models.
type fusionFlags struct {
	// glove is the word-vector file of the retail text modality (--glove).
	glove string
	// epochs, when positive, replaces the models' cap on the scorer's training
	// epochs (--epochs).
	epochs int
	// seqCache is the directory the models keep their trained sequence encoders in
	// (--seq-cache); empty: none.
	seqCache string
	// members, when positive, replaces the models' number of sequence encoder
	// members (--members).
	members int
	// noSeq leaves the sequence encoder out of the models (--no-seq).
	noSeq bool
	// progress, when not nil, receives the models' training progress (each encoder
	// and scorer epoch's loss and held-out NDCG@10).
	progress io.Writer
}

// defaultGlove is the word-vector file of the retail text modality unless --glove
// names another.
const defaultGlove = "../shared/datasets/glove/glove-6B-100d-top50k.txt.gz"

// withEpochs returns o with its scorer epoch cap set to n when n is positive
// and o trains the scorer at all (Epochs ≥ 0).
func withEpochs(o training.Options, n int) training.Options {
	if n > 0 && o.Epochs >= 0 {
		o.Epochs = n
	}
	return o
}

// fusionModels returns the fusion scorer and the comparison models of the two
// behavioural protocols, by name. Every model has the same data, sequence encoder,
// scalar features, training budget and early stopping on held-out cases as the
// served configuration (fusion.ServeOptions); they differ only in the modalities and
// in how the scorer fuses them:
//
//	fusion-served   what `fusionrank train` serves: the candidates of training.ServeCandidates, the best on held-out cases
//	fusion          cross-modal attention over every modality, collab in the recent slots
//	fusion-early    early fusion (training.FusionEarly)
//	fusion-late     late fusion (training.FusionLate)
//	fusion-off      the attention switched off: scalar features only (training.FusionOff)
//	fusion-collab   attention over the collab modality alone
//	fusion-text     (retail) attention over the text modality alone
//	fusion-text-late, fusion-text-early   (retail) late or early fusion with text in the recent slots, no collab
//	fusion-start    the counting start plus the encoder, the scorer not trained (Epochs < 0)
//	fusion-query    (retail) fusion with the query slots and pseudo-queries of a searchable shop
//	fusion-served-query (retail) fusion-served with those query slots: what `fusionrank train` serves on a shop with word vectors
func fusionModels(f fusionFlags) (s3recModels, retailModels map[string]func() evaluation.Model) {
	s3recModels, retailModels = map[string]func() evaluation.Model{}, map[string]func() evaluation.Model{}
	glove := f.glove
	if glove == "" {
		glove = defaultGlove
	}
	text := fusion.TextModality(glove)
	add := func(reg map[string]func() evaluation.Model, name string, edit func(*training.Options), withText bool) {
		reg[name] = func() evaluation.Model {
			o := fusion.ServeOptions()
			if f.noSeq {
				o.Seq, o.SeqWeights = nil, nil
			}
			if f.members > 0 && o.Seq != nil {
				q := *o.Seq
				q.Members = f.members
				o.Seq = &q
			}
			edit(&o)
			if w := f.progress; w != nil {
				o.OnSeqEpoch = func(e int, loss, v float64) {
					fmt.Fprintf(w, "%s: encoder epoch %d: loss %.4f, held-out NDCG@10 %.4f\n", name, e, loss, v)
				}
				o.OnEpoch = func(e int, loss, v float64) {
					fmt.Fprintf(w, "%s: scorer epoch %d: loss %.4f, held-out NDCG@10 %.4f\n", name, e, loss, v)
				}
			}
			m := fusion.New(name, withEpochs(o, f.epochs))
			m.SeqCache = f.seqCache
			m.Serve = name == "fusion-served"
			if withText {
				m.Fixed = text
			}
			return m
		}
	}
	mode := func(f string) func(*training.Options) { return func(o *training.Options) { o.Fusion = f } }
	none := func(*training.Options) {}
	for _, p := range []struct {
		reg  map[string]func() evaluation.Model
		text bool
	}{{s3recModels, false}, {retailModels, true}} {
		add(p.reg, "fusion", none, p.text)
		add(p.reg, "fusion-served", func(*training.Options) {}, p.text)
		add(p.reg, "fusion-early", mode(training.FusionEarly), p.text)
		add(p.reg, "fusion-late", mode(training.FusionLate), p.text)
		add(p.reg, "fusion-off", mode(training.FusionOff), p.text)
		add(p.reg, "fusion-collab", func(o *training.Options) { o.NoAttr = true }, false)
		add(p.reg, "fusion-start", func(o *training.Options) { o.Epochs = -1 }, p.text)
	}
	add(retailModels, "fusion-text", func(o *training.Options) { o.NoCollab = true }, true)
	for _, f := range []string{training.FusionLate, training.FusionEarly} {
		add(retailModels, "fusion-text-"+f, func(o *training.Options) { o.NoCollab, o.Fusion = true, f }, true)
	}
	// fusion-query is fusion with the query slots `fusionrank train` adds for a shop
	// with a text modality (word slots, trained with catalogue pseudo-queries): its
	// behavioural figures against fusion's show what the slots cost behaviour.
	add(retailModels, "fusion-query", none, true)
	// fusion-served-query is fusion-served with the same query slots: the served
	// configuration of a shop with word vectors (FUSIONRANK_TEXT_VECTORS), to be
	// compared with fusion-served (`fusionrank train --query-slots=false`).
	add(retailModels, "fusion-served-query", none, true)
	for _, name := range []string{"fusion-query", "fusion-served-query"} {
		inner := retailModels[name]
		retailModels[name] = func() evaluation.Model {
			m := inner().(*fusion.Model)
			m.Words = fusion.ItemWords(glove)
			m.Serve = name == "fusion-served-query"
			return m
		}
	}
	return s3recModels, retailModels
}

const evalUsage = `usage: fusionrank eval <protocol> [flags]   (fusionrank eval <protocol> --help for its flags)

protocols:
  s3rec    leave-one-out full ranking on a sequences file (Amazon Beauty, S3-Rec protocol)
  retail   temporal split of a purchase log (UCI Online Retail)
  rerank   search relevance: rerank each query's judged products (Home Depot)
  photos   photo search: shopper photos (or words) against a catalogue known by photos (Grocery Store)
  compare  two s3rec runs user by user: paired differences with bootstrap intervals

Each protocol writes DIR/metrics.json, DIR/report.md and PNG plots, with progress on
stderr; s3rec and photos also write DIR/ranks.tsv, every test case's rank, for compare.
`

// runEval runs `fusionrank eval <protocol> …`: it parses the protocol's
// flags, evaluates, writes the report directory and prints the result table
// on stdout. --help prints the usage and returns flag.ErrHelp.
func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, evalUsage)
		return errors.New("eval: missing protocol")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, evalUsage)
		return flag.ErrHelp
	case "s3rec":
		return runEvalS3Rec(ctx, args[1:], stdout, stderr)
	case "retail":
		return runEvalRetail(ctx, args[1:], stdout, stderr)
	case "rerank":
		return runEvalRerank(ctx, args[1:], stdout, stderr)
	case "photos":
		return runEvalPhotos(ctx, args[1:], stdout, stderr)
	case "compare":
		return runEvalCompare(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, evalUsage)
	return fmt.Errorf("eval: unknown protocol %q (want s3rec, retail, rerank, photos or compare)", args[0])
}

// evalFlags returns a flag set for one protocol whose usage goes to stderr.
func evalFlags(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("eval "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fusionrank eval %s %s\n\n%s\n\nflags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// modelNames lists the built-in names followed by the registered ones.
func modelNames(builtin []string, extra map[string]func() evaluation.Model) []string {
	return append(builtin, slices.Sorted(maps.Keys(extra))...)
}

func checkModel(name string, names []string) error {
	if name == "" {
		return fmt.Errorf("--model is required (%s)", strings.Join(names, "|"))
	}
	if !slices.Contains(names, name) {
		return fmt.Errorf("--model %q: want %s", name, strings.Join(names, "|"))
	}
	return nil
}

func runEvalS3Rec(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	extra, _ := fusionModels(fusionFlags{})
	names := modelNames([]string{"pop", "markov"}, extra)
	fs := evalFlags("s3rec", "--sequences FILE [--attributes FILE] --model "+strings.Join(names, "|")+" --out DIR",
		"Leave one out on a sequences file (one line per user: user item1 item2 …, oldest first): the last item\n"+
			"is the test target, the one before it validation. Every item is scored, the user's history masked;\n"+
			"HR@k and NDCG@k for k = 5, 10, 20 over all users. pop is PopRec (popularity over all interactions);\n"+
			"markov selects its variant on the validation items, then scores the test items once.", stderr)
	seqs := fs.String("sequences", "", "sequences file, e.g. Beauty.txt (required)")
	attrs := fs.String("attributes", "", "item-to-attributes JSON, e.g. Beauty_item2attributes.json (optional; used by models with an attribute modality)")
	model := fs.String("model", "", "model: "+strings.Join(names, "|")+" (required)")
	out := fs.String("out", "", "output directory for metrics.json, report.md and plots (required)")
	ties := fs.String("ties", evaluation.TiesExpected.String(), "how a target tied with other items is ranked: expected|pessimistic|optimistic|index")
	epochs := fs.Int("epochs", 0, "fusion models: at most this many scorer epochs, early stopping still choosing the kept one (0: the default, 8)")
	seqCache := fs.String("seq-cache", "", "fusion models: directory keeping the trained sequence encoders, shared by runs with the same data and encoder options")
	members := fs.Int("members", 0, "fusion models: sequence encoder members (0: the served configuration's)")
	noSeq := fs.Bool("no-seq", false, "fusion models: without the sequence encoder (no seq feature)")
	testOnly := fs.Bool("test-only", false, "fusion models: fit and score the test split only, without the validation row (the models' own held-out choices are unchanged)")
	users := fs.Int("users", 0, "score this many users, evenly spaced (0: all); compare runs only on the same --users")
	workers := fs.Int("workers", 0, "scoring goroutines (0: one per CPU)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *epochs < 0 || *members < 0 || *users < 0 {
		return fmt.Errorf("eval s3rec: --epochs %d, --members %d, --users %d: want 0 (the default) or more", *epochs, *members, *users)
	}
	extra, _ = fusionModels(fusionFlags{epochs: *epochs, seqCache: *seqCache, members: *members, noSeq: *noSeq, progress: progressWriter(stderr, *quiet)})
	if *seqs == "" || *out == "" {
		fs.Usage()
		return errors.New("eval s3rec: --sequences and --out are required")
	}
	if err := checkModel(*model, names); err != nil {
		return fmt.Errorf("eval s3rec: %w", err)
	}
	rule, err := evaluation.ParseTieRule(*ties)
	if err != nil {
		return fmt.Errorf("eval s3rec: --ties: %w", err)
	}
	cfg := s3rec.Config{
		Sequences: *seqs, Attributes: *attrs, Model: *model, Extra: extra,
		Command: "fusionrank eval s3rec " + strings.Join(args, " "),
		Options: s3rec.Options{Tie: rule, Workers: *workers, Progress: progressWriter(stderr, *quiet), TestOnly: *testOnly, Users: *users},
	}
	rep, err := s3rec.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("eval s3rec: %w", err)
	}
	return writeEval(rep, *out, stdout, stderr)
}

func runEvalRetail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_, extra := fusionModels(fusionFlags{})
	names := modelNames([]string{"pop", "copurchase"}, extra)
	fs := evalFlags("retail", "--data FILE --model "+strings.Join(names, "|")+" --out DIR",
		"Temporal split of a purchase log (UCI Online Retail TSV, .gz allowed): the last --days calendar days\n"+
			"are the test period, the days before them validation. Targets are the items a customer buys for the\n"+
			"first time in the period; HR@k, Recall@k and NDCG@k for k = 5, 10, 20 over customers with a purchase\n"+
			"before the period and at least one target. Variants are selected on validation.", stderr)
	data := fs.String("data", "", "purchase log, e.g. online_retail.tsv.gz (required)")
	model := fs.String("model", "", "model: "+strings.Join(names, "|")+" (required)")
	out := fs.String("out", "", "output directory for metrics.json, report.md and plots (required)")
	days := fs.Int("days", retail.DefaultDays, "length of the test and validation periods in days")
	glove := fs.String("glove", defaultGlove, "GloVe word vectors for the fusion models' text modality")
	epochs := fs.Int("epochs", 0, "fusion models: at most this many scorer epochs, early stopping still choosing the kept one (0: the default, 8)")
	seqCache := fs.String("seq-cache", "", "fusion models: directory keeping the trained sequence encoders, shared by runs with the same data and encoder options")
	members := fs.Int("members", 0, "fusion models: sequence encoder members (0: the served configuration's)")
	noSeq := fs.Bool("no-seq", false, "fusion models: without the sequence encoder (no seq feature)")
	testOnly := fs.Bool("test-only", false, "fusion models: fit and score the test split only, without the validation row (the models' own held-out choices are unchanged)")
	workers := fs.Int("workers", 0, "scoring goroutines (0: one per CPU)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *epochs < 0 || *members < 0 {
		return fmt.Errorf("eval retail: --epochs %d, --members %d: want 0 (the default) or more", *epochs, *members)
	}
	_, extra = fusionModels(fusionFlags{glove: *glove, epochs: *epochs, seqCache: *seqCache, members: *members, noSeq: *noSeq, progress: progressWriter(stderr, *quiet)})
	if *data == "" || *out == "" {
		fs.Usage()
		return errors.New("eval retail: --data and --out are required")
	}
	if err := checkModel(*model, names); err != nil {
		return fmt.Errorf("eval retail: %w", err)
	}
	if *days <= 0 {
		return fmt.Errorf("eval retail: --days %d: want a positive number", *days)
	}
	cfg := retail.Config{
		Data: *data, Model: *model, Extra: extra,
		Command: "fusionrank eval retail " + strings.Join(args, " "),
		Options: retail.Options{Days: *days, Workers: *workers, Progress: progressWriter(stderr, *quiet), TestOnly: *testOnly},
	}
	rep, err := retail.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("eval retail: %w", err)
	}
	return writeEval(rep, *out, stdout, stderr)
}

func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func progressWriter(stderr io.Writer, quiet bool) io.Writer {
	if quiet {
		return nil
	}
	return stderr
}

// writeEval writes the report directory and prints the table on stdout.
func writeEval(rep evaluation.Report, out string, stdout, stderr io.Writer) error {
	files, err := rep.WriteDir(out)
	if err != nil {
		return fmt.Errorf("eval: write %s: %w", out, err)
	}
	fmt.Fprintf(stdout, "%s, model %s (%s), %d %s, %.1f s\n\n%s", rep.Dataset, rep.Model, rep.ModelVersion, rep.Count, rep.CountKey, rep.Seconds, evaluation.MarkdownTable(rep.Rows()))
	fmt.Fprintf(stderr, "wrote %s\n", strings.Join(files, ", "))
	return nil
}
