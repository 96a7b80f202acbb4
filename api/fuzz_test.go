package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/fusionrank/fusionrank"
)

// The fuzz targets drive the real Gin handlers (strict JSON decoding, validation,
// limits) through httptest. The services behind them are small in-memory stand-ins: the
// stores are covered by their own tests; what is fuzzed here is the transport. Every
// answer must be a JSON body with the envelope on 4xx, never a 500 (a recovered panic
// is a 500 too).

// memItems keeps items in a map.
type memItems struct {
	mu    sync.Mutex
	items map[string]fusionrank.Item
}

func (m *memItems) put(it fusionrank.Item) (bool, error) {
	if err := fusionrank.ValidateID("id", it.ID); err != nil {
		return false, err
	}
	for name, v := range it.Vectors {
		if name != "image" {
			return false, fusionrank.Errorf(fusionrank.Invalid, "vectors.%s: unknown modality", name)
		}
		if err := fusionrank.ValidateVector("vectors."+name, v, 4); err != nil {
			return false, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = map[string]fusionrank.Item{}
	}
	_, had := m.items[it.ID]
	m.items[it.ID] = it
	return !had, nil
}

func (m *memItems) PutItem(_ context.Context, it fusionrank.Item) (bool, error) { return m.put(it) }

func (m *memItems) PutItems(_ context.Context, items []fusionrank.Item) ([]error, error) {
	errs := make([]error, len(items))
	for i, it := range items {
		_, errs[i] = m.put(it)
	}
	return errs, nil
}

func (m *memItems) GetItem(_ context.Context, id string) (fusionrank.ItemView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[id]
	if !ok {
		return fusionrank.ItemView{}, fusionrank.Errorf(fusionrank.NotFound, "item %q: not found", id)
	}
	return fusionrank.ItemView{Item: it, Modalities: map[string]fusionrank.ModalityInfo{}}, nil
}

func (m *memItems) DeleteItem(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, id)
	return nil
}

// memEvents deduplicates on the event id within each id space and reports a replay
// with another payload as a conflict, as the real store does.
type memEvents struct {
	mu     sync.Mutex
	stored map[string]fusionrank.Event
}

func (m *memEvents) IngestEventsIn(_ context.Context, space fusionrank.EventIDSpace, evs []fusionrank.Event) (fusionrank.EventResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stored == nil {
		m.stored = map[string]fusionrank.Event{}
	}
	res := fusionrank.EventResult{Rejected: []fusionrank.EventRejection{}, Conflicts: []fusionrank.EventConflict{}}
	for i, e := range evs {
		k := string(space) + "/" + e.EventID
		if prev, ok := m.stored[k]; ok {
			if prev.UserID != e.UserID || prev.ItemID != e.ItemID || prev.Type != e.Type || !prev.Timestamp.Equal(e.Timestamp) {
				res.Conflicts = append(res.Conflicts, fusionrank.EventConflict{Index: i, EventID: e.EventID, Field: "payload", Error: "conflict"})
			} else {
				res.Duplicates++
			}
			continue
		}
		m.stored[k] = e
		res.Accepted++
	}
	return res, nil
}

// memTokens accepts "tok-<user>" for user.
type memTokens struct{}

func (memTokens) VerifyUserToken(token string) (string, error) {
	u, ok := strings.CutPrefix(token, "tok-")
	if !ok || u == "" {
		return "", fusionrank.Errorf(fusionrank.Unauthorized, "user_token: not a user token")
	}
	return u, nil
}

// memRank keeps the candidates' order, capped like the real service.
type memRank struct{}

func (memRank) Release(*fusionrank.Ranking) {}

func (memRank) Rerank(ctx context.Context, req fusionrank.RerankRequest) (fusionrank.Ranking, error) {
	if len(req.Items) > 1000 {
		return fusionrank.Ranking{}, fusionrank.Errorf(fusionrank.TooLarge, "items: %d candidates is over the limit of 1000", len(req.Items))
	}
	if req.Count < 0 || req.Count > 200 {
		return fusionrank.Ranking{}, fusionrank.Errorf(fusionrank.Invalid, "count: out of range")
	}
	r := fusionrank.Ranking{RequestID: fusionrank.RequestID(ctx), ModelVersion: "none"}
	seen := map[string]bool{}
	for _, c := range req.Items {
		if err := fusionrank.ValidateID("items[].id", c.ID); err != nil {
			return fusionrank.Ranking{}, err
		}
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		r.UnknownItems = append(r.UnknownItems, c.ID)
		r.Items = append(r.Items, fusionrank.RankedItem{ID: c.ID})
	}
	return r, nil
}

func (memRank) Recommend(context.Context, fusionrank.RecommendRequest) (fusionrank.Ranking, error) {
	return fusionrank.Ranking{ModelVersion: "none"}, nil
}

func (memRank) Similar(context.Context, fusionrank.SimilarRequest) (fusionrank.Ranking, error) {
	return fusionrank.Ranking{ModelVersion: "none"}, nil
}

