package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
)

const glove = "../../../shared/datasets/glove/glove-6B-100d-top50k.txt.gz"

func createKey(t testing.TB, m *Main, scope fusionrank.Scope) string {
	t.Helper()
	key, _, err := m.Keys.Create(context.Background(), scope, "test")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// userToken signs a user token for user with m's current secret, creating one when
// there is none, as `fusionrank keys user-secret` and a shop's backend would.
func userToken(t testing.TB, m *Main, user string) string {
	t.Helper()
	ctx := context.Background()
	if err := m.Keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	tok, _, err := m.Keys.SignUserToken(user, time.Hour)
	if fusionrank.ErrorCode(err) == fusionrank.Conflict { // no secret yet
		if _, err := m.Keys.RotateUserSecret(ctx, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := m.Keys.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		tok, _, err = m.Keys.SignUserToken(user, time.Hour)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForItem waits until m's serving catalogue holds item id (a candidate it has not
// loaded yet is answered as unknown).
func waitForItem(t testing.TB, m *Main, id string) {
	t.Helper()
	waitFor(t, "the catalogue to load "+id, func() bool {
		c := m.Features.Catalog()
		c.RLock()
		defer c.RUnlock()
		_, ok := c.Slot(id)
		return ok
	})
}

func TestAPIEndToEnd(t *testing.T) {
	m := startMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4", "FUSIONRANK_TEXT_VECTORS": glove})
	base := m.URL()
	write := createKey(t, m, fusionrank.ScopeWrite)
	read := createKey(t, m, fusionrank.ScopeRead)
	public := createKey(t, m, fusionrank.ScopePublic)
	p := "e2e-" // ids of this test

	// Items.
	r := do(t, "PUT", base+"/v1/items/"+p+"dress", write, map[string]any{"title": "red long dress", "category": "dresses", "price": 49.5,
		"vectors": map[string]any{"image": []float32{1, 0, 0, 0}}})
	if r.status != 201 || r.json(t)["created"] != true {
		t.Fatalf("put item: %d %s", r.status, r.body)
	}
	if r := do(t, "PUT", base+"/v1/items/"+p+"dress", write, map[string]any{"title": "red long dress", "category": "dresses"}); r.status != 200 || r.json(t)["created"] != false {
		t.Fatalf("replace item: %d %s", r.status, r.body)
	}
	r = do(t, "PUT", base+"/v1/items/"+p+"bad", write, map[string]any{"title": "x", "vectors": map[string]any{"image": []float32{1, 2, 3}}})
	if r.status != 400 || !strings.Contains(string(r.body), "vectors.image: expected 4 numbers, got 3") {
		t.Fatalf("bad dim: %d %s", r.status, r.body)
	}
	r = do(t, "PUT", base+"/v1/items/"+p+"bad", write, `{"title": 5}`)
	if r.status != 400 || !strings.Contains(string(r.body), "title: expected a string") {
		t.Fatalf("bad type: %d %s", r.status, r.body)
	}
	if r := do(t, "PUT", base+"/v1/items/"+p+"bad", read, map[string]any{"title": "x"}); r.status != 403 {
		t.Fatalf("read key writing: %d %s", r.status, r.body)
	}
	var nd strings.Builder
	titles := []string{"blue summer dress", "black leather boots", "red running shoes", "green garden hose", "wooden chair", "oak dining table"}
	cats := []string{"dresses", "shoes", "shoes", "garden", "furniture", "furniture"}
	for i, tt := range titles {
		fmt.Fprintf(&nd, `{"id":"%sitem%d","title":%q,"category":%q,"price":%d}`+"\n", p, i, tt, cats[i], 10*(i+1))
	}
	nd.WriteString("{broken\n")
	nd.WriteString(`{"id":"` + p + `x","vectors":{"sound":[1]}}` + "\n")
	r = do(t, "POST", base+"/v1/items:batch", write, nd.String())
	if r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	if b := r.json(t); b["accepted"] != float64(6) || len(b["rejected"].([]any)) != 2 {
		t.Fatalf("batch answer: %s", r.body)
	}
	r = do(t, "GET", base+"/v1/items/"+p+"dress", read, nil)
	if r.status != 200 || r.json(t)["modalities"].(map[string]any)["text"] == nil {
		t.Fatalf("get item: %d %s", r.status, r.body)
	}
	waitForItem(t, m, p+"item5")

	// Events.
	now := time.Now().UTC()
	ev := func(id, user, item, typ string, ago time.Duration) map[string]any {
		return map[string]any{"event_id": p + id, "user_id": p + user, "item_id": item, "type": typ, "timestamp": now.Add(-ago).Format(time.RFC3339Nano)}
	}
	batch := map[string]any{"events": []any{
		ev("1", "u1", p+"item0", "view", 3*time.Minute), ev("2", "u1", p+"item1", "click", 2*time.Minute),
		ev("3", "u2", p+"item0", "view", 3*time.Minute), ev("4", "u2", p+"item1", "view", 2*time.Minute),
		ev("5", "u2", p+"item2", "purchase", time.Minute), ev("6", "u1", "not-in-catalogue", "view", time.Minute),
		map[string]any{"event_id": p + "7", "user_id": p + "u1", "item_id": p + "item0", "type": "like", "timestamp": now.Format(time.RFC3339)},
	}}
	r = do(t, "POST", base+"/v1/events", write, batch)
	if r.status != 200 {
		t.Fatalf("events: %d %s", r.status, r.body)
	}
	if b := r.json(t); b["accepted"] != float64(6) || b["duplicates"] != float64(0) || len(b["rejected"].([]any)) != 1 {
		t.Fatalf("events answer: %s", r.body)
	}
	if b := do(t, "POST", base+"/v1/events", write, batch).json(t); b["accepted"] != float64(0) || b["duplicates"] != float64(6) {
		t.Fatalf("replayed events: %v", b)
	}
	if r := do(t, "POST", base+"/v1/events", public, map[string]any{"events": []any{ev("8", "u1", p+"item0", "purchase", 0)}}); r.status != 403 {
		t.Fatalf("public key purchase: %d %s", r.status, r.body)
	}
	u1Token := userToken(t, m, p+"u1")
	if r := do(t, "POST", base+"/v1/events", public, map[string]any{"user_token": u1Token, "events": []any{ev("9", "u1", p+"item3", "click", 0)}}); r.status != 200 || r.json(t)["accepted"] != float64(1) {
		t.Fatalf("public key click: %d %s", r.status, r.body)
	}

	// Users.
	r = do(t, "GET", base+"/v1/users/"+p+"u1/features", read, nil)
	if r.status != 200 {
		t.Fatalf("features: %d %s", r.status, r.body)
	}
	f := r.json(t)
	if recent := f["recent_items"].([]any); len(recent) != 4 || recent[0] != p+"item3" {
		t.Fatalf("recent items: %s", r.body)
	}
	if f["profile"].(map[string]any)["text"] == nil {
		t.Fatalf("profile lacks text: %s", r.body)
	}

	// Rerank: duplicates dropped, unknown ids kept at the end.
	r = do(t, "POST", base+"/v1/rerank", read, map[string]any{
		"user_id": p + "u1", "query": map[string]any{"text": "shoes for running"}, "explain": true,
		"items": []any{map[string]any{"id": p + "item4"}, map[string]any{"id": "ghost"}, map[string]any{"id": p + "item2"},
			map[string]any{"id": p + "item4"}, map[string]any{"id": p + "item3"}},
	})
	if r.status != 200 {
		t.Fatalf("rerank: %d %s", r.status, r.body)
	}
	rr := r.json(t)
	items := rr["items"].([]any)
	if len(items) != 4 || items[3].(map[string]any)["id"] != "ghost" || rr["model_version"] != "none" || rr["request_id"] == "" {
		t.Fatalf("rerank answer: %s", r.body)
	}
	if u := rr["unknown_items"].([]any); len(u) != 1 || u[0] != "ghost" {
		t.Fatalf("unknown items: %s", r.body)
	}
	if first := items[0].(map[string]any); first["id"] != p+"item2" || first["explanation"] == nil {
		t.Fatalf("the running shoes should win the query 'shoes for running': %s", r.body)
	}
	// Without a query or a shopper, the fallback keeps the engine's order.
	r = do(t, "POST", base+"/v1/rerank", read, map[string]any{"items": []any{
		map[string]any{"id": p + "item0", "score": 3}, map[string]any{"id": p + "item4", "score": 9}, map[string]any{"id": p + "item1", "score": 5}}})
	if got := fmt.Sprint(ids(r.json(t))); got != fmt.Sprint([]string{p + "item4", p + "item1", p + "item0"}) {
		t.Fatalf("engine order not kept: %s", r.body)
	}
	r = do(t, "POST", base+"/v1/rerank", read, map[string]any{"items": []any{map[string]any{"id": "a"}}, "query": map[string]any{"vectors": map[string]any{"image": []any{1, 2}}}})
	if r.status != 400 || !strings.Contains(string(r.body), "query.vectors.image: expected 4 numbers, got 2") {
		t.Fatalf("bad rerank: %d %s", r.status, r.body)
	}

	// Recommendations: a bought item disappears at once.
	rec := func(user string) []string {
		r := do(t, "POST", base+"/v1/recommendations", public, map[string]any{"user_id": user, "user_token": userToken(t, m, user), "count": 10})
		if r.status != 200 {
			t.Fatalf("recommendations: %d %s", r.status, r.body)
		}
		var ids []string
		for _, it := range r.json(t)["items"].([]any) {
			it := it.(map[string]any)
			if it["source"] == "" || it["source"] == nil {
				t.Fatalf("item without source: %s", r.body)
			}
			ids = append(ids, it["id"].(string))
		}
		return ids
	}
	before := rec(p + "u1")
	if len(before) == 0 {
		t.Fatal("no recommendations")
	}
	target := before[0]
	do(t, "POST", base+"/v1/events", write, map[string]any{"events": []any{ev("10", "u1", target, "purchase", 0)}})
	after := rec(p + "u1")
	for _, id := range after {
		if id == target {
			t.Fatalf("bought item %s still recommended: %v", target, after)
		}
	}
	if ids := rec(p + "newcomer"); len(ids) == 0 {
		t.Fatal("a new user got nothing")
	}

	// Similar and search.
	if r := do(t, "GET", base+"/v1/items/"+p+"item1/similar?count=3", read, nil); r.status != 200 || len(r.json(t)["items"].([]any)) == 0 {
		t.Fatalf("similar: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", base+"/v1/items/nope/similar", read, nil); r.status != 404 {
		t.Fatalf("similar unknown: %d %s", r.status, r.body)
	}
	r = do(t, "POST", base+"/v1/search", read, map[string]any{"query": map[string]any{"text": "table"}, "count": 3})
	if r.status != 200 || r.json(t)["items"].([]any)[0].(map[string]any)["id"] != p+"item5" {
		t.Fatalf("search 'table': %d %s", r.status, r.body)
	}

	// Delete: the item stops being recommended.
	if r := do(t, "DELETE", base+"/v1/items/"+p+"item5", write, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	waitFor(t, "the deletion to reach the catalogue", func() bool {
		r := do(t, "POST", base+"/v1/search", read, map[string]any{"query": map[string]any{"text": "table"}, "count": 3})
		for _, it := range r.json(t)["items"].([]any) {
			if it.(map[string]any)["id"] == p+"item5" {
				return false
			}
		}
		return true
	})
}

func ids(answer map[string]any) []string {
	var out []string
	for _, it := range answer["items"].([]any) {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}

// TestAttributionAndStats: an event carrying a ranked answer's request id counts as a
// click of the model that answered.
func TestAttributionAndStats(t *testing.T) {
	m := startMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4"})
	base := m.URL()
	key := createKey(t, m, fusionrank.ScopeWrite)
	p := "attr-"
	for i := range 3 {
		do(t, "PUT", base+fmt.Sprintf("/v1/items/%si%d", p, i), key, map[string]any{"title": "thing", "vectors": map[string]any{"image": []float32{1, float32(i), 0, 0}}})
	}
	waitFor(t, "items", func() bool {
		r := do(t, "POST", base+"/v1/rerank", key, map[string]any{"items": []any{map[string]any{"id": p + "i2"}}})
		return len(r.json(t)["unknown_items"].([]any)) == 0
	})
	r := do(t, "POST", base+"/v1/rerank", key, map[string]any{"items": []any{map[string]any{"id": p + "i0"}, map[string]any{"id": p + "i1"}}})
	reqID := r.json(t)["request_id"].(string)
	if reqID == "" || r.header.Get("X-Request-ID") != reqID {
		t.Fatalf("request id %q, header %q", reqID, r.header.Get("X-Request-ID"))
	}
	ev := map[string]any{"events": []any{map[string]any{"event_id": p + "e1", "user_id": p + "u", "item_id": p + "i1", "type": "click",
		"timestamp": time.Now().UTC().Format(time.RFC3339), "request_id": reqID}}}
	if r := do(t, "POST", base+"/v1/events", key, ev); r.status != 200 {
		t.Fatalf("event: %d %s", r.status, r.body)
	}
	waitFor(t, "the click to be attributed", func() bool {
		r := do(t, "GET", base+"/v1/stats/models", key, nil)
		for _, s := range r.json(t)["models"].([]any) {
			s := s.(map[string]any)
			if s["model_version"] == "none" && s["clicks"].(float64) >= 1 && s["impressions"].(float64) >= 2 {
				return true
			}
		}
		return false
	})
}

// TestBatch100kLines streams 100,000 NDJSON lines in one request.
func TestBatch100kLines(t *testing.T) {
	m := startMain(t, nil)
	key := createKey(t, m, fusionrank.ScopeWrite)
	var b strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&b, `{"id":"big-%d","title":"item %d","price":%d}`+"\n", i, i, i%100)
	}
	r := do(t, "POST", m.URL()+"/v1/items:batch", key, b.String())
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body[:min(len(r.body), 500)])
	}
	if res := r.json(t); res["accepted"] != float64(100_000) || len(res["rejected"].([]any)) != 0 {
		t.Fatalf("answer %s", r.body[:min(len(r.body), 500)])
	}
	var n int
	if err := m.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM items WHERE id LIKE 'big-%'`).Scan(&n); err != nil || n != 100_000 {
		t.Fatalf("%d items stored (%v)", n, err)
	}
}

// TestRecommendFiltersAndDiversity: filters hold, excluded items never come back, and
// no category takes more than three places while others are available.
func TestRecommendFiltersAndDiversity(t *testing.T) {
	m := startMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4"})
	base := m.URL()
	key := createKey(t, m, fusionrank.ScopeWrite)
	p := "div-"
	var nd strings.Builder
	for i := range 30 {
		cat := "mugs"
		if i%5 == 0 {
			cat = "lamps"
		}
		if i%7 == 0 {
			cat = "bags"
		}
		// The mugs all point the same way as the shopper's history: without the
		// diversity rule they would fill the list.
		v := []float32{1, 0.01 * float32(i), 0, 0}
		if cat != "mugs" {
			v = []float32{0.2, 1, float32(i), 0}
		}
		js, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("%s%d", p, i), "title": "thing", "category": cat, "price": i, "vectors": map[string]any{"image": v}})
		nd.Write(js)
		nd.WriteByte('\n')
	}
	if r := do(t, "POST", base+"/v1/items:batch", key, nd.String()); r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	waitForItem(t, m, p+"29")
	do(t, "POST", base+"/v1/events", key, map[string]any{"events": []any{map[string]any{"event_id": p + "e", "user_id": p + "u",
		"item_id": p + "1", "type": "click", "timestamp": time.Now().UTC().Format(time.RFC3339)}}})
	rec := func(body map[string]any) []map[string]any {
		body["user_id"] = p + "u"
		r := do(t, "POST", base+"/v1/recommendations", key, body)
		if r.status != 200 {
			t.Fatalf("recommendations: %d %s", r.status, r.body)
		}
		var out []map[string]any
		for _, it := range r.json(t)["items"].([]any) {
			out = append(out, it.(map[string]any))
		}
		return out
	}
	category := func(id string) string {
		v, err := m.Features.GetItem(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return v.Category
	}
	items := rec(map[string]any{"count": 8})
	perCat := map[string]int{}
	for _, it := range items {
		perCat[category(it["id"].(string))]++
	}
	if len(items) != 8 || perCat["mugs"] > 3 {
		t.Fatalf("diversity: %d items, per category %v", len(items), perCat)
	}
	items = rec(map[string]any{"count": 10, "filters": map[string]any{"category": []string{"mugs"}, "price_min": 10, "price_max": 20},
		"exclude": []string{p + "11"}})
	if len(items) == 0 {
		t.Fatal("filtered recommendations are empty")
	}
	for _, it := range items {
		id := it["id"].(string)
		v, _ := m.Features.GetItem(context.Background(), id)
		if v.Category != "mugs" || *v.Price < 10 || *v.Price > 20 || id == p+"11" {
			t.Fatalf("%s (category %s, price %v) breaks the filters", id, v.Category, *v.Price)
		}
	}
	r := do(t, "POST", base+"/v1/recommendations", key, map[string]any{"user_id": p + "u", "filters": map[string]any{"price_min": 5, "price_max": 1}})
	if r.status != 400 || !strings.Contains(string(r.body), "price_min is above price_max") {
		t.Fatalf("bad filter: %d %s", r.status, r.body)
	}
}

// putItems creates n items "<prefix>item<i>" with the bodies body(i) and returns
// their ids.
func putItems(t *testing.T, m *Main, key, prefix string, n int, body func(i int) map[string]any) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%sitem%d", prefix, i)
		if r := do(t, "PUT", m.URL()+"/v1/items/"+ids[i], key, body(i)); r.status/100 != 2 {
			t.Fatalf("put %s: %d %s", ids[i], r.status, r.body)
		}
	}
	return ids
}
