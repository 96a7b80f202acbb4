package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
)

// The tests of this file replay the attacks of the second security review, each as a
// client would send it, against a running server. Each failed before the change it
// names; docs/reliability.md lists them with their answers.

// TestPublicKeyCannotBlockPurchases: a public key (which anyone can read) claims an
// order id before the order system sends it; the purchase is stored all the same. A
// replay of an id with another payload is a conflict naming the field; an exact replay
// is a duplicate; a public event for a user without that user's token is refused.
func TestPublicKeyCannotBlockPurchases(t *testing.T) {
	m := startMain(t, slowOK)
	base := m.URL()
	public, write := createKey(t, m, fusionrank.ScopePublic), createKey(t, m, fusionrank.ScopeWrite)
	p := runPrefix("sec-claim")
	ts := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	ev := func(id, user, item, typ string) map[string]any {
		return map[string]any{"event_id": id, "user_id": user, "item_id": item, "type": typ, "timestamp": ts}
	}
	order := p + "order-5001"
	// The attacker is a shopper with a valid token for their own id.
	r := do(t, "POST", base+"/v1/events", public, map[string]any{"user_token": userToken(t, m, p+"attacker"),
		"events": []any{ev(order, p+"attacker", "sku-0", "view")}})
	if r.status != 200 || r.json(t)["accepted"] != float64(1) {
		t.Fatalf("the public claim: %d %s", r.status, r.body)
	}
	purchase := ev(order, p+"u2", "sku-1", "purchase")
	r = do(t, "POST", base+"/v1/events", write, map[string]any{"events": []any{purchase}})
	if r.status != 200 || r.json(t)["accepted"] != float64(1) || r.json(t)["duplicates"] != float64(0) {
		t.Fatalf("the order system's purchase was not stored: %d %s", r.status, r.body)
	}
	var n int
	if err := m.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE user_id = $1 AND type = 'purchase'`, p+"u2").Scan(&n); err != nil || n != 1 {
		t.Fatalf("purchases of u2 in Postgres: %d (%v), want 1", n, err)
	}

	// The same id with another payload: a conflict naming the field, nothing stored.
	changed := ev(order, p+"u2", "sku-1", "add_to_cart")
	r = do(t, "POST", base+"/v1/events", write, map[string]any{"events": []any{purchase, changed}})
	b := r.json(t)
	conflicts, _ := b["conflicts"].([]any)
	if r.status != 200 || b["accepted"] != float64(0) || b["duplicates"] != float64(1) || len(conflicts) != 1 {
		t.Fatalf("replay and changed replay: %d %s", r.status, r.body)
	}
	if c := conflicts[0].(map[string]any); c["index"] != float64(1) || c["field"] != "type" || c["event_id"] != order {
		t.Fatalf("conflict: %v", c)
	}

	// Public events must name the user of their token.
	r = do(t, "POST", base+"/v1/events", public, map[string]any{"events": []any{ev(p+"e-notoken", p+"victim", "sku-2", "click")}})
	if rej, _ := r.json(t)["rejected"].([]any); r.status != 200 || r.json(t)["accepted"] != float64(0) || len(rej) != 1 ||
		!strings.Contains(rej[0].(map[string]any)["error"].(string), "user_token: missing") {
		t.Fatalf("a public event without a token: %d %s", r.status, r.body)
	}
	r = do(t, "POST", base+"/v1/events", public, map[string]any{"user_token": userToken(t, m, p+"attacker"),
		"events": []any{ev(p+"e-other", p+"victim", "sku-2", "click"), ev(p+"e-own", p+"attacker", "sku-2", "click")}})
	if rej, _ := r.json(t)["rejected"].([]any); r.status != 200 || r.json(t)["accepted"] != float64(1) || len(rej) != 1 ||
		rej[0].(map[string]any)["index"] != float64(0) {
		t.Fatalf("a public event for another user than the token's: %d %s", r.status, r.body)
	}
	if err := m.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE user_id = $1`, p+"victim").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the victim has %d events (%v), want 0", n, err)
	}
}

