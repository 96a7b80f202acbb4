package training

import (
	"fmt"
	"math"
	"slices"
)

// Event is one interaction of a user with an item.
type Event struct {
	// Item is the dense item index, 0 … NumItems−1.
	Item int32
	// Time is the interaction's Unix time in seconds. When every event of a
	// Data has Time 0 the data is untimed (see Data).
	Time int64
	// Weight is the weight of the event's type in the user's profile (a
	// view 1, a purchase more, as the feature store's ProfileRules say); 0
	// means 1.
	Weight float32
}

func (e Event) weight() float64 {
	if e.Weight == 0 {
		return 1
	}
	return float64(e.Weight)
}

// FixedModality is a modality whose item vectors are given, not learned
// (text from the built-in encoder, an image embedding…).
type FixedModality struct {
	// Name is the modality's name, for example "text".
	Name string
	// Dim is the vectors' length.
	Dim int
	// Vectors[i] is item i's vector; nil or empty marks it missing.
	Vectors [][]float32
}

// Data is what training learns from: a catalogue of NumItems items (dense
// indices) and per-user interaction sequences, oldest first.
//
// Data is timed when at least one event has a non-zero Time: the scalar
// features of an example then count only interactions strictly earlier than
// the example's time. When every Time is 0 (Amazon Beauty has only the
// order), there is no clock shared between users, so the features of an
// example at position t of user u count every other user's interactions and
// u's own interactions before t, and the popularity windows are 0.
type Data struct {
	// NumItems is the catalogue size.
	NumItems int
	// Users holds one sequence per user, oldest first (non-decreasing Time).
	Users [][]Event
	// Fixed lists the fixed modalities; may be empty.
	Fixed []FixedModality
	// Attributes, when not nil, holds each item's attribute ids (0 …
	// NumAttributes−1); the mean of their learned embeddings is the item's
	// "attr" modality vector.
	Attributes [][]int32
	// NumAttributes is the number of attribute ids.
	NumAttributes int
	// Vocab holds the word vectors (of the "text" modality's encoder) that
	// Searches and ItemWords refer to by index.
	Vocab [][]float32
	// ItemWords, when not nil, holds each item's words (title, description,
	// attributes) as Vocab indices: the catalogue pseudo-queries are drawn
	// from them.
	ItemWords [][]int32
	// Searches are the logged searches, oldest first (see Search).
	Searches []Search
}

// searchable reports whether models trained on d get query slots: word slots
// need the "text" modality and a vocabulary (searches or item words).
func (d *Data) searchable() bool {
	return len(d.Vocab) > 0 && slices.ContainsFunc(d.Fixed, func(f FixedModality) bool { return f.Name == "text" })
}

// Case is one validation case: a user's history (oldest first) and the item
// that followed it.
type Case struct {
	History []Event
	Target  int32
	// Time is the target event's time: point-in-time features count the
	// interactions before it. 0 means just after the latest training
	// interaction (untimed data).
	Time int64
}

// HoldOut splits d for early stopping: every user with at least three
// events whose last event's item is not in its history gives that event as
// a validation case, predicted from the events before it (in timed data,
// those strictly earlier: the rest of its basket is not history), and keeps
// the others for training. A last event that repeats an item of the history
// gives no case: the service never recommends what a shopper already has
// and the protocols mask the history, so such a target would reward
// ranking the shopper's own past (the co-visitation of a basket bought
// again) that no recommendation can show; those users train on all their
// events.
func HoldOut(d *Data) (*Data, []Case) {
	timed := d.timed()
	in := *d
	in.Users = make([][]Event, len(d.Users))
	var val []Case
	for u, seq := range d.Users {
		in.Users[u] = seq
		if len(seq) < 3 {
			continue
		}
		last := len(seq) - 1
		end := histEnd(seq, last, timed)
		if end == 0 {
			continue
		}
		if slices.ContainsFunc(seq[:end], func(e Event) bool { return e.Item == seq[last].Item }) {
			continue
		}
		in.Users[u] = seq[:last]
		c := Case{History: seq[:end:end], Target: seq[last].Item}
		if timed {
			c.Time = seq[last].Time
		}
		val = append(val, c)
	}
	return &in, val
}

// Validate checks indices, dimensions and time order.
func (d *Data) Validate() error {
	if d.NumItems <= 0 {
		return fmt.Errorf("training: %d items", d.NumItems)
	}
	for u, seq := range d.Users {
		for k, e := range seq {
			if e.Item < 0 || int(e.Item) >= d.NumItems {
				return fmt.Errorf("training: user %d: item %d out of range [0,%d)", u, e.Item, d.NumItems)
			}
			if k > 0 && e.Time < seq[k-1].Time {
				return fmt.Errorf("training: user %d: events not in time order at %d", u, k)
			}
			if w := float64(e.Weight); w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
				return fmt.Errorf("training: user %d: event %d: weight %v", u, k, e.Weight)
			}
		}
	}
	seen := map[string]bool{"collab": true, "attr": true}
	for _, f := range d.Fixed {
		if f.Name == "" || seen[f.Name] {
			return fmt.Errorf("training: fixed modality name %q empty or reserved/repeated", f.Name)
		}
		seen[f.Name] = true
		if f.Dim <= 0 {
			return fmt.Errorf("training: fixed modality %q: dim %d", f.Name, f.Dim)
		}
		if len(f.Vectors) != d.NumItems {
			return fmt.Errorf("training: fixed modality %q: %d vectors for %d items", f.Name, len(f.Vectors), d.NumItems)
		}
		for i, v := range f.Vectors {
			if len(v) != 0 && len(v) != f.Dim {
				return fmt.Errorf("training: fixed modality %q: item %d: length %d, want %d", f.Name, i, len(v), f.Dim)
			}
		}
	}
	if err := d.validateSearches(); err != nil {
		return err
	}
	if d.Attributes != nil {
		if len(d.Attributes) != d.NumItems {
			return fmt.Errorf("training: %d attribute rows for %d items", len(d.Attributes), d.NumItems)
		}
		for i, as := range d.Attributes {
			for _, a := range as {
				if a < 0 || int(a) >= d.NumAttributes {
					return fmt.Errorf("training: item %d: attribute %d out of range [0,%d)", i, a, d.NumAttributes)
				}
			}
		}
	}
	return nil
}

func (d *Data) timed() bool {
	for _, seq := range d.Users {
		for _, e := range seq {
			if e.Time != 0 {
				return true
			}
		}
	}
	return false
}
