package main

import (
	"bytes"
	"context"
	"crypto/sha256"

	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/testenv"
	"github.com/fusionrank/fusionrank/keys"
)

// TestAuthScopes checks every /v1 route against every kind of caller: no key and an
// unknown or revoked key get 401, a key below the route's scope gets 403, a key at or
// above it gets through. The ops endpoints need no key.
func TestAuthScopes(t *testing.T) {
	// A generous deadline: this test is about keys, not a loaded machine's latency.
	m := startFaultMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4", "FUSIONRANK_REQUEST_TIMEOUT": "5s"})
	base := m.URL()
	p := runPrefix("frk-auth")
	byScope := map[fusionrank.Scope]string{}
	for _, sc := range []fusionrank.Scope{fusionrank.ScopePublic, fusionrank.ScopeRead, fusionrank.ScopeWrite, fusionrank.ScopeAdmin} {
		byScope[sc] = createKey(t, m, sc)
	}
	revoked := createKey(t, m, fusionrank.ScopeAdmin)
	list, err := m.Keys.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Keys.Revoke(context.Background(), strconv.FormatInt(list[0].ID, 10)); err != nil {
		t.Fatal(err)
	}
	// The server learns of the revocation from Postgres' notification; refresh now so
	// the requests below do not race it.
	if err := m.Keys.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	event := func(typ string) map[string]any {
		return map[string]any{"events": []any{map[string]any{"event_id": p + "e-" + typ, "user_id": p + "u", "item_id": p + "i", "type": typ,
			"timestamp": time.Now().UTC().Format(time.RFC3339)}}}
	}
	routes := []struct {
		method, path string
		body         any
		need         fusionrank.Scope
	}{
		{"GET", "/v1/items/" + p + "i", nil, fusionrank.ScopeRead},
		{"PUT", "/v1/items/" + p + "i", map[string]any{"title": "x"}, fusionrank.ScopeWrite},
		{"DELETE", "/v1/items/" + p + "gone", nil, fusionrank.ScopeWrite},
		{"POST", "/v1/items:batch", `{"id":"` + p + `b","title":"x"}`, fusionrank.ScopeWrite},
		{"POST", "/v1/events", event("view"), fusionrank.ScopePublic},
		{"POST", "/v1/events", event("click"), fusionrank.ScopePublic},
		{"POST", "/v1/events", event("add_to_cart"), fusionrank.ScopeWrite},
		{"POST", "/v1/events", event("purchase"), fusionrank.ScopeWrite},
		{"POST", "/v1/recommendations", map[string]any{"user_id": p + "u"}, fusionrank.ScopePublic},
		{"POST", "/v1/rerank", map[string]any{"items": []any{map[string]any{"id": p + "i"}}}, fusionrank.ScopeRead},
		{"POST", "/v1/search", map[string]any{"query": map[string]any{"vectors": map[string]any{"image": []float32{1, 0, 0, 0}}}}, fusionrank.ScopeRead},
		{"GET", "/v1/items/" + p + "i/similar", nil, fusionrank.ScopeRead},
		{"GET", "/v1/users/" + p + "u/features", nil, fusionrank.ScopeRead},
		{"GET", "/v1/stats/models", nil, fusionrank.ScopeRead},
		{"GET", "/v1/models", nil, fusionrank.ScopeAdmin},
		{"POST", "/v1/models/no-such-version/activate", nil, fusionrank.ScopeAdmin},
		{"POST", "/v1/models:rollback", nil, fusionrank.ScopeAdmin},
	}
	callers := []struct {
		name  string
		key   string
		scope fusionrank.Scope // ScopeNone: not authenticated
	}{
		{"no key", "", fusionrank.ScopeNone},
		{"unknown key", "frk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", fusionrank.ScopeNone},
		{"not a key", "hunter2", fusionrank.ScopeNone},
		{"revoked key", revoked, fusionrank.ScopeNone},
		{"public", byScope[fusionrank.ScopePublic], fusionrank.ScopePublic},
		{"read", byScope[fusionrank.ScopeRead], fusionrank.ScopeRead},
		{"write", byScope[fusionrank.ScopeWrite], fusionrank.ScopeWrite},
		{"admin", byScope[fusionrank.ScopeAdmin], fusionrank.ScopeAdmin},
	}
	for _, rt := range routes {
		for _, c := range callers {
			name := fmt.Sprintf("%s %s by %s", rt.method, rt.path, c.name)
			if body, ok := rt.body.(map[string]any); ok && body["events"] != nil {
				ev := body["events"]
				name += " (" + ev.([]any)[0].(map[string]any)["type"].(string) + ")"
			}
			t.Run(name, func(t *testing.T) {
				r := do(t, rt.method, base+rt.path, c.key, rt.body)
				switch {
				case c.scope == fusionrank.ScopeNone:
					if r.status != 401 || errorCode(t, r) != "unauthorized" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
						t.Fatalf("want 401 with WWW-Authenticate, got %d %s", r.status, r.body)
					}
				case c.scope < rt.need:
					if r.status != 403 || errorCode(t, r) != "forbidden" {
						t.Fatalf("want 403, got %d %s", r.status, r.body)
					}
				default:
					if r.status == 401 || r.status == 403 || r.status >= 500 {
						t.Fatalf("scope %s may call this; got %d %s", c.scope, r.status, r.body)
					}
				}
			})
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		for _, key := range []string{"", "frk_nope"} {
			if r := do(t, "GET", base+path, key, nil); r.status != 200 {
				t.Errorf("GET %s with key %q: %d %s", path, key, r.status, r.body)
			}
		}
	}
}

