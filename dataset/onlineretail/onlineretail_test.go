package onlineretail

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
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

func TestReadCleaning(t *testing.T) {
	in := header +
		row("1", "85123A", "HEART", 6, "2011-01-01", 2.5, "17850") +
		row("1", "85123a", "HEART", 1, "2011-01-01", 2.5, "17850.0") + // same code and customer, other spelling
		row("2", "71053", "LANTERN", 1, "2011-01-02", 3, "") + // no customer
		row("C3", "71053", "LANTERN", -1, "2011-01-03", 3, "17850") + // cancellation
		row("4", "71053", "LANTERN", -2, "2011-01-03", 3, "17851") + // returned quantity
		row("5", "POST", "POSTAGE", 1, "2011-01-03", 18, "17851") + // not a product
		row("6", "22633", "HAND WARMER", 1, "2011-01-04", 0, "17851") + // free line
		row("7", "22632", "HAND WARMER RED", 2, "2010-12-31", 1.85, "17851")
	l, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if l.Read != 8 || l.Kept != 3 {
		t.Fatalf("read %d kept %d, want 8 and 3", l.Read, l.Kept)
	}
	if !slices.Equal(l.ItemIDs, []string{"22632", "85123A"}) || !slices.Equal(l.CustomerIDs, []string{"17850", "17851"}) {
		t.Fatalf("items %v customers %v", l.ItemIDs, l.CustomerIDs)
	}
	if l.ItemText[1] != "HEART" {
		t.Fatalf("text %v", l.ItemText)
	}
	// Sorted by time: the 2010-12-31 purchase comes first.
	if l.Events[0].Item != 0 || l.Events[0].Customer != 1 {
		t.Fatalf("events not in time order: %v", l.Events)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty file"},
		{"missing column", "InvoiceNo\tStockCode\n1\t2\n", "lacks column"},
		{"bad date", header + "1\t85123A\tX\t1\tyesterday\t1\t17850\tUK\n", "invoice date"},
		{"short row", header + "1\t85123A\n", "fields"},
		{"no purchases", header + row("C1", "85123A", "X", -1, "2011-01-01", 1, "1"), "no purchase rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Read(strings.NewReader(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

// TestService checks the items and purchase events the service imports: ids,
// titles, categories, prices and the event ids that make a second import a no-op.
func TestService(t *testing.T) {
	in := header +
		row("536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, "2010-12-01", 2.55, "17850.0") +
		row("536366", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, "2010-12-02", 2.95, "17850") +
		row("536367", "22/633", "HAND WARMER UNION JACK", 1, "2010-12-01", 1.85, "13047")
	l, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	items := l.Items()
	if len(items) != 2 {
		t.Fatalf("%d items, want 2", len(items))
	}
	it := items[1]
	if it.ID != "sku-85123A" || it.Title != "white hanging heart t-light holder" || it.Category != "holder" || it.Price == nil || *it.Price != 2.95 || !it.Active {
		t.Fatalf("item %+v", it)
	}
	if items[0].ID != "sku-22_633" || items[0].Category != "jack" {
		t.Fatalf("item %+v", items[0])
	}
	evs := l.Purchases()
	want := []fusionrank.Event{
		{EventID: "or:536365:2", UserID: "c17850", ItemID: "sku-85123A", Type: fusionrank.Purchase, Timestamp: time.Date(2010, 12, 1, 0, 0, 0, 0, time.UTC)},
		{EventID: "or:536367:4", UserID: "c13047", ItemID: "sku-22_633", Type: fusionrank.Purchase, Timestamp: time.Date(2010, 12, 1, 0, 0, 0, 0, time.UTC)},
		{EventID: "or:536366:3", UserID: "c17850", ItemID: "sku-85123A", Type: fusionrank.Purchase, Timestamp: time.Date(2010, 12, 2, 0, 0, 0, 0, time.UTC)},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	for i := range want {
		if evs[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, evs[i], want[i])
		}
	}
}
