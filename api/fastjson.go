package api

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	"github.com/fusionrank/fusionrank"
)

// decodeRerankFast parses the usual shape of a rerank body without reflection: an
// object with the keys user_id, query (with text only), items (objects with id and
// score), count and explain, in any order and each at most once; strings of printable
// ASCII without escapes; no nulls. encoding/json spends about 600 ns per candidate on
// such a body, a third of a rerank's CPU before scoring. It reports false for anything
// else (and may then have written to req), and the caller decodes with DecodeStrict,
// which also produces the error message. On every body it accepts, DecodeStrict
// produces the same value: FuzzRerankFastPath checks exactly that.
//
// The candidates are read into bufs' memory (nil: new memory): req.Items and the scores
// they point to are then bufs', until bufs is reset.
func decodeRerankFast(data []byte, req *fusionrank.RerankRequest, bufs *candBufs) bool {
	p := fastParser{b: data, bufs: bufs}
	ok := p.rerank(req)
	p.space()
	return ok && p.i == len(p.b)
}

// decodeRerankBatchFast is decodeRerankFast for a batch: an object with the one key
// requests, an array of rerank objects of the usual shape. The same rules hold: false
// for anything else, and FuzzRerankBatchFastPath checks it against DecodeStrict.
func decodeRerankBatchFast(data []byte, req *fusionrank.RerankBatchRequest) bool {
	p := fastParser{b: data}
	var seen [1]bool
	ok := p.object(seen[:], func(key []byte) (int, bool) {
		if string(key) != "requests" || !p.byte('[') {
			return 0, false
		}
		req.Requests = []fusionrank.RerankRequest{}
		if p.peek(']') {
			return 0, true
		}
		for {
			req.Requests = append(req.Requests, fusionrank.RerankRequest{})
			if !p.rerank(&req.Requests[len(req.Requests)-1]) {
				return 0, false
			}
			if !p.byte(',') {
				return 0, p.byte(']')
			}
		}
	})
	p.space()
	return ok && p.i == len(p.b)
}

// decodeRecommendFast is decodeRerankFast for a recommendation request of the usual
// shape: an object with any of user_id, user_token, count, explain and exclude (an array
// of strings), strings of printable ASCII without escapes. A query or filters, and
// anything else, are left to DecodeStrict. FuzzRecommendFastPath checks it against
// DecodeStrict.
func decodeRecommendFast(data []byte, req *fusionrank.RecommendRequest) bool {
	p := fastParser{b: data}
	var seen [5]bool
	ok := p.object(seen[:], func(key []byte) (k int, ok bool) {
		switch string(key) {
		case "user_id":
			req.UserID, ok = p.str()
		case "user_token":
			k = 1
			req.UserToken, ok = p.str()
		case "count":
			k = 2
			req.Count, ok = p.int()
		case "explain":
			k = 3
			req.Explain, ok = p.bool()
		case "exclude":
			k = 4
			ok = p.strs(&req.Exclude)
		default:
			return 0, false
		}
		return k, ok
	})
	p.space()
	return ok && p.i == len(p.b)
}

// strs reads an array of strings (str's kind) into a new slice, empty for [].
func (p *fastParser) strs(dst *[]string) bool {
	if !p.byte('[') {
		return false
	}
	*dst = []string{}
	if p.peek(']') {
		return true
	}
	for {
		s, ok := p.str()
		if !ok {
			return false
		}
		*dst = append(*dst, s)
		if !p.byte(',') {
			return p.byte(']')
		}
	}
}

// rerank reads one rerank object of the usual shape (decodeRerankFast).
func (p *fastParser) rerank(req *fusionrank.RerankRequest) bool {
	var seen [5]bool
	return p.object(seen[:], func(key []byte) (k int, ok bool) {
		switch string(key) {
		case "user_id":
			req.UserID, ok = p.str()
		case "query":
			k = 1
			ok = p.query(&req.Query)
		case "items":
			k = 2
			ok = p.items(&req.Items)
		case "count":
			k = 3
			req.Count, ok = p.int()
		case "explain":
			k = 4
			req.Explain, ok = p.bool()
		default:
			return 0, false
		}
		return k, ok
	})
}

