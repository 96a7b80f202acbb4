package api

import (
	"context"
	"math"
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
		h := c.GetHeader("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		token = strings.TrimSpace(token)
		if !ok || token == "" {
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

// limits applies the per-key rate limit, the body size limit and the deadline.
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
	dl := s.deadline(timeout)
	return func(c *gin.Context) {
		if s.limiter != nil {
			if wait := s.limiter.take(c.GetString("key_id"), time.Now()); wait > 0 {
				s.fail(c, &fusionrank.Error{Code: fusionrank.RateLimited,
					Message: "rate limit: over this key's request rate; retry after the Retry-After seconds",
					Err:     retryAfter(wait)})
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

// retryAfter carries how long a rate-limited caller should wait.
type retryAfter time.Duration

func (r retryAfter) Error() string { return "retry after " + time.Duration(r).String() }
func (r retryAfter) seconds() int  { return max(1, int(math.Ceil(time.Duration(r).Seconds()))) }

// rateLimiter is a token bucket per key.
type rateLimiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst int) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), buckets: map[string]*bucket{}}
}

// take removes one token from key's bucket; when none is left it returns how long
// until one is.
func (l *rateLimiter) take(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) > 100000 { // forget idle buckets rather than grow without bound
			clear(l.buckets)
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