// TestKeysCommand runs `fusionrank keys create|list|revoke` as a user would: the key is
// printed once on stdout, only its SHA-256 hash is stored, it works at once, and a
// revoked key stops working within a second.
func TestKeysCommand(t *testing.T) {
	m := startFaultMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4", "FUSIONRANK_REQUEST_TIMEOUT": "5s"})
	t.Setenv("FUSIONRANK_DATABASE_URL", faultDB(t).Pool.Config().ConnString())
	name := runPrefix("cli")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"keys", "create", "--scope", "read", "--name", name}, &out, &errb); code != 0 {
		t.Fatalf("keys create: exit %d: %s", code, errb.String())
	}
	key := strings.TrimSuffix(out.String(), "\n")
	if !strings.HasPrefix(key, keys.Prefix) || strings.ContainsAny(key, " \n\t") || len(key) < 30 {
		t.Fatalf("stdout should be exactly the key, got %q", out.String())
	}
	if strings.Contains(errb.String(), key) {
		t.Fatalf("the key is repeated on stderr: %q", errb.String())
	}
	// Only the hash is stored: no column of the row holds the key or a long piece of it.
	var row string
	var hash []byte
	if err := faultDB(t).Pool.QueryRow(context.Background(),
		`SELECT row_to_json(k)::text, hash FROM api_keys k WHERE name = $1`, name).Scan(&row, &hash); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(key)); !bytes.Equal(hash, sum[:]) {
		t.Fatalf("stored hash is not SHA-256 of the key")
	}
	if strings.Contains(row, key[len(keys.Prefix)+8:]) {
		t.Fatalf("the key's secret part is stored: %s", row)
	}
	if r := do(t, "GET", m.URL()+"/v1/stats/models", key, nil); r.status != 200 {
		t.Fatalf("new read key: %d %s", r.status, r.body)
	}
	if r := do(t, "PUT", m.URL()+"/v1/items/x", key, map[string]any{"title": "x"}); r.status != 403 {
		t.Fatalf("read key writing: %d %s", r.status, r.body)
	}
	out.Reset()
	if code := run(context.Background(), []string{"keys", "list"}, &out, &errb); code != 0 || !strings.Contains(out.String(), name) || strings.Contains(out.String(), key) {
		t.Fatalf("keys list: exit %d: %s", code, out.String())
	}
	var id string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, name) {
			id = strings.Fields(line)[0]
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"keys", "revoke", id}, &out, &errb); code != 0 {
		t.Fatalf("keys revoke: exit %d: %s", code, errb.String())
	}
	revoked := time.Now()
	pollUntil(t, 2*time.Second, "the revoked key to be refused", func() bool {
		return do(t, "GET", m.URL()+"/v1/stats/models", key, nil).status == 401
	})
	if d := time.Since(revoked); d > time.Second {
		t.Fatalf("revocation took %s", d)
	}
	errb.Reset()
	if code := run(context.Background(), []string{"keys", "create", "--scope", "root"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "scope") {
		t.Fatalf("bad scope: exit %d, stderr %q", code, errb.String())
	}
}

