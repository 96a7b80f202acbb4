package main

import (
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/recommend"
)

// Modality is a caller-supplied modality and its dimension.
type Modality struct {
	Name string
	Dim  int
}

// Config is fusionrank's configuration, read from FUSIONRANK_* variables and flags.
type Config struct {
	DatabaseURL    string                           // FUSIONRANK_DATABASE_URL
	RedisURL       string                           // FUSIONRANK_REDIS_URL
	Addr           string                           // FUSIONRANK_ADDR
	Auth           bool                             // FUSIONRANK_AUTH (on|off)
	TextVectors    string                           // FUSIONRANK_TEXT_VECTORS (path; empty: no text modality)
	Modalities     []Modality                       // FUSIONRANK_MODALITIES (name:dim,…)
	LogLevel       slog.Level                       // FUSIONRANK_LOG_LEVEL
	RequestTimeout time.Duration                    // FUSIONRANK_REQUEST_TIMEOUT
	WriteTimeout   time.Duration                    // FUSIONRANK_WRITE_TIMEOUT
	HalfLife       time.Duration                    // FUSIONRANK_PROFILE_HALF_LIFE
	EventWeights   map[fusionrank.EventType]float64 // FUSIONRANK_EVENT_WEIGHTS
	MaxFutureSkew  time.Duration                    // FUSIONRANK_MAX_FUTURE_SKEW
	RateLimit      float64                          // FUSIONRANK_RATE_LIMIT (requests/s per key; 0 = off)
	PublicRate     float64                          // FUSIONRANK_PUBLIC_RATE_LIMIT (requests/s per public key; 0 = off)
	ClientRate     float64                          // FUSIONRANK_CLIENT_RATE_LIMIT (requests/s per client address; 0 = off)
	TrustedProxies []string                         // FUSIONRANK_TRUSTED_PROXIES (addresses or CIDRs)
	HeaderTimeout  time.Duration                    // FUSIONRANK_HEADER_TIMEOUT
	BodyTimeout    time.Duration                    // FUSIONRANK_BODY_TIMEOUT
	PprofAddr      string                           // FUSIONRANK_PPROF_ADDR
	ProfileTTL     time.Duration                    // FUSIONRANK_PROFILE_TTL
	CounterRefresh time.Duration                    // FUSIONRANK_COUNTER_REFRESH
}

