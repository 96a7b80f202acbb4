package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fusionrank/fusionrank"
)

// Scope is an API key's scope (see fusionrank.Scope).
type Scope = fusionrank.Scope

// The scopes, re-exported for the route table.
const (
	ScopeNone   = fusionrank.ScopeNone
	ScopePublic = fusionrank.ScopePublic
	ScopeRead   = fusionrank.ScopeRead
	ScopeWrite  = fusionrank.ScopeWrite
	ScopeAdmin  = fusionrank.ScopeAdmin
)

// KeyService checks API keys. Authenticate returns the key's scope and a stable
// identifier for rate limiting (never the key itself); an unknown or revoked key is an
// Unauthorized error.
type KeyService interface {
	Authenticate(ctx context.Context, key string) (scope Scope, keyID string, err error)
}

// UserTokenService checks the user tokens a shop signs for its shoppers (package
// usertoken; keys.Store implements it).
type UserTokenService interface {
	// VerifyUserToken returns the user a valid, unexpired token vouches for; its error
	// says what is wrong with the token, for the answer's warning.
	VerifyUserToken(token string) (userID string, err error)
}

const scopeKey = "scope"

// callerScope is the scope of the request's key (ScopeAdmin when auth is off).
func callerScope(c *gin.Context) Scope {
	if v, ok := c.Get(scopeKey); ok {
		return v.(Scope)
	}
	return ScopeNone
}

