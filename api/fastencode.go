package api

import (
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/fusionrank/fusionrank"
)

// appendRanking appends the JSON of r, byte for byte what encoding/json writes for it,
// without reflection: encoding/json spends a few microseconds and several allocations
// on a ranking of 100 items, a noticeable share of a rerank's CPU. Answers with
// explanations (maps) go through encoding/json; ok is false for them and for values
// encoding/json refuses (a NaN or infinite score), and the caller then uses
// json.Marshal, which also produces the error. TestAppendRankingMatchesJSON compares
// the two on random rankings.
func appendRanking(b []byte, r *fusionrank.Ranking) (_ []byte, ok bool) {
	for i := range r.Items {
		it := &r.Items[i]
		if it.Explanation != nil || math.IsNaN(it.Score) || math.IsInf(it.Score, 0) {
			return b, false
		}
	}
	b = append(b, `{"request_id":`...)
	b = appendJSONString(b, r.RequestID)
	b = append(b, `,"model_version":`...)
	b = appendJSONString(b, r.ModelVersion)
	b = append(b, `,"items":`...)
	if r.Items == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Items {
			it := &r.Items[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendJSONString(b, it.ID)
			b = append(b, `,"score":`...)
			b = appendJSONFloat(b, it.Score)
			if it.Source != "" {
				b = append(b, `,"source":`...)
				b = appendJSONString(b, it.Source)
			}
			if it.ImageURL != "" {
				b = append(b, `,"image_url":`...)
				b = appendJSONString(b, it.ImageURL)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"unknown_items":`...)
	b = appendJSONStrings(b, r.UnknownItems)
	b = append(b, `,"personalized":`...)
	b = strconv.AppendBool(b, r.Personalized)
	if r.ImageEncoder != "" {
		b = append(b, `,"image_encoder":`...)
		b = appendJSONString(b, r.ImageEncoder)
	}
	if len(r.Warnings) > 0 {
		b = append(b, `,"warnings":`...)
		b = appendJSONStrings(b, r.Warnings)
	}
	return append(b, '}'), true
}

func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string the way encoding/json writes it: plain
// printable ASCII other than ", \, <, > and & is copied; anything else (escapes, HTML
// characters, non-ASCII, invalid UTF-8) goes through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat appends a finite float64 as encoding/json does: the shortest
// representation, in exponent form below 1e-6 and from 1e21 up, with a two-digit
// negative exponent shortened (1e-07 → 1e-7).
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		n := len(b) - start
		if n >= 4 && b[len(b)-4] == 'e' && b[len(b)-3] == '-' && b[len(b)-2] == '0' {
			b[len(b)-2] = b[len(b)-1]
			b = b[:len(b)-1]
		}
	}
	return b
}

// answerBufs holds the buffers answers are encoded into.
var answerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}
