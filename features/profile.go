package features

import (
	"math"
	"slices"
	"time"

	"github.com/fusionrank/fusionrank"
)

// RecentItem is one entry of a user's recent items.
type RecentItem struct {
	ItemID string
	TS     int64 // unix milliseconds of the latest interaction
	Seq    int64 // the event's sequence number in Postgres, to order equal timestamps
}

// ModalityProfile is the time-decayed weighted mean of the vectors of the items a user
// interacted with, in one modality:
//
//	mean = Σ_e w_e 2^{-(Ref - t_e)/h} v_e / Σ_e w_e 2^{-(Ref - t_e)/h}
//
// with w_e the weight of the event's type, h the half-life and Ref the latest event time
// (unix ms). Weight is the denominator. The sum does not depend on the order in which
// events are added, so a profile maintained event by event equals one rebuilt from
// Postgres.
type ModalityProfile struct {
	Ref    int64
	Weight float64
	Mean   []float32
}

// Profile is what the online store keeps per user.
type Profile struct {
	Recent     []RecentItem // most recent first, distinct items
	Bought     []RecentItem // items the user purchased, most recent purchase first
	Modalities map[string]*ModalityProfile
	UpdatedAt  int64 // unix ms of the latest event
	Events     int64 // how many events the profile holds
}

// ProfileRules say how events shape a profile.
type ProfileRules struct {
	HalfLife  time.Duration
	Weights   map[fusionrank.EventType]float64
	MaxRecent int // default 50
	MaxBought int // default 2000
}

func (r ProfileRules) weight(t fusionrank.EventType) float64 {
	if w, ok := r.Weights[t]; ok {
		return w
	}
	return 1
}

// vectorsFunc returns the vectors of an item by modality (nil when unknown).
type vectorsFunc func(itemID string, visit func(modality string, v []float32))

// apply adds one event to p. vecs gives the item's current vectors.
func (p *Profile) apply(r ProfileRules, ev fusionrank.Event, seq int64, vecs vectorsFunc) {
	ts := ev.Timestamp.UnixMilli()
	p.Events++
	if ts > p.UpdatedAt {
		p.UpdatedAt = ts
	}
	maxRecent, maxBought := r.MaxRecent, r.MaxBought
	if maxRecent == 0 {
		maxRecent = 50
	}
	if maxBought == 0 {
		maxBought = 2000
	}
	p.Recent = mergeRecent(p.Recent, RecentItem{ItemID: ev.ItemID, TS: ts, Seq: seq}, maxRecent)
	if ev.Type == fusionrank.Purchase {
		p.Bought = mergeRecent(p.Bought, RecentItem{ItemID: ev.ItemID, TS: ts, Seq: seq}, maxBought)
	}
	w := r.weight(ev.Type)
	if w == 0 || vecs == nil {
		return
	}
	h := float64(r.HalfLife.Milliseconds())
	vecs(ev.ItemID, func(m string, v []float32) {
		if p.Modalities == nil {
			p.Modalities = map[string]*ModalityProfile{}
		}
		mp := p.Modalities[m]
		if mp == nil {
			mp = &ModalityProfile{Ref: ts, Mean: make([]float32, len(v))}
			p.Modalities[m] = mp
		}
		if len(mp.Mean) != len(v) {
			return // the modality changed dimension; the next rebuild sorts it out
		}
		decayOld, decayNew := 1.0, 1.0
		if ts > mp.Ref {
			decayOld = math.Exp2(-float64(ts-mp.Ref) / h)
			mp.Ref = ts
		} else {
			decayNew = math.Exp2(-float64(mp.Ref-ts) / h)
		}
		oldW := mp.Weight * decayOld
		newW := w * decayNew
		total := oldW + newW
		if total == 0 {
			return
		}
		a, b := oldW/total, newW/total
		for i := range mp.Mean {
			mp.Mean[i] = float32(a*float64(mp.Mean[i]) + b*float64(v[i]))
		}
		mp.Weight = total
	})
}

