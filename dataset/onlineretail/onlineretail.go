package onlineretail

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fusionrank/fusionrank/internal/gz"

	"github.com/fusionrank/fusionrank"
)

// Event is one kept purchase line.
type Event struct {
	Customer int32 // index into Log.CustomerIDs
	Item     int32 // index into Log.ItemIDs
	Time     int64 // Unix nanoseconds, UTC
	// Invoice is the line's InvoiceNo and Line its line number in the file (the
	// header is line 1): together they name the purchase (Purchases' event ids).
	Invoice string
	Line    int
}

// Log is a cleaned purchase log. Items are indexed in ascending stock-code
// order and customers in ascending id order; Events are sorted by time
// (file order among equal times).
type Log struct {
	Events   []Event
	ItemIDs  []string
	ItemText []string
	// ItemPrice is each item's UnitPrice on its last kept line.
	ItemPrice   []float64
	CustomerIDs []string
	// Read counts the data rows read; Kept the rows that became events.
	Read, Kept int
}

// Load reads a gzip-compressed (told by its first bytes) or plain TSV log (see Read).
func Load(path string) (*Log, error) {
	r, done, _, err := gz.Open(path)
	if err != nil {
		return nil, err
	}
	defer done()
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
		price          float64
		invoice        string
		line           int
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
		rows = append(rows, raw{customer, code, ts, price, invoice, line})
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
	l.ItemPrice = make([]float64, len(l.ItemIDs))
	l.Events = make([]Event, len(rows))
	for i, r := range rows {
		l.Events[i] = Event{Customer: custIdx[r.customer], Item: itemIdx[r.item], Time: r.time, Invoice: r.invoice, Line: r.line}
		l.ItemPrice[itemIdx[r.item]] = r.price
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

// Items returns the catalogue as the service's items: id ItemID(stock code), the
// description in lower case as title, Category(description) as category, and the
// last kept unit price.
func (l *Log) Items() []fusionrank.Item {
	out := make([]fusionrank.Item, len(l.ItemIDs))
	for i, code := range l.ItemIDs {
		out[i] = fusionrank.Item{ID: ItemID(code), Title: strings.ToLower(l.ItemText[i]), Active: true, Category: Category(l.ItemText[i])}
		if p := l.ItemPrice[i]; p > 0 {
			out[i].Price = &p
		}
	}
	return out
}

// Purchases returns the kept lines as the service's purchase events, in time order:
// user "c<CustomerID>", item ItemID(stock code), id "or:<InvoiceNo>:<line>" (the line
// number makes a second import of the file store nothing twice).
func (l *Log) Purchases() []fusionrank.Event {
	out := make([]fusionrank.Event, len(l.Events))
	for i, e := range l.Events {
		out[i] = fusionrank.Event{EventID: "or:" + e.Invoice + ":" + strconv.Itoa(e.Line), UserID: "c" + l.CustomerIDs[e.Customer],
			ItemID: ItemID(l.ItemIDs[e.Item]), Type: fusionrank.Purchase, Timestamp: time.Unix(0, e.Time).UTC()}
	}
	return out
}

// ItemID makes a stock code a valid item id: "sku-" and the code, characters outside
// [A-Za-z0-9._-] replaced by "_".
func ItemID(code string) string {
	var b strings.Builder
	for _, r := range code {
		if r < 128 && (r == '-' || r == '.' || r == '_' || (r >= '0' && r <= '9') || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z')) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return "sku-" + b.String()
}

// Category takes a description's last word (HEART, BAG, MUG, …), in lower case, as a
// coarse category: the data set has none, and the service's filters and diversity
// want one.
func Category(description string) string {
	f := strings.Fields(strings.ToLower(description))
	if len(f) == 0 {
		return ""
	}
	return strings.Trim(f[len(f)-1], ".,;:!?()'\"")
}
