package api

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fusionrank/fusionrank"
)

// TestAppendRankingMatchesJSON checks that the reflection-free encoder writes exactly
// what encoding/json writes, on random rankings with awkward strings and scores, and
// that it declines what it does not handle.
func TestAppendRankingMatchesJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "a", "lt-123", "x<y>&z", "quote\"back\\slash", "tab\tnew\nline", "é ünïcode", "\u2028sep", "bad\xffutf8", "ctl\x01"}
	floats := []float64{0, -0.0, 1, -1, 0.5, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 1e20, 1e21, 1.234e25, -3.25e-8, 123456.789, -1e9, math.SmallestNonzeroFloat64, math.MaxFloat64}
	pick := func() string { return strs[rng.IntN(len(strs))] }
	for n := range 2000 {
		r := fusionrank.Ranking{RequestID: pick(), ModelVersion: pick(), Personalized: rng.IntN(2) == 0, ImageEncoder: pick()}
		if n%7 != 0 {
			r.Items = []fusionrank.RankedItem{}
		}
		for range rng.IntN(5) {
			f := floats[rng.IntN(len(floats))]
			if rng.IntN(2) == 0 {
				f = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))
			}
			r.Items = append(r.Items, fusionrank.RankedItem{ID: pick(), Score: f, Source: pick(), ImageURL: pick()})
		}
		if n%3 != 0 {
			r.UnknownItems = []string{}
			for range rng.IntN(3) {
				r.UnknownItems = append(r.UnknownItems, pick())
			}
		}
		for range rng.IntN(3) {
			r.Warnings = append(r.Warnings, pick())
		}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendRanking(nil, &r)
		if !ok {
			t.Fatalf("declined %+v", r)
		}
		if string(got) != string(want) {
			t.Fatalf("ranking %d:\n got %s\nwant %s", n, got, want)
		}
	}
	for _, r := range []fusionrank.Ranking{
		{Items: []fusionrank.RankedItem{{ID: "a", Score: math.NaN()}}},
		{Items: []fusionrank.RankedItem{{ID: "a", Score: math.Inf(1)}}},
		{Items: []fusionrank.RankedItem{{ID: "a", Explanation: &fusionrank.Explanation{}}}},
	} {
		if _, ok := appendRanking(nil, &r); ok {
			t.Errorf("accepted %+v, which encoding/json must handle", r.Items[0])
		}
	}
}

func BenchmarkEncodeRanking(b *testing.B) {
	r := fusionrank.Ranking{RequestID: "0123456789abcdef", ModelVersion: "v1", Personalized: true, UnknownItems: []string{}}
	for i := range 100 {
		r.Items = append(r.Items, fusionrank.RankedItem{ID: "lt-" + string(rune('0'+i%10)) + "1234", Score: 0.123456 * float64(i), Source: "retrieval:text"})
	}
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(r)
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 8<<10)
		for b.Loop() {
			buf, _ = appendRanking(buf[:0], &r)
		}
	})
}