// TestRevokeReachesEveryReplica runs two servers on the same database, revokes a key
// through a third store (as `fusionrank keys revoke` does) and checks that both refuse
// it within a second, and never accept it again after their first refusal.
func TestRevokeReachesEveryReplica(t *testing.T) {
	a := startFaultMain(t, slowOK)
	b := startFaultMain(t, slowOK)
	key := createKey(t, a, fusionrank.ScopeRead)
	for _, m := range []*Main{a, b} {
		if r := do(t, "GET", m.URL()+"/v1/stats/models", key, nil); r.status != 200 {
			t.Fatalf("before revoking: %d %s", r.status, r.body)
		}
	}
	ks, err := keys.New(faultDB(t)).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.New(faultDB(t)).Revoke(context.Background(), strconv.FormatInt(ks[0].ID, 10)); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	// What a user sees: no request sent a second or more after the revocation is
	// accepted, by either replica, and once a replica refuses it never accepts again.
	lastAccepted := []time.Duration{-1, -1}
	refused := []bool{false, false}
	for !(refused[0] && refused[1]) || time.Since(revoked) < 1500*time.Millisecond {
		if time.Since(revoked) > 5*time.Second {
			t.Fatalf("still accepted 5s after revocation (refused: %v)", refused)
		}
		for i, m := range []*Main{a, b} {
			sent := time.Since(revoked)
			st := do(t, "GET", m.URL()+"/v1/stats/models", key, nil).status
			switch {
			case st == 401:
				refused[i] = true
			case st == 200 && refused[i]:
				t.Fatalf("replica %d accepted the key again after refusing it", i)
			case st == 200:
				lastAccepted[i] = sent
			default:
				t.Fatalf("replica %d: status %d", i, st)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, d := range lastAccepted {
		if d >= time.Second {
			t.Errorf("replica %d accepted the revoked key in a request sent %s after the revocation", i, d)
		}
	}
	t.Logf("the last accepted requests were sent %s and %s after the revocation", lastAccepted[0], lastAccepted[1])
}

// TestAuthOffOnlyWhenExplicit: auth is on unless FUSIONRANK_AUTH=off is set, and then
// the service warns at start.
func TestAuthOffOnlyWhenExplicit(t *testing.T) {
	for _, v := range []string{"", "on"} {
		c, err := loadConfig(func(k string) string {
			if k == "FUSIONRANK_AUTH" {
				return v
			}
			return ""
		}, newFlags("x", "", io.Discard), nil)
		if err != nil || !c.Auth {
			t.Fatalf("FUSIONRANK_AUTH=%q: auth %v (%v)", v, c.Auth, err)
		}
	}
	var logs syncBuffer
	m := startFaultMainLog(t, map[string]string{"FUSIONRANK_AUTH": "off", "FUSIONRANK_REQUEST_TIMEOUT": "5s"}, slog.New(slog.NewJSONHandler(&logs, nil)))
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"FUSIONRANK_AUTH=off`) {
		t.Fatalf("no warning at start: %s", logs.String())
	}
	if r := do(t, "GET", m.URL()+"/v1/stats/models", "", nil); r.status != 200 {
		t.Fatalf("auth off: %d %s", r.status, r.body)
	}
}

// TestLimits sends one request over each limit through a running server: each is
// refused with the error envelope, the right status, and a message naming the limit.
func TestLimits(t *testing.T) {
	m := startFaultMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4", "FUSIONRANK_REQUEST_TIMEOUT": "5s"})
	key := createKey(t, m, fusionrank.ScopeWrite)
	p := runPrefix("frk-limits")
	shop(t, m, key, p, 3)
	ids := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"id": fmt.Sprintf("%sc%d", p, i)}
		}
		return out
	}
	events := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"event_id": fmt.Sprintf("%se%d", p, i), "user_id": p + "u", "item_id": p + "item0", "type": "view",
				"timestamp": time.Now().UTC().Format(time.RFC3339)}
		}
		return out
	}
	exclude := make([]string, 1001)
	for i := range exclude {
		exclude[i] = fmt.Sprintf("x%d", i)
	}
	huge := `{"title":"` + strings.Repeat("a", 12<<20) + `"}`
	cases := []struct {
		name         string
		method, path string
		body         any
		status       int
		code, names  string // names: the limit as the message must state it
	}{
		{"body over 4 MiB", "POST", "/v1/events", `{"events":[],"x":"` + strings.Repeat("a", 4<<20) + `"}`, 413, "too_large", "limit of 4194304 bytes"},
		// Item routes may carry a photo: their limit is the photo body limit.
		{"item body over the photo limit", "PUT", "/v1/items/" + p + "big", huge, 413, "too_large", "limit of 12233388 bytes"},
		{"item body over the photo limit, chunked", "PUT", "/v1/items/" + p + "big", io.MultiReader(strings.NewReader(huge)), 413, "too_large", "limit of 12233388 bytes"},
		{"NDJSON line over the photo limit", "POST", "/v1/items:batch", `{"id":"` + p + `ok","title":"x"}` + "\n" + huge + "\n", 413, "too_large", "line 2: longer than 12233388 bytes"},
		{"1001 events", "POST", "/v1/events", map[string]any{"events": events(1001)}, 413, "too_large", "limit of 1000 per call"},
		{"1001 candidates", "POST", "/v1/rerank", map[string]any{"items": ids(1001)}, 413, "too_large", "limit of 1000"},
		{"rerank count 201", "POST", "/v1/rerank", map[string]any{"items": ids(3), "count": 201}, 400, "invalid", "limit of 200"},
		{"recommendations count 201", "POST", "/v1/recommendations", map[string]any{"user_id": p + "u", "count": 201}, 400, "invalid", "limit of 200"},
		{"negative count", "POST", "/v1/recommendations", map[string]any{"user_id": p + "u", "count": -1}, 400, "invalid", "count"},
		{"similar count 201", "GET", "/v1/items/" + p + "item0/similar?count=201", nil, 400, "invalid", "limit of 200"},
		{"search count 201", "POST", "/v1/search", map[string]any{"query": map[string]any{"text": "x"}, "count": 201}, 400, "invalid", "limit of 200"},
		{"exclude 1001", "POST", "/v1/recommendations", map[string]any{"user_id": p + "u", "exclude": exclude}, 413, "too_large", "limit of 1000"},
		{"query vector too long", "POST", "/v1/rerank", map[string]any{"items": ids(1), "query": map[string]any{"vectors": map[string]any{"image": []float32{1, 2, 3, 4, 5}}}}, 400, "invalid", "expected 4 numbers, got 5"},
		{"query vector unknown modality", "POST", "/v1/search", map[string]any{"query": map[string]any{"vectors": map[string]any{"sound": []float32{1}}}}, 400, "invalid", "query.vectors.sound: unknown modality"},
		{"item vector too short", "PUT", "/v1/items/" + p + "v", map[string]any{"vectors": map[string]any{"image": []float32{1}}}, 400, "invalid", "expected 4 numbers, got 1"},
		{"query text over 1000 bytes", "POST", "/v1/search", map[string]any{"query": map[string]any{"text": strings.Repeat("a", 1001)}}, 400, "invalid", "longer than 1000 bytes"},
		{"title over 1000 bytes", "PUT", "/v1/items/" + p + "t", map[string]any{"title": strings.Repeat("a", 1001)}, 400, "invalid", "longer than 1000 bytes"},
		{"id over 128 bytes", "POST", "/v1/recommendations", map[string]any{"user_id": strings.Repeat("u", 129)}, 400, "invalid", "longer than 128 bytes"},
		{"101 attributes", "PUT", "/v1/items/" + p + "a", map[string]any{"attributes": func() map[string]any {
			a := map[string]any{}
			for i := range 101 {
				a[strconv.Itoa(i)] = i
			}
			return a
		}()}, 400, "invalid", "more than 100 attributes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := doBody(t, c.method, m.URL()+c.path, key, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %.300s", r.status, c.status, r.body)
			}
			if code := errorCode(t, r); code != c.code {
				t.Fatalf("code %q, want %q", code, c.code)
			}
			if msg := r.json(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, c.names) {
				t.Fatalf("message %q does not name the limit (%q)", msg, c.names)
			}
		})
	}
}

