package s3rec

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
		items   []string
		seqs    [][]int32
	}{
		{"numeric ids sorted numerically", "u1 10 2 9\nu2 2 10\n", "", []string{"2", "9", "10"}, [][]int32{{2, 0, 1}, {0, 2}}},
		{"blank lines skipped", "\nu1 a b\n\n", "", []string{"a", "b"}, [][]int32{{0, 1}}},
		{"no items", "u1\n", "no items", nil, nil},
		{"repeated user", "u1 1\nu1 2\n", "appears twice", nil, nil},
		{"empty", "", "no users", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Read(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.ItemIDs, tt.items) || !slices.EqualFunc(d.Seqs, tt.seqs, slices.Equal[[]int32]) {
				t.Fatalf("items %v seqs %v", d.ItemIDs, d.Seqs)
			}
		})
	}
}

func TestReadAttributes(t *testing.T) {
	d, err := Read(strings.NewReader("u 1 2 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.ReadAttributes(strings.NewReader(`{"1":[7,3],"3":[3],"99":[5]}`)); err != nil {
		t.Fatal(err)
	}
	// Attribute 5 belongs to an item outside the data set and is dropped.
	if d.NumAttributes != 2 || !slices.Equal(d.ItemAttributes[0], []int32{1, 0}) || d.ItemAttributes[1] != nil || !slices.Equal(d.ItemAttributes[2], []int32{0}) {
		t.Fatalf("attributes %v (%d)", d.ItemAttributes, d.NumAttributes)
	}
	if err := d.ReadAttributes(strings.NewReader(`[1]`)); err == nil {
		t.Fatal("bad JSON accepted")
	}
}

// TestService checks the items and events the service imports from a sequences
// file: ids in index order with their attribute ids, and one purchase per position
// with an id that makes a second import a no-op.
func TestService(t *testing.T) {
	d, err := Read(strings.NewReader("u1 10 2\nu2 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.ReadAttributes(strings.NewReader(`{"10":[7,3]}`)); err != nil {
		t.Fatal(err)
	}
	items := d.Items()
	if len(items) != 2 || items[0].ID != "2" || items[0].Title != "item 2" || items[0].Attributes != nil || items[1].ID != "10" {
		t.Fatalf("items %+v", items)
	}
	if a := items[1].Attributes["attrs"].([]any); len(a) != 2 || a[0] != int64(7) || a[1] != int64(3) {
		t.Fatalf("attrs of item 10: %v, want the file's [7 3]", a)
	}
	want := []fusionrank.Event{
		{EventID: "s3:u1:0", UserID: "u1", ItemID: "10", Type: fusionrank.Purchase, Timestamp: Base},
		{EventID: "s3:u1:1", UserID: "u1", ItemID: "2", Type: fusionrank.Purchase, Timestamp: Base.Add(time.Second)},
		{EventID: "s3:u2:0", UserID: "u2", ItemID: "2", Type: fusionrank.Purchase, Timestamp: Base},
	}
	if got := d.Events(); !slices.Equal(got, want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
}
