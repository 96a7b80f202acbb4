package evaluation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Metric is one named measurement, such as HR@10 (Name "HR", K 10). A
// metric without a cutoff (K 0) is keyed by its name alone.
type Metric struct {
	Name  string
	K     int
	Value float64
}

// Key returns the metric's key in metrics.json: "Name@K", or Name when K is 0.
func (m Metric) Key() string {
	if m.K == 0 {
		return m.Name
	}
	return m.Name + "@" + strconv.Itoa(m.K)
}

// ParseMetricKey splits a key such as "NDCG@10" into its name and cutoff; a
// key without "@" has cutoff 0.
func ParseMetricKey(key string) (name string, k int, err error) {
	name, ks, ok := strings.Cut(key, "@")
	if !ok {
		return key, 0, nil
	}
	k, err = strconv.Atoi(ks)
	if err != nil || k <= 0 {
		return "", 0, fmt.Errorf("evaluation: bad metric key %q", key)
	}
	return name, k, nil
}

// Metrics is an ordered list of metrics. It marshals to a JSON object whose
// keys keep the list's order.
type Metrics []Metric

// Get returns the value stored under key (for example "HR@10").
func (ms Metrics) Get(key string) (float64, bool) {
	for _, m := range ms {
		if m.Key() == key {
			return m.Value, true
		}
	}
	return 0, false
}

// MarshalJSON writes the metrics as one JSON object in list order.
func (ms Metrics) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			return nil, fmt.Errorf("evaluation: metric %s is %v, which JSON cannot hold", m.Key(), m.Value)
		}
		k, _ := json.Marshal(m.Key())
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(strconv.FormatFloat(m.Value, 'g', -1, 64))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object of numbers, keeping the key order.
func (ms *Metrics) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("evaluation: metrics: want a JSON object")
	}
	var out Metrics
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("evaluation: metrics: %w", err)
		}
		key, _ := t.(string)
		var v float64
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("evaluation: metrics: %s: %w", key, err)
		}
		name, k, err := ParseMetricKey(key)
		if err != nil {
			return err
		}
		out = append(out, Metric{Name: name, K: k, Value: v})
	}
	*ms = out
	return nil
}

// Count keys of metrics.json: how many cases the metrics average over.
const (
	CountUsers   = "users"
	CountQueries = "queries"
)

// Row is one line of the comparison table in report.md and one set of
// lines in the metric-by-k plots.
type Row struct {
	// Label names the row, for example "pop (test)" or "PopRec (published)".
	Label string
	// Metrics are the row's values; a column the row lacks is shown as "–".
	Metrics Metrics
	// Plot draws an Extra row in the metric-by-k plots too. The headline
	// and published rows are always drawn; other extra rows only appear in
	// the table, so the plots stay readable.
	Plot bool
}

// Report is the outcome of one evaluation run. Its JSON form is exactly
// metrics.json as DESIGN.md specifies:
//
//	{"dataset","sha256","model","model_version","users"|"queries":n,"metrics":{…},"seconds"}
//
// The remaining fields only feed report.md and the plots.
type Report struct {
	// Dataset names the evaluated file (its base name or the path given).
	Dataset string
	// SHA256 is the hex SHA-256 of the dataset file (see FileSHA256).
	SHA256 string
	// Model is the model's name, for example "pop".
	Model string
	// ModelVersion identifies the trained model: a registry version, or a
	// description of a baseline's fitted configuration.
	ModelVersion string
	// CountKey is CountUsers or CountQueries; Count is the number of cases.
	CountKey string
	Count    int
	// Metrics are the headline (test) metrics.
	Metrics Metrics
	// Seconds is the wall time of the run (loading, fitting, scoring).
	Seconds float64

	// Title heads report.md; empty means "<Dataset>: <Model>".
	Title string
	// Command is the command line that produced the run, shown in report.md.
	Command string
	// Extra rows are further results of this run (validation metrics,
	// variants), shown below the headline row.
	Extra []Row
	// Published rows are reference results from the literature, shown
	// beside ours and drawn dashed in the plots.
	Published []Row
	// Notes are paragraphs appended to report.md (protocol details, caveats).
	Notes []string
	// Curve, when not nil, is drawn to training_curve.png.
	Curve *TrainingCurve
	// Ranks, when not nil, are the test cases' ranks, written to RanksFile
	// for paired comparisons between runs (ComparePaired).
	Ranks []Rank
	// CaseValues, when not nil, are the test cases' own metrics (protocols
	// with several targets per case), written to ValuesFile for paired
	// comparisons between runs (ComparePairedValues).
	CaseValues []Metrics
}