// TestPublicRecommendationsRevealNothing: with a public key and no valid token for the
// user, a filtered recommendation is the one an unknown shopper gets, so what is missing
// no longer shows what the user bought; explanations carry no counts. With the user's
// token, the answer is personal.
func TestPublicRecommendationsRevealNothing(t *testing.T) {
	m := startMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4", "FUSIONRANK_REQUEST_TIMEOUT": "5s"})
	base := m.URL()
	public, write := createKey(t, m, fusionrank.ScopePublic), createKey(t, m, fusionrank.ScopeWrite)
	p := runPrefix("sec-reveal")
	cats := []string{"accessories", "shoes", "dresses"}
	var nd strings.Builder
	for i := range 24 {
		fmt.Fprintf(&nd, `{"id":"%ssku-%d","title":"item %d","category":%q,"vectors":{"image":[1,%d,%d,1]}}`+"\n", p, i, i, cats[i%3], i%4, i%5)
	}
	if r := do(t, "POST", base+"/v1/items:batch", write, nd.String()); r.status != 200 {
		t.Fatalf("items: %d %s", r.status, r.body)
	}
	waitForItem(t, m, p+"sku-23")
	victim := p + "u3"
	bought := []string{p + "sku-0", p + "sku-1", p + "sku-3"} // accessories, shoes, accessories
	var evs []any
	for i, id := range bought {
		evs = append(evs, map[string]any{"event_id": fmt.Sprintf("%sbuy-%d", p, i), "user_id": victim, "item_id": id, "type": "purchase",
			"timestamp": time.Now().UTC().Add(-time.Duration(10-i) * time.Minute).Format(time.RFC3339)})
	}
	if r := do(t, "POST", base+"/v1/events", write, map[string]any{"events": evs}); r.status != 200 || r.json(t)["accepted"] != float64(3) {
		t.Fatalf("purchases: %d %s", r.status, r.body)
	}
	ask := func(user, token string) map[string]any {
		body := map[string]any{"user_id": user, "count": 50, "explain": true, "filters": map[string]any{"category": []string{"accessories", "shoes"}}}
		if token != "" {
			body["user_token"] = token
		}
		r := do(t, "POST", base+"/v1/recommendations", public, body)
		if r.status != 200 {
			t.Fatalf("recommendations: %d %s", r.status, r.body)
		}
		return r.json(t)
	}
	stranger := ask(p+"nobody", "")
	probe := ask(victim, "")
	if got, want := ids(probe), ids(stranger); !slices.Equal(got, want) {
		t.Fatalf("the victim's answer differs from a stranger's:\n victim %v\n stranger %v", got, want)
	}
	for _, id := range bought {
		if !slices.Contains(ids(probe), id) {
			t.Errorf("%s is missing from the public answer: it reveals the purchase", id)
		}
	}
	if probe["personalized"] != false || !strings.Contains(fmt.Sprint(probe["warnings"]), "user_token: missing") {
		t.Errorf("the answer does not say it is not personal: %v %v", probe["personalized"], probe["warnings"])
	}
	for _, it := range probe["items"].([]any) {
		if e, ok := it.(map[string]any)["explanation"].(map[string]any); ok && e["features"] != nil {
			t.Fatalf("a public explanation carries feature values: %v", e)
		}
	}
	// A token for someone else, a forged one: still nothing personal.
	for name, tok := range map[string]string{"another user's token": userToken(t, m, p+"attacker"), "forged": "fru1.1.9999999999.dTM.AAAA"} {
		if a := ask(victim, tok); a["personalized"] != false || !slices.Equal(ids(a), ids(stranger)) {
			t.Errorf("%s: personal answer or a different list: %v", name, a["warnings"])
		}
	}
	// The shopper's own token: personal, bought items left out.
	// A profile read that misses its deadline (the online store's 100 ms read timeout on
	// a loaded machine) is answered without personalisation and says so; asked again.
	tok := userToken(t, m, victim)
	own := ask(victim, tok)
	for i := 0; i < 3 && strings.Contains(fmt.Sprint(own["warnings"]), "profile unavailable"); i++ {
		own = ask(victim, tok)
	}
	if own["personalized"] != true {
		t.Fatalf("with the user's token: %v", own["warnings"])
	}
	for _, id := range bought {
		if slices.Contains(ids(own), id) {
			t.Errorf("bought %s recommended to its buyer", id)
		}
	}
}

