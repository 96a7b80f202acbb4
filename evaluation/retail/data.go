package retail

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fusionrank/fusionrank/evaluation"
)

// Event is one kept purchase line.
type Event struct {
	Customer int32 // index into Log.CustomerIDs
	Item     int32 // index into Log.ItemIDs
	Time     int64 // Unix nanoseconds, UTC
}

// Log is a cleaned purchase log. Items are indexed in ascending stock-code
// order and customers in ascending id order; Events are sorted by time
// (file order among equal times).
type Log struct {
	Events      []Event
	ItemIDs     []string
	ItemText    []string
	CustomerIDs []string
	// Read counts the data rows read; Kept the rows that became events.
	Read, Kept int
}

// Load reads a gzip-compressed (by the ".gz" suffix) or plain TSV log (see Read).
func Load(path string) (*Log, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	l, err := Read(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// columns the reader needs, by header name.
var columns = []string{"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"}

// Read parses the tab-separated log with a header row naming at least the
// columns InvoiceNo, StockCode, Description, Quantity, InvoiceDate (Unix
// nanoseconds), UnitPrice and CustomerID, in any order. It keeps a row as a
// purchase only when the package documentation's cleaning rules allow.
func Read(r io.Reader) (*Log, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("retail: header: %w", err)
		}
		return nil, fmt.Errorf("retail: empty file")
	}
	header := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
	col := make(map[string]int, len(columns))
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	idx := make([]int, len(columns))
	for i, c := range columns {
		j, ok := col[c]
		if !ok {
			return nil, fmt.Errorf("retail: header lacks column %q", c)
		}
		idx[i] = j
	}
	type raw struct {
		customer, item string
		time           int64
	}
	var rows []raw
	descCount := map[string]map[string]int{}
	l := &Log{}
	line := 1
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) < len(header) {
			return nil, fmt.Errorf("retail: line %d: %d fields, want %d", line, len(f), len(header))
		}
		l.Read++
		invoice, code, desc := f[idx[0]], strings.ToUpper(strings.TrimSpace(f[idx[1]])), strings.TrimSpace(f[idx[2]])
		customer := strings.TrimSpace(f[idx[6]])
		if customer == "" || strings.HasPrefix(invoice, "C") || code == "" || code[0] < '0' || code[0] > '9' {
			continue
		}
		qty, err := strconv.ParseFloat(f[idx[3]], 64)
		if err != nil {
			return nil, fmt.Errorf("retail: line %d: quantity %q: %w", line, f[idx[3]], err)
		}
		price, err := strconv.ParseFloat(f[idx[5]], 64)
		if err != nil {
			return nil, fmt.Errorf("retail: line %d: unit price %q: %w", line, f[idx[5]], err)
		}
		if qty <= 0 || price <= 0 {
			continue
		}
		ts, err := strconv.ParseInt(f[idx[4]], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("retail: line %d: invoice date %q: want Unix nanoseconds: %w", line, f[idx[4]], err)
		}
		// Customer ids are stored as "17850" or "17850.0" depending on the export.
		customer = strings.TrimSuffix(customer, ".0")
		rows = append(rows, raw{customer, code, ts})
		if desc != "" {
			m := descCount[code]
			if m == nil {
				m = map[string]int{}
				descCount[code] = m
			}
			m[desc]++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("retail: line %d: %w", line+1, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("retail: no purchase rows with a customer")
	}
	items, customers := map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		items[r.item] = true
		customers[r.customer] = true
	}
	l.ItemIDs = sortedKeys(items)
	l.CustomerIDs = sortedKeys(customers)
	itemIdx, custIdx := indexOf(l.ItemIDs), indexOf(l.CustomerIDs)
	l.ItemText = make([]string, len(l.ItemIDs))
	for i, code := range l.ItemIDs {
		best, n := "", 0
		for d, c := range descCount[code] {
			if c > n || (c == n && d < best) {
				best, n = d, c
			}
		}
		l.ItemText[i] = best
	}
	l.Events = make([]Event, len(rows))
	for i, r := range rows {
		l.Events[i] = Event{Customer: custIdx[r.customer], Item: itemIdx[r.item], Time: r.time}
	}
	slices.SortStableFunc(l.Events, func(a, b Event) int { return cmp.Compare(a.Time, b.Time) })
	l.Kept = len(l.Events)
	return l, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func indexOf(ids []string) map[string]int32 {
	m := make(map[string]int32, len(ids))
	for i, id := range ids {
		m[id] = int32(i)
	}
	return m
}