// TestRateLimit: a key over its rate gets 429 with Retry-After and the envelope; other
// keys are not affected; after Retry-After the key gets through again.
func TestRateLimit(t *testing.T) {
	m := startFaultMain(t, map[string]string{"FUSIONRANK_RATE_LIMIT": "2", "FUSIONRANK_REQUEST_TIMEOUT": "5s"}) // burst 4
	hot, calm := createKey(t, m, fusionrank.ScopeRead), createKey(t, m, fusionrank.ScopeRead)
	var limited response
	for i := 0; i < 20; i++ {
		r := do(t, "GET", m.URL()+"/v1/stats/models", hot, nil)
		if r.status == 429 {
			limited = r
			break
		}
		if r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	if limited.status != 429 {
		t.Fatal("20 quick requests at 2/s were never limited")
	}
	if code := errorCode(t, limited); code != "rate_limited" || !strings.Contains(string(limited.body), "rate limit") {
		t.Fatalf("429 body: %s", limited.body)
	}
	wait, err := strconv.Atoi(limited.header.Get("Retry-After"))
	if err != nil || wait < 1 || wait > 2 {
		t.Fatalf("Retry-After %q, want 1 or 2 seconds", limited.header.Get("Retry-After"))
	}
	if r := do(t, "GET", m.URL()+"/v1/stats/models", calm, nil); r.status != 200 {
		t.Fatalf("another key was limited too: %d", r.status)
	}
	again := time.Now()
	pollUntil(t, time.Duration(wait+1)*time.Second, "the limited key to get through again", func() bool {
		return do(t, "GET", m.URL()+"/v1/stats/models", hot, nil).status == 200
	})
	if d := time.Since(again); d > time.Duration(wait)*time.Second+200*time.Millisecond {
		t.Errorf("got through only after %s; Retry-After said %ds", d, wait)
	}
	// A batch takes a token per request: eight reranks in one call are over a burst of
	// four, two are not.
	one := map[string]any{"items": []any{map[string]any{"id": "x"}}}
	batch := func(n int) map[string]any {
		reqs := make([]any, n)
		for i := range reqs {
			reqs[i] = one
		}
		return map[string]any{"requests": reqs}
	}
	if r := do(t, "POST", m.URL()+"/v1/rerank:batch", createKey(t, m, fusionrank.ScopeRead), batch(8)); r.status != 429 || errorCode(t, r) != "rate_limited" {
		t.Fatalf("a batch of 8 at a burst of 4: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", m.URL()+"/v1/rerank:batch", createKey(t, m, fusionrank.ScopeRead), batch(2)); r.status != 200 {
		t.Fatalf("a batch of 2 at a burst of 4: %d %s", r.status, r.body)
	}
}

// TestRequestDeadline: a request that cannot finish within FUSIONRANK_REQUEST_TIMEOUT
// answers 503 with a message naming the deadline, not a 500 and not late.
func TestRequestDeadline(t *testing.T) {
	// Writes may have a deadline of their own (FUSIONRANK_WRITE_TIMEOUT): set both.
	m := startFaultMain(t, map[string]string{"FUSIONRANK_REQUEST_TIMEOUT": "1ms", "FUSIONRANK_WRITE_TIMEOUT": "1ms"})
	key := createKey(t, m, fusionrank.ScopeWrite)
	p := runPrefix("frk-deadline")
	evs := make([]any, 1000)
	for i := range evs {
		evs[i] = map[string]any{"event_id": fmt.Sprintf("%se%d", p, i), "user_id": fmt.Sprintf("%su%d", p, i), "item_id": "i", "type": "view",
			"timestamp": time.Now().UTC().Format(time.RFC3339)}
	}
	r := do(t, "POST", m.URL()+"/v1/events", key, map[string]any{"events": evs})
	if r.status != 503 || errorCode(t, r) != "unavailable" || !strings.Contains(string(r.body), "deadline of 1ms") {
		t.Fatalf("want 503 naming the 1ms deadline, got %d %s", r.status, r.body)
	}
}

// doBody is do with an io.Reader body sent as is (no Content-Length: chunked).
func doBody(t *testing.T, method, url, key string, body any) response {
	t.Helper()
	rd, ok := body.(io.Reader)
	if !ok {
		return do(t, method, url, key, body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// slowOK gives a server a generous deadline, for tests about something other than
// latency on a loaded machine.
var slowOK = map[string]string{"FUSIONRANK_REQUEST_TIMEOUT": "5s"}

// TestRateLimitSharedAcrossReplicas runs two replicas on the same Postgres and Redis
// (namespace): a key's rate limit holds across them, so the request that the first
// replica let through empties the bucket the second one checks too.
func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	_, ns := testenv.Redis(t)
	shared := func(m *Main) { m.Namespace = ns }
	env := map[string]string{"FUSIONRANK_RATE_LIMIT": "0.1", "FUSIONRANK_REQUEST_TIMEOUT": "5s"} // burst 1, a token every 10 s
	m1 := startMainWith(t, faultDB(t), env, testLog(t), shared)
	m2 := startMainWith(t, faultDB(t), env, testLog(t), shared)
	key := createKey(t, m1, fusionrank.ScopeRead)
	if r := do(t, "GET", m1.URL()+"/v1/stats/models", key, nil); r.status != 200 {
		t.Fatalf("first request, replica 1: %d %s", r.status, r.body)
	}
	r := do(t, "GET", m2.URL()+"/v1/stats/models", key, nil)
	if r.status != 429 || errorCode(t, r) != "rate_limited" {
		t.Fatalf("second request, replica 2: %d %s; want 429: the bucket is shared", r.status, r.body)
	}
}
