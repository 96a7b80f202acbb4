package client

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/usertoken"
)

// script is a fake service that answers the statuses of its list in turn (then 200
// with a ranking), recording each request.
type script struct {
	t        *testing.T
	statuses []int
	header   http.Header // added to the non-200 answers
	calls    atomic.Int32

	mu     sync.Mutex
	bodies []map[string]any
	auth   []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(s.calls.Add(1)) - 1
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-ID", "rid-1")
	if n < len(s.statuses) {
		for k, v := range s.header {
			w.Header()[k] = v
		}
		w.WriteHeader(s.statuses[n])
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": codeName(s.statuses[n]), "message": "try again"}})
		return
	}
	json.NewEncoder(w).Encode(fusionrank.Ranking{RequestID: "rid-1", ModelVersion: "none",
		Items: []fusionrank.RankedItem{{ID: "b", Score: 2}, {ID: "a", Score: 1}}})
}

func codeName(status int) string { return string(codeOf(status)) }

// sleeps records the waits the client asked for instead of sleeping.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func newTest(t *testing.T, s *script, opts ...Option) (*Client, *sleeps) {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c := New(srv.URL, "frk_test", opts...)
	sl := &sleeps{}
	c.sleep = sl.sleep
	return c, sl
}

var rerankReq = fusionrank.RerankRequest{UserID: "u1", Query: fusionrank.Query{Text: "red dress"},
	Items: []fusionrank.Candidate{{ID: "a"}, {ID: "b"}}}

func TestRetries(t *testing.T) {
	cases := []struct {
		name       string
		statuses   []int
		header     http.Header
		retries    int
		wantCalls  int
		wantStatus int // 0: success
		wantWaits  []time.Duration
	}{
		{name: "ok at once", wantCalls: 1},
		{name: "503 then 200", statuses: []int{503}, wantCalls: 2},
		{name: "429 with Retry-After then 200", statuses: []int{429}, header: http.Header{"Retry-After": {"1"}}, wantCalls: 2, wantWaits: []time.Duration{time.Second}},
		{name: "502 503 504 then 200", statuses: []int{502, 503, 504}, wantCalls: 4},
		{name: "503 until the retries run out", statuses: []int{503, 503, 503, 503, 503}, wantCalls: 4, wantStatus: 503},
		{name: "retries off", statuses: []int{503}, retries: -1, wantCalls: 1, wantStatus: 503},
		{name: "400 is not retried", statuses: []int{400}, wantCalls: 1, wantStatus: 400},
		{name: "401 is not retried", statuses: []int{401}, wantCalls: 1, wantStatus: 401},
		{name: "500 is not retried", statuses: []int{500}, wantCalls: 1, wantStatus: 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{t: t, statuses: tc.statuses, header: tc.header}
			var opts []Option
			if tc.retries < 0 {
				opts = append(opts, WithRetries(0))
			}
			c, sl := newTest(t, s, opts...)
			r, err := c.Rerank(context.Background(), rerankReq)
			if got := int(s.calls.Load()); got != tc.wantCalls {
				t.Errorf("calls = %d, want %d", got, tc.wantCalls)
			}
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if r.RequestID != "rid-1" || len(r.Items) != 2 || r.Items[0].ID != "b" {
					t.Errorf("answer %+v", r)
				}
			} else {
				var ae *Error
				if !errors.As(err, &ae) || ae.Status != tc.wantStatus || ae.RequestID != "rid-1" || ae.Message != "try again" {
					t.Fatalf("err = %#v, want an *Error with status %d", err, tc.wantStatus)
				}
				if fusionrank.ErrorCode(err) != codeOf(tc.wantStatus) {
					t.Errorf("ErrorCode = %q, want %q", fusionrank.ErrorCode(err), codeOf(tc.wantStatus))
				}
			}
			if len(sl.waits) != tc.wantCalls-1 {
				t.Errorf("waits %v for %d calls", sl.waits, tc.wantCalls)
			}
			for i, w := range sl.waits {
				if tc.wantWaits != nil {
					if w != tc.wantWaits[i] {
						t.Errorf("wait %d = %v, want %v (Retry-After)", i, w, tc.wantWaits[i])
					}
					continue
				}
				ceil := min(c.MaxBackoff, c.MinBackoff<<i)
				if w <= 0 || w > ceil {
					t.Errorf("wait %d = %v, want in (0, %v]", i, w, ceil)
				}
			}
			// Every attempt sends the same request with the key.
			for i, b := range s.bodies {
				if b["user_id"] != "u1" || s.auth[i] != "Bearer frk_test" {
					t.Errorf("attempt %d sent %v with %q", i, b, s.auth[i])
				}
			}
		})
	}
}

