package features

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/postgres"
)

// HistoryItem is one earlier interaction in an exported example.
type HistoryItem struct {
	ItemID string
	Type   fusionrank.EventType
	TS     time.Time
}

// Example is one labelled event with what was known just before it: the user's history
// strictly earlier (most recent first, at most MaxHistory), and a snapshot of the
// counters (popularity windows, co-visitation) as they were at that moment.
type Example struct {
	Event   fusionrank.Event
	Seq     int64
	History []HistoryItem
	// At answers point-in-time counter queries for any item. It is valid only during
	// the callback that received the example.
	At *PointInTime
}

// ExportOptions choose what to export.
type ExportOptions struct {
	From, To   time.Time              // labelled events with From ≤ ts < To (zero: unbounded)
	Labels     []fusionrank.EventType // which event types are labels (default: all)
	MaxHistory int                    // default 50
}

// PointInTime holds counters built from the events seen so far in time order.
type PointInTime struct {
	now   time.Time
	hour  map[int64]map[string]float64 // hour bucket → item → count
	day   map[int64]map[string]float64 // day bucket → item → count
	covis map[string]map[string]float64
}

// Popularity returns the item's popularity windows at the example's time, with the same
// sliding-bucket definition as the online store.
func (p *PointInTime) Popularity(item string) Popularity {
	var out Popularity
	h := bucketIndex(hourBucket, p.now)
	hf := float64(p.now.UnixMilli()%hourBucket.width.Milliseconds()) / float64(hourBucket.width.Milliseconds())
	out.Hour = p.hour[h][item] + (1-hf)*p.hour[h-1][item]
	d := bucketIndex(dayBucket, p.now)
	df := float64(p.now.UnixMilli()%dayBucket.width.Milliseconds()) / float64(dayBucket.width.Milliseconds())
	out.Day = p.day[d][item] + (1-df)*p.day[d-1][item]
	for i := int64(0); i <= 6; i++ {
		out.Week += p.day[d-i][item]
	}
	out.Week += (1 - df) * p.day[d-7][item]
	return out
}

// Covisitation returns how often item directly followed from in users' histories so far.
func (p *PointInTime) Covisitation(from, item string) float64 { return p.covis[from][item] }

func (p *PointInTime) add(item, prev string, ts time.Time) {
	for _, b := range []struct {
		k bucketKind
		m map[int64]map[string]float64
	}{{hourBucket, p.hour}, {dayBucket, p.day}} {
		i := bucketIndex(b.k, ts)
		if b.m[i] == nil {
			b.m[i] = map[string]float64{}
		}
		b.m[i][item]++
	}
	if prev != "" && prev != item {
		if p.covis[prev] == nil {
			p.covis[prev] = map[string]float64{}
		}
		p.covis[prev][item]++
	}
	// Buckets older than the widest window are never read again.
	cut := bucketIndex(dayBucket, ts) - 9
	for k := range p.day {
		if k < cut {
			delete(p.day, k)
		}
	}
	hcut := bucketIndex(hourBucket, ts) - 3
	for k := range p.hour {
		if k < hcut {
			delete(p.hour, k)
		}
	}
}