func (s *Server) authenticate(need Scope) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !s.cfg.Auth {
			c.Set(scopeKey, ScopeAdmin)
			c.Set("key_id", "anonymous")
			c.Next()
			return
		}
		token, ok := bearer(c.GetHeader("Authorization"))
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="fusionrank"`)
			s.fail(c, fusionrank.Errorf(fusionrank.Unauthorized, "Authorization: expected \"Bearer <key>\""))
			return
		}
		if s.deps.Keys == nil {
			s.fail(c, fusionrank.Errorf(fusionrank.Unauthorized, "Authorization: unknown key"))
			return
		}
		scope, id, err := s.deps.Keys.Authenticate(c.Request.Context(), token)
		if err != nil {
			if fusionrank.ErrorCode(err) == fusionrank.Unauthorized {
				c.Header("WWW-Authenticate", `Bearer realm="fusionrank"`)
			}
			s.fail(c, err)
			return
		}
		if scope < need {
			s.fail(c, fusionrank.Errorf(fusionrank.Forbidden, "this call needs a key with scope %s or above; the key has scope %s", need, scope))
			return
		}
		c.Set(scopeKey, scope)
		c.Set("key_id", id)
		c.Next()
	}
}

// bearer returns the key of an Authorization header "Bearer <key>"; the scheme is
// matched without case (RFC 9110 section 11.1).
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// limits applies the rate limits, the body size limit and the deadline.
func (s *Server) limits(r Route) gin.HandlerFunc {
	maxBody, timeout := s.cfg.MaxBodyBytes, s.cfg.RequestTimeout
	switch {
	case r.Bulk:
		maxBody, timeout = s.cfg.MaxBatchBytes, s.cfg.BatchTimeout
	case r.Write:
		timeout = s.cfg.WriteTimeout
	}
	if r.Photo {
		maxBody = max(maxBody, s.cfg.MaxPhotoBodyBytes)
	}
	if r.Timeout > 0 {
		timeout = r.Timeout
	}
	dl := s.deadline(timeout)
	browser := !strings.HasPrefix(r.Path, "/v1/")
	shed := !browser && !r.Write && !r.Bulk && s.cfg.MaxInFlight > 0
	return func(c *gin.Context) {
		if !s.allow(c, browser) {
			return
		}
		if shed {
			n := s.inFlight.Add(1)
			defer s.inFlight.Add(-1)
			if n > int64(s.cfg.MaxInFlight) {
				s.overloaded(c)
				return
			}
		}
		if c.Request.ContentLength > maxBody {
			s.fail(c, fusionrank.Errorf(fusionrank.TooLarge, "body: %d bytes is over the limit of %d bytes", c.Request.ContentLength, maxBody))
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = maxBytes(c, maxBody)
		}
		dl(c)
	}
}

// allow takes a token from each rate limit that applies to the request (the key's, the
// public key's, the client address's) and answers 429 when one is empty. browser marks
// the endpoints outside /v1, which are limited per address whatever the key.
func (s *Server) allow(c *gin.Context, browser bool) bool {
	now := time.Now()
	key := c.GetString("key_id")
	public := callerScope(c) == ScopePublic && s.cfg.Auth
	check := func(l *rateLimiter, bucket, what string) bool {
		if l == nil {
			return true
		}
		if wait := l.take(c, bucket, now); wait > 0 {
			s.fail(c, &fusionrank.Error{Code: fusionrank.RateLimited,
				Message: "rate limit: over " + what + "; retry after the Retry-After seconds",
				Err:     retryAfter(wait)})
			return false
		}
		return true
	}
	if !check(s.limiter, key, "this key's request rate") {
		return false
	}
	if public && !check(s.publicLimiter, key, "this public key's request rate") {
		return false
	}
	if (public || browser) && !check(s.clientLimiter, clientBucket(c.ClientIP()), "the request rate of this client address") {
		return false
	}
	return true
}

// clientBucket is the rate-limit bucket of a client address: the address for IPv4, its
// /64 network for IPv6 (one subscriber usually holds a whole /64).
func clientBucket(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() || a.Is4In6() {
		return ip
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// retryAfter carries how long a rate-limited caller should wait.
type retryAfter time.Duration

func (r retryAfter) Error() string { return "retry after " + time.Duration(r).String() }
func (r retryAfter) seconds() int  { return max(1, int(math.Ceil(time.Duration(r).Seconds()))) }

// SharedRates keeps token buckets that every replica of the service shares
// (internal/ratelimit: in Redis). Take takes a token from bucket of limiter and returns
// how long until one is there (0: taken).
type SharedRates interface {
	Take(ctx context.Context, limiter, bucket string, rate, burst float64) (time.Duration, error)
}

// sharedRatesTimeout bounds a shared bucket's answer; past it (or on an error) the
// process's own bucket answers, so a slow or absent Redis never holds up requests.
const sharedRatesTimeout = 50 * time.Millisecond

// rateLimiter is a token bucket per key: in shared (every replica's) when set, else,
// or when shared fails, the process's own.
type rateLimiter struct {
	name    string
	shared  SharedRates
	mu      sync.Mutex
	rate    float64
	burst   float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(name string, rate float64, burst int, shared SharedRates) *rateLimiter {
	return &rateLimiter{name: name, shared: shared, rate: rate, burst: float64(burst), buckets: map[string]*bucket{}}
}

// take removes one token from key's bucket; when none is left it returns how long
// until one is.
func (l *rateLimiter) take(ctx context.Context, key string, now time.Time) time.Duration {
	if l.shared != nil {
		sctx, cancel := context.WithTimeout(ctx, sharedRatesTimeout)
		wait, err := l.shared.Take(sctx, l.name, key, l.rate, l.burst)
		cancel()
		if err == nil {
			return wait
		}
	}
	return l.takeLocal(key, now)
}

// takeLocal is take on the process's own bucket.
func (l *rateLimiter) takeLocal(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.forgetIdle(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// maxBuckets bounds the buckets a limiter keeps (one per key or client address).
const maxBuckets = 100_000

// forgetIdle drops the buckets that have refilled to their burst (a caller idle that
// long starts afresh anyway); if that frees less than a tenth of them it drops them
// all rather than grow without bound (or scan again on the next new caller), which
// briefly lifts the limits of busy callers. Callers hold mu.
func (l *rateLimiter) forgetIdle(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets*9/10 {
		clear(l.buckets)
	}
}

// overloaded answers a request shed past MaxInFlight: 503 with Retry-After, without the
// log line other 503s get (under overload there are thousands a second; the
// fusionrank_http_shed_total counter counts them).
func (s *Server) overloaded(c *gin.Context) {
	s.metrics.shed.Inc()
	c.Header("Retry-After", "1")
	c.AbortWithStatusJSON(http.StatusServiceUnavailable, ErrorBody{Error: ErrorDetail{Code: string(fusionrank.Unavailable),
		Message: fmt.Sprintf("overloaded: %d requests are in progress; retry", s.cfg.MaxInFlight)}})
}
