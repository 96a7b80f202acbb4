package s3rec

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fusionrank/fusionrank/internal/gz"

	"github.com/fusionrank/fusionrank"
)

// Dataset is a sequences file in the S3-Rec format, with items mapped to a
// dense index. Items are indexed in ascending id order (numeric when every
// id is an integer), so Beauty's item i has index i−1.
type Dataset struct {
	// UserIDs holds each line's user id, in file order.
	UserIDs []string
	// Seqs holds each user's items as dense indices, in time order.
	Seqs [][]int32
	// ItemIDs maps a dense index back to the file's item id.
	ItemIDs []string
	// ItemAttributes and NumAttributes are filled by ReadAttributes: the
	// attribute indices of each item (attributes too are indexed densely in
	// ascending id order).
	ItemAttributes [][]int32
	NumAttributes  int
	// AttributeIDs maps an attribute index back to the file's attribute id.
	AttributeIDs []string
}

// Load reads a plain or gzip-compressed (told by its first bytes) sequences file (see
// Read).
func Load(path string) (*Dataset, error) {
	r, done, _, err := gz.Open(path)
	if err != nil {
		return nil, err
	}
	defer done()
	d, err := Read(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Read parses lines "user item1 item2 …" (fields separated by white space,
// items oldest first). Blank lines are skipped; a line without items is an
// error, as is a repeated user id.
func Read(r io.Reader) (*Dataset, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	var rawSeqs [][]string
	var users []string
	seenUser := map[string]bool{}
	itemSet := map[string]bool{}
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("s3rec: line %d: user %q has no items", line, fields[0])
		}
		if seenUser[fields[0]] {
			return nil, fmt.Errorf("s3rec: line %d: user %q appears twice", line, fields[0])
		}
		seenUser[fields[0]] = true
		users = append(users, fields[0])
		rawSeqs = append(rawSeqs, fields[1:])
		for _, it := range fields[1:] {
			itemSet[it] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("s3rec: line %d: %w", line+1, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("s3rec: no users")
	}
	ids := sortedIDs(itemSet)
	index := make(map[string]int32, len(ids))
	for i, id := range ids {
		index[id] = int32(i)
	}
	d := &Dataset{UserIDs: users, ItemIDs: ids, Seqs: make([][]int32, len(rawSeqs))}
	for u, raw := range rawSeqs {
		seq := make([]int32, len(raw))
		for i, it := range raw {
			seq[i] = index[it]
		}
		d.Seqs[u] = seq
	}
	return d, nil
}

// sortedIDs returns the set's ids sorted numerically when all are integers,
// lexicographically otherwise.
func sortedIDs(set map[string]bool) []string {
	ids := make([]string, 0, len(set))
	numeric := true
	for id := range set {
		ids = append(ids, id)
		if _, err := strconv.ParseInt(id, 10, 64); err != nil {
			numeric = false
		}
	}
	if numeric {
		slices.SortFunc(ids, func(a, b string) int {
			x, _ := strconv.ParseInt(a, 10, 64)
			y, _ := strconv.ParseInt(b, 10, 64)
			return cmp.Compare(x, y)
		})
	} else {
		slices.Sort(ids)
	}
	return ids
}

// LoadAttributes reads an item-to-attributes JSON file (see ReadAttributes).
func (d *Dataset) LoadAttributes(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := d.ReadAttributes(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ReadAttributes parses a JSON object mapping item id to a list of
// attribute ids ({"4": [1, 2, 3], …}, as Beauty_item2attributes.json) and
// fills ItemAttributes. Items of the file that are not in the dataset are
// ignored; dataset items missing from the file get no attributes.
func (d *Dataset) ReadAttributes(r io.Reader) error {
	var raw map[string][]json.Number
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("s3rec: attributes: %w", err)
	}
	index := make(map[string]int, len(d.ItemIDs))
	for i, id := range d.ItemIDs {
		index[id] = i
	}
	attrSet := map[string]bool{}
	for item, attrs := range raw {
		if _, ok := index[item]; !ok {
			continue
		}
		for _, a := range attrs {
			attrSet[a.String()] = true
		}
	}
	ids := sortedIDs(attrSet)
	aindex := make(map[string]int32, len(ids))
	for i, id := range ids {
		aindex[id] = int32(i)
	}
	d.ItemAttributes = make([][]int32, len(d.ItemIDs))
	for item, attrs := range raw {
		i, ok := index[item]
		if !ok {
			continue
		}
		out := make([]int32, 0, len(attrs))
		for _, a := range attrs {
			out = append(out, aindex[a.String()])
		}
		d.ItemAttributes[i] = out
	}
	d.NumAttributes = len(ids)
	d.AttributeIDs = ids
	return nil
}

// NumItems returns the catalogue size: every item that appears in the file.
func (d *Dataset) NumItems() int { return len(d.ItemIDs) }

// Interactions returns the total number of (user, item) events.
func (d *Dataset) Interactions() int {
	n := 0
	for _, s := range d.Seqs {
		n += len(s)
	}
	return n
}

// Items returns the catalogue as the service's items, in index order: the file's id,
// the title "item <id>" and, when attributes were read, the item's attribute ids as
// the attribute "attrs".
func (d *Dataset) Items() []fusionrank.Item {
	out := make([]fusionrank.Item, len(d.ItemIDs))
	for i, id := range d.ItemIDs {
		out[i] = fusionrank.Item{ID: id, Title: "item " + id, Active: true}
		if i < len(d.ItemAttributes) && d.ItemAttributes[i] != nil {
			attrs := make([]any, len(d.ItemAttributes[i]))
			for k, a := range d.ItemAttributes[i] {
				id := d.AttributeIDs[a]
				if n, err := strconv.ParseInt(id, 10, 64); err == nil {
					attrs[k] = n
				} else {
					attrs[k] = id
				}
			}
			out[i].Attributes = map[string]any{"attrs": attrs}
		}
	}
	return out
}

// Base is the time of every user's first interaction in Events; the following ones
// come one second apart (the files carry order, not time).
var Base = time.Date(2014, 1, 1, 0, 0, 0, 0, time.UTC)

// Events returns every interaction as a purchase event, user by user in file order,
// with ids "s3:<user>:<position>" (so a second import stores nothing twice) and
// timestamps Base + position seconds.
func (d *Dataset) Events() []fusionrank.Event {
	out := make([]fusionrank.Event, 0, d.Interactions())
	for u, seq := range d.Seqs {
		user := d.UserIDs[u]
		for p, it := range seq {
			out = append(out, fusionrank.Event{EventID: "s3:" + user + ":" + strconv.Itoa(p), UserID: user, ItemID: d.ItemIDs[it],
				Type: fusionrank.Purchase, Timestamp: Base.Add(time.Duration(p) * time.Second)})
		}
	}
	return out
}
