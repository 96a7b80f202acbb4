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
	"github.com/fusionrank/fusionrank/internal/redisconn"
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
	ReplicaURL     string                           // FUSIONRANK_DATABASE_REPLICA_URL (empty: every read on the primary)
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
	TraceSlow      time.Duration                    // FUSIONRANK_TRACE_SLOW (0: off)
	TraceDir       string                           // FUSIONRANK_TRACE_DIR
	ProfileTTL     time.Duration                    // FUSIONRANK_PROFILE_TTL
	QueryRetention time.Duration                    // FUSIONRANK_QUERY_RETENTION (0: keep every search)
	SearchLogDepth int                              // FUSIONRANK_SEARCH_LOG_DEPTH (0: answers are not logged)
	CounterRefresh time.Duration                    // FUSIONRANK_COUNTER_REFRESH
	LocalCacheTTL  time.Duration                    // FUSIONRANK_LOCAL_CACHE_TTL (0: off)
	MaxInFlight    int                              // FUSIONRANK_MAX_IN_FLIGHT (0: 64 per CPU; -1: off)
	WarmProfiles   time.Duration                    // FUSIONRANK_WARM_PROFILES (0: off)
	ImageEncoder   string                           // FUSIONRANK_IMAGE_ENCODER (registry|off|onnx:PATH)
	TextEncoder    string                           // FUSIONRANK_TEXT_ENCODER (builtin|onnx:PATH)
	ImageMaxBytes  int64                            // FUSIONRANK_IMAGE_MAX_BYTES
	ImageMaxPixels int64                            // FUSIONRANK_IMAGE_MAX_PIXELS
	FetchTimeout   time.Duration                    // FUSIONRANK_IMAGE_FETCH_TIMEOUT
	FetchWait      time.Duration                    // FUSIONRANK_IMAGE_FETCH_WAIT
	FetchPrivate   bool                             // FUSIONRANK_IMAGE_FETCH_PRIVATE
	ONNXRuntime    string                           // FUSIONRANK_ONNXRUNTIME_LIB
	DemoPhotos     string                           // FUSIONRANK_DEMO_PHOTOS
	RedisNamespace string                           // FUSIONRANK_REDIS_NAMESPACE
	TextSubwords   bool                             // FUSIONRANK_TEXT_SUBWORDS
	CovisWindow    time.Duration                    // FUSIONRANK_COVIS_WINDOW (0: all history)
	EventRetention time.Duration                    // FUSIONRANK_EVENT_RETENTION (0: keep every event)
	ImportStreams  int                              // FUSIONRANK_IMPORT_STREAMS
}