// MarshalJSON writes the report in the metrics.json shape.
func (r Report) MarshalJSON() ([]byte, error) {
	if r.CountKey != CountUsers && r.CountKey != CountQueries {
		return nil, fmt.Errorf("evaluation: count key %q: want %q or %q", r.CountKey, CountUsers, CountQueries)
	}
	if math.IsNaN(r.Seconds) || math.IsInf(r.Seconds, 0) {
		return nil, errors.New("evaluation: seconds is not finite")
	}
	var b bytes.Buffer
	field := func(name string, v any) error {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		b.Write(k)
		b.WriteByte(':')
		enc, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("evaluation: %s: %w", name, err)
		}
		b.Write(enc)
		return nil
	}
	b.WriteByte('{')
	for _, f := range []struct {
		name string
		v    any
	}{
		{"dataset", r.Dataset}, {"sha256", r.SHA256}, {"model", r.Model}, {"model_version", r.ModelVersion},
		{r.CountKey, r.Count}, {"metrics", r.metrics()}, {"seconds", math.Round(r.Seconds*1000) / 1000},
	} {
		if err := field(f.name, f.v); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (r Report) metrics() Metrics {
	if r.Metrics == nil {
		return Metrics{}
	}
	return r.Metrics
}

// UnmarshalJSON reads metrics.json back; fields that only feed report.md stay empty.
func (r *Report) UnmarshalJSON(data []byte) error {
	var raw struct {
		Dataset      string  `json:"dataset"`
		SHA256       string  `json:"sha256"`
		Model        string  `json:"model"`
		ModelVersion string  `json:"model_version"`
		Users        *int    `json:"users"`
		Queries      *int    `json:"queries"`
		Metrics      Metrics `json:"metrics"`
		Seconds      float64 `json:"seconds"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("evaluation: metrics.json: %w", err)
	}
	*r = Report{Dataset: raw.Dataset, SHA256: raw.SHA256, Model: raw.Model, ModelVersion: raw.ModelVersion, Metrics: raw.Metrics, Seconds: raw.Seconds}
	switch {
	case raw.Users != nil && raw.Queries == nil:
		r.CountKey, r.Count = CountUsers, *raw.Users
	case raw.Queries != nil && raw.Users == nil:
		r.CountKey, r.Count = CountQueries, *raw.Queries
	default:
		return errors.New(`evaluation: metrics.json: want exactly one of "users" and "queries"`)
	}
	return nil
}

// ReadReport reads a metrics.json file.
func ReadReport(path string) (Report, error) {
	var r Report
	data, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	err = r.UnmarshalJSON(data)
	return r, err
}

// Rows returns the report's own rows (headline, then Extra) followed by the
// published rows, as they appear in report.md.
func (r Report) Rows() []Row {
	rows := []Row{{Label: r.Model + " (this run)", Metrics: r.Metrics}}
	rows = append(rows, r.Extra...)
	return append(rows, r.Published...)
}

// WriteMarkdown writes report.md's content: a header with the dataset
// checksum, model version and command, the comparison table, the plots and
// the notes. plots are file names (relative to report.md) to embed.
func (r Report) WriteMarkdown(w io.Writer, plots []string) error {
	var b strings.Builder
	title := r.Title
	if title == "" {
		title = r.Dataset + ": " + r.Model
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "- dataset: `%s` (sha256 `%s`)\n", r.Dataset, r.SHA256)
	fmt.Fprintf(&b, "- model: `%s`, version `%s`\n", r.Model, r.ModelVersion)
	fmt.Fprintf(&b, "- %s: %d\n", r.CountKey, r.Count)
	fmt.Fprintf(&b, "- seconds: %.1f\n", r.Seconds)
	if r.Command != "" {
		fmt.Fprintf(&b, "- command: `%s`\n", r.Command)
	}
	b.WriteString("\n")
	b.WriteString(MarkdownTable(r.Rows()))
	for _, p := range plots {
		fmt.Fprintf(&b, "\n![%s](%s)\n", strings.TrimSuffix(p, filepath.Ext(p)), p)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n%s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MarkdownTable renders rows as a Markdown table with one column per metric
// key, in order of first appearance, values to four decimals.
func MarkdownTable(rows []Row) string {
	var keys []string
	seen := map[string]bool{}
	for _, row := range rows {
		for _, m := range row.Metrics {
			if k := m.Key(); !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	var b strings.Builder
	b.WriteString("| model |")
	for _, k := range keys {
		b.WriteString(" " + k + " |")
	}
	b.WriteString("\n|---|")
	for range keys {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, row := range rows {
		b.WriteString("| " + strings.ReplaceAll(row.Label, "|", "\\|") + " |")
		for _, k := range keys {
			if v, ok := row.Metrics.Get(k); ok {
				fmt.Fprintf(&b, " %.4f |", v)
			} else {
				b.WriteString(" – |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// WriteDir creates dir if needed and writes metrics.json, report.md, one
// "<metric>_by_k.png" per metric family with more than one cutoff (the
// headline row, the Extra rows marked Plot and the published rows), and
// training_curve.png when r.Curve is set. It returns the paths written.
func (r Report) WriteDir(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	p := filepath.Join(dir, "metrics.json")
	if err := os.WriteFile(p, append(js, '\n'), 0o644); err != nil {
		return nil, err
	}
	written = append(written, p)

	var plots []string
	plotted := []Row{{Label: r.Model + " (this run)", Metrics: r.Metrics}}
	for _, row := range r.Extra {
		if row.Plot {
			plotted = append(plotted, row)
		}
	}
	own := len(plotted)
	plotted = append(plotted, r.Published...)
	for _, fam := range metricFamilies(plotted) {
		name := strings.ToLower(fam) + "_by_k.png"
		if err := PlotMetricByK(filepath.Join(dir, name), fam, plotted, own); err != nil {
			return written, err
		}
		plots = append(plots, name)
	}
	if r.Curve != nil {
		if err := PlotTrainingCurve(filepath.Join(dir, "training_curve.png"), *r.Curve); err != nil {
			return written, err
		}
		plots = append(plots, "training_curve.png")
	}
	for _, pl := range plots {
		written = append(written, filepath.Join(dir, pl))
	}
	if r.Ranks != nil {
		var b bytes.Buffer
		if err := WriteRanks(&b, r.Ranks); err != nil {
			return written, err
		}
		p := filepath.Join(dir, RanksFile)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	if r.CaseValues != nil {
		var b bytes.Buffer
		if err := WriteCaseValues(&b, r.CaseValues); err != nil {
			return written, err
		}
		p := filepath.Join(dir, ValuesFile)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md, plots); err != nil {
		return written, err
	}
	p = filepath.Join(dir, "report.md")
	if err := os.WriteFile(p, md.Bytes(), 0o644); err != nil {
		return written, err
	}
	return append(written, p), nil
}

// metricFamilies lists the metric names that appear with at least two
// cutoffs in some row, in order of first appearance.
func metricFamilies(rows []Row) []string {
	var fams []string
	seen := map[string]bool{}
	for _, row := range rows {
		count := map[string]int{}
		for _, m := range row.Metrics {
			if m.K > 0 {
				count[m.Name]++
			}
		}
		for _, m := range row.Metrics {
			if count[m.Name] >= 2 && !seen[m.Name] {
				seen[m.Name] = true
				fams = append(fams, m.Name)
			}
		}
	}
	return fams
}