// mergeRecent inserts it into the list ordered by (TS, Seq) descending, keeping each item
// once (its latest interaction) and at most max entries.
func mergeRecent(list []RecentItem, it RecentItem, max int) []RecentItem {
	later := func(a, b RecentItem) bool { return a.TS > b.TS || (a.TS == b.TS && a.Seq > b.Seq) }
	for i, r := range list {
		if r.ItemID == it.ItemID {
			if !later(it, r) {
				return list
			}
			list = slices.Delete(list, i, i+1)
			break
		}
	}
	pos := len(list)
	for i, r := range list {
		if later(it, r) {
			pos = i
			break
		}
	}
	if pos >= max {
		return list
	}
	list = slices.Insert(list, pos, it)
	if len(list) > max {
		list = list[:max]
	}
	return list
}

// RecentIDs returns the ids of the recent items, most recent first.
func (p *Profile) RecentIDs() []string { return itemIDs(p.Recent) }

// BoughtIDs returns the ids of the purchased items, most recent first.
func (p *Profile) BoughtIDs() []string { return itemIDs(p.Bought) }

func itemIDs(list []RecentItem) []string {
	ids := make([]string, len(list))
	for i, r := range list {
		ids[i] = r.ItemID
	}
	return ids
}

// encode writes the profile in the cache's binary form.
func (p *Profile) encode() []byte {
	b := putHeader(make([]byte, 0, 256), kindProfile)
	b = appendI64(b, p.UpdatedAt)
	b = appendI64(b, p.Events)
	b = appendI64(b, int64(len(p.Recent)))
	for _, r := range p.Recent {
		b = appendStr(b, r.ItemID)
		b = appendI64(b, r.TS)
		b = appendI64(b, r.Seq)
	}
	b = appendI64(b, int64(len(p.Bought)))
	for _, r := range p.Bought {
		b = appendStr(b, r.ItemID)
		b = appendI64(b, r.TS)
		b = appendI64(b, r.Seq)
	}
	names := make([]string, 0, len(p.Modalities))
	for m := range p.Modalities {
		names = append(names, m)
	}
	slices.Sort(names)
	b = appendI64(b, int64(len(names)))
	for _, m := range names {
		mp := p.Modalities[m]
		b = appendStr(b, m)
		b = appendI64(b, mp.Ref)
		b = appendF64(b, mp.Weight)
		b = EncodeVector(b, mp.Mean)
	}
	return b
}

// decodeProfile reads a profile; ok is false for anything malformed or of another
// version, which the store treats as a miss.
func decodeProfile(b []byte) (*Profile, bool) {
	b, ok := checkHeader(b, kindProfile)
	if !ok {
		return nil, false
	}
	r := &reader{b: b, ok: true}
	p := &Profile{UpdatedAt: r.i64(), Events: r.i64()}
	// The item ids of Recent and Bought share one string: a cached profile is then a
	// few objects for the garbage collector, not one per item.
	var ids []byte
	var ends []int
	items := func(max int64) []RecentItem {
		n := r.i64()
		if n < 0 || n > max {
			r.ok = false
			return nil
		}
		var list []RecentItem
		if n > 0 {
			list = make([]RecentItem, n)
		}
		for i := range list {
			ids = append(ids, r.strBytes()...)
			ends = append(ends, len(ids))
			list[i].TS, list[i].Seq = r.i64(), r.i64()
		}
		return list
	}
	p.Recent = items(10000)
	p.Bought = items(100000)
	if !r.ok {
		return nil, false
	}
	all, k, start := string(ids), 0, 0
	for _, list := range [][]RecentItem{p.Recent, p.Bought} {
		for i := range list {
			list[i].ItemID = all[start:ends[k]]
			start = ends[k]
			k++
		}
	}
	n := r.i64()
	if n < 0 || n > 64 {
		return nil, false
	}
	for range n {
		name := r.str()
		mp := &ModalityProfile{Ref: r.i64(), Weight: r.f64()}
		if !r.ok {
			return nil, false
		}
		hdr := r.take(8)
		if hdr == nil {
			return nil, false
		}
		dim := int(uint32(hdr[4]) | uint32(hdr[5])<<8 | uint32(hdr[6])<<16 | uint32(hdr[7])<<24)
		body := r.take(4 * dim)
		if !r.ok {
			return nil, false
		}
		v, ok := DecodeVector(append(append([]byte{}, hdr...), body...))
		if !ok {
			return nil, false
		}
		mp.Mean = v
		if p.Modalities == nil {
			p.Modalities = map[string]*ModalityProfile{}
		}
		p.Modalities[name] = mp
	}
	if !r.ok || len(r.b) != 0 {
		return nil, false
	}
	return p, true
}