// configVars lists every variable with its default and meaning, for --help.
var configVars = [][3]string{
	{"FUSIONRANK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fusionrank?sslmode=disable", "Postgres, the source of truth"},
	{"FUSIONRANK_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis, the online feature cache"},
	{"FUSIONRANK_ADDR", ":8080", "HTTP listen address"},
	{"FUSIONRANK_AUTH", "on", "on: every /v1 call needs a key; off: local development only"},
	{"FUSIONRANK_TEXT_VECTORS", "", "GloVe-format word vectors (plain or gzip) for the text modality; empty: no text modality"},
	{"FUSIONRANK_MODALITIES", "image:512", "caller-supplied modalities and their dims, name:dim,…"},
	{"FUSIONRANK_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"FUSIONRANK_REQUEST_TIMEOUT", "200ms", "deadline of every /v1 request"},
	{"FUSIONRANK_WRITE_TIMEOUT", "5s", "deadline of writes (items, events), which commit to Postgres"},
	{"FUSIONRANK_PROFILE_HALF_LIFE", "168h", "half-life of the time decay in user profiles"},
	{"FUSIONRANK_EVENT_WEIGHTS", "view:1,click:2,add_to_cart:4,purchase:8", "weight of each event type in user profiles"},
	{"FUSIONRANK_MAX_FUTURE_SKEW", "5m", "how far in the future an event timestamp may be"},
	{"FUSIONRANK_RATE_LIMIT", "0", "requests per second per key of any scope (token bucket, burst 2×); 0: off"},
	{"FUSIONRANK_PUBLIC_RATE_LIMIT", "200", "requests per second per key of scope public (burst 2×); 0: off"},
	{"FUSIONRANK_CLIENT_RATE_LIMIT", "10", "requests per second per client address (IPv6: per /64) for public-key calls and /widget/items, /demo/… (burst 2×); 0: off"},
	{"FUSIONRANK_TRUSTED_PROXIES", "", "addresses or CIDRs of proxies whose X-Forwarded-For names the client, comma-separated; empty: the peer is the client"},
	{"FUSIONRANK_HEADER_TIMEOUT", "5s", "how long a request's header may take to arrive"},
	{"FUSIONRANK_BODY_TIMEOUT", "10s", "how long a request's body may take to arrive after its header (the bulk item load: 10m)"},
	{"FUSIONRANK_PROFILE_TTL", "720h", "TTL of user profiles in Redis"},
	{"FUSIONRANK_COUNTER_REFRESH", "1s", "serve: how often popularity windows and trending are re-read from Redis into memory"},
	{"FUSIONRANK_PPROF_ADDR", "", "serve: a loopback address for Go's pprof handlers (off when empty)"},
}

// loadConfig reads the environment through getenv, then lets flags override, and
// validates. A bad value is an error that names the variable.
func loadConfig(getenv func(string) string, fs *flag.FlagSet, args []string) (Config, error) {
	val := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		for _, cv := range configVars {
			if cv[0] == name {
				return cv[1]
			}
		}
		return ""
	}
	var c Config
	var auth, modalities, level, timeout, wtimeout, halfLife, weights, skew, rate, ttl, refresh string
	var publicRate, clientRate, proxies, htimeout, btimeout string
	fs.StringVar(&c.DatabaseURL, "database-url", val("FUSIONRANK_DATABASE_URL"), "Postgres URL (FUSIONRANK_DATABASE_URL)")
	fs.StringVar(&c.RedisURL, "redis-url", val("FUSIONRANK_REDIS_URL"), "Redis URL (FUSIONRANK_REDIS_URL)")
	fs.StringVar(&c.Addr, "addr", val("FUSIONRANK_ADDR"), "listen address (FUSIONRANK_ADDR)")
	fs.StringVar(&auth, "auth", val("FUSIONRANK_AUTH"), "on|off (FUSIONRANK_AUTH)")
	fs.StringVar(&c.TextVectors, "text-vectors", val("FUSIONRANK_TEXT_VECTORS"), "word vectors file (FUSIONRANK_TEXT_VECTORS)")
	fs.StringVar(&modalities, "modalities", val("FUSIONRANK_MODALITIES"), "caller modalities name:dim,… (FUSIONRANK_MODALITIES)")
	fs.StringVar(&level, "log-level", val("FUSIONRANK_LOG_LEVEL"), "log level (FUSIONRANK_LOG_LEVEL)")
	fs.StringVar(&timeout, "request-timeout", val("FUSIONRANK_REQUEST_TIMEOUT"), "request deadline (FUSIONRANK_REQUEST_TIMEOUT)")
	fs.StringVar(&wtimeout, "write-timeout", val("FUSIONRANK_WRITE_TIMEOUT"), "write deadline (FUSIONRANK_WRITE_TIMEOUT)")
	fs.StringVar(&halfLife, "profile-half-life", val("FUSIONRANK_PROFILE_HALF_LIFE"), "profile half-life (FUSIONRANK_PROFILE_HALF_LIFE)")
	fs.StringVar(&weights, "event-weights", val("FUSIONRANK_EVENT_WEIGHTS"), "event weights (FUSIONRANK_EVENT_WEIGHTS)")
	fs.StringVar(&skew, "max-future-skew", val("FUSIONRANK_MAX_FUTURE_SKEW"), "future skew (FUSIONRANK_MAX_FUTURE_SKEW)")
	fs.StringVar(&rate, "rate-limit", val("FUSIONRANK_RATE_LIMIT"), "per-key rate limit (FUSIONRANK_RATE_LIMIT)")
	fs.StringVar(&publicRate, "public-rate-limit", val("FUSIONRANK_PUBLIC_RATE_LIMIT"), "per-public-key rate limit (FUSIONRANK_PUBLIC_RATE_LIMIT)")
	fs.StringVar(&clientRate, "client-rate-limit", val("FUSIONRANK_CLIENT_RATE_LIMIT"), "per-client-address rate limit (FUSIONRANK_CLIENT_RATE_LIMIT)")
	fs.StringVar(&proxies, "trusted-proxies", val("FUSIONRANK_TRUSTED_PROXIES"), "trusted proxies (FUSIONRANK_TRUSTED_PROXIES)")
	fs.StringVar(&htimeout, "header-timeout", val("FUSIONRANK_HEADER_TIMEOUT"), "header read deadline (FUSIONRANK_HEADER_TIMEOUT)")
	fs.StringVar(&btimeout, "body-timeout", val("FUSIONRANK_BODY_TIMEOUT"), "body read deadline (FUSIONRANK_BODY_TIMEOUT)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", val("FUSIONRANK_PPROF_ADDR"), "pprof listener (FUSIONRANK_PPROF_ADDR)")
	fs.StringVar(&ttl, "profile-ttl", val("FUSIONRANK_PROFILE_TTL"), "profile TTL (FUSIONRANK_PROFILE_TTL)")
	fs.StringVar(&refresh, "counter-refresh", val("FUSIONRANK_COUNTER_REFRESH"), "popularity cache refresh (FUSIONRANK_COUNTER_REFRESH)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []string
	bad := func(name, format string, a ...any) { errs = append(errs, name+": "+fmt.Sprintf(format, a...)) }

	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("FUSIONRANK_DATABASE_URL", "expected a postgres:// URL")
	}
	if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		bad("FUSIONRANK_REDIS_URL", "expected a redis:// URL")
	}
	if _, port, ok := strings.Cut(c.Addr, ":"); !ok {
		bad("FUSIONRANK_ADDR", "expected host:port or :port, got %q", c.Addr)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("FUSIONRANK_ADDR", "bad port %q", port)
	}
	switch strings.ToLower(auth) {
	case "on", "true", "1":
		c.Auth = true
	case "off", "false", "0":
		c.Auth = false
	default:
		bad("FUSIONRANK_AUTH", "expected on or off, got %q", auth)
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(modalities, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, dim, ok := strings.Cut(part, ":")
		d, err := strconv.Atoi(dim)
		switch {
		case !ok || err != nil || d <= 0 || d > 4096:
			bad("FUSIONRANK_MODALITIES", "%q: expected name:dim with 1 ≤ dim ≤ 4096", part)
		case name == "text" || name == "collab" || name == "attr" || name == recommend.SeqModality:
			bad("FUSIONRANK_MODALITIES", "%q: %s is built in and cannot be supplied by callers", part, name)
		case seen[name]:
			bad("FUSIONRANK_MODALITIES", "%q: modality named twice", name)
		case fusionrank.ValidateID("modality", name) != nil:
			bad("FUSIONRANK_MODALITIES", "%q: bad modality name", name)
		default:
			seen[name] = true
			c.Modalities = append(c.Modalities, Modality{name, d})
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		bad("FUSIONRANK_LOG_LEVEL", "expected debug, info, warn or error, got %q", level)
	}
	dur := func(name, v string, dst *time.Duration, min time.Duration) {
		d, err := time.ParseDuration(v)
		if err != nil || d < min {
			bad(name, "expected a duration of at least %s (like 200ms), got %q", min, v)
			return
		}
		*dst = d
	}
	dur("FUSIONRANK_REQUEST_TIMEOUT", timeout, &c.RequestTimeout, time.Millisecond)
	dur("FUSIONRANK_WRITE_TIMEOUT", wtimeout, &c.WriteTimeout, time.Millisecond)
	dur("FUSIONRANK_PROFILE_HALF_LIFE", halfLife, &c.HalfLife, time.Second)
	dur("FUSIONRANK_MAX_FUTURE_SKEW", skew, &c.MaxFutureSkew, 0)
	dur("FUSIONRANK_PROFILE_TTL", ttl, &c.ProfileTTL, time.Minute)
	dur("FUSIONRANK_COUNTER_REFRESH", refresh, &c.CounterRefresh, 100*time.Millisecond)
	dur("FUSIONRANK_HEADER_TIMEOUT", htimeout, &c.HeaderTimeout, 100*time.Millisecond)
	dur("FUSIONRANK_BODY_TIMEOUT", btimeout, &c.BodyTimeout, 100*time.Millisecond)
	c.EventWeights = map[fusionrank.EventType]float64{}
	for _, part := range strings.Split(weights, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), ":")
		f, err := strconv.ParseFloat(w, 64)
		if !ok || err != nil || f < 0 || f > 1e6 || !fusionrank.EventType(name).Valid() {
			bad("FUSIONRANK_EVENT_WEIGHTS", "%q: expected type:weight with a known type and 0 ≤ weight", part)
			continue
		}
		c.EventWeights[fusionrank.EventType(name)] = f
	}
	for _, r := range []struct {
		name, v string
		dst     *float64
	}{{"FUSIONRANK_RATE_LIMIT", rate, &c.RateLimit}, {"FUSIONRANK_PUBLIC_RATE_LIMIT", publicRate, &c.PublicRate}, {"FUSIONRANK_CLIENT_RATE_LIMIT", clientRate, &c.ClientRate}} {
		if f, err := strconv.ParseFloat(r.v, 64); err != nil || f < 0 || math.IsInf(f, 0) {
			bad(r.name, "expected a number ≥ 0, got %q", r.v)
		} else {
			*r.dst = f
		}
	}
	for _, p := range strings.Split(proxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad("FUSIONRANK_TRUSTED_PROXIES", "%q: expected an IP address or a CIDR", p)
				continue
			}
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	if c.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.PprofAddr)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			bad("FUSIONRANK_PPROF_ADDR", "%q: expected a loopback host:port (profiles must not be public)", c.PprofAddr)
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// redact hides the password of a URL.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable)"
	}
	return p.Redacted()
}

// LogValue logs the configuration with secrets redacted.
func (c Config) LogValue() slog.Value {
	mods := make([]string, len(c.Modalities))
	for i, m := range c.Modalities {
		mods[i] = fmt.Sprintf("%s:%d", m.Name, m.Dim)
	}
	return slog.GroupValue(
		slog.String("database_url", redact(c.DatabaseURL)),
		slog.String("redis_url", redact(c.RedisURL)),
		slog.String("addr", c.Addr),
		slog.Bool("auth", c.Auth),
		slog.String("text_vectors", c.TextVectors),
		slog.String("modalities", strings.Join(mods, ",")),
		slog.String("log_level", c.LogLevel.String()),
		slog.Duration("request_timeout", c.RequestTimeout),
		slog.Duration("profile_half_life", c.HalfLife),
		slog.Float64("rate_limit", c.RateLimit),
		slog.Float64("public_rate_limit", c.PublicRate),
		slog.Float64("client_rate_limit", c.ClientRate),
		slog.String("trusted_proxies", strings.Join(c.TrustedProxies, ",")),
		slog.Duration("header_timeout", c.HeaderTimeout),
		slog.Duration("body_timeout", c.BodyTimeout),
	)
}
