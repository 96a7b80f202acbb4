package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank/evaluation/fusion"
)

// TestEvalWritesReport runs both protocols on small fixtures through the
// CLI glue and checks what a data scientist reads: metrics.json with the
// documented keys, report.md and the plots.
func TestEvalWritesReport(t *testing.T) {
	dir := t.TempDir()
	seqs := writeSequences(t, dir, 25)
	var b strings.Builder
	attrs := filepath.Join(dir, "attrs.json")
	writeTestFile(t, attrs, `{"1":[1,2],"2":[2]}`)

	logPath := filepath.Join(dir, "log.tsv")
	b.Reset()
	b.WriteString("InvoiceNo\tStockCode\tDescription\tQuantity\tInvoiceDate\tUnitPrice\tCustomerID\tCountry\n")
	day := func(d int) int64 { return time.Date(2011, 9, 1, 10, 0, 0, 0, time.UTC).AddDate(0, 0, d).UnixNano() }
	for c := range 30 {
		for i, d := range []int{0, 20, 40, 70} {
			fmt.Fprintf(&b, "%d\t%d\tITEM %d\t1\t%d\t1.5\t%d\tUK\n", 1000+10*c+i, 10000+(c+i)%7, (c+i)%7, day(d+c%5), 12000+c)
		}
	}
	writeTestFile(t, logPath, b.String())

	tests := []struct {
		name   string
		args   []string
		counts string
		keys   []string
	}{
		{"s3rec pop", []string{"s3rec", "--sequences", seqs, "--attributes", attrs, "--model", "pop"}, "users", []string{"HR@5", "NDCG@5", "HR@10", "NDCG@10", "HR@20", "NDCG@20"}},
		{"s3rec markov", []string{"s3rec", "--sequences", seqs, "--model", "markov", "--ties", "pessimistic", "--workers", "1"}, "users", []string{"HR@5", "NDCG@5", "HR@10", "NDCG@10", "HR@20", "NDCG@20"}},
		{"retail pop", []string{"retail", "--data", logPath, "--model", "pop", "--days", "20"}, "users", []string{"HR@5", "Recall@5", "NDCG@5", "HR@10", "Recall@10", "NDCG@10", "HR@20", "Recall@20", "NDCG@20"}},
		{"retail copurchase", []string{"retail", "--data", logPath, "--model", "copurchase", "--days", "20", "--quiet"}, "users", []string{"HR@5", "Recall@5", "NDCG@5", "HR@10", "Recall@10", "NDCG@10", "HR@20", "Recall@20", "NDCG@20"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			var stdout, stderr bytes.Buffer
			if err := runEval(context.Background(), append(tt.args, "--out", out), &stdout, &stderr); err != nil {
				t.Fatalf("%v\nstderr: %s", err, stderr.String())
			}
			raw, err := os.ReadFile(filepath.Join(out, "metrics.json"))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			want := []string{"dataset", "sha256", "model", "model_version", tt.counts, "metrics", "seconds"}
			got := slices.Sorted(func(yield func(string) bool) {
				for k := range m {
					if !yield(k) {
						return
					}
				}
			})
			if !slices.Equal(got, slices.Sorted(slices.Values(want))) {
				t.Fatalf("metrics.json keys %v, want %v", got, want)
			}
			var metrics map[string]float64
			if err := json.Unmarshal(m["metrics"], &metrics); err != nil {
				t.Fatal(err)
			}
			for _, k := range tt.keys {
				if v, ok := metrics[k]; !ok || v < 0 || v > 1 {
					t.Errorf("metrics[%s] = %v, %v", k, v, ok)
				}
			}
			var n int
			if err := json.Unmarshal(m[tt.counts], &n); err != nil || n == 0 {
				t.Errorf("%s = %s", tt.counts, m[tt.counts])
			}
			var sum string
			if err := json.Unmarshal(m["sha256"], &sum); err != nil || len(sum) != 64 {
				t.Errorf("sha256 = %s", m["sha256"])
			}
			for _, f := range []string{"report.md", "hr_by_k.png", "ndcg_by_k.png"} {
				if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
			if !strings.Contains(stdout.String(), "| model |") {
				t.Errorf("stdout lacks the table: %s", stdout.String())
			}
			quiet := slices.Contains(tt.args, "--quiet")
			if hasBar := strings.Contains(stderr.String(), "%"); hasBar == quiet {
				t.Errorf("progress on stderr = %v with --quiet = %v: %q", hasBar, quiet, stderr.String())
			}
		})
	}
}

func TestEvalUsageAndErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		help    bool
		wantErr string
	}{
		{"no protocol", nil, false, "missing protocol"},
		{"help", []string{"--help"}, true, ""},
		{"s3rec help", []string{"s3rec", "--help"}, true, ""},
		{"retail help", []string{"retail", "-h"}, true, ""},
		{"rerank needs files", []string{"rerank"}, false, "--train and --out are required"},
		{"unknown protocol", []string{"nope"}, false, "unknown protocol"},
		{"missing sequences", []string{"s3rec", "--model", "pop", "--out", "x"}, false, "--sequences and --out are required"},
		{"bad model", []string{"s3rec", "--sequences", "a", "--model", "nope", "--out", "x"}, false, `--model "nope"`},
		{"bad ties", []string{"s3rec", "--sequences", "a", "--model", "pop", "--out", "x", "--ties", "coin"}, false, "unknown tie rule"},
		{"missing file", []string{"retail", "--data", "/nonexistent.tsv", "--model", "pop", "--out", "x"}, false, "no such file"},
		{"stray argument", []string{"retail", "extra"}, false, "unexpected argument"},
		{"negative epochs", []string{"retail", "--data", "a", "--model", "pop", "--out", "x", "--epochs", "-2"}, false, "--epochs -2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runEval(context.Background(), tt.args, &stdout, &stderr)
			if tt.help {
				if !errors.Is(err, flag.ErrHelp) {
					t.Fatalf("err %v, want flag.ErrHelp", err)
				}
				if text := stdout.String() + stderr.String(); !strings.Contains(text, "usage: fusionrank eval") {
					t.Fatalf("usage %q", text)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestWithEpochs: --epochs replaces the cap of a scorer that trains, and leaves
// alone one that does not (Epochs < 0) and the default (0).
func TestWithEpochs(t *testing.T) {
	o := fusion.Options()
	if got := withEpochs(o, 16).Epochs; got != 16 {
		t.Errorf("cap 16: Epochs %d", got)
	}
	if got := withEpochs(o, 0).Epochs; got != o.Epochs {
		t.Errorf("cap 0: Epochs %d, want the default %d", got, o.Epochs)
	}
	if got := withEpochs(fusion.SeqOptions(), 16).Epochs; got != -1 {
		t.Errorf("untrained scorer: Epochs %d, want -1", got)
	}
}

func writeTestFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeSequences writes a sequences file of users walking 1 → 2 → … → 9 → 1
// from different starts and returns its path.
func writeSequences(t *testing.T, dir string, users int) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("seq%d.txt", users))
	var b strings.Builder
	for u := range users {
		fmt.Fprintf(&b, "u%d", u)
		for i := range 6 {
			fmt.Fprintf(&b, " %d", 1+(u+i)%9)
		}
		b.WriteString("\n")
	}
	writeTestFile(t, p, b.String())
	return p
}

// TestEvalCompare: two s3rec runs of the same file compared user by user
// (markov, which knows the chain, ahead of pop with an interval above 0);
// runs of different files are refused.
func TestEvalCompare(t *testing.T) {
	dir := t.TempDir()
	seqs := writeSequences(t, dir, 25)
	run := func(file, model string) string {
		out := filepath.Join(dir, model+filepath.Base(file))
		var stdout, stderr bytes.Buffer
		if err := runEval(context.Background(), []string{"s3rec", "--sequences", file, "--model", model, "--quiet", "--out", out}, &stdout, &stderr); err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		return out
	}
	mk, pop := run(seqs, "markov"), run(seqs, "pop")
	var stdout, stderr bytes.Buffer
	if err := runEval(context.Background(), []string{"compare", "--resamples", "500", mk, pop}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var ndcg string
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(line, "| NDCG@10 |") {
			ndcg = line
		}
	}
	f := strings.Split(ndcg, "|")
	if len(f) < 7 || !strings.HasPrefix(strings.TrimSpace(f[4]), "+") || !strings.HasPrefix(strings.TrimSpace(f[5]), "[+") {
		t.Fatalf("NDCG@10 row %q: want a positive difference and interval\n%s", ndcg, stdout.String())
	}
	other := run(writeSequences(t, dir, 20), "pop")
	err := runEval(context.Background(), []string{"compare", mk, other}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "different data") {
		t.Errorf("runs of different files: %v", err)
	}
}

// TestEvalCompareRetail: retail runs write values.tsv, and compare reads it:
// a run against itself differs by exactly 0; copurchase against pop prints
// both rows; a retail run against an s3rec run is refused.
func TestEvalCompareRetail(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "log.tsv")
	var b strings.Builder
	b.WriteString("InvoiceNo\tStockCode\tDescription\tQuantity\tInvoiceDate\tUnitPrice\tCustomerID\tCountry\n")
	day := func(d int) int64 { return time.Date(2011, 9, 1, 10, 0, 0, 0, time.UTC).AddDate(0, 0, d).UnixNano() }
	for c := range 30 {
		for i, d := range []int{0, 20, 40, 70} {
			fmt.Fprintf(&b, "%d\t%d\tITEM %d\t1\t%d\t1.5\t%d\tUK\n", 1000+10*c+i, 10000+(c+i)%7, (c+i)%7, day(d+c%5), 12000+c)
		}
	}
	writeTestFile(t, logPath, b.String())
	run := func(model string) string {
		out := filepath.Join(dir, model)
		var stdout, stderr bytes.Buffer
		if err := runEval(context.Background(), []string{"retail", "--data", logPath, "--model", model, "--days", "20", "--quiet", "--out", out}, &stdout, &stderr); err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		if _, err := os.Stat(filepath.Join(out, "values.tsv")); err != nil {
			t.Fatal(err)
		}
		return out
	}
	pop, co := run("pop"), run("copurchase")
	var stdout, stderr bytes.Buffer
	if err := runEval(context.Background(), []string{"compare", "--resamples", "200", pop, pop}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "| NDCG@10 |") || !strings.Contains(stdout.String(), "+0.0000 | [+0.0000, +0.0000]") {
		t.Errorf("a run against itself:\n%s", stdout.String())
	}
	stdout.Reset()
	if err := runEval(context.Background(), []string{"compare", "--resamples", "200", co, pop}, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "| HR@10 |") {
		t.Errorf("copurchase against pop: %v\n%s", err, stdout.String())
	}
	s3 := filepath.Join(dir, "s3")
	if err := runEval(context.Background(), []string{"s3rec", "--sequences", writeSequences(t, dir, 25), "--model", "pop", "--quiet", "--out", s3}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if err := runEval(context.Background(), []string{"compare", pop, s3}, &stdout, &stderr); err == nil {
		t.Error("a retail run compared with an s3rec run")
	}
}