func (memRank) Search(context.Context, fusionrank.SearchRequest) (fusionrank.Ranking, error) {
	return fusionrank.Ranking{ModelVersion: "none"}, nil
}

// scopedKeys knows one key per scope: "k-public", "k-read", "k-write", "k-admin".
type scopedKeys struct{}

func (scopedKeys) Authenticate(_ context.Context, key string) (fusionrank.Scope, string, error) {
	sc, err := fusionrank.ParseScope(strings.TrimPrefix(key, "k-"))
	if err != nil || !strings.HasPrefix(key, "k-") {
		return 0, "", fusionrank.Errorf(fusionrank.Unauthorized, "Authorization: unknown or revoked key")
	}
	return sc, key, nil
}

func fuzzServer() *Server {
	return New(Config{Auth: true, MaxBodyBytes: 64 << 10, MaxBatchBytes: 256 << 10},
		Deps{Items: &memItems{}, Events: &memEvents{}, Rank: memRank{}, Keys: scopedKeys{}, UserTokens: memTokens{}})
}

// checkAnswer fails on a 5xx, a body that is not JSON, and a 4xx without the envelope.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, body []byte) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("status %d for body %q: %s", w.Code, body, w.Body.Bytes())
	}
	if w.Code == http.StatusNoContent {
		return
	}
	var v map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("status %d: answer is not a JSON object: %v: %q", w.Code, err, w.Body.Bytes())
	}
	if w.Code >= 400 {
		var e ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("status %d without the error envelope: %s", w.Code, w.Body.Bytes())
		}
		if w.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
			t.Fatalf("429 without Retry-After")
		}
	}
}

func serve(s *Server, method, path, key string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	return w
}

var fuzzScopes = []string{"k-public", "k-read", "k-write", "k-admin", "", "nope"}

func FuzzPutItem(f *testing.F) {
	for _, seed := range []string{
		`{"title":"red long dress","category":"dresses","price":49.5,"attributes":{"size":["s","m"]},"active":true,"vectors":{"image":[1,0,0,0]}}`,
		`{"id":"a","title":"x"}`,
		`{"id":"b","title":"x"}`,
		`{"title":5}`,
		`{"vectors":{"image":[1,2,3]}}`,
		`{"vectors":{"sound":[1]}}`,
		`{"price":-1e400}`,
		`{"title":"x"} {"title":"y"}`,
		`{"title":"x","nope":1}`,
		`{"attributes":{"a":{"b":[null,true,1e308]}}}`,
		`{"title":"a\u0000b"}`, `{"attributes":{"k\u0000":"v"}}`, `{"title":"x","Title":"y"}`, `{"title":"\\u0000"}`,
		"{\"title\":\"\xff\"}", `{"attributes":{"Size":1,"size":2}}`,
		`[]`, `null`, ``, `{`, "\xff",
	} {
		f.Add("a", seed)
	}
	s := fuzzServer()
	f.Fuzz(func(t *testing.T, id string, body string) {
		path := "/v1/items/" + url.PathEscape(id)
		w := serve(s, "PUT", path, "k-write", []byte(body))
		checkAnswer(t, w, []byte(body))
		if w.Code == http.StatusOK || w.Code == http.StatusCreated {
			var it fusionrank.Item
			if err := DecodeStrict([]byte(body), &itemInput{&it}); err != nil {
				t.Fatalf("accepted a body the strict decoder rejects: %v: %q", err, body)
			}
		}
	})
}

