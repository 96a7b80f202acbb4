package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fusionrank/fusionrank"
)

// Config holds the transport's knobs.
type Config struct {
	// Auth requires an API key on every /v1 call. Default true; turning it off is for
	// local development only.
	Auth bool
	// MaxBodyBytes caps a JSON request body. Default 4 MiB.
	MaxBodyBytes int64
	// MaxPhotoBodyBytes caps the body of the routes that may carry a photo (items,
	// search, rerank, recommendations, an item's image): a photo of the largest size
	// the feature store takes, base64-encoded, and the rest of the request. Default
	// 12 MiB.
	MaxPhotoBodyBytes int64
	// MaxBatchBytes caps the NDJSON body of POST /v1/items:batch, which is streamed.
	// Default 1 GiB.
	MaxBatchBytes int64
	// RequestTimeout is the deadline of every /v1 request. Default 200ms; the bulk
	// item load gets BatchTimeout instead.
	RequestTimeout time.Duration
	// BatchTimeout is the deadline of POST /v1/items:batch. Default 10 minutes.
	BatchTimeout time.Duration
	// WriteTimeout is the deadline of the other writes (items, events): they commit to
	// Postgres, and a busy database should slow them rather than fail them. Default 5s.
	WriteTimeout time.Duration
	// BodyTimeout is how long a request's body may take to arrive, counted from the
	// end of its header, on every route but the bulk item load (which has
	// BatchTimeout): a client that sends its body slowly, or announces one and never
	// sends it, has its connection answered (408) and closed then, instead of holding
	// it for ever. The server's header timeout is the http.Server's own. Default 10s.
	BodyTimeout time.Duration
	// MaxInFlight caps the read requests of /v1 (rankings, search, features) in
	// progress at once: past it a request is answered 503 with Retry-After at once,
	// before any work, instead of queueing for the CPU with the others until every
	// answer is late. Default 64 per CPU (GOMAXPROCS); negative: no cap.
	MaxInFlight int
	// RateLimit is each key's sustained request rate per second, whatever its scope;
	// 0 turns it off. Default 0 (off).
	RateLimit float64
	// RateBurst is each key's burst size. Default 2 × RateLimit, at least 1.
	RateBurst int
	// PublicRateLimit is the sustained rate per second of each key of scope public (a
	// key anyone can read, shared by every browser of a shop); 0 turns it off. Default
	// 0 (off); the binary turns it on (FUSIONRANK_PUBLIC_RATE_LIMIT). Burst 2×.
	PublicRateLimit float64
	// ClientRateLimit is the sustained rate per second of each client address, for the
	// calls made with a public key and for the browser endpoints outside /v1
	// (/widget/items, /demo/…) whatever the key; 0 turns it off. IPv6 clients count
	// per /64. Default 0 (off); the binary turns it on (FUSIONRANK_CLIENT_RATE_LIMIT).
	// Burst 2×.
	ClientRateLimit float64
	// SharedRates, when set, keeps the rate limits' buckets where every replica of the
	// service sees them (Redis), so that they hold across replicas. When it fails, the
	// process's own buckets answer.
	SharedRates SharedRates
	// TrustedProxies are the addresses or CIDRs of the proxies whose X-Forwarded-For
	// header names the client; a request from any other peer is the client. Default
	// none: behind a load balancer, name it, or every shopper shares its address.
	TrustedProxies []string
	// Logger receives one line per request and the detail of 5xx answers.
	Logger *slog.Logger
	// Registry receives the transport's metrics. Default: a new registry.
	Registry *prometheus.Registry
	// Extra lets the wiring register more routes that are not part of /v1 (the demo
	// page, the widget script). Each is documented in the OpenAPI document too.
	Extra []Route
}

func (c *Config) defaults() {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 4 << 20
	}
	if c.MaxPhotoBodyBytes == 0 {
		c.MaxPhotoBodyBytes = 12 << 20
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = 1 << 30
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 200 * time.Millisecond
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = 10 * time.Minute
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 5 * time.Second
	}
	if c.BodyTimeout == 0 {
		c.BodyTimeout = 10 * time.Second
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 64 * runtime.GOMAXPROCS(0)
	}
	if c.RateBurst == 0 {
		c.RateBurst = max(1, int(2*c.RateLimit))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
}

