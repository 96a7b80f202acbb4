package features

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
)

// TestEventIDSpaces: an id sent first in the public space does not block the same id
// from a trusted writer; within a space, an exact replay is a duplicate and a replay
// with another payload is a conflict that names the field and stores nothing.
func TestEventIDSpaces(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, now)
	ctx := context.Background()
	ts := now.Add(-time.Hour)
	claim := fusionrank.Event{EventID: "order-5001", UserID: "attacker", ItemID: "sku-0", Type: fusionrank.View, Timestamp: ts}
	res, err := s.IngestEventsIn(ctx, fusionrank.PublicIDs, []fusionrank.Event{claim})
	if err != nil || res.Accepted != 1 {
		t.Fatalf("public claim: %+v %v", res, err)
	}
	purchase := fusionrank.Event{EventID: "order-5001", UserID: "u2", ItemID: "sku-1", Type: fusionrank.Purchase, Timestamp: ts}
	res, err = s.IngestEvents(ctx, []fusionrank.Event{purchase})
	if err != nil || res.Accepted != 1 || res.Duplicates != 0 || len(res.Conflicts) != 0 {
		t.Fatalf("the order system's purchase after a public claim of its id: %+v %v", res, err)
	}
	var n int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE user_id = 'u2' AND type = 'purchase' AND event_id = 'order-5001'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the purchase is not stored under its own id: %d %v", n, err)
	}

	cases := []struct {
		name  string
		space fusionrank.EventIDSpace
		ev    fusionrank.Event
		field string // "" : an exact replay
	}{
		{"exact replay", fusionrank.TrustedIDs, purchase, ""},
		{"exact replay, timestamp in another zone", fusionrank.TrustedIDs, func() fusionrank.Event {
			e := purchase
			e.Timestamp = ts.In(time.FixedZone("x", 3600))
			return e
		}(), ""},
		{"another user", fusionrank.TrustedIDs, func() fusionrank.Event { e := purchase; e.UserID = "u3"; return e }(), "user_id"},
		{"another item", fusionrank.TrustedIDs, func() fusionrank.Event { e := purchase; e.ItemID = "sku-2"; return e }(), "item_id"},
		{"another type", fusionrank.TrustedIDs, func() fusionrank.Event { e := purchase; e.Type = fusionrank.View; return e }(), "type"},
		{"another time", fusionrank.TrustedIDs, func() fusionrank.Event { e := purchase; e.Timestamp = ts.Add(time.Microsecond); return e }(), "timestamp"},
		{"a request id added", fusionrank.TrustedIDs, func() fusionrank.Event { e := purchase; e.RequestID = "r1"; return e }(), "request_id"},
		{"public replay of the public claim", fusionrank.PublicIDs, claim, ""},
		{"public conflict", fusionrank.PublicIDs, func() fusionrank.Event { e := claim; e.UserID = "u9"; return e }(), "user_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := s.IngestEventsIn(ctx, c.space, []fusionrank.Event{c.ev})
			if err != nil {
				t.Fatal(err)
			}
			if c.field == "" {
				if res.Duplicates != 1 || res.Accepted != 0 || len(res.Conflicts) != 0 {
					t.Fatalf("want a duplicate: %+v", res)
				}
				return
			}
			if res.Accepted != 0 || res.Duplicates != 0 || len(res.Conflicts) != 1 || res.Conflicts[0].Field != c.field ||
				res.Conflicts[0].EventID != "order-5001" || !strings.Contains(res.Conflicts[0].Error, c.field) {
				t.Fatalf("want a conflict on %s: %+v", c.field, res)
			}
		})
	}
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE event_id LIKE '%order-5001'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d rows for order-5001 (one per space), %v", n, err)
	}

	// Within one batch: the first event of an id is stored, an exact copy is a
	// duplicate, a different one a conflict; indexes count in the batch.
	e1 := fusionrank.Event{EventID: "batch-1", UserID: "u5", ItemID: "sku-1", Type: fusionrank.Click, Timestamp: ts}
	e1b := e1
	e1b.ItemID = "sku-9"
	bad := fusionrank.Event{EventID: "", UserID: "u5", ItemID: "sku-1", Type: fusionrank.Click, Timestamp: ts}
	res, err = s.IngestEvents(ctx, []fusionrank.Event{bad, e1, e1, e1b})
	if err != nil || res.Accepted != 1 || res.Duplicates != 1 || len(res.Conflicts) != 1 || res.Conflicts[0].Index != 3 ||
		res.Conflicts[0].Field != "item_id" || len(res.Rejected) != 1 || res.Rejected[0].Index != 0 {
		t.Fatalf("batch with repeats: %+v %v", res, err)
	}
}

