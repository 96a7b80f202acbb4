package main

import (
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank/features"
)

// TestNDJSONEventsNamesTheField: the NDJSON event reader decodes the usual lines
// (through the fast path) and answers every other line with an error naming the field
// or the problem, as the API does, one line at a time.
func TestNDJSONEventsNamesTheField(t *testing.T) {
	in := strings.Join([]string{
		`{"event_id":"e1","user_id":"u","item_id":"i","type":"view","timestamp":"2026-01-02T03:04:05Z"}`,
		`{"event_id":1,"user_id":"u","item_id":"i","type":"view","timestamp":"2026-01-02T03:04:05Z"}`,
		`{"event_id":"e3","user_id":"u","item_id":"i","type":"view","timestamp":"yesterday"}`,
		`{"event_id":"e3","user_id":"u","item_id":"i","type":"view","timestamp":1767323045}`,
		`{"event_id":"e4","user_id":"u","item_id":"i","type":"view","timestamp":"2026-01-02T03:04:05Z","colour":"red"}`,
		``,
		`{"event_id":"e\u00e9","user_id":"u","item_id":"i","type":"click","timestamp":"2026-01-02T03:04:05Z"}`,
	}, "\n")
	next := ndjsonEvents(strings.NewReader(in))
	want := []string{"", "event_id", "timestamp", "timestamp", "colour", ""}
	for i, w := range want {
		ev, err := next()
		switch {
		case w == "" && err != nil:
			t.Fatalf("line %d: %v", i+1, err)
		case w != "" && (err == nil || !strings.Contains(err.Error(), w)):
			t.Fatalf("line %d: error %v, want one naming %s", i+1, err, w)
		}
		if i == 5 && (ev.EventID != "eé" || ev.Type != "click") {
			t.Fatalf("escaped line decoded as %+v", ev)
		}
	}
	if _, err := next(); err != features.Done() {
		t.Fatalf("end: %v", err)
	}
}