// object parses an object whose fields field reads: for each key it parses the
// value and says which of seen's slots the key is (a key seen twice is refused) and
// whether its value parsed; an unknown key is refused with ok false.
func (p *fastParser) object(seen []bool, field func(key []byte) (slot int, ok bool)) bool {
	if !p.byte('{') {
		return false
	}
	if p.peek('}') {
		return true
	}
	for {
		key, ok := p.raw()
		if !ok || !p.byte(':') {
			return false
		}
		k, ok := field(key)
		if !ok || seen[k] {
			return false
		}
		seen[k] = true
		if !p.byte(',') {
			return p.byte('}')
		}
	}
}

type fastParser struct {
	b []byte
	i int
	// bufs, when set, holds the memory items reads the candidates into.
	bufs *candBufs
}

// candBufs is the memory of a rerank body's candidates, reused from one request to the
// next (candBufPool): the candidates, the scores they point to, and where their ids are
// in the body. 100 candidates are 5 KB a rerank would otherwise allocate.
type candBufs struct {
	items  []fusionrank.Candidate
	scores []float64
	spans  []idSpan
}

// idSpan is, for a candidate, where its id is in the body and its index in scores (-1:
// none).
type idSpan struct{ start, end, score int32 }

// candBufPool holds candBufs (the rerank handler's).
var candBufPool = sync.Pool{New: func() any {
	return &candBufs{items: make([]fusionrank.Candidate, 0, 128), scores: make([]float64, 0, 128), spans: make([]idSpan, 0, 128)}
}}

// reuse returns b to candBufPool, reset, unless its request was unusually large.
func (b *candBufs) reuse() {
	if cap(b.items) > 4096 || cap(b.scores) > 4096 || cap(b.spans) > 4096 {
		return
	}
	b.reset()
	candBufPool.Put(b)
}

// reset empties b for the next body, keeping its memory.
func (b *candBufs) reset() {
	clear(b.items[:cap(b.items)]) // no ids or score pointers kept alive
	b.items, b.scores, b.spans = b.items[:0], b.scores[:0], b.spans[:0]
}

func (p *fastParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c after optional whitespace.
func (p *fastParser) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// peek reports whether c comes next (after whitespace) and consumes it if so.
func (p *fastParser) peek(c byte) bool { return p.byte(c) }

// str reads a string of printable ASCII without escapes.
func (p *fastParser) str() (string, bool) {
	b, ok := p.raw()
	return string(b), ok
}

// raw reads a string of str's kind and returns its bytes, which alias the body.
func (p *fastParser) raw() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// number returns the literal of a JSON number (RFC 8259 grammar).
func (p *fastParser) number() ([]byte, bool) {
	p.space()
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case digits() == 0:
		return nil, false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	return p.b[start:p.i], true
}

func (p *fastParser) float() (float64, bool) {
	lit, ok := p.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	return f, err == nil
}

func (p *fastParser) int() (int, bool) {
	lit, ok := p.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(lit), 10, strconv.IntSize)
	return int(n), err == nil
}

func (p *fastParser) bool() (bool, bool) {
	p.space()
	rest := p.b[p.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		p.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		p.i += 5
		return false, true
	}
	return false, false
}

// query reads {"text": "…"} (or {}).
func (p *fastParser) query(q *fusionrank.Query) bool {
	if !p.byte('{') {
		return false
	}
	if p.peek('}') {
		return true
	}
	key, ok := p.raw()
	if !ok || string(key) != "text" || !p.byte(':') {
		return false
	}
	if q.Text, ok = p.str(); !ok {
		return false
	}
	return p.byte('}')
}