// NumItems returns the catalogue size: every stock code with a kept purchase.
func (l *Log) NumItems() int { return len(l.ItemIDs) }

// End returns the time of the last event.
func (l *Log) End() int64 { return l.Events[len(l.Events)-1].Time }

// Cutoff returns the start of the last days calendar days (UTC) ending on
// the day of the last event at or before end: midnight of end's day minus
// days−1 days. Events at or after the cutoff form the evaluation period.
func Cutoff(end int64, days int) int64 {
	day := time.Unix(0, end).UTC().Truncate(24 * time.Hour)
	return day.AddDate(0, 0, -(days - 1)).UnixNano()
}

// Split is a temporal split of a log at a cutoff.
type Split struct {
	// Cutoff and End bound the evaluation period [Cutoff, End].
	Cutoff, End int64
	// Train holds every customer's events before Cutoff, in time order.
	Train *evaluation.Sequences
	// Cases holds, for each customer with at least one training event and at
	// least one target, the training history and the targets: the distinct
	// items bought in [Cutoff, End] that the customer had not bought before
	// Cutoff. CaseCustomers parallels Cases.
	Cases         []evaluation.MultiCase
	CaseCustomers []int32
	// ColdCustomers counts customers whose first purchase is in the
	// evaluation period (not evaluated); ColdTargets counts targets that
	// nobody bought before Cutoff.
	ColdCustomers, ColdTargets, Targets int
}

// SplitAt splits the events with Time ≤ end at cutoff.
func (l *Log) SplitAt(cutoff, end int64) *Split {
	nc := len(l.CustomerIDs)
	s := &Split{Cutoff: cutoff, End: end}
	train := &evaluation.Sequences{
		NumItems: l.NumItems(), Users: make([][]int32, nc), Times: make([][]int64, nc),
		ItemIDs: l.ItemIDs, ItemText: l.ItemText,
	}
	seenItem := make([]bool, l.NumItems())
	for _, e := range l.Events {
		if e.Time < cutoff {
			train.Users[e.Customer] = append(train.Users[e.Customer], e.Item)
			train.Times[e.Customer] = append(train.Times[e.Customer], e.Time)
			seenItem[e.Item] = true
		}
	}
	targets := make([][]int32, nc)
	bought := map[[2]int32]bool{}
	for c, seq := range train.Users {
		for _, it := range seq {
			bought[[2]int32{int32(c), it}] = true
		}
	}
	for _, e := range l.Events {
		if e.Time < cutoff || e.Time > end {
			continue
		}
		key := [2]int32{e.Customer, e.Item}
		if bought[key] {
			continue
		}
		bought[key] = true
		targets[e.Customer] = append(targets[e.Customer], e.Item)
	}
	for c := range nc {
		if len(targets[c]) == 0 {
			continue
		}
		if len(train.Users[c]) == 0 {
			s.ColdCustomers++
			continue
		}
		s.Cases = append(s.Cases, evaluation.MultiCase{History: train.Users[c], Targets: targets[c]})
		s.CaseCustomers = append(s.CaseCustomers, int32(c))
		s.Targets += len(targets[c])
		for _, it := range targets[c] {
			if !seenItem[it] {
				s.ColdTargets++
			}
		}
	}
	s.Train = train
	return s
}

// TestSplit is the test split: the last days calendar days are the
// evaluation period, everything before trains.
func (l *Log) TestSplit(days int) *Split {
	end := l.End()
	return l.SplitAt(Cutoff(end, days), end)
}

// ValidationSplit applies the same rule to the training period of the test
// split: its last days calendar days are evaluated, what precedes trains.
// The test period is never seen.
func (l *Log) ValidationSplit(days int) *Split {
	testCut := Cutoff(l.End(), days)
	end := testCut - 1
	return l.SplitAt(Cutoff(end, days), end)
}
