package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank/internal/testenv"
	"github.com/fusionrank/fusionrank/postgres"
)

// startMain starts a fusionrank server on a free port against this package's own test
// database and a Redis namespace of the test's own.
func startMain(t testing.TB, env map[string]string) *Main {
	t.Helper()
	return startMainOn(t, testenv.DB(t, "cmd"), env, testLog(t))
}

// startMainOn starts a server on a free port against db (migrated) and a Redis
// namespace of the test's own, with a request deadline of 5 s and env overriding the
// configuration; it stops when the test ends.
func startMainOn(t testing.TB, db *postgres.DB, env map[string]string, log *slog.Logger) *Main {
	t.Helper()
	return startMainWith(t, db, env, log, nil)
}

// startMainWith is startMainOn with setup called on the Main before it opens.
func startMainWith(t testing.TB, db *postgres.DB, env map[string]string, log *slog.Logger, setup func(*Main)) *Main {
	t.Helper()
	_, ns := testenv.Redis(t)
	u := db.Pool.Config().ConnString()
	get := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		switch k {
		case "FUSIONRANK_DATABASE_URL":
			return u
		case "FUSIONRANK_REDIS_URL":
			return testenv.RedisURL()
		case "FUSIONRANK_ADDR":
			return "127.0.0.1:0"
		case "FUSIONRANK_REQUEST_TIMEOUT":
			// The tests check what is served, not how fast a machine busy with other
			// test packages serves it: the production deadline (200 ms) fails a
			// database read now and then there. TestRequestDeadline sets its own.
			return "5s"
		}
		return ""
	}
	cfg, err := loadConfig(get, flag.NewFlagSet("test", flag.ContinueOnError), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: cfg, Namespace: ns, Log: log}
	if setup != nil {
		setup(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return m
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, r.body)
	}
	return v
}

func do(t testing.TB, method, url, key string, body any) response {
	t.Helper()
	return doWith(t, http.DefaultClient, method, url, key, body)
}

// doWith is do through client c.
func doWith(t testing.TB, c *http.Client, method, url, key string, body any) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func errorCode(t testing.TB, r response) string {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error envelope in %s", r.body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("error without message: %s", r.body)
	}
	return e["code"].(string)
}