// rawRequest writes req on a fresh connection and returns what the server sent back
// and how long until it closed the connection or answered (whichever the reader saw
// end first); the test gives up after limit.
func rawRequest(t *testing.T, addr, req string, limit time.Duration) (string, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(start.Add(limit))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", time.Since(start)
	}
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, body), time.Since(start)
}

// TestSlowBodyIsCutOff: a request that announces a body and never sends it is
// answered and its connection closed within the body deadline, on an ops route, on a
// /v1 route and on a CORS preflight; the bulk item load keeps its longer deadline.
func TestSlowBodyIsCutOff(t *testing.T) {
	m := startMain(t, map[string]string{"FUSIONRANK_BODY_TIMEOUT": "1s", "FUSIONRANK_HEADER_TIMEOUT": "1s", "FUSIONRANK_REQUEST_TIMEOUT": "5s"})
	addr := strings.TrimPrefix(m.URL(), "http://")
	read, write := createKey(t, m, fusionrank.ScopeRead), createKey(t, m, fusionrank.ScopeWrite)
	for _, c := range []struct{ name, req, want string }{
		{"GET /healthz with a body that never comes", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", ""},
		{"rerank body cut short", "POST /v1/rerank HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + read + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"items\":", "408"},
		{"preflight with a body", "OPTIONS /v1/recommendations HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\nAccess-Control-Request-Method: POST\r\nContent-Length: 10\r\n\r\n", ""},
		{"a header that never ends", "GET /healthz HTTP/1.1\r\nHost: x\r\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, took := rawRequest(t, addr, c.req, 8*time.Second)
			if took > 5*time.Second {
				t.Fatalf("the connection was held %s (answer %q); the body deadline is 1s", took, got)
			}
			if c.want != "" && !strings.HasPrefix(got, c.want) {
				t.Fatalf("answer %q, want %s", got, c.want)
			}
			t.Logf("answered %.40q after %s", got, took.Round(10*time.Millisecond))
		})
	}
	t.Run("the bulk load may take longer", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			fmt.Fprintf(pw, `{"id":"slow-1","title":"one"}`+"\n")
			time.Sleep(1500 * time.Millisecond) // past the 1s body deadline of the other routes
			fmt.Fprintf(pw, `{"id":"slow-2","title":"two"}`+"\n")
			pw.Close()
		}()
		r := doBody(t, "POST", m.URL()+"/v1/items:batch", write, pr)
		if r.status != 200 || r.json(t)["accepted"] != float64(2) {
			t.Fatalf("a bulk load that pauses: %d %s", r.status, r.body)
		}
	})
}

