package api

import (
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
			if !decodeRerankFast(body, &req) || len(req.Items) != 100 {
				b.Fatal("fast path refused the body")
			}
		}
	})
}