func FuzzEvents(f *testing.F) {
	for i, seed := range []string{
		`{"events":[{"event_id":"e1","user_id":"u1","item_id":"i1","type":"click","timestamp":"2026-11-27T10:00:00Z"}]}`,
		`{"events":[{"event_id":"e2","user_id":"u1","item_id":"i1","type":"purchase","timestamp":"2026-11-27T10:00:00.123456789+02:00","request_id":"r1","session_id":"s1"}]}`,
		`{"events":[{"event_id":"e3","user_id":"u1","item_id":"i1","type":"like","timestamp":"2026-11-27T10:00:00Z"},{"event_id":""}]}`,
		`{"events":[{"event_id":"e4","user_id":"u 1","item_id":"i1","type":"view","timestamp":"yesterday"}]}`,
		`{"events":[{"event_id":"e5","user_id":"u1","item_id":"i1","type":"view"}]}`,
		`{"events":[1,"x",null,[],{}]}`,
		`{"events":null}`, `{}`, `{"events":{}}`, `{"events":[],"x":1}`, `null`, ``,
		`{"user_token":"tok-u1","events":[{"event_id":"e1","user_id":"u1","item_id":"i1","type":"view","timestamp":"2026-11-27T10:00:00Z"},{"event_id":"e6","user_id":"u2","item_id":"i1","type":"view","timestamp":"2026-11-27T10:00:00Z"}]}`,
		`{"events":[{"event_id":"e1","user_id":"u1","item_id":"i2","type":"click","timestamp":"2026-11-27T10:00:00Z"}]}`,
		`{"events":[{"event_id":"e7","user_id":"u1","item_id":"i1","type":"view","Type":"purchase","timestamp":"2026-11-27T10:00:00Z"}]}`,
		`{"events":[{"event_id":"e8","user_id":"u\u0000","item_id":"i1","type":"view","timestamp":"2026-11-27T10:00:00Z"}]}`,
		`{"events":[],"Events":[]}`,
	} {
		f.Add(uint8(i), seed)
	}
	s := fuzzServer()
	f.Fuzz(func(t *testing.T, who uint8, body string) {
		key := fuzzScopes[int(who)%len(fuzzScopes)]
		w := serve(s, "POST", "/v1/events", key, []byte(body))
		checkAnswer(t, w, []byte(body))
		if w.Code != http.StatusOK {
			return
		}
		var res fusionrank.EventResult
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		var in struct{ Events []json.RawMessage }
		_ = json.Unmarshal([]byte(body), &in)
		if got := res.Accepted + res.Duplicates + len(res.Conflicts) + len(res.Rejected); got != len(in.Events) {
			t.Fatalf("accepted %d + duplicates %d + conflicts %d + rejected %d != %d events in %q", res.Accepted, res.Duplicates, len(res.Conflicts), len(res.Rejected), len(in.Events), body)
		}
		for _, c := range res.Conflicts {
			if c.Index < 0 || c.Index >= len(in.Events) || c.Field == "" {
				t.Fatalf("bad conflict %+v for %q", c, body)
			}
		}
		for i, r := range res.Rejected {
			if r.Index < 0 || r.Index >= len(in.Events) || (i > 0 && r.Index <= res.Rejected[i-1].Index) || r.Error == "" {
				t.Fatalf("bad rejection list %+v for %q", res.Rejected, body)
			}
		}
	})
}

func FuzzRerank(f *testing.F) {
	for _, seed := range []string{
		`{"user_id":"u1","query":{"text":"red dress","vectors":{"image":[0.1,0.2,0.3,0.4]}},"items":[{"id":"a","score":2.5},{"id":"b"},{"id":"a"}],"count":2,"explain":true}`,
		`{"items":[{"id":"a"}]}`,
		`{"items":[{"id":""}]}`,
		`{"items":[{"id":"a","score":"high"}]}`,
		`{"items":[],"count":-1}`,
		`{"items":[{"id":"a"}],"count":1e10}`,
		`{"query":{"vectors":{"image":[1e39]}},"items":[{"id":"a"}]}`,
		`{"query":{"text":5}}`,
		`{"items":[{"id":"a"}]} trailing`,
		`{"items":null,"user_id":null}`,
	} {
		f.Add(uint8(1), seed)
	}
	s := fuzzServer()
	f.Fuzz(func(t *testing.T, who uint8, body string) {
		key := fuzzScopes[int(who)%len(fuzzScopes)]
		w := serve(s, "POST", "/v1/rerank", key, []byte(body))
		checkAnswer(t, w, []byte(body))
	})
}

func FuzzItemsBatch(f *testing.F) {
	var big strings.Builder
	for i := range 5 {
		fmt.Fprintf(&big, `{"id":"i%d","title":"item %d","vectors":{"image":[1,0,0,%d]}}`+"\n", i, i, i)
	}
	for _, seed := range []string{
		big.String(),
		`{"id":"a","title":"x"}` + "\n" + `{broken` + "\n\n" + `{"id":"b","vectors":{"sound":[1]}}`,
		`{"id":"a"}` + "\r\n" + `{"id":"b"}`,
		"\n\n\n",
		`{"id":"a"} {"id":"b"}`,
		`{"id":"a","title":"` + strings.Repeat("x", 300) + `"}`,
		"\xff\xfe\n{}",
		"",
		`{"id":"a","title":"ok"}` + "\n" + `{"id":"b","title":"a\u0000b"}` + "\n" + `{"id":"c","title":"ok"}`,
		`{"id":"a","ID":"b"}` + "\n" + `null`,
	} {
		f.Add(seed)
	}
	s := fuzzServer()
	f.Fuzz(func(t *testing.T, body string) {
		w := serve(s, "POST", "/v1/items:batch", "k-write", []byte(body))
		checkAnswer(t, w, []byte(body))
		if w.Code != http.StatusOK {
			return
		}
		var res fusionrank.BatchResult
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		lines := 0
		for _, l := range strings.Split(body, "\n") {
			if len(bytes.TrimSpace([]byte(l))) > 0 {
				lines++
			}
		}
		if res.Accepted+len(res.Rejected) != lines {
			t.Fatalf("accepted %d + rejected %d != %d non-empty lines in %q: %s", res.Accepted, len(res.Rejected), lines, body, w.Body.Bytes())
		}
	})
}