// items reads [{"id": "…", "score": n}, …]; either key may be missing. The ids are
// substrings of one string holding them all, and the scores live in one array each
// candidate points into: a body of 100 candidates is four allocations, not a hundred.
func (p *fastParser) items(dst *[]fusionrank.Candidate) bool {
	if !p.byte('[') {
		return false
	}
	var out []fusionrank.Candidate
	var scores []float64
	var spans []idSpan
	if p.bufs != nil {
		out, scores, spans = p.bufs.items[:0], p.bufs.scores[:0], p.bufs.spans[:0]
	} else {
		out, scores, spans = make([]fusionrank.Candidate, 0, 128), make([]float64, 0, 128), make([]idSpan, 0, 128)
	}
	idBytes := 0
	if !p.peek(']') {
		for {
			if !p.byte('{') {
				return false
			}
			sp := idSpan{score: -1}
			if !p.peek('}') {
				var seenID, seenScore bool
				for {
					key, ok := p.raw()
					if !ok || !p.byte(':') {
						return false
					}
					switch string(key) {
					case "id":
						if seenID {
							return false
						}
						seenID = true
						id, ok := p.raw()
						if !ok {
							return false
						}
						sp.end = int32(p.i - 1) // the closing quote
						sp.start = sp.end - int32(len(id))
						idBytes += len(id)
					case "score":
						if seenScore {
							return false
						}
						seenScore = true
						f, ok := p.float()
						if !ok {
							return false
						}
						sp.score = int32(len(scores))
						scores = append(scores, f)
					default:
						return false
					}
					if p.byte(',') {
						continue
					}
					break
				}
				if !p.byte('}') {
					return false
				}
			}
			out = append(out, fusionrank.Candidate{})
			spans = append(spans, sp)
			if p.byte(',') {
				continue
			}
			break
		}
		if !p.byte(']') {
			return false
		}
	}
	var all strings.Builder
	all.Grow(idBytes)
	for _, sp := range spans {
		all.Write(p.b[sp.start:sp.end])
	}
	ids := all.String()
	at := 0
	for i, sp := range spans {
		n := int(sp.end - sp.start)
		out[i].ID = ids[at : at+n]
		at += n
		if sp.score >= 0 {
			out[i].Score = &scores[sp.score]
		}
	}
	if p.bufs != nil {
		p.bufs.items, p.bufs.scores, p.bufs.spans = out, scores, spans
	}
	*dst = out
	return true
}

// DecodeEvent decodes one event object as DecodeStrict does, through a reflection-free
// path for the usual shape (decodeEventFast); `fusionrank import` decodes every line
// of an NDJSON file with it, where encoding/json cost more client CPU than the rest of
// the import.
func DecodeEvent(data []byte, ev *fusionrank.Event) error {
	var fast fusionrank.Event
	if decodeEventFast(data, &fast) {
		*ev = fast
		return nil
	}
	return DecodeStrict(data, ev)
}

// decodeEventFast parses the usual shape of an event: an object with the keys
// event_id, user_id, item_id, type, timestamp, request_id and session_id, in any order
// and each at most once; strings of printable ASCII without escapes; no nulls. It
// reports false for anything else (and may then have written to ev), and the caller
// decodes with DecodeStrict, which also produces the error message. On every object it
// accepts, DecodeStrict produces the same value: FuzzEventFastPath checks exactly that.
func decodeEventFast(data []byte, ev *fusionrank.Event) bool {
	p := fastParser{b: data}
	var seen [7]bool
	ok := p.object(seen[:], func(key []byte) (k int, ok bool) {
		switch string(key) {
		case "event_id":
			ev.EventID, ok = p.str()
		case "user_id":
			k = 1
			ev.UserID, ok = p.str()
		case "item_id":
			k = 2
			ev.ItemID, ok = p.str()
		case "type":
			k = 3
			var s string
			s, ok = p.str()
			ev.Type = fusionrank.EventType(s)
		case "timestamp":
			k = 4
			start := p.i
			if _, ok = p.str(); ok {
				raw := bytes.TrimLeft(data[start:p.i], " \t\r\n")
				ok = ev.Timestamp.UnmarshalJSON(raw) == nil
			}
		case "request_id":
			k = 5
			ev.RequestID, ok = p.str()
		case "session_id":
			k = 6
			ev.SessionID, ok = p.str()
		default:
			return 0, false
		}
		return k, ok
	})
	p.space()
	return ok && p.i == len(p.b)
}