// HealthCheck is one dependency that /readyz asks.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Deps are the use cases the transport serves. A nil service leaves its routes out.
type Deps struct {
	Ready  []HealthCheck
	Items  ItemService
	Events EventService
	Rank   RankService
	Users  UserService
	Models ModelService
	Stats  StatsService
	Keys   KeyService
	// Searches stores searches of a shop's own engine (POST /v1/searches); nil: no route.
	Searches SearchService
	// UserTokens checks the user tokens of public-scope calls; nil: no token is valid
	// (public-scope calls naming a user get non-personal answers).
	UserTokens UserTokenService
	Photos     PhotoService
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	engine  *gin.Engine
	metrics *metrics
	table   []Route
	// The rate limiters (nil: off): per key, per public key, per client address.
	limiter, publicLimiter, clientLimiter *rateLimiter
	// bodyDeadline holds each route's body deadline by method and Gin full path.
	bodyDeadline map[string]time.Duration
	inFlight     atomic.Int64 // read requests in progress (MaxInFlight)
}

// New builds the server and registers every route.
func New(cfg Config, deps Deps) *Server {
	cfg.defaults()
	gin.SetMode(gin.ReleaseMode)
	s := &Server{cfg: cfg, deps: deps, log: cfg.Logger, engine: gin.New()}
	s.metrics = newMetrics(cfg.Registry)
	if cfg.RateLimit > 0 {
		s.limiter = newRateLimiter("key", cfg.RateLimit, cfg.RateBurst, cfg.SharedRates)
	}
	if cfg.PublicRateLimit > 0 {
		s.publicLimiter = newRateLimiter("public", cfg.PublicRateLimit, max(1, int(2*cfg.PublicRateLimit)), cfg.SharedRates)
	}
	if cfg.ClientRateLimit > 0 {
		s.clientLimiter = newRateLimiter("client", cfg.ClientRateLimit, max(1, int(2*cfg.ClientRateLimit)), cfg.SharedRates)
	}
	// Gin trusts every proxy's X-Forwarded-For unless told otherwise: a client could
	// then pick its own address, and its own rate-limit bucket.
	if err := s.engine.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		panic("api: TrustedProxies: " + err.Error()) // the binary validates them at start
	}
	s.engine.HandleMethodNotAllowed = true
	s.engine.ContextWithFallback = true
	// An API answers a path it does not serve with a 404 envelope, not with a redirect
	// (Gin's default for "/v1/items/" or "/v1/items//" is a bodiless 301/307).
	s.engine.RedirectTrailingSlash = false
	s.engine.RedirectFixedPath = false
	s.engine.Use(s.recoverer, s.requestID, s.observe, s.readDeadline)
	s.engine.NoRoute(func(c *gin.Context) {
		s.fail(c, fusionrank.Errorf(fusionrank.NotFound, "no route %s %s", c.Request.Method, c.Request.URL.Path))
	})
	s.engine.NoMethod(func(c *gin.Context) {
		c.Header("Allow", s.allowed(c.Request.URL.Path))
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, ErrorBody{Error: ErrorDetail{
			Code: "method_not_allowed", Message: fmt.Sprintf("method %s is not allowed on %s", c.Request.Method, c.Request.URL.Path)}})
	})
	s.table = s.routes()
	s.bodyDeadline = map[string]time.Duration{}
	for _, r := range s.table {
		handlers := []gin.HandlerFunc{}
		if r.Scope > ScopeNone {
			handlers = append(handlers, s.authenticate(r.Scope), s.limits(r))
		}
		handlers = append(handlers, r.Handler)
		s.engine.Handle(r.Method, ginPath(r.Path), handlers...)
		d := cfg.BodyTimeout
		if r.Bulk {
			d = cfg.BatchTimeout
		}
		// Gin's FullPath names a route without the escape of a literal colon.
		s.bodyDeadline[r.Method+" "+strings.ReplaceAll(ginPath(r.Path), `\:`, ":")] = d
	}
	return s
}

// ReadTimeout is the deadline the http.Server should give a request's header and
// body together (http.Server.ReadTimeout), given its header timeout: the longest a
// request may take to arrive before any handler runs. Every route then sets its own
// body deadline (BodyTimeout, the bulk load's BatchTimeout); this one also covers what
// no route handles (CORS preflights answered before routing).
func (s *Server) ReadTimeout(header time.Duration) time.Duration { return header + s.cfg.BodyTimeout }

// readDeadline gives the connection the route's body deadline, counted from now (the
// header has been read): reading the body, and the server's discarding of a body the
// handler did not read, end there.
func (s *Server) readDeadline(c *gin.Context) {
	d, ok := s.bodyDeadline[c.Request.Method+" "+c.FullPath()]
	if !ok {
		d = s.cfg.BodyTimeout
	}
	// An error means the writer cannot set deadlines (a test recorder): nothing to do.
	_ = http.NewResponseController(c.Writer).SetReadDeadline(time.Now().Add(d))
	c.Next()
}

