package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/api"
	"github.com/fusionrank/fusionrank/client"
)

// TestRerankBatch: POST /v1/rerank:batch answers each request as POST /v1/rerank
// answers it alone (the same ranking, its own status and error naming the request's
// own field, its own answer id, recorded for attribution), and refuses a batch that is
// empty, too long, malformed or sent with a key below scope read.
func TestRerankBatch(t *testing.T) {
	m := startMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4", "FUSIONRANK_TEXT_VECTORS": glove})
	base := m.URL()
	write := createKey(t, m, fusionrank.ScopeWrite)
	read := createKey(t, m, fusionrank.ScopeRead)
	public := createKey(t, m, fusionrank.ScopePublic)
	p := "rb-"
	var nd strings.Builder
	titles := []string{"blue summer dress", "black leather boots", "red running shoes", "green garden hose", "wooden chair"}
	for i, tt := range titles {
		fmt.Fprintf(&nd, `{"id":"%sitem%d","title":%q,"category":"c","price":%d}`+"\n", p, i, tt, 10*(i+1))
	}
	if r := do(t, "POST", base+"/v1/items:batch", write, nd.String()); r.status != 200 {
		t.Fatalf("items: %d %s", r.status, r.body)
	}
	waitForItem(t, m, p+"item4")
	item := func(id string, score float64) map[string]any { return map[string]any{"id": p + id, "score": score} }
	byQuery := map[string]any{"query": map[string]any{"text": "shoes for running"},
		"items": []any{item("item4", 1), item("item2", 1), map[string]any{"id": "ghost"}, item("item3", 1)}}
	// The package's tests share a database, and a model another test activated may be
	// live: the results are compared with single calls, not with a fixed order.
	byEngine := map[string]any{"items": []any{item("item0", 3), item("item4", 9), item("item1", 5)}, "count": 2}
	badDim := map[string]any{"items": []any{item("item0", 1)}, "query": map[string]any{"vectors": map[string]any{"image": []any{1, 2}}}}
	badID := map[string]any{"items": []any{item("item0", 1), map[string]any{"id": "bad id"}}}

	r := do(t, "POST", base+"/v1/rerank:batch", read, map[string]any{"requests": []any{byQuery, byEngine, badDim, badID}})
	if r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	results := r.json(t)["results"].([]any)
	if len(results) != 4 {
		t.Fatalf("%d results: %s", len(results), r.body)
	}
	res := func(i int) map[string]any { return results[i].(map[string]any) }
	// Each answered request gets the ranking a single call gives.
	for i, single := range []map[string]any{byQuery, byEngine} {
		one := do(t, "POST", base+"/v1/rerank", read, single)
		if one.status != 200 || res(i)["status"] != float64(200) || res(i)["error"] != nil {
			t.Fatalf("request %d: single %d, batch %v", i, one.status, res(i))
		}
		got := res(i)["ranking"].(map[string]any)
		if fmt.Sprint(ids(got)) != fmt.Sprint(ids(one.json(t))) {
			t.Fatalf("request %d: batch ranks %v, a single call %v", i, ids(got), ids(one.json(t)))
		}
	}
	if got := ids(res(0)["ranking"].(map[string]any)); len(got) != 4 || got[3] != "ghost" {
		t.Fatalf("the unknown id should come last: %v", got)
	}
	if got := ids(res(1)["ranking"].(map[string]any)); len(got) != 2 {
		t.Fatalf("count 2 not kept: %v", got)
	}
	// The invalid requests fail alone, named by their own fields.
	for i, want := range map[int]string{2: "query.vectors.image: expected 4 numbers, got 2", 3: "items[1].id"} {
		e, _ := res(i)["error"].(map[string]any)
		if res(i)["status"] != float64(400) || e == nil || e["code"] != "invalid" || !strings.Contains(e["message"].(string), want) || res(i)["ranking"] != nil {
			t.Fatalf("request %d: %v, want a 400 naming %q", i, res(i), want)
		}
	}
	// Every answer has its own id, recorded for attribution like a single call's.
	id0 := res(0)["ranking"].(map[string]any)["request_id"].(string)
	id1 := res(1)["ranking"].(map[string]any)["request_id"].(string)
	if id0 == "" || id0 == id1 {
		t.Fatalf("answer ids %q and %q", id0, id1)
	}
	waitFor(t, "both answers to be recorded", func() bool {
		var n int
		_ = m.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM rank_requests WHERE request_id IN ($1, $2)`, id0, id1).Scan(&n)
		return n == 2
	})

	// The Go client's call.
	cb, err := client.New(base, read).RerankBatch(context.Background(), []fusionrank.RerankRequest{
		{Items: []fusionrank.Candidate{{ID: p + "item1"}, {ID: p + "item0"}}, Count: 1},
		{Items: []fusionrank.Candidate{{ID: "bad id"}}},
	})
	if err != nil || len(cb.Results) != 2 || cb.Results[0].Status != 200 || len(cb.Results[0].Ranking.Items) != 1 ||
		cb.Results[1].Status != 400 || cb.Results[1].Error == nil || cb.Results[1].Error.Code != "invalid" {
		t.Fatalf("client: %+v, %v", cb, err)
	}
	if _, err := client.New(base, read).RerankBatch(context.Background(), nil); fusionrank.ErrorCode(err) != fusionrank.Invalid {
		t.Fatalf("client, empty batch: %v", err)
	}

	// Whole-batch refusals.
	many := make([]any, api.MaxRerankBatch+1)
	for i := range many {
		many[i] = byEngine
	}
	for _, c := range []struct {
		key    string
		body   any
		status int
		want   string
	}{
		{read, map[string]any{"requests": []any{}}, 400, "requests: empty"},
		{read, map[string]any{}, 400, "requests: empty"},
		{read, map[string]any{"requests": many}, 413, fmt.Sprintf("requests: %d requests is over the limit of %d", len(many), api.MaxRerankBatch)},
		{read, `{"requests": [{"items": [{"id": 5}]}]}`, 400, "requests.items.id: expected a string"},
		{read, `{"requests": {}}`, 400, "requests: expected an array"},
		{public, map[string]any{"requests": []any{byEngine}}, 403, ""},
		{"", map[string]any{"requests": []any{byEngine}}, 401, ""},
	} {
		r := do(t, "POST", base+"/v1/rerank:batch", c.key, c.body)
		if r.status != c.status || !strings.Contains(string(r.body), c.want) {
			t.Fatalf("%v: %d %s, want %d naming %q", c.body, r.status, r.body, c.status, c.want)
		}
	}
}