func TestServeOpsAndErrorEnvelope(t *testing.T) {
	m := startMain(t, nil)
	base := m.URL()
	if r := do(t, "GET", base+"/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	r := do(t, "GET", base+"/readyz", "", nil)
	if r.status != 200 {
		t.Fatalf("readyz %d: %s", r.status, r.body)
	}
	if !strings.Contains(string(do(t, "GET", base+"/metrics", "", nil).body), "fusionrank_http_requests_total") {
		t.Error("metrics lack the request counter")
	}
	r = do(t, "GET", base+"/no/such/route", "", nil)
	if r.status != 404 || errorCode(t, r) != "not_found" {
		t.Errorf("unknown route: %d %s", r.status, r.body)
	}
	r = do(t, "PATCH", base+"/healthz", "", nil)
	if r.status != 405 || errorCode(t, r) != "method_not_allowed" || r.header.Get("Allow") != "GET" {
		t.Errorf("wrong method: %d %s allow=%q", r.status, r.body, r.header.Get("Allow"))
	}
	r = do(t, "GET", base+"/v1/items/x", "", nil)
	if r.status != 401 || errorCode(t, r) != "unauthorized" {
		t.Errorf("no key: %d %s", r.status, r.body)
	}
	r = do(t, "GET", base+"/v1/items/x", "frk_nope", nil)
	if r.status != 401 {
		t.Errorf("unknown key: %d %s", r.status, r.body)
	}
	if id := do(t, "GET", base+"/healthz", "", nil).header.Get("X-Request-ID"); len(id) < 8 {
		t.Errorf("no request id header: %q", id)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, key, value, want string
	}{
		{"bad auth", "FUSIONRANK_AUTH", "maybe", "FUSIONRANK_AUTH"},
		{"bad modality", "FUSIONRANK_MODALITIES", "image:0", "FUSIONRANK_MODALITIES"},
		{"built-in modality", "FUSIONRANK_MODALITIES", "text:100", "built in"},
		{"bad db url", "FUSIONRANK_DATABASE_URL", "mysql://x", "FUSIONRANK_DATABASE_URL"},
		{"bad replica url", "FUSIONRANK_DATABASE_REPLICA_URL", "mysql://x", "FUSIONRANK_DATABASE_REPLICA_URL"},
		{"bad redis url", "FUSIONRANK_REDIS_URL", "http://x", "FUSIONRANK_REDIS_URL"},
		{"bad timeout", "FUSIONRANK_REQUEST_TIMEOUT", "soon", "FUSIONRANK_REQUEST_TIMEOUT"},
		{"bad level", "FUSIONRANK_LOG_LEVEL", "loud", "FUSIONRANK_LOG_LEVEL"},
		{"bad weights", "FUSIONRANK_EVENT_WEIGHTS", "like:3", "FUSIONRANK_EVENT_WEIGHTS"},
		{"bad addr", "FUSIONRANK_ADDR", "8080", "FUSIONRANK_ADDR"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			get := func(k string) string {
				if k == c.key {
					return c.value
				}
				return ""
			}
			_, err := loadConfig(get, flag.NewFlagSet("x", flag.ContinueOnError), nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to name %s", err, c.want)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		c, err := loadConfig(func(string) string { return "" }, flag.NewFlagSet("x", flag.ContinueOnError), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Auth || c.Addr != ":8080" || c.RequestTimeout != 200*time.Millisecond || c.LocalCacheTTL != 5*time.Minute || len(c.Modalities) != 1 || c.Modalities[0].Dim != 512 {
			t.Fatalf("defaults: %+v", c)
		}
	})
	t.Run("exit code", func(t *testing.T) {
		var out, errb bytes.Buffer
		t.Setenv("FUSIONRANK_AUTH", "maybe")
		if code := run(context.Background(), []string{"migrate"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "FUSIONRANK_AUTH") {
			t.Fatalf("exit %d, stderr %q", code, errb.String())
		}
	})
	t.Run("secrets redacted", func(t *testing.T) {
		var buf bytes.Buffer
		c, _ := loadConfig(func(k string) string {
			if k == "FUSIONRANK_DATABASE_URL" {
				return "postgres://u:hunter2@db/x"
			}
			return ""
		}, flag.NewFlagSet("x", flag.ContinueOnError), nil)
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "config", c)
		if strings.Contains(buf.String(), "hunter2") {
			t.Fatalf("password logged: %s", buf.String())
		}
	})
}

// testLog returns the logger of a server under test. It keeps the server's last
// records (Info and above) and writes them to the test's output when the test fails,
// so that the cause a server logged for an answer (a 5xx's error, say) is in the
// failure's report instead of discarded. FUSIONRANK_TEST_SERVER_LOG=1 writes them for
// a passing test too.
func testLog(t testing.TB) *slog.Logger {
	r := &logRing{max: 300}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("FUSIONRANK_TEST_SERVER_LOG") != "" {
			for _, l := range r.lines() {
				t.Log("server: " + l)
			}
		}
	})
	return slog.New(slog.NewJSONHandler(r, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// logRing is an io.Writer that keeps the last max writes (a slog handler writes one
// record per call), safe for the server's goroutines.
type logRing struct {
	mu    sync.Mutex
	max   int
	next  int
	ring  []string
	total int
}

func (r *logRing) Write(p []byte) (int, error) {
	s := strings.TrimRight(string(p), "\n")
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ring) < r.max {
		r.ring = append(r.ring, s)
	} else {
		r.ring[r.next] = s
	}
	r.next = (r.next + 1) % r.max
	r.total++
	return len(p), nil
}

// lines returns the kept records, oldest first, after a line saying how many were
// dropped when there were more than max.
func (r *logRing) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	if r.total > len(r.ring) {
		out = append(out, fmt.Sprintf("(%d earlier records not kept)", r.total-len(r.ring)))
	}
	if len(r.ring) < r.max {
		return append(out, r.ring...)
	}
	out = append(out, r.ring[r.next:]...)
	return append(out, r.ring[:r.next]...)
}
