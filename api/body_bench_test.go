package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank"
)

// BenchmarkDecodeRerank decodes a rerank body of 100 candidates, the shape of the
// serving benchmark's requests.
func BenchmarkDecodeRerank(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"user_id":"lu-42","query":{"text":"red dress"},"items":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":"lt-%d","score":0.%d}`, i*977, 100+i)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var req fusionrank.RerankRequest
			if err := DecodeStrict(body, &req); err != nil || len(req.Items) != 100 {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast-path", func(b *testing.B) {
		for b.Loop() {
			var req fusionrank.RerankRequest
			if !decodeRerankFast(body, &req, nil) || len(req.Items) != 100 {
				b.Fatal("fast path refused the body")
			}
		}
	})
	b.Run("fast-path-reused", func(b *testing.B) { // the handler's: candidates in pooled memory
		for b.Loop() {
			var req fusionrank.RerankRequest
			bufs := candBufPool.Get().(*candBufs)
			if !decodeRerankFast(body, &req, bufs) || len(req.Items) != 100 {
				b.Fatal("fast path refused the body")
			}
			bufs.reuse()
		}
	})
}

// BenchmarkCheckJSON measures the strict checks (duplicate keys, NUL, UTF-8) beside
// encoding/json's decoding of the same body: a batch of 1,000 events, the largest
// POST /v1/events allows, and one event as each is checked on its own.
func BenchmarkCheckJSON(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"events":[`)
	for i := range 1000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"event_id":"ev-%d","user_id":"u-%d","item_id":"sku-%d","type":"view","timestamp":"2026-11-27T10:00:00Z","request_id":"r-%d"}`, i, i%97, i%1013, i)
	}
	sb.WriteString(`]}`)
	batch := []byte(sb.String())
	one := []byte(`{"event_id":"ev-1","user_id":"u-1","item_id":"sku-1","type":"view","timestamp":"2026-11-27T10:00:00Z","request_id":"r-1"}`)
	for _, c := range []struct {
		name string
		body []byte
	}{{"batch-1000", batch}, {"one-event", one}} {
		b.Run(c.name+"/check", func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := checkJSON(c.body, -1); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/encoding-json", func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				var v map[string]any
				if err := json.Unmarshal(c.body, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