// Handler returns the http.Handler that serves the API.
func (s *Server) Handler() http.Handler { return s.engine }

// allowed lists the methods the table has for a concrete path, for the Allow header.
func (s *Server) allowed(path string) string {
	var ms []string
	for _, r := range s.table {
		if matchPath(r.Path, path) {
			ms = append(ms, r.Method)
		}
	}
	return strings.Join(ms, ", ")
}

// matchPath reports whether a concrete path matches a templated one ({x} = one segment).
func matchPath(tmpl, path string) bool {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") {
			if ps[i] == "" {
				return false
			}
			continue
		}
		if ts[i] != ps[i] {
			return false
		}
	}
	return true
}

// ginPath turns an OpenAPI path template into Gin's syntax: {id} becomes :id and a
// literal colon (as in /v1/items:batch) is escaped.
func ginPath(p string) string {
	var b strings.Builder
	for _, seg := range strings.Split(p, "/")[1:] {
		b.WriteByte('/')
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			b.WriteString(":" + seg[1:len(seg)-1])
			continue
		}
		b.WriteString(strings.ReplaceAll(seg, ":", `\:`))
	}
	return b.String()
}

const requestIDKey = "request_id"

// deadlineKey holds the request's deadline (a time.Duration), for the 503 message.
const deadlineKey = "deadline"

func requestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// newRequestID returns 16 random hex characters.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// answerID returns a new unique answer id for the request c: 16 random hex
// characters, after the caller's X-Request-ID and a dot when it sent a valid one.
func answerID(c *gin.Context) string {
	id := newRequestID()
	if h := c.GetHeader("X-Request-ID"); h != "" && fusionrank.ValidID(h) {
		id = h[:min(len(h), fusionrank.MaxIDLen-len(id)-1)] + "." + id
	}
	return id
}

// requestID gives every request a unique id: 16 random hex characters, after the
// caller's X-Request-ID and a dot when the caller sent a valid one. The id is unique
// even when a caller reuses its header, since ranking answers are attributed by it
// (rank_requests keeps one record per id); the caller's part keeps it findable in the
// log.
func (s *Server) requestID(c *gin.Context) {
	id := answerID(c)
	c.Set(requestIDKey, id)
	c.Header("X-Request-ID", id)
	c.Next()
}

func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.fail(c, fmt.Errorf("panic: %v", p))
		}
	}()
	c.Next()
}

func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	d := time.Since(start)
	method := metricMethod(c.Request.Method)
	if route == "unmatched" {
		method = "other" // an unserved path's method says nothing worth a series
	}
	s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	s.metrics.latency.WithLabelValues(route, method).Observe(d.Seconds())
	level := slog.LevelInfo
	if route == "/healthz" || route == "/readyz" || route == "/metrics" {
		level = slog.LevelDebug
	}
	if len(c.Errors) > 0 {
		level = max(level, slog.LevelWarn)
		if status >= 500 {
			level = slog.LevelError
			s.metrics.internalErrors.Inc()
		}
	}
	// The line's arguments are built only when it is written: boxing them costs a
	// dozen allocations per request.
	if !s.log.Enabled(c.Request.Context(), level) {
		return
	}
	args := []any{"request_id", requestID(c), "method", method, "route", route, "status", status, "ms", float64(d.Microseconds()) / 1000}
	if len(c.Errors) > 0 {
		args = append(args, "err", c.Errors.String())
	}
	s.log.Log(c.Request.Context(), level, "request", args...)
}

// metricMethod is the method label of a request: one of the methods the API serves,
// or "other". The label comes from the client, so any other value would let each
// request add series to /metrics.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return m
	}
	return "other"
}

// deadline gives the request its deadline; the handlers pass c.Request.Context() down.
func (s *Server) deadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Set(deadlineKey, d)
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

func (s *Server) healthz(c *gin.Context) { s.writeJSON(c, http.StatusOK, gin.H{"status": "ok"}) }

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	for _, h := range s.deps.Ready {
		if err := h.Check(ctx); err != nil {
			checks[h.Name] = err.Error()
			ok = false
		} else {
			checks[h.Name] = "ok"
		}
	}
	if !ok {
		s.writeJSON(c, http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": checks})
		return
	}
	s.writeJSON(c, http.StatusOK, gin.H{"status": "ok", "checks": checks})
}

func (s *Server) metricsHandler() gin.HandlerFunc {
	h := promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{})
	return func(c *gin.Context) { h.ServeHTTP(c.Writer, c.Request) }
}