// TestMetricsMethodLabelsBounded: made-up methods do not add series to /metrics.
func TestMetricsMethodLabelsBounded(t *testing.T) {
	m := startMain(t, nil)
	series := func() int {
		body := string(do(t, "GET", m.URL()+"/metrics", "", nil).body)
		return len(regexp.MustCompile(`(?m)^fusionrank_http_requests_total\{`).FindAllString(body, -1))
	}
	before := series()
	for i := range 200 {
		for _, path := range []string{"/healthz", "/v1/items/x", "/no/such/path"} {
			req, _ := http.NewRequest(fmt.Sprintf("M%03d", i), m.URL()+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	if grew := series() - before; grew > 4 {
		t.Fatalf("600 requests with 200 made-up methods added %d series to /metrics", grew)
	}
	if !strings.Contains(string(do(t, "GET", m.URL()+"/metrics", "", nil).body), `method="other"`) {
		t.Fatal(`made-up methods are not counted under method="other"`)
	}
}

// TestBadTextLosesNothing: NUL characters and bytes that are not UTF-8 are 400s naming
// the field (one line of a batch: that line only), and a batch says exactly what it
// stored whatever stops it.
func TestBadTextLosesNothing(t *testing.T) {
	m := startMain(t, slowOK)
	base := m.URL()
	write := createKey(t, m, fusionrank.ScopeWrite)
	p := runPrefix("sec-nul")
	for _, c := range []struct{ name, body, want string }{
		{"NUL in the title", `{"title":"a\u0000b"}`, "title: contains a NUL character"},
		{"NUL in an attribute", `{"attributes":{"tags":["x\u0000"]}}`, "attributes.tags[0]: contains a NUL character"},
		{"NUL in an attribute key", `{"attributes":{"k\u0000":1}}`, "attributes: a key contains a NUL character"},
		{"bytes that are not UTF-8", "{\"title\":\"caf\xe9\"}", "title: not valid UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, "PUT", base+"/v1/items/"+p+"x", write, c.body)
			if r.status != 400 || !strings.Contains(string(r.body), c.want) {
				t.Fatalf("%d %s; want 400 naming %q", r.status, r.body, c.want)
			}
		})
	}
	count := func(prefix string) int {
		var n int
		if err := m.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM items WHERE id LIKE $1`, prefix+"%").Scan(&n); err != nil {
			return -1 // the callers' comparisons fail and print it
		}
		return n
	}
	lines := func(prefix string, n, bad int, badLine string) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			if i == bad {
				b.WriteString(badLine + "\n")
				continue
			}
			fmt.Fprintf(&b, `{"id":"%s%d","title":"item %d"}`+"\n", prefix, i, i)
		}
		return b.String()
	}
	t.Run("a NUL in line 3 of 5", func(t *testing.T) {
		r := do(t, "POST", base+"/v1/items:batch", write, lines(p+"five-", 5, 3, `{"id":"`+p+`five-3","title":"a\u0000b"}`))
		b := r.json(t)
		if r.status != 200 || b["accepted"] != float64(4) || len(b["rejected"].([]any)) != 1 || count(p+"five-") != 4 {
			t.Fatalf("%d %s; stored %d", r.status, r.body, count(p+"five-"))
		}
	})
	t.Run("a NUL in line 1200 of 1500", func(t *testing.T) {
		r := do(t, "POST", base+"/v1/items:batch", write, lines(p+"many-", 1500, 1200, `{"id":"`+p+`many-1200","title":"a\u0000b"}`))
		b := r.json(t)
		rej, _ := b["rejected"].([]any)
		if r.status != 200 || b["accepted"] != float64(1499) || len(rej) != 1 || rej[0].(map[string]any)["line"] != float64(1200) || count(p+"many-") != 1499 {
			t.Fatalf("%d %.300s; stored %d", r.status, r.body, count(p+"many-"))
		}
	})
	t.Run("a line over the limit at 1200 of 1500", func(t *testing.T) {
		// A line may hold an item with its photo: the limit is the photo body limit.
		huge := `{"id":"` + p + `cut-1200","title":"` + strings.Repeat("a", 12<<20) + `"}`
		r := do(t, "POST", base+"/v1/items:batch", write, lines(p+"cut-", 1500, 1200, huge))
		b := r.json(t)
		res, _ := b["result"].(map[string]any)
		if r.status != 413 || res == nil || res["accepted"] != float64(1199) {
			t.Fatalf("%d %.400s", r.status, r.body)
		}
		if st, _ := res["stopped"].(map[string]any); st == nil || st["line"] != float64(1200) {
			t.Fatalf("no stop line in %v", res)
		}
		if n := count(p + "cut-"); n != 1199 {
			t.Fatalf("stored %d, the answer says 1199", n)
		}
	})
}

// TestHugeEngineScores: engine scores of any finite size give a complete body with
// finite scores, with and without explain; the standardised engine feature keeps the
// engine's order, and the fallback (no model active) ranks in it. (Another test of the
// package may have activated a model that gives the feature no weight: the order is
// then the model's.)
func TestHugeEngineScores(t *testing.T) {
	m := startMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4", "FUSIONRANK_REQUEST_TIMEOUT": "5s"})
	write := createKey(t, m, fusionrank.ScopeWrite)
	ids := shop(t, m, write, runPrefix("sec-score"), 3)
	for _, big := range []float64{1e200, 2e154, math.MaxFloat64, 1e-300} {
		for _, explain := range []bool{false, true} {
			t.Run(fmt.Sprintf("%g explain %v", big, explain), func(t *testing.T) {
				r := do(t, "POST", m.URL()+"/v1/rerank", write, map[string]any{"explain": explain,
					"items": []any{map[string]any{"id": ids[1], "score": 0}, map[string]any{"id": ids[0], "score": big}, map[string]any{"id": ids[2], "score": -big}}})
				if r.status != 200 || len(r.body) == 0 {
					t.Fatalf("%d with %d bytes: %s", r.status, len(r.body), r.body)
				}
				answer := r.json(t)
				engine := map[string]float64{}
				got := []string{}
				for _, it := range answer["items"].([]any) {
					it := it.(map[string]any)
					if s := it["score"].(float64); s <= -1e8 || math.IsNaN(s) {
						t.Fatalf("score %v: %s", s, r.body)
					}
					got = append(got, it["id"].(string))
					if explain {
						engine[it["id"].(string)] = it["explanation"].(map[string]any)["features"].(map[string]any)["engine_score"].(float64)
					}
				}
				if explain && !(engine[ids[0]] > engine[ids[1]] && engine[ids[1]] > engine[ids[2]] && math.Abs(engine[ids[0]]) < 2) {
					t.Fatalf("engine feature %v does not keep the engine's order: %s", engine, r.body)
				}
				if want := []string{ids[0], ids[1], ids[2]}; answer["model_version"] == "none" && !slices.Equal(got, want) {
					t.Fatalf("order %v, want the engine's %v: %s", got, want, r.body)
				}
			})
		}
	}
}

// TestSmallerHoles replays the smaller findings of the review.
func TestSmallerHoles(t *testing.T) {
	m := startMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4", "FUSIONRANK_REQUEST_TIMEOUT": "5s"})
	base := m.URL()
	read, write := createKey(t, m, fusionrank.ScopeRead), createKey(t, m, fusionrank.ScopeWrite)
	public := createKey(t, m, fusionrank.ScopePublic)
	p := runPrefix("sec-small")
	ids := shop(t, m, write, p, 3)

	t.Run("PUT null", func(t *testing.T) {
		if r := do(t, "PUT", base+"/v1/items/"+p+"null", write, "null"); r.status != 400 || !strings.Contains(string(r.body), "expected a JSON object, got null") {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("ids . and ..", func(t *testing.T) {
		for _, id := range []string{".", ".."} {
			// Sent raw: Go's client keeps the segment; a browser's would drop it.
			got, _ := rawRequest(t, strings.TrimPrefix(base, "http://"), "PUT /v1/items/"+id+" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+write+
				"\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"title\":\"x\"}", 5*time.Second)
			if !strings.HasPrefix(got, "400") || !strings.Contains(got, "is not allowed") {
				t.Fatalf("PUT /v1/items/%s: %s", id, got)
			}
		}
		r := do(t, "POST", base+"/v1/events", write, map[string]any{"events": []any{map[string]any{"event_id": p + "dots", "user_id": "..", "item_id": ids[0], "type": "view", "timestamp": time.Now().UTC().Format(time.RFC3339)}}})
		if rej, _ := r.json(t)["rejected"].([]any); len(rej) != 1 {
			t.Fatalf("user_id ..: %s", r.body)
		}
	})
	t.Run("duplicate keys", func(t *testing.T) {
		for _, body := range []string{`{"title":"a","title":"b"}`, `{"title":"a","Title":"b"}`, `{"attributes":{"size":1,"SIZE":2}}`} {
			if r := do(t, "PUT", base+"/v1/items/"+p+"dup", write, body); r.status != 400 || !strings.Contains(string(r.body), "duplicate key") {
				t.Fatalf("%s: %d %s", body, r.status, r.body)
			}
		}
		// In an event batch the event with the duplicate is rejected, not the batch.
		r := do(t, "POST", base+"/v1/events", write, `{"events":[{"event_id":"`+p+`d1","user_id":"u","item_id":"i","type":"view","Type":"purchase","timestamp":"2026-01-01T00:00:00Z"},`+
			`{"event_id":"`+p+`d2","user_id":"u","item_id":"i","type":"view","timestamp":"2026-01-01T00:00:00Z"}]}`)
		rej, _ := r.json(t)["rejected"].([]any)
		if r.status != 200 || r.json(t)["accepted"] != float64(1) || len(rej) != 1 || !strings.Contains(fmt.Sprint(rej[0]), "Type: duplicate key") {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("lower-case bearer", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/v1/stats/models", nil)
		req.Header.Set("Authorization", "bearer "+read)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("timestamp with an offset before 1990", func(t *testing.T) {
		r := do(t, "POST", base+"/v1/events", write, map[string]any{"events": []any{map[string]any{"event_id": p + "tz", "user_id": "u", "item_id": ids[0], "type": "view", "timestamp": "1990-01-01T00:30:00+01:00"}}})
		if rej, _ := r.json(t)["rejected"].([]any); r.json(t)["accepted"] != float64(0) || len(rej) != 1 || !strings.Contains(fmt.Sprint(rej[0]), "before 1990") {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("a reused X-Request-ID", func(t *testing.T) {
		var got []string
		for range 2 {
			req, _ := http.NewRequest("POST", base+"/v1/rerank", strings.NewReader(`{"items":[{"id":"`+ids[0]+`"}]}`))
			req.Header.Set("Authorization", "Bearer "+read)
			req.Header.Set("X-Request-ID", p+"same")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			id := regexp.MustCompile(`"request_id":"([^"]+)"`).FindStringSubmatch(string(body))
			if len(id) < 2 || !strings.HasPrefix(id[1], p+"same.") || resp.Header.Get("X-Request-ID") != id[1] {
				t.Fatalf("answer %s, header %q", body, resp.Header.Get("X-Request-ID"))
			}
			got = append(got, id[1])
		}
		if got[0] == got[1] {
			t.Fatalf("two answers share the request id %s", got[0])
		}
		waitFor(t, "both answers to be recorded", func() bool {
			var n int
			_ = m.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM rank_requests WHERE request_id LIKE $1`, p+"same.%").Scan(&n)
			return n == 2
		})
	})
	t.Run("widget items of a deactivated item", func(t *testing.T) {
		if r := do(t, "DELETE", base+"/v1/items/"+ids[2], write, nil); r.status != 204 {
			t.Fatalf("delete: %d", r.status)
		}
		waitFor(t, "the deactivation to reach the catalogue", func() bool {
			r := do(t, "GET", base+"/widget/items?ids="+ids[1]+","+ids[2], public, nil)
			return r.status == 200 && !strings.Contains(string(r.body), ids[2]) && strings.Contains(string(r.body), ids[1])
		})
	})
}

// TestPublicRateLimitsOnByDefault: with the default configuration, a public key's calls
// from one address, and the browser endpoints outside /v1, are limited (429 with
// Retry-After); a read key's /v1 calls from the same address are not.
func TestPublicRateLimitsOnByDefault(t *testing.T) {
	m := startMain(t, map[string]string{"FUSIONRANK_REQUEST_TIMEOUT": "5s"}) // the default limits
	base := m.URL()
	public, read := createKey(t, m, fusionrank.ScopePublic), createKey(t, m, fusionrank.ScopeRead)
	// Each case calls from an address of its own (any 127.x.y.z reaches loopback), so
	// one case's bucket does not limit the next. The 60 calls go out at once, so that
	// they arrive within the burst however slowly the server answers them (a /demo/search
	// over a large catalogue takes tens of milliseconds).
	// The keys are in the server's copy before the burst: a key it has not loaded yet is
	// looked up in Postgres at most keys.MaxLookupsPerSecond times a second.
	if err := m.Keys.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	limited := func(t *testing.T, from, method, path, key string, body any) (int, response) {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 60,
			DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext}}
		defer c.CloseIdleConnections()
		js, _ := json.Marshal(body)
		answers := make([]response, 60)
		errs := make([]error, 60)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() { // no t.Fatal off the test's goroutine: errors are checked below
				var rd io.Reader
				if body != nil {
					rd = bytes.NewReader(js)
				}
				req, err := http.NewRequest(method, base+path, rd)
				if err != nil {
					errs[i] = err
					return
				}
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := c.Do(req)
				if err != nil {
					errs[i] = err
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				answers[i] = response{resp.StatusCode, resp.Header, b}
			})
		}
		wg.Wait()
		n, last := 0, response{}
		for i, r := range answers {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if r.status == 429 {
				n, last = n+1, r
			} else if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		}
		return n, last
	}
	for i, c := range []struct {
		name, method, path, key string
		body                    any
	}{
		{"public recommendations", "POST", "/v1/recommendations", public, map[string]any{"user_id": "u1"}},
		{"widget items", "GET", "/widget/items?ids=a", public, nil},
		{"demo search with a read key", "GET", "/demo/search?q=x", read, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, r := limited(t, fmt.Sprintf("127.0.3.%d", i+1), c.method, c.path, c.key, c.body)
			if n == 0 {
				t.Fatal("60 calls at once were never limited")
			}
			if errorCode(t, r) != "rate_limited" || r.header.Get("Retry-After") == "" {
				t.Fatalf("429 without its envelope or Retry-After: %v %s", r.header, r.body)
			}
			t.Logf("%d of 60 limited", n)
		})
	}
	t.Run("a read key's /v1 calls are not", func(t *testing.T) {
		if n, _ := limited(t, "127.0.3.9", "GET", "/v1/stats/models", read, nil); n != 0 {
			t.Fatalf("%d of 60 limited", n)
		}
	})
}

// TestKeyExpiryAndRotation: keys create --expires makes a key that stops working at
// its expiry; keys rotate gives a new key at once and keeps the old one working for the
// grace period only.
func TestKeyExpiryAndRotation(t *testing.T) {
	m := startMain(t, slowOK)
	t.Setenv("FUSIONRANK_DATABASE_URL", m.DB.Pool.Config().ConnString())
	run1 := func(args ...string) (string, string) {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return strings.TrimSpace(out.String()), errb.String()
	}
	works := func(key string) bool { return do(t, "GET", m.URL()+"/v1/stats/models", key, nil).status == 200 }

	short, _ := run1("keys", "create", "--scope", "read", "--name", runPrefix("exp"), "--expires", "3s")
	if !works(short) {
		t.Fatal("a new expiring key does not work")
	}
	pollUntil(t, 6*time.Second, "the key to expire", func() bool {
		r := do(t, "GET", m.URL()+"/v1/stats/models", short, nil)
		return r.status == 401 && strings.Contains(string(r.body), "expired")
	})

	old, _ := run1("keys", "create", "--scope", "read", "--name", runPrefix("rot"))
	var id int64
	if err := m.DB.Pool.QueryRow(context.Background(), `SELECT id FROM api_keys WHERE prefix = $1`, old[:10]).Scan(&id); err != nil {
		t.Fatal(err)
	}
	fresh, msg := run1("keys", "rotate", fmt.Sprint(id), "--grace", "3s")
	if !strings.Contains(msg, "stops working at") || fresh == old {
		t.Fatalf("rotate said %q", msg)
	}
	if !works(fresh) || !works(old) {
		t.Fatal("during the grace period both keys must work")
	}
	pollUntil(t, 6*time.Second, "the old key to stop", func() bool { return !works(old) })
	if !works(fresh) {
		t.Fatal("the new key stopped with the old one")
	}
}

// TestUserSecretRotation: `keys user-secret` rotates the secret; tokens signed with
// the previous one stay valid during the grace period, and none after a rotation with
// no grace (a leaked secret).
func TestUserSecretRotation(t *testing.T) {
	// The test polls with one public key from one address, faster than the
	// per-address limit allows; that limit has tests of its own.
	m := startMain(t, map[string]string{"FUSIONRANK_REQUEST_TIMEOUT": "5s", "FUSIONRANK_CLIENT_RATE_LIMIT": "0"})
	t.Setenv("FUSIONRANK_DATABASE_URL", m.DB.Pool.Config().ConnString())
	public := createKey(t, m, fusionrank.ScopePublic)
	user := runPrefix("rotuser")
	personal := func(token string) bool {
		r := do(t, "POST", m.URL()+"/v1/recommendations", public, map[string]any{"user_id": user, "user_token": token})
		if r.status != 200 {
			// A refused token gets an answer without personalisation, never an error.
			t.Fatalf("recommendations with a user token: %d %s", r.status, r.body)
		}
		return r.json(t)["personalized"] == true
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"keys", "user-secret"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "frus_") {
		t.Fatalf("keys user-secret: %d %q %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"keys", "user-token", "--user", user, "--ttl", "1h"}, &out, &errb); code != 0 {
		t.Fatalf("keys user-token: %s", errb.String())
	}
	before := strings.TrimSpace(out.String())
	pollUntil(t, 5*time.Second, "the server to take the secret", func() bool { return personal(before) })
	if code := run(context.Background(), []string{"keys", "user-secret", "--grace", "1h"}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"keys", "user-token", "--user", user}, &out, &errb); code != 0 {
		t.Fatalf("keys user-token: %s", errb.String())
	}
	after := strings.TrimSpace(out.String())
	if after[:7] == before[:7] {
		t.Fatalf("the token after the rotation names the old secret: %s", after[:7])
	}
	pollUntil(t, 5*time.Second, "the server to take the new secret", func() bool { return personal(after) })
	if !personal(before) {
		t.Fatal("a token of the previous secret was refused during the grace period")
	}
	if code := run(context.Background(), []string{"keys", "user-secret", "--grace", "0s"}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	pollUntil(t, 5*time.Second, "the old secret's tokens to be refused", func() bool { return !personal(before) })
}

// FuzzRerankEngineScores sends engine scores of every size through a running server:
// every answer is a complete 200 with finite scores, and the standardised engine
// feature of the explanation keeps the scores' order.
func FuzzRerankEngineScores(f *testing.F) {
	f.Add(1e200, 0.0, -3.5, true)
	f.Add(2e154, 0.0, 2e154, false)
	f.Add(math.MaxFloat64, -math.MaxFloat64, 0.0, true)
	f.Add(5e-324, 0.0, -5e-324, true)
	f.Add(1.0, 1.0, 1.0, true)
	// One server for the whole run (the fuzz function's t ends with each input).
	m := startMain(f, map[string]string{"FUSIONRANK_MODALITIES": "image:4", "FUSIONRANK_REQUEST_TIMEOUT": "5s"})
	key := createKey(f, m, fusionrank.ScopeWrite)
	ids := shop(f, m, key, runPrefix("fuzz-score"), 3)
	f.Fuzz(func(t *testing.T, a, b, c float64, explain bool) {
		scores := []float64{a, b, c}
		var items []string
		for i, s := range scores {
			if math.IsNaN(s) || math.IsInf(s, 0) {
				return // JSON has no such numbers
			}
			items = append(items, fmt.Sprintf(`{"id":%q,"score":%s}`, ids[i], strconv.FormatFloat(s, 'g', -1, 64)))
		}
		body := fmt.Sprintf(`{"explain":%v,"items":[%s]}`, explain, strings.Join(items, ","))
		r := do(t, "POST", m.URL()+"/v1/rerank", key, body)
		if r.status != 200 || len(r.body) == 0 {
			t.Fatalf("%d with %d bytes for %s: %s", r.status, len(r.body), body, r.body)
		}
		engine := map[string]float64{}
		for _, it := range r.json(t)["items"].([]any) {
			it := it.(map[string]any)
			if s := it["score"].(float64); s <= -1e8 || math.IsNaN(s) {
				t.Fatalf("score %v for %s: %s", s, body, r.body)
			}
			if explain {
				engine[it["id"].(string)] = it["explanation"].(map[string]any)["features"].(map[string]any)["engine_score"].(float64)
			}
		}
		if !explain {
			return
		}
		for i := range scores {
			for j := range scores {
				if scores[i] < scores[j] && engine[ids[i]] > engine[ids[j]] {
					t.Fatalf("engine feature %v reverses scores %v", engine, scores)
				}
			}
		}
	})
}