// TestEventTimestampOffsetChecked: the 1990 floor applies to the instant, not to the
// local reading of a timestamp with an offset.
func TestEventTimestampOffsetChecked(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, now)
	ts, err := time.Parse(time.RFC3339, "1990-01-01T00:30:00+01:00") // 1989-12-31T23:30Z
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.IngestEvents(context.Background(), []fusionrank.Event{{EventID: "tz-1", UserID: "u", ItemID: "i", Type: fusionrank.View, Timestamp: ts}})
	if err != nil || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Error, "before 1990") {
		t.Fatalf("want the event refused as before 1990: %+v %v", res, err)
	}
}

// TestItemTextRefused: NUL characters (which Postgres cannot store) and bytes that are
// not UTF-8 are refused per field, and a batch with such an item still stores the
// others.
func TestItemTextRefused(t *testing.T) {
	s := newStore(t, time.Now())
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		it    fusionrank.Item
		field string
	}{
		{"NUL in title", fusionrank.Item{ID: "nul-1", Title: "a\x00b"}, "title: contains a NUL"},
		{"NUL in brand", fusionrank.Item{ID: "nul-2", Brand: "\x00"}, "brand: contains a NUL"},
		{"NUL in an attribute value", fusionrank.Item{ID: "nul-3", Attributes: map[string]any{"tags": []any{"ok", "x\x00"}}}, "attributes.tags[1]: contains a NUL"},
		{"NUL in an attribute key", fusionrank.Item{ID: "nul-4", Attributes: map[string]any{"k\x00": 1}}, "attributes key: contains a NUL"},
		{"bad UTF-8 in description", fusionrank.Item{ID: "nul-5", Description: "\xff"}, "description: not valid UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.PutItem(ctx, c.it)
			if fusionrank.ErrorCode(err) != fusionrank.Invalid || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("PutItem: %v; want invalid naming %q", err, c.field)
			}
		})
	}
	items := make([]fusionrank.Item, 5)
	for i := range items {
		items[i] = fusionrank.Item{ID: fmt.Sprintf("nulbatch-%d", i), Title: "fine", Active: true}
	}
	items[2].Title = "a\x00b"
	errs, err := s.PutItems(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM items WHERE id LIKE 'nulbatch-%'`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("%d of the 4 good items stored (%v)", n, err)
	}
	for i, e := range errs {
		if (e != nil) != (i == 2) {
			t.Fatalf("errs = %v", errs)
		}
	}
}

// TestPutItemsIsolatesARefusedItem: when the database refuses an item that passed
// validation, the other items of the batch are still stored and only that one is
// rejected. The test makes the database refuse one title with a CHECK constraint.
func TestPutItemsIsolatesARefusedItem(t *testing.T) {
	s := newStore(t, time.Now())
	ctx := context.Background()
	if _, err := s.db.Pool.Exec(ctx, `ALTER TABLE items ADD CONSTRAINT test_no_poison CHECK (title <> 'poison')`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Pool.Exec(context.Background(), `ALTER TABLE items DROP CONSTRAINT test_no_poison`) })
	items := make([]fusionrank.Item, 6)
	for i := range items {
		items[i] = fusionrank.Item{ID: fmt.Sprintf("poison-%d", i), Title: "fine", Active: true}
	}
	// Line 5 replaces line 3 (the later line of an id wins) and is refused: neither is
	// stored. Line 4 replaces line 1 and is stored.
	items[5].ID, items[5].Title = "poison-3", "poison"
	items[4].ID, items[4].Title = "poison-1", "replaced"
	errs, err := s.PutItems(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		if wantErr := i == 3 || i == 5; (e != nil) != wantErr {
			t.Fatalf("errs[%d] = %v (all: %v)", i, e, errs)
		}
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT id, title FROM items WHERE id LIKE 'poison-%' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id, title string
		if err := rows.Scan(&id, &title); err != nil {
			t.Fatal(err)
		}
		got = append(got, id+"="+title)
	}
	if want := "poison-0=fine poison-1=replaced poison-2=fine"; strings.Join(got, " ") != want {
		t.Fatalf("stored %v, want %s", got, want)
	}
}
