package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fusionrank/fusionrank"
)

// Client calls one fusionrank service with one API key. It is safe for concurrent use.
type Client struct {
	base string
	key  string

	// HTTP sends the requests. Default: a client with a pooled transport.
	HTTP *http.Client
	// Retries is how many times a retryable failure is retried. Default 3; 0 turns
	// retrying off.
	Retries int
	// MinBackoff and MaxBackoff bound the wait between attempts when the server sends
	// no Retry-After. Defaults 50ms and 1s.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds each call, retries included, when the caller's context allows
	// longer. Default 2s; 0 leaves only the caller's deadline.
	Timeout time.Duration
	// UserAgent is sent with every request. Default "fusionrank-go-client/1".
	UserAgent string

	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// Option changes a default of New.
type Option func(*Client)

// WithHTTPClient sends the requests through h.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.HTTP = h } }

// WithRetries sets how many times a retryable failure is retried (0: never).
func WithRetries(n int) Option { return func(c *Client) { c.Retries = max(0, n) } }

// WithBackoff sets the bounds of the wait between attempts.
func WithBackoff(minWait, maxWait time.Duration) Option {
	return func(c *Client) { c.MinBackoff, c.MaxBackoff = minWait, max(minWait, maxWait) }
}

// WithTimeout bounds each call, retries included (0: only the caller's deadline).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.Timeout = d } }

// New returns a client of the service at baseURL (say http://fusionrank:8080) that
// sends key as its bearer token.
func New(baseURL, key string, opts ...Option) *Client {
	c := &Client{
		base: strings.TrimRight(baseURL, "/"), key: key,
		HTTP:    &http.Client{Transport: http.DefaultTransport},
		Retries: 3, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second,
		Timeout: 2 * time.Second, UserAgent: "fusionrank-go-client/1",
		sleep: sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Error is a non-2xx answer of the service.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Code and Message come from the API's error envelope.
	Code    fusionrank.Code
	Message string
	// RequestID is the X-Request-ID of the answer, for the server's log.
	RequestID string
	// RetryAfter is the wait the server asked for (429), or 0.
	RetryAfter time.Duration
}

// Error says what the service answered.
func (e *Error) Error() string {
	return fmt.Sprintf("fusionrank: %d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap returns the answer as a *fusionrank.Error, for fusionrank.ErrorCode.
func (e *Error) Unwrap() error { return &fusionrank.Error{Code: e.Code, Message: e.Message} }

// Temporary reports whether the call may succeed when retried.
func (e *Error) Temporary() bool { return retryableStatus(e.Status) }

func retryableStatus(s int) bool {
	switch s {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Rerank reorders a search engine's candidates for a query and a shopper
// (POST /v1/rerank, read scope).
func (c *Client) Rerank(ctx context.Context, req fusionrank.RerankRequest) (fusionrank.Ranking, error) {
	var r fusionrank.Ranking
	err := c.do(ctx, http.MethodPost, "/v1/rerank", req, &r)
	return r, err
}

// RerankBatch sends several rerank requests in one exchange (POST /v1/rerank:batch,
// read scope; at most api.MaxRerankBatch). Each result holds what Rerank would have
// returned for its request: the ranking, or the status and error. The error is for the
// batch as a whole (malformed, empty, too long, refused).
func (c *Client) RerankBatch(ctx context.Context, reqs []fusionrank.RerankRequest) (fusionrank.RerankBatch, error) {
	var r fusionrank.RerankBatch
	err := c.do(ctx, http.MethodPost, "/v1/rerank:batch", fusionrank.RerankBatchRequest{Requests: reqs}, &r)
	return r, err
}

// Recommend asks what a shopper should see (POST /v1/recommendations, public scope).
// With a public key the answer is personal only when req.UserToken is a valid token for
// req.UserID (see UserTokens); otherwise Personalized is false.
func (c *Client) Recommend(ctx context.Context, req fusionrank.RecommendRequest) (fusionrank.Ranking, error) {
	var r fusionrank.Ranking
	err := c.do(ctx, http.MethodPost, "/v1/recommendations", req, &r)
	return r, err
}

// Search asks for the catalogue's best items for a query (POST /v1/search, read scope).
func (c *Client) Search(ctx context.Context, req fusionrank.SearchRequest) (fusionrank.Ranking, error) {
	var r fusionrank.Ranking
	err := c.do(ctx, http.MethodPost, "/v1/search", req, &r)
	return r, err
}

// Similar asks for items like one item (GET /v1/items/{id}/similar, read scope).
func (c *Client) Similar(ctx context.Context, req fusionrank.SimilarRequest) (fusionrank.Ranking, error) {
	q := url.Values{}
	if req.Count > 0 {
		q.Set("count", strconv.Itoa(req.Count))
	}
	if req.Explain {
		q.Set("explain", "true")
	}
	path := "/v1/items/" + url.PathEscape(req.ItemID) + "/similar"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var r fusionrank.Ranking
	err := c.do(ctx, http.MethodGet, path, nil, &r)
	return r, err
}

// UserFeatures reports what the service knows of a shopper: recent items and profile
// (GET /v1/users/{id}/features, read scope).
func (c *Client) UserFeatures(ctx context.Context, userID string) (fusionrank.UserFeatures, error) {
	var f fusionrank.UserFeatures
	err := c.do(ctx, http.MethodGet, "/v1/users/"+url.PathEscape(userID)+"/features", nil, &f)
	return f, err
}

// SendEvents records interaction events (POST /v1/events; public keys may send views
// and clicks, the other types need the write scope). Events are idempotent on their
// EventID within the key's id space (keys of scope write and admin share one), so a
// retried call stores nothing twice; an id already stored with another payload comes
// back in the result's Conflicts.
func (c *Client) SendEvents(ctx context.Context, events []fusionrank.Event) (fusionrank.EventResult, error) {
	return c.SendEventsFor(ctx, "", events)
}

// SendEventsFor is SendEvents with a user token: a public key may send events only for
// the user a valid token vouches for (see UserTokens). Keys of scope read and above
// need none.
func (c *Client) SendEventsFor(ctx context.Context, userToken string, events []fusionrank.Event) (fusionrank.EventResult, error) {
	var r fusionrank.EventResult
	body := map[string]any{"events": events}
	if userToken != "" {
		body["user_token"] = userToken
	}
	err := c.do(ctx, http.MethodPost, "/v1/events", body, &r)
	return r, err
}

// do sends one call, retrying what may be retried, and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("fusionrank: encoding the request: %w", err)
		}
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, method, path, body, out)
		if err == nil || attempt >= c.Retries || ctx.Err() != nil {
			return err
		}
		wait, ok := c.retryWait(err, attempt)
		if !ok {
			return err
		}
		if dl, has := ctx.Deadline(); has && time.Until(dl) < wait {
			return err // waiting would only end in the deadline: say why now
		}
		if c.sleep(ctx, wait) != nil {
			return err
		}
	}
}

// retryWait says whether err may be retried and after how long.
func (c *Client) retryWait(err error, attempt int) (time.Duration, bool) {
	var ae *Error
	if errors.As(err, &ae) {
		if !ae.Temporary() {
			return 0, false
		}
		if ae.RetryAfter > 0 {
			return ae.RetryAfter, true
		}
	} else if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	ceil := c.MinBackoff << min(attempt, 20)
	if ceil <= 0 || ceil > c.MaxBackoff {
		ceil = c.MaxBackoff
	}
	if ceil <= 0 {
		return 0, true
	}
	return rand.N(ceil) + 1, true
}

// once sends one attempt.
func (c *Client) once(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("fusionrank: %w", err)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.UserAgent)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("fusionrank: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("fusionrank: %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return answerError(resp, raw)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("fusionrank: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// answerError reads the API's error envelope (or makes one from the status when a proxy
// answered instead).
func answerError(resp *http.Response, raw []byte) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-ID"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message = fusionrank.Code(env.Error.Code), env.Error.Message
		return e
	}
	e.Code = codeOf(resp.StatusCode)
	e.Message = http.StatusText(resp.StatusCode)
	return e
}

// codeOf maps a bare status to the API's codes (the inverse of the server's table).
func codeOf(status int) fusionrank.Code {
	switch status {
	case http.StatusBadRequest:
		return fusionrank.Invalid
	case http.StatusUnauthorized:
		return fusionrank.Unauthorized
	case http.StatusForbidden:
		return fusionrank.Forbidden
	case http.StatusNotFound:
		return fusionrank.NotFound
	case http.StatusConflict:
		return fusionrank.Conflict
	case http.StatusRequestEntityTooLarge:
		return fusionrank.TooLarge
	case http.StatusTooManyRequests:
		return fusionrank.RateLimited
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return fusionrank.Unavailable
	}
	return fusionrank.Internal
}

// parseRetryAfter reads Retry-After as seconds or as an HTTP date; 0 when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(0, s)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now))
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
