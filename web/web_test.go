package web

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// sliceCatalogue is a catalogue in a slice.
type sliceCatalogue []Item

func (s sliceCatalogue) Lookup(id string) (Item, bool) {
	for _, it := range s {
		if it.ID == id {
			return it, true
		}
	}
	return Item{}, false
}

func (s sliceCatalogue) Each(visit func(Item) bool) {
	for _, it := range s {
		if !visit(it) {
			return
		}
	}
}

func ids(hits []Hit) []string {
	out := []string{}
	for _, h := range hits {
		out = append(out, h.ID)
	}
	return out
}

func TestWords(t *testing.T) {
	got := Words("WHITE Hanging-Heart T-LIGHT holder, 12 pcs!")
	want := []string{"white", "hanging", "heart", "t", "light", "holder", "12", "pcs"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Words = %q, want %q", got, want)
	}
}

func TestSearch(t *testing.T) {
	cat := sliceCatalogue{
		{ID: "a", Title: "red heart candle"},
		{ID: "b", Title: "heart shaped mirror with a very long and wordy description"},
		{ID: "c", Title: "vanilla candle"},
		{ID: "d", Title: "lunch bag"},
		{ID: "e", Title: "HEART CANDLE"},
	}
	cases := []struct {
		name, q string
		n       int
		want    []string
	}{
		{"empty query", "", 10, []string{}},
		{"no match", "teapot", 10, []string{}},
		{"one word", "bag", 10, []string{"d"}},
		// Both words beat one; among equal matches the shorter title wins.
		{"two words", "heart candle", 10, []string{"e", "a", "c", "b"}},
		{"count caps", "heart candle", 2, []string{"e", "a"}},
		{"case and punctuation", "Candle!!", 10, []string{"c", "e", "a"}},
		{"zero count", "candle", 0, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(Search(cat, tc.q, tc.n)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Search(%q) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	t.Run("scores against a naive reference", func(t *testing.T) {
		hits := Search(cat, "heart candle", 10)
		// heart: df 3, candle: df 3, N 5; "heart candle" has 2 words.
		want := 2 * 0.9808292530117262 / 1.1 // log(1 + 5/3) = 0.98083
		if d := hits[0].Score - want; d > 1e-12 || d < -1e-12 {
			t.Fatalf("score %v, want %v", hits[0].Score, want)
		}
	})
}

func TestCORS(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	h := CORS(inner)
	cases := []struct {
		name, method, path, origin, preflight string
		status                                int
		allow                                 string
	}{
		{"preflight of the widget's call", "OPTIONS", "/v1/recommendations", "https://shop.example", "POST", 204, "*"},
		{"the widget's call", "POST", "/v1/events", "https://shop.example", "", 299, "*"},
		{"item titles", "GET", "/widget/items", "https://shop.example", "", 299, "*"},
		{"same-origin call", "POST", "/v1/recommendations", "", "", 299, ""},
		{"other routes stay closed", "OPTIONS", "/v1/items/x", "https://shop.example", "PUT", 299, ""},
		{"rerank stays closed", "POST", "/v1/rerank", "https://shop.example", "", 299, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.preflight != "" {
				req.Header.Set("Access-Control-Request-Method", tc.preflight)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status || rec.Header().Get("Access-Control-Allow-Origin") != tc.allow {
				t.Fatalf("status %d allow %q, want %d %q", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"), tc.status, tc.allow)
			}
			if tc.status == 204 && !strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
				t.Errorf("preflight does not allow the Authorization header: %v", rec.Header())
			}
		})
	}
}
