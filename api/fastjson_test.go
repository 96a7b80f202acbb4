package api

import (
	"reflect"
	"testing"

	"github.com/fusionrank/fusionrank"
)

var rerankSeeds = []string{
	`{"user_id":"lu-1","query":{"text":"red dress"},"items":[{"id":"a","score":1.5},{"id":"b"},{"score":-2e-3,"id":"c"}],"count":2,"explain":true}`,
	`{"items":[]}`,
	`{}`,
	` { "items" : [ { "id" : "x" } ] , "explain" : false } `,
	`{"items":[{"id":"a","score":1}],"query":{}}`,
	`{"items":[{"id":"a","score":1e400}]}`,
	`{"items":[{"id":"a","score":01}]}`,
	`{"items":[{"id":"a","id":"b"}]}`,
	`{"user_id":"a","user_id":"b"}`,
	`{"ITEMS":[{"id":"a"}]}`,
	`{"items":[{"id":"a\u0041"}]}`,
	`{"items":[{"id":"é"}]}`,
	`{"items":[{"id":"a","score":null}]}`,
	`{"items":null}`,
	`{"count":1.0}`,
	`{"count":-0}`,
	`{"count":99999999999999999999}`,
	`{"query":{"text":"a","vectors":{"image":[1,2]}}}`,
	`{"items":[{"id":"a"}]} x`,
	`{"items":[{"id":"a"},]}`,
	`{"explain":tru}`,
	`[]`,
	``,
}

// FuzzRerankFastPath: whenever the fast rerank decoder accepts a body, encoding/json
// (DecodeStrict) accepts it too and produces the same request.
func FuzzRerankFastPath(f *testing.F) {
	for _, s := range rerankSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, slow fusionrank.RerankRequest
		if !decodeRerankFast(data, &fast) {
			return
		}
		if err := DecodeStrict(data, &slow); err != nil {
			t.Fatalf("fast path accepted %q; DecodeStrict: %v", data, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v, DecodeStrict %+v", data, fast, slow)
		}
	})
}

// TestRerankFastPathTakesTheUsualShape: the fast path must actually serve the usual
// requests (and defer the unusual ones).
func TestRerankFastPathTakesTheUsualShape(t *testing.T) {
	for i, s := range rerankSeeds {
		var req fusionrank.RerankRequest
		ok := decodeRerankFast([]byte(s), &req)
		if want := i < 5 || s == `{"count":-0}`; ok != want {
			t.Errorf("%q: fast path accepted=%v, want %v", s, ok, want)
		}
	}
	var req fusionrank.RerankRequest
	decodeRerankFast([]byte(rerankSeeds[0]), &req)
	if req.UserID != "lu-1" || req.Query.Text != "red dress" || len(req.Items) != 3 || *req.Items[0].Score != 1.5 ||
		req.Items[1].Score != nil || req.Items[2].ID != "c" || *req.Items[2].Score != -2e-3 || req.Count != 2 || !req.Explain {
		t.Fatalf("decoded %+v", req)
	}
}
