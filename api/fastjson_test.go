package api

import (
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

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

// fuzzAgainstStrict fuzzes a fast decoder from seeds: whenever fast accepts a body,
// DecodeStrict must accept it too and produce the same value.
func fuzzAgainstStrict[T any](f *testing.F, seeds []string, fast func([]byte, *T) bool) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want T
		if !fast(data, &got) {
			return
		}
		if err := DecodeStrict(data, &want); err != nil {
			t.Fatalf("fast path accepted %q; DecodeStrict: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: fast %+v, DecodeStrict %+v", data, got, want)
		}
	})
}

// checkUsualShape checks which seeds a fast decoder takes: those usual says are of the
// usual shape, and no other.
func checkUsualShape[T any](t *testing.T, seeds []string, fast func([]byte, *T) bool, usual func(i int, s string) bool) {
	t.Helper()
	for i, s := range seeds {
		var v T
		if ok, want := fast([]byte(s), &v), usual(i, s); ok != want {
			t.Errorf("%q: fast path accepted=%v, want %v", s, ok, want)
		}
	}
}

// FuzzRerankFastPath: whenever the fast rerank decoder accepts a body, encoding/json
// (DecodeStrict) accepts it too and produces the same request.
func FuzzRerankFastPath(f *testing.F) {
	// The handler's way: the candidates in memory reused from one body to the next.
	bufs := candBufPool.New().(*candBufs)
	fuzzAgainstStrict(f, rerankSeeds, func(b []byte, req *fusionrank.RerankRequest) bool {
		bufs.reset()
		return decodeRerankFast(b, req, bufs)
	})
}

// TestRerankFastPathTakesTheUsualShape: the fast path must actually serve the usual
// requests (and defer the unusual ones).
func TestRerankFastPathTakesTheUsualShape(t *testing.T) {
	checkUsualShape(t, rerankSeeds, func(b []byte, req *fusionrank.RerankRequest) bool { return decodeRerankFast(b, req, nil) }, func(i int, s string) bool { return i < 5 || s == `{"count":-0}` })
	var req fusionrank.RerankRequest
	decodeRerankFast([]byte(rerankSeeds[0]), &req, nil)
	if req.UserID != "lu-1" || req.Query.Text != "red dress" || len(req.Items) != 3 || *req.Items[0].Score != 1.5 ||
		req.Items[1].Score != nil || req.Items[2].ID != "c" || *req.Items[2].Score != -2e-3 || req.Count != 2 || !req.Explain {
		t.Fatalf("decoded %+v", req)
	}
}

// recommendSeeds: the first five are of the usual shape; the rest are not.
var recommendSeeds = []string{
	`{"user_id":"lu-1","count":10}`,
	`{}`,
	` { "user_id" : "u" , "user_token" : "t.x-1" , "explain" : true , "exclude" : [ "a" , "b" ] , "count" : 0 } `,
	`{"exclude":[]}`,
	`{"count":-3,"explain":false}`,
	`{"user_id":"u","query":{"text":"red"}}`,
	`{"filters":{"category":"x"}}`,
	`{"user_id":"a","user_id":"b"}`,
	`{"USER_ID":"a"}`,
	`{"user_id":"a\u0041"}`,
	`{"user_id":"é"}`,
	`{"user_id":null}`,
	`{"exclude":null}`,
	`{"exclude":["a",]}`,
	`{"exclude":["a",1]}`,
	`{"count":1.0}`,
	`{"count":99999999999999999999}`,
	`{"explain":tru}`,
	`{"user_id":"a"} x`,
	`{"anonymous":true}`,
	`[]`,
	``,
}

// FuzzRecommendFastPath: whenever the fast recommendation decoder accepts a body,
// DecodeStrict accepts it too and produces the same request.
func FuzzRecommendFastPath(f *testing.F) {
	fuzzAgainstStrict(f, recommendSeeds, decodeRecommendFast)
}

// TestRecommendFastPathTakesTheUsualShape: the fast path serves the usual requests
// (and defers the rest).
func TestRecommendFastPathTakesTheUsualShape(t *testing.T) {
	checkUsualShape(t, recommendSeeds, decodeRecommendFast, func(i int, _ string) bool { return i < 5 })
	var req fusionrank.RecommendRequest
	decodeRecommendFast([]byte(recommendSeeds[2]), &req)
	want := fusionrank.RecommendRequest{UserID: "u", UserToken: "t.x-1", Explain: true, Exclude: []string{"a", "b"}}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("decoded %+v, want %+v", req, want)
	}
}

// rerankBatchSeeds: the first four are of the usual shape; the rest are not.
var rerankBatchSeeds = []string{
	`{"requests":[{"user_id":"lu-1","query":{"text":"red dress"},"items":[{"id":"a","score":1.5},{"id":"b"}],"count":1},{"items":[{"id":"c"}]}]}`,
	`{"requests":[]}`,
	` { "requests" : [ {} , { "items" : [ ] } ] } `,
	`{}`,
	`{"requests":null}`,
	`{"requests":[null]}`,
	`{"requests":[{"items":[{"id":"a"}]},]}`,
	`{"requests":[{"items":[{"id":"a"}]}],"requests":[]}`,
	`{"requests":[{"items":[{"id":"a","id":"b"}]}]}`,
	`{"requests":[{"query":{"text":"a","vectors":{"image":[1,2]}}}]}`,
	`{"requests":[{"ITEMS":[]}]}`,
	`{"requests":{}}`,
	`{"requests":[]} x`,
	`[]`,
	``,
}