// configVars lists every variable with its default and meaning, for --help.
var configVars = [][3]string{
	{"FUSIONRANK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fusionrank?sslmode=disable", "Postgres, the source of truth"},
	{"FUSIONRANK_DATABASE_REPLICA_URL", "", "a streaming replica of FUSIONRANK_DATABASE_URL for the heavy reads (profile and counter rebuilds, warm-ups, catalogue loads, train's export); a rebuild the replica cannot serve whole (lag) reads the primary; empty: every read on the primary"},
	{"FUSIONRANK_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis, the online feature cache: one node (redis://host:port/db) or a Redis Cluster (redis+cluster://host:port,host:port,…)"},
	{"FUSIONRANK_ADDR", ":8080", "HTTP listen address"},
	{"FUSIONRANK_REDIS_NAMESPACE", "fr", "first part of every Redis key, so that two shops can share one Redis database"},
	{"FUSIONRANK_AUTH", "on", "on: every /v1 call needs a key; off: local development only"},
	{"FUSIONRANK_TEXT_VECTORS", "", "GloVe-format word vectors (plain or gzip) for the text modality; empty: no text modality"},
	{"FUSIONRANK_MODALITIES", "image:512", "caller-supplied modalities and their dims, name:dim,…"},
	{"FUSIONRANK_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"FUSIONRANK_REQUEST_TIMEOUT", "200ms", "deadline of every /v1 request"},
	{"FUSIONRANK_WRITE_TIMEOUT", "5s", "deadline of writes (items, events), which commit to Postgres"},
	{"FUSIONRANK_PROFILE_HALF_LIFE", "168h", "half-life of the time decay in user profiles"},
	{"FUSIONRANK_SEARCH_LOG_DEPTH", "20", "how many top positions of each rerank and search answer go into the search logs; 0: answers are not logged"},
	{"FUSIONRANK_QUERY_RETENTION", "2160h", "how long search logs (queries, what was shown) are kept; whole days are dropped; 0: for ever"},
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
	{"FUSIONRANK_LOCAL_CACHE_TTL", "5m", "serve: how long profiles and co-visitation sets read from Redis may be served from process memory (dropped sooner when events change them, whichever process stores the events); 0: off"},
	{"FUSIONRANK_MAX_IN_FLIGHT", "auto", "serve: read requests (rankings, search, features) in progress at once; past it a request is answered 503 with Retry-After: 1 at once instead of queueing; auto: 64 per CPU; off: no cap"},
	{"FUSIONRANK_WARM_PROFILES", "720h", "serve: at start and whenever Redis has lost its data since, the profiles of users with events this recent that Redis lacks are built in one pass over their events; 0: off"},
	{"FUSIONRANK_PPROF_ADDR", "", "serve: a loopback address for Go's pprof handlers (off when empty)"},
	{"FUSIONRANK_TRACE_SLOW", "0", "serve: keep the last seconds of Go's execution trace in memory and write them to FUSIONRANK_TRACE_DIR when a request takes longer than this (at most one file per 10 s), like 100ms; 0: off"},
	{"FUSIONRANK_TRACE_DIR", "", "serve: where FUSIONRANK_TRACE_SLOW writes its traces; empty: the system's temporary directory"},
	{"FUSIONRANK_IMAGE_ENCODER", "registry", "registry: item and query photos are encoded by the registry's active image encoder (the fixed descriptor until one is trained and activated); onnx:PATH: by the ONNX model at PATH; off: no photos"},
	{"FUSIONRANK_TEXT_SUBWORDS", "on", "on: words missing from the word vectors (brands, codes, other languages; Chinese and Japanese are split into character bigrams) get vectors from their hashed character n-grams; off: they are skipped"},
	{"FUSIONRANK_TEXT_ENCODER", "builtin", "builtin: the word-vector encoder (FUSIONRANK_TEXT_VECTORS); onnx:PATH: an ONNX text model"},
	{"FUSIONRANK_IMAGE_MAX_BYTES", "8388608", "largest photo file taken, in bytes"},
	{"FUSIONRANK_IMAGE_MAX_PIXELS", "36000000", "largest photo taken, in pixels (width × height, read from the file's header before decoding)"},
	{"FUSIONRANK_IMAGE_FETCH_TIMEOUT", "10s", "deadline of one fetch of a photo given by URL"},
	{"FUSIONRANK_IMAGE_FETCH_WAIT", "1s", "how long PUT /v1/items/{id} waits for a photo's fetch before storing the item with the photo pending"},
	{"FUSIONRANK_IMAGE_FETCH_PRIVATE", "off", "on: photo URLs may reach loopback, private and link-local addresses (development only)"},
	{"FUSIONRANK_DEMO_PHOTOS", "", "serve: a catalogue folder in the Grocery Store layout whose val photos the demo page offers for search by photo; empty: upload only"},
	{"FUSIONRANK_COVIS_WINDOW", "0", "how far back co-visitation sets are built from the events (on a miss and at the start-up warm-up, which then reads only the recent months' partitions), like 2160h; 0: all history"},
	{"FUSIONRANK_EVENT_RETENTION", "0", "serve: events older than this are dropped a whole monthly partition at a time (hourly check), like 17520h; 0: keep every event"},
	{"FUSIONRANK_IMPORT_STREAMS", "4", "import: chunks of events stored at once, each on its own connection"},
	{"FUSIONRANK_ONNXRUNTIME_LIB", "", "the ONNX Runtime shared library for onnx: encoders; empty: looked up under node_modules/onnxruntime-node"},
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
	var auth, modalities, level, timeout, wtimeout, halfLife, weights, skew, rate, ttl, refresh, localTTL string
	var publicRate, clientRate, proxies, htimeout, btimeout string
	var imgBytes, imgPixels, fetchTimeout, fetchWait, fetchPrivate, subwords, inFlight, warm string
	var covisWindow, retention, streams, traceSlow string
	fs.StringVar(&traceSlow, "trace-slow", val("FUSIONRANK_TRACE_SLOW"), "write the execution trace around requests slower than this, 0 for off (FUSIONRANK_TRACE_SLOW)")
	fs.StringVar(&c.TraceDir, "trace-dir", val("FUSIONRANK_TRACE_DIR"), "where slow requests' traces go (FUSIONRANK_TRACE_DIR)")
	fs.StringVar(&covisWindow, "covis-window", val("FUSIONRANK_COVIS_WINDOW"), "co-visitation window (FUSIONRANK_COVIS_WINDOW)")
	fs.StringVar(&retention, "event-retention", val("FUSIONRANK_EVENT_RETENTION"), "event retention (FUSIONRANK_EVENT_RETENTION)")
	fs.StringVar(&streams, "import-streams", val("FUSIONRANK_IMPORT_STREAMS"), "import streams (FUSIONRANK_IMPORT_STREAMS)")
	fs.StringVar(&c.DatabaseURL, "database-url", val("FUSIONRANK_DATABASE_URL"), "Postgres URL (FUSIONRANK_DATABASE_URL)")
	fs.StringVar(&c.ReplicaURL, "database-replica-url", val("FUSIONRANK_DATABASE_REPLICA_URL"), "Postgres replica URL (FUSIONRANK_DATABASE_REPLICA_URL)")
	fs.StringVar(&c.RedisURL, "redis-url", val("FUSIONRANK_REDIS_URL"), "Redis URL (FUSIONRANK_REDIS_URL)")
	fs.StringVar(&c.Addr, "addr", val("FUSIONRANK_ADDR"), "listen address (FUSIONRANK_ADDR)")
	fs.StringVar(&c.RedisNamespace, "redis-namespace", val("FUSIONRANK_REDIS_NAMESPACE"), "Redis key namespace (FUSIONRANK_REDIS_NAMESPACE)")
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
	fs.StringVar(&localTTL, "local-cache-ttl", val("FUSIONRANK_LOCAL_CACHE_TTL"), "local cache entry lifetime, 0 for off (FUSIONRANK_LOCAL_CACHE_TTL)")
	fs.StringVar(&c.ImageEncoder, "image-encoder", val("FUSIONRANK_IMAGE_ENCODER"), "registry|off|onnx:PATH (FUSIONRANK_IMAGE_ENCODER)")
	fs.StringVar(&subwords, "text-subwords", val("FUSIONRANK_TEXT_SUBWORDS"), "on|off (FUSIONRANK_TEXT_SUBWORDS)")
	fs.StringVar(&c.TextEncoder, "text-encoder", val("FUSIONRANK_TEXT_ENCODER"), "builtin|onnx:PATH (FUSIONRANK_TEXT_ENCODER)")
	fs.StringVar(&warm, "warm-profiles", val("FUSIONRANK_WARM_PROFILES"), "warm the profiles of users active this recently at start, 0 for off (FUSIONRANK_WARM_PROFILES)")
	fs.StringVar(&inFlight, "max-in-flight", val("FUSIONRANK_MAX_IN_FLIGHT"), "read requests in progress at once, auto or off (FUSIONRANK_MAX_IN_FLIGHT)")
	fs.StringVar(&imgBytes, "image-max-bytes", val("FUSIONRANK_IMAGE_MAX_BYTES"), "largest photo file (FUSIONRANK_IMAGE_MAX_BYTES)")
	fs.StringVar(&imgPixels, "image-max-pixels", val("FUSIONRANK_IMAGE_MAX_PIXELS"), "largest photo in pixels (FUSIONRANK_IMAGE_MAX_PIXELS)")
	fs.StringVar(&fetchTimeout, "image-fetch-timeout", val("FUSIONRANK_IMAGE_FETCH_TIMEOUT"), "photo fetch deadline (FUSIONRANK_IMAGE_FETCH_TIMEOUT)")
	fs.StringVar(&fetchWait, "image-fetch-wait", val("FUSIONRANK_IMAGE_FETCH_WAIT"), "PUT's wait for a photo fetch (FUSIONRANK_IMAGE_FETCH_WAIT)")
	fs.StringVar(&fetchPrivate, "image-fetch-private", val("FUSIONRANK_IMAGE_FETCH_PRIVATE"), "on|off (FUSIONRANK_IMAGE_FETCH_PRIVATE)")
	fs.StringVar(&c.DemoPhotos, "demo-photos", val("FUSIONRANK_DEMO_PHOTOS"), "sample query photos of the demo (FUSIONRANK_DEMO_PHOTOS)")
	fs.StringVar(&c.ONNXRuntime, "onnxruntime-lib", val("FUSIONRANK_ONNXRUNTIME_LIB"), "ONNX Runtime shared library (FUSIONRANK_ONNXRUNTIME_LIB)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []string
	bad := func(name, format string, a ...any) { errs = append(errs, name+": "+fmt.Sprintf(format, a...)) }

	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("FUSIONRANK_DATABASE_URL", "expected a postgres:// URL")
	}
	if c.ReplicaURL != "" {
		if u, err := url.Parse(c.ReplicaURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("FUSIONRANK_DATABASE_REPLICA_URL", "expected a postgres:// URL or nothing")
		}
	}
	if redisconn.IsCluster(c.RedisURL) {
		if _, err := redisconn.ClusterOptions(c.RedisURL); err != nil {
			bad("FUSIONRANK_REDIS_URL", "%v", err)
		}
	} else if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		bad("FUSIONRANK_REDIS_URL", "expected a redis:// URL or a redis+cluster://host:port,host:port URL")
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
	if v := val("FUSIONRANK_QUERY_RETENTION"); v != "0" {
		dur("FUSIONRANK_QUERY_RETENTION", v, &c.QueryRetention, 24*time.Hour)
	}
	dur("FUSIONRANK_COUNTER_REFRESH", refresh, &c.CounterRefresh, 100*time.Millisecond)
	dur("FUSIONRANK_LOCAL_CACHE_TTL", localTTL, &c.LocalCacheTTL, 0)
	dur("FUSIONRANK_WARM_PROFILES", warm, &c.WarmProfiles, 0)
	dur("FUSIONRANK_HEADER_TIMEOUT", htimeout, &c.HeaderTimeout, 100*time.Millisecond)
	dur("FUSIONRANK_BODY_TIMEOUT", btimeout, &c.BodyTimeout, 100*time.Millisecond)
	dur("FUSIONRANK_COVIS_WINDOW", covisWindow, &c.CovisWindow, 0)
	dur("FUSIONRANK_TRACE_SLOW", traceSlow, &c.TraceSlow, 0)
	dur("FUSIONRANK_EVENT_RETENTION", retention, &c.EventRetention, 0)
	if c.EventRetention > 0 && c.EventRetention < 31*24*time.Hour {
		bad("FUSIONRANK_EVENT_RETENTION", "expected 0 or at least 744h (partitions are months), got %q", retention)
	}
	if n, err := strconv.Atoi(streams); err != nil || n < 1 || n > 64 {
		bad("FUSIONRANK_IMPORT_STREAMS", "expected a number from 1 to 64, got %q", streams)
	} else {
		c.ImportStreams = n
	}
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
	if fusionrank.ValidateID("namespace", c.RedisNamespace) != nil || strings.ContainsAny(c.RedisNamespace, ":*") {
		bad("FUSIONRANK_REDIS_NAMESPACE", "expected letters, digits and . _ @ ~ + = -, got %q", c.RedisNamespace)
	}
	switch {
	case c.ImageEncoder == "registry" || c.ImageEncoder == "off":
	case strings.HasPrefix(c.ImageEncoder, "onnx:") && len(c.ImageEncoder) > len("onnx:"):
	default:
		bad("FUSIONRANK_IMAGE_ENCODER", "expected registry, off or onnx:PATH, got %q", c.ImageEncoder)
	}
	switch {
	case c.TextEncoder == "builtin":
	case strings.HasPrefix(c.TextEncoder, "onnx:") && len(c.TextEncoder) > len("onnx:"):
	default:
		bad("FUSIONRANK_TEXT_ENCODER", "expected builtin or onnx:PATH, got %q", c.TextEncoder)
	}
	if n, err := strconv.Atoi(val("FUSIONRANK_SEARCH_LOG_DEPTH")); err != nil || n < 0 || n > 10000 {
		bad("FUSIONRANK_SEARCH_LOG_DEPTH", "expected a number of positions from 0 to 10000, got %q", val("FUSIONRANK_SEARCH_LOG_DEPTH"))
	} else {
		c.SearchLogDepth = n
	}
	switch inFlight {
	case "auto":
	case "off":
		c.MaxInFlight = -1
	default:
		if n, err := strconv.Atoi(inFlight); err != nil || n < 1 {
			bad("FUSIONRANK_MAX_IN_FLIGHT", "expected auto, off or a number ≥ 1, got %q", inFlight)
		} else {
			c.MaxInFlight = n
		}
	}
	if n, err := strconv.ParseInt(imgBytes, 10, 64); err != nil || n < 1024 || n > 256<<20 {
		bad("FUSIONRANK_IMAGE_MAX_BYTES", "expected a number of bytes from 1024 to 268435456, got %q", imgBytes)
	} else {
		c.ImageMaxBytes = n
	}
	if n, err := strconv.ParseInt(imgPixels, 10, 64); err != nil || n < 1 || n > 1<<30 {
		bad("FUSIONRANK_IMAGE_MAX_PIXELS", "expected a number of pixels from 1 to 1073741824, got %q", imgPixels)
	} else {
		c.ImageMaxPixels = n
	}
	dur("FUSIONRANK_IMAGE_FETCH_TIMEOUT", fetchTimeout, &c.FetchTimeout, time.Millisecond)
	dur("FUSIONRANK_IMAGE_FETCH_WAIT", fetchWait, &c.FetchWait, time.Millisecond)
	switch strings.ToLower(subwords) {
	case "on", "true", "1":
		c.TextSubwords = true
	case "off", "false", "0":
	default:
		bad("FUSIONRANK_TEXT_SUBWORDS", "expected on or off, got %q", subwords)
	}
	switch strings.ToLower(fetchPrivate) {
	case "on", "true", "1":
		c.FetchPrivate = true
	case "off", "false", "0":
	default:
		bad("FUSIONRANK_IMAGE_FETCH_PRIVATE", "expected on or off, got %q", fetchPrivate)
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
		slog.String("database_replica_url", redact(c.ReplicaURL)),
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
		slog.String("image_encoder", c.ImageEncoder),
		slog.String("text_encoder", c.TextEncoder),
		slog.Bool("text_subwords", c.TextSubwords),
		slog.Int64("image_max_bytes", c.ImageMaxBytes),
		slog.Int64("image_max_pixels", c.ImageMaxPixels),
		slog.Duration("image_fetch_timeout", c.FetchTimeout),
		slog.Bool("image_fetch_private", c.FetchPrivate),
	)
}