// TestRetryAfterPastDeadline: when the server asks for a wait longer than the time
// left, the client returns the 429 at once instead of sleeping into its deadline.
func TestRetryAfterPastDeadline(t *testing.T) {
	s := &script{t: t, statuses: []int{429}, header: http.Header{"Retry-After": {"30"}}}
	c, sl := newTest(t, s, WithTimeout(500*time.Millisecond))
	start := time.Now()
	_, err := c.Recommend(context.Background(), fusionrank.RecommendRequest{UserID: "u1"})
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 429 || ae.RetryAfter != 30*time.Second {
		t.Fatalf("err = %v", err)
	}
	if len(sl.waits) != 0 || time.Since(start) > 400*time.Millisecond || s.calls.Load() != 1 {
		t.Errorf("waited %v, %d calls, %v", sl.waits, s.calls.Load(), time.Since(start))
	}
}

// TestDeadline: a server slower than the call's deadline ends the call at the deadline
// with the context's error.
func TestDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	for _, tc := range []struct {
		name string
		c    *Client
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"client timeout", New(srv.URL, "k", WithTimeout(100*time.Millisecond)), func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}},
		{"caller deadline", New(srv.URL, "k", WithTimeout(0)), func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			_, err := tc.c.Rerank(ctx, rerankReq)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want the deadline", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestUnreachable: a refused connection is retried, then reported.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	c := New(url, "k")
	sl := &sleeps{}
	c.sleep = sl.sleep
	if _, err := c.SendEvents(context.Background(), []fusionrank.Event{{EventID: "e1"}}); err == nil {
		t.Fatal("no error from a closed port")
	}
	if len(sl.waits) != 3 {
		t.Errorf("waits %v, want 3 retries", sl.waits)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"3", 3 * time.Second}, {"-4", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestProxyError: an error answer without the API's envelope still has a code.
func TestProxyError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream connect error", http.StatusForbidden)
	}))
	defer srv.Close()
	_, err := New(srv.URL, "k").Search(context.Background(), fusionrank.SearchRequest{Query: fusionrank.Query{Text: "x"}})
	if fusionrank.ErrorCode(err) != fusionrank.Forbidden {
		t.Fatalf("err = %v (code %q)", err, fusionrank.ErrorCode(err))
	}
}

// TestUserTokens: a token signed by the helper is one the server's check accepts for
// that user until the expiry.
func TestUserTokens(t *testing.T) {
	sec, err := usertoken.NewSecret(7)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := NewUserTokens(sec.String())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tokens.now = func() time.Time { return now }
	tok := tokens.Sign("c17850", time.Hour)
	key := func(id int64) ([]byte, bool) { return sec.Key, id == 7 }
	c, err := usertoken.Verify(tok, key, now.Add(59*time.Minute))
	if err != nil || c.UserID != "c17850" {
		t.Fatalf("verify: %+v %v", c, err)
	}
	if _, err := usertoken.Verify(tok, key, now.Add(time.Hour)); !errors.Is(err, usertoken.ErrExpired) {
		t.Fatalf("after the ttl: %v", err)
	}
	if _, err := NewUserTokens("frk_not-a-secret"); err == nil {
		t.Fatal("a key taken for a secret")
	}
}

// TestUserFeatures checks the call's method, escaped path and the decoded answer.
func TestUserFeatures(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Method + " " + r.URL.EscapedPath()
		json.NewEncoder(w).Encode(fusionrank.UserFeatures{UserID: "u/1", RecentItems: []string{"a", "b"}, Source: "cache"})
	}))
	t.Cleanup(srv.Close)
	f, err := New(srv.URL, "frk_test").UserFeatures(context.Background(), "u/1")
	if err != nil {
		t.Fatal(err)
	}
	if got != "GET /v1/users/u%2F1/features" {
		t.Fatalf("request %q", got)
	}
	if f.UserID != "u/1" || len(f.RecentItems) != 2 || f.Source != "cache" {
		t.Fatalf("answer %+v", f)
	}
}