// Export streams every event from Postgres (the replica when there is one) in time order and calls fn for each labelled
// event in the range with the history and counters strictly before it: an event never
// sees itself or anything later. Counters and histories are built in memory from the
// start of the log, so the export costs one sequential scan.
func (s *Store) Export(ctx context.Context, opt ExportOptions, fn func(Example) error) (int, error) {
	if opt.MaxHistory == 0 {
		opt.MaxHistory = 50
	}
	label := map[fusionrank.EventType]bool{}
	for _, t := range opt.Labels {
		label[t] = true
	}
	q := `SELECT seq, event_id, user_id, item_id, type, ts FROM events`
	var args []any
	if !opt.To.IsZero() {
		q += ` WHERE ts < $1`
		args = append(args, opt.To)
	}
	q += ` ORDER BY ts, seq`
	rows, err := s.reads().Pool.Query(ctx, q, args...)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	defer rows.Close()
	pit := &PointInTime{hour: map[int64]map[string]float64{}, day: map[int64]map[string]float64{}, covis: map[string]map[string]float64{}}
	hist := map[string][]HistoryItem{} // user → history, oldest first (bounded)
	n := 0
	for rows.Next() {
		var ev fusionrank.Event
		var seq int64
		var typ string
		if err := rows.Scan(&seq, &ev.EventID, &ev.UserID, &ev.ItemID, &typ, &ev.Timestamp); err != nil {
			return n, postgres.Translate(err)
		}
		ev.Type = fusionrank.EventType(typ)
		h := hist[ev.UserID]
		if (len(label) == 0 || label[ev.Type]) && (opt.From.IsZero() || !ev.Timestamp.Before(opt.From)) {
			pit.now = ev.Timestamp
			recent := make([]HistoryItem, 0, min(len(h), opt.MaxHistory))
			for i := len(h) - 1; i >= 0 && len(recent) < opt.MaxHistory; i-- {
				recent = append(recent, h[i])
			}
			if err := fn(Example{Event: ev, Seq: seq, History: recent, At: pit}); err != nil {
				return n, err
			}
			n++
		}
		prev := ""
		if len(h) > 0 {
			prev = h[len(h)-1].ItemID
		}
		pit.add(ev.ItemID, prev, ev.Timestamp)
		h = append(h, HistoryItem{ItemID: ev.ItemID, Type: ev.Type, TS: ev.Timestamp})
		if len(h) > 2*opt.MaxHistory {
			h = slices.Clone(h[len(h)-opt.MaxHistory:])
		}
		hist[ev.UserID] = h
	}
	return n, postgres.Translate(rows.Err())
}

// ItemAttributeRow is an item's id and the fields training turns into attribute tokens.
type ItemAttributeRow struct {
	ID, Category, Brand string
	Attributes          map[string]any
}

// ItemAttributes lists every item (active or not) with its category, brand and
// attributes, in id order, for training.
func ItemAttributes(ctx context.Context, db *postgres.DB) ([]ItemAttributeRow, error) {
	rows, err := db.Pool.Query(ctx, `SELECT id, category, brand, attributes FROM items ORDER BY id`)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []ItemAttributeRow
	for rows.Next() {
		var r ItemAttributeRow
		var attrs []byte
		if err := rows.Scan(&r.ID, &r.Category, &r.Brand, &attrs); err != nil {
			return nil, postgres.Translate(err)
		}
		_ = json.Unmarshal(attrs, &r.Attributes)
		out = append(out, r)
	}
	return out, postgres.Translate(rows.Err())
}

// EachFixedVector calls fn with every stored model-independent item vector (the text
// modality and the callers' modalities; not photos, see PhotoVectors), for training:
// its item id, modality and dim, and the vector, nil when the stored bytes do not
// hold dim floats.
func EachFixedVector(ctx context.Context, db *postgres.DB, fn func(id, mod string, dim int, v []float32)) error {
	rows, err := db.Pool.Query(ctx, `SELECT item_id, modality, dim, data FROM item_vectors WHERE model_version = ''`)
	if err != nil {
		return postgres.Translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, mod string
		var dim int
		var b []byte
		if err := rows.Scan(&id, &mod, &dim, &b); err != nil {
			return postgres.Translate(err)
		}
		var v []float32
		if len(b) == 4*dim {
			v = ReadFloats(make([]float32, dim), b)
		}
		fn(id, mod, dim, v)
	}
	return postgres.Translate(rows.Err())
}

// EachItemText calls fn with every item's id, title and description, in id order, for
// training's word slots (the words a pseudo-query or a match feature reads).
func EachItemText(ctx context.Context, db *postgres.DB, fn func(id, title, description string)) error {
	rows, err := db.Pool.Query(ctx, `SELECT id, title, description FROM items ORDER BY id`)
	if err != nil {
		return postgres.Translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, title, desc string
		if err := rows.Scan(&id, &title, &desc); err != nil {
			return postgres.Translate(err)
		}
		fn(id, title, desc)
	}
	return postgres.Translate(rows.Err())
}