// FuzzRerankBatchFastPath: whenever the fast batch decoder accepts a body, DecodeStrict
// accepts it too and produces the same requests.
func FuzzRerankBatchFastPath(f *testing.F) {
	fuzzAgainstStrict(f, append(rerankBatchSeeds, rerankSeeds...), decodeRerankBatchFast)
}

// TestRerankBatchFastPathTakesTheUsualShape: the fast path serves the usual batches and
// defers the rest.
func TestRerankBatchFastPathTakesTheUsualShape(t *testing.T) {
	checkUsualShape(t, rerankBatchSeeds, decodeRerankBatchFast, func(i int, _ string) bool { return i < 4 })
	var req fusionrank.RerankBatchRequest
	decodeRerankBatchFast([]byte(rerankBatchSeeds[0]), &req)
	if len(req.Requests) != 2 || req.Requests[0].UserID != "lu-1" || req.Requests[0].Query.Text != "red dress" ||
		len(req.Requests[0].Items) != 2 || req.Requests[0].Count != 1 || req.Requests[1].Items[0].ID != "c" {
		t.Fatalf("decoded %+v", req)
	}
}

var eventSeeds = []string{
	`{"event_id":"g0","user_id":"u311","item_id":"i39808","type":"view","timestamp":"2024-12-01T00:00:05.60069904Z"}`,
	` { "type" : "purchase", "timestamp" : "2026-01-02T03:04:05+02:00" , "item_id":"i","user_id":"u","event_id":"e","request_id":"r","session_id":"s"} `,
	`{}`,
	`{"event_id":"g0","event_id":"g1"}`,
	`{"event_id":null}`,
	`{"Event_ID":"g0"}`,
	`{"event_id":"g\u0030"}`,
	`{"timestamp":"2024-12-01 00:00:05Z"}`,
	`{"timestamp":"2024-13-01T00:00:05Z"}`,
	`{"event_id":"g0","extra":1}`,
	`{"event_id":"g0"} x`,
	`{"event_id":1}`,
}

// FuzzEventFastPath: whenever the fast event decoder accepts an object, DecodeStrict
// accepts it too and produces the same event.
func FuzzEventFastPath(f *testing.F) {
	fuzzAgainstStrict(f, eventSeeds, decodeEventFast)
}

// TestEventFastPathTakesTheUsualShape: the fast path serves the usual events, defers
// the unusual ones, and DecodeEvent's errors are DecodeStrict's (naming the field).
func TestEventFastPathTakesTheUsualShape(t *testing.T) {
	checkUsualShape(t, eventSeeds, decodeEventFast, func(i int, _ string) bool { return i < 3 })
	var ev fusionrank.Event
	if err := DecodeEvent([]byte(eventSeeds[1]), &ev); err != nil || ev.Type != fusionrank.Purchase || ev.SessionID != "s" ||
		!ev.Timestamp.Equal(time.Date(2026, 1, 2, 1, 4, 5, 0, time.UTC)) {
		t.Fatalf("decoded %+v %v", ev, err)
	}
	if err := DecodeEvent([]byte(`{"event_id":1}`), &ev); err == nil || !strings.Contains(err.Error(), "event_id") {
		t.Fatalf("error %v, want it to name event_id", err)
	}
}

// TestPooledBodyIsNotKept: a rerank decoded from a pooled body buffer keeps nothing of
// it: after the buffer is given back and filled with another body, the first request
// (through the fast path and through DecodeStrict) is unchanged.
func TestPooledBodyIsNotKept(t *testing.T) {
	read := func(body string) (*gin.Context, []byte, func()) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("POST", "/v1/rerank", strings.NewReader(body))
		b, release, err := readJSONPooled(c)
		if err != nil {
			t.Fatal(err)
		}
		return c, b, release
	}
	for _, body := range []string{
		`{"user_id":"u-first","query":{"text":"red dress"},"items":[{"id":"a1","score":1.5},{"id":"a2"}]}`,
		`{"user_id":"u-first","query":{"text":"red dress","image":"AQID"},"items":[{"id":"a1","score":1.5},{"id":"a2"}]}`, // not the fast path
	} {
		_, b, release := read(body)
		var req fusionrank.RerankRequest
		if !decodeRerankFast(b, &req, nil) {
			req = fusionrank.RerankRequest{}
			if err := DecodeStrict(b, &req); err != nil {
				t.Fatal(err)
			}
		}
		want := fmt.Sprintf("%+v", req)
		release()
		for range 4 {
			_, b2, release2 := read(strings.Repeat("x", len(body)))
			copy(b2, strings.Repeat("z", len(b2)))
			release2()
		}
		if got := fmt.Sprintf("%+v", req); got != want {
			t.Fatalf("the request changed with the buffer: %s, was %s", got, want)
		}
	}
}
