package retail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank/dataset/onlineretail"
	"github.com/fusionrank/fusionrank/evaluation"
)

const header = "InvoiceNo\tStockCode\tDescription\tQuantity\tInvoiceDate\tUnitPrice\tCustomerID\tCountry\n"

// row formats one log line; date is "2011-01-02".
func row(invoice, code, desc string, qty int, date string, price float64, customer string) string {
	ts, err := time.Parse(time.DateOnly, date)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s\t%s\t%s\t%d\t%d\t%g\t%s\tUnited Kingdom\n", invoice, code, desc, qty, ts.UnixNano(), price, customer)
}

func TestCutoff(t *testing.T) {
	end := time.Date(2011, 12, 9, 12, 50, 0, 0, time.UTC).UnixNano()
	want := time.Date(2011, 11, 10, 0, 0, 0, 0, time.UTC).UnixNano()
	if got := Cutoff(end, 30); got != want {
		t.Fatalf("cutoff %s, want %s", day(got), day(want))
	}
	if got := Cutoff(end, 1); got != time.Date(2011, 12, 9, 0, 0, 0, 0, time.UTC).UnixNano() {
		t.Fatalf("one-day cutoff %s", day(got))
	}
}

// plantedLog: the test period is 2011-12-01 … 2011-12-10 (10 days).
//
//	alice: A, B before; C (new) and A (repeat) in the test period.
//	bob:   B before; nothing new in the test period (B again).
//	carol: only in the test period: a new customer, not evaluated.
//	dave:  A in the validation period, D (new) in the test period.
//	erin:  X only in the test period (X is bought by nobody before).
func plantedLog() string {
	return header +
		row("1", "1000A", "A", 1, "2011-11-01", 1, "alice") +
		row("2", "1000B", "B", 1, "2011-11-02", 1, "alice") +
		row("3", "1000B", "B", 1, "2011-11-03", 1, "bob") +
		row("4", "1000A", "A", 1, "2011-11-25", 1, "dave") +
		row("5", "1000C", "C", 1, "2011-12-02", 1, "alice") +
		row("5", "1000A", "A", 1, "2011-12-02", 1, "alice") +
		row("6", "1000B", "B", 1, "2011-12-03", 1, "bob") +
		row("7", "1000C", "C", 1, "2011-12-04", 1, "carol") +
		row("8", "1000D", "D", 1, "2011-12-05", 1, "dave") +
		row("9", "1000X", "X", 1, "2011-12-06", 1, "erin") +
		row("9", "1000X", "X", 1, "2011-12-06", 1, "alice") +
		row("10", "1000A", "A", 1, "2011-12-10", 1, "erin")
}

func TestSplitNoLeak(t *testing.T) {
	l, err := onlineretail.Read(strings.NewReader(plantedLog()))
	if err != nil {
		t.Fatal(err)
	}
	item := func(code string) int32 { return int32(slices.Index(l.ItemIDs, code)) }
	cust := func(id string) int32 { return int32(slices.Index(l.CustomerIDs, id)) }
	s := TestSplit(l, 10)
	if day(s.Cutoff) != "2011-12-01 00:00" {
		t.Fatalf("cutoff %s", day(s.Cutoff))
	}
	// No purchase of the test period is in the training data.
	for c, seq := range s.Train.Users {
		for i, ts := range s.Train.Times[c] {
			if ts >= s.Cutoff {
				t.Fatalf("customer %s: test-period purchase of %s in training", l.CustomerIDs[c], l.ItemIDs[seq[i]])
			}
		}
	}
	for _, planted := range []string{"1000C", "1000D", "1000X"} {
		for c, seq := range s.Train.Users {
			if slices.Contains(seq, item(planted)) {
				t.Fatalf("planted test purchase %s leaked into %s's training", planted, l.CustomerIDs[c])
			}
		}
	}
	want := map[int32][]int32{
		cust("alice"): {item("1000C"), item("1000X")}, // A was bought before: not a target
		cust("dave"):  {item("1000D")},
	}
	if len(s.Cases) != len(want) {
		t.Fatalf("cases for %v, want alice and dave", s.CaseCustomers)
	}
	for i, c := range s.CaseCustomers {
		if !slices.Equal(s.Cases[i].Targets, want[c]) {
			t.Errorf("%s: targets %v, want %v", l.CustomerIDs[c], s.Cases[i].Targets, want[c])
		}
		if !slices.Equal(s.Cases[i].History, s.Train.Users[c]) {
			t.Errorf("%s: history is not the training sequence", l.CustomerIDs[c])
		}
	}
	// carol and erin had no purchase before the period; C is new to carol but
	// alice bought it first in the period, and X nobody bought before.
	if s.ColdCustomers != 2 || s.Targets != 3 || s.ColdTargets != 3 {
		t.Fatalf("cold customers %d, targets %d, cold targets %d; want 2, 3, 3", s.ColdCustomers, s.Targets, s.ColdTargets)
	}

	// The validation split never sees the test period, not even as targets.
	v := ValidationSplit(l, 10)
	if v.End >= s.Cutoff || day(v.Cutoff) != "2011-11-21 00:00" {
		t.Fatalf("validation period %s … %s overlaps the test period", day(v.Cutoff), day(v.End))
	}
	if len(v.Cases) != 0 || v.ColdCustomers != 1 { // dave is new in the validation period
		t.Fatalf("validation cases %v, cold %d", v.Cases, v.ColdCustomers)
	}
	for _, seq := range v.Train.Users {
		if slices.Contains(seq, item("1000D")) || slices.Contains(seq, item("1000C")) {
			t.Fatal("test-period item in validation training")
		}
	}
}

func TestRunFixture(t *testing.T) {
	// 40 customers; odd ones buy P then Q, even ones P then R, before the
	// test period; in it, customers buy S (odd) or T (even) after P.
	var b strings.Builder
	b.WriteString(header)
	for c := range 40 {
		cid := fmt.Sprint(20000 + c)
		b.WriteString(row(fmt.Sprint(100+c), "10P", "P", 1, "2011-09-01", 1, cid))
		second, later := "10Q", "10S"
		if c%2 == 0 {
			second, later = "10R", "10T"
		}
		b.WriteString(row(fmt.Sprint(200+c), second, "second", 1, fmt.Sprintf("2011-10-%02d", 1+c%20), 1, cid))
		if c < 20 {
			b.WriteString(row(fmt.Sprint(300+c), later, "later", 1, fmt.Sprintf("2011-10-%02d", 21+c%5), 1, cid))
		}
		b.WriteString(row(fmt.Sprint(400+c), later, "later", 1, fmt.Sprintf("2011-11-%02d", 10+c%15), 1, cid))
	}
	path := filepath.Join(t.TempDir(), "log.tsv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{"pop", "copurchase"} {
		t.Run(model, func(t *testing.T) {
			rep, err := Run(context.Background(), Config{Data: path, Model: model, Options: Options{Days: 20}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.CountKey != evaluation.CountUsers || rep.Count != 20 || rep.ModelVersion == "" || len(rep.Metrics) != 9 {
				t.Fatalf("report %+v", rep)
			}
			if _, ok := rep.Metrics.Get("Recall@10"); !ok {
				t.Fatal("no Recall@10")
			}
			if hr, _ := rep.Metrics.Get("HR@5"); model == "copurchase" && hr != 1 {
				t.Fatalf("copurchase HR@5 = %v; S and T follow Q and R exactly", hr)
			}
		})
	}
}
