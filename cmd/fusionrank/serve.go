package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/api"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/features/photo"
	"github.com/fusionrank/fusionrank/features/text"
	"github.com/fusionrank/fusionrank/internal/ratelimit"
	"github.com/fusionrank/fusionrank/internal/redisconn"
	"github.com/fusionrank/fusionrank/keys"
	"github.com/fusionrank/fusionrank/postgres"
	"github.com/fusionrank/fusionrank/recommend"
	"github.com/fusionrank/fusionrank/web"
)

// Main is a running fusionrank service. End-to-end tests start one on port 0.
type Main struct {
	Config        Config
	Log           *slog.Logger
	DB            *postgres.DB
	Replica       *postgres.DB // nil without FUSIONRANK_DATABASE_REPLICA_URL
	Redis         redis.UniversalClient
	Features      *features.Store
	Keys          *keys.Store
	ModelRegistry *recommend.Registry
	Models        *recommend.LiveModel
	Attrib        *recommend.Attribution
	Searches      *features.SearchLog
	Rank          *recommend.Service
	API           *api.Server
	Metrics       *prometheus.Registry

	listener   net.Listener
	server     *http.Server
	cancel     context.CancelFunc
	attribDone chan struct{}
	// searchesDone closes when the search log has flushed.
	searchesDone chan struct{}
	// Namespace overrides the Redis key namespace (tests use their own).
	Namespace string
	// LoadImageEncoder overrides how image encoders are built from registry rows
	// (tests add encoders of their own).
	LoadImageEncoder func(ctx context.Context, rec features.EncoderRecord) (photo.Encoder, error)
}

// Open connects to the stores, loads the catalogue and builds the API. It does not
// listen yet.
func (m *Main) Open(ctx context.Context) error {
	c := m.Config
	if m.Log == nil {
		m.Log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: c.LogLevel}))
	}
	m.Log.Info("starting fusionrank", "config", c)
	if m.Namespace == "" {
		m.Namespace = c.RedisNamespace
	}
	if !c.Auth {
		m.Log.Warn("FUSIONRANK_AUTH=off: every caller has admin rights; use this for local development only")
	}
	var err error
	// Each start-up step that talks to a store gets its own 30 s: the CPU-bound steps
	// between them (word vectors, retrieval indexes of a large catalogue) must not eat
	// the budget of the next one.
	stepCtx := func() context.Context {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		context.AfterFunc(sctx, cancel)
		return sctx
	}
	if m.DB, err = openDB(stepCtx(), c.DatabaseURL); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if m.Replica, err = openReplica(stepCtx(), c); err != nil {
		return err
	}
	if m.Redis, err = openRedis(c.RedisURL); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	var enc *text.Encoder
	if c.TextVectors != "" {
		start := time.Now()
		if enc, err = text.LoadFile(c.TextVectors); err != nil {
			return fmt.Errorf("FUSIONRANK_TEXT_VECTORS: %w", err)
		}
		if c.TextSubwords {
			enc = enc.WithSubwords()
		}
		m.Log.Info("text encoder loaded", "words", enc.Len(), "dim", enc.Dim(), "seconds", time.Since(start).Seconds())
	} else {
		m.Log.Warn("FUSIONRANK_TEXT_VECTORS is empty: items get no text vectors")
	}
	if m.Metrics == nil {
		m.Metrics = prometheus.NewRegistry()
		m.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	storeErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fusionrank_store_errors_total", Help: "Failed calls to a store, by store.",
	}, []string{"store"})
	rebuildReads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fusionrank_profile_rebuild_reads_total",
		Help: "Profile rebuilds from Postgres, by the pool that served the read: primary (no replica), replica, primary_lag (the replica was behind the user's events), primary_error (the replica failed).",
	}, []string{"pool"})
	m.Metrics.MustRegister(storeErrors, rebuildReads)
	mods := make([]features.Modality, len(c.Modalities))
	for i, md := range c.Modalities {
		mods[i] = features.Modality{Name: md.Name, Dim: md.Dim}
	}
	var redisErrLog atomic.Int64 // the second of the last logged Redis error
	if err := checkTextEncoder(c); err != nil {
		return err
	}
	photos := photoOptions(c)
	if photos != nil && m.LoadImageEncoder != nil {
		photos.LoadEncoder = m.LoadImageEncoder
	}
	pinned, err := pinONNX(c, photos)
	if err != nil {
		return err
	}
	m.Features = features.New(m.DB, m.Redis, features.Options{
		Photos:     photos,
		Modalities: mods, Text: enc, Logger: m.Log, Namespace: m.Namespace,
		Rules:         features.ProfileRules{HalfLife: c.HalfLife, Weights: c.EventWeights},
		MaxFutureSkew: c.MaxFutureSkew, ProfileTTL: c.ProfileTTL, LocalCacheTTL: c.LocalCacheTTL, CovisWindow: c.CovisWindow,
		Replica:       m.Replica,
		OnRebuildRead: func(pool string) { rebuildReads.WithLabelValues(pool).Inc() },
		OnRedisError: func(err error) {
			storeErrors.WithLabelValues("redis").Inc()
			if now := time.Now().Unix(); redisErrLog.Swap(now) != now {
				m.Log.Warn("redis call failed (logged at most once a second)", "err", err)
			}
		},
	})
	if err := setUpPhotos(stepCtx(), m.Features, photos, pinned); err != nil {
		return err
	}
	if enc, version := m.Features.PhotoEncoder(); enc != nil {
		m.Log.Info("image encoder", "version", version, "dim", enc.Dim())
	}
	start := time.Now()
	n, err := m.Features.Refresh(stepCtx())
	if err != nil {
		return fmt.Errorf("loading the catalogue: %w", err)
	}
	total, per := m.Features.Catalog().ResidentBytes()
	cat := m.Features.Catalog()
	cat.RLock()
	from := cat.ReadFrom()
	cat.RUnlock()
	m.Log.Info("catalogue loaded", "items", n, "seconds", time.Since(start).Seconds(), "resident_bytes", total, "bytes_per_item", per, "from", from)

	m.ModelRegistry = recommend.NewRegistry(m.DB)
	m.Models = recommend.NewLiveModel(m.ModelRegistry, m.Features.Catalog())
	if _, err := m.Models.Sync(stepCtx()); err != nil {
		// A broken model must not keep the service down: answer from the fallback.
		m.Log.Error("the active model could not be loaded; answering with the fallback", "err", err)
	}
	m.Log.Info("model", "version", m.Models.Version(), "recent_index", m.Models.RecentIndex())
	m.Attrib = recommend.NewAttribution(m.DB, m.Log)
	m.Searches = features.NewSearchLog(m.DB, m.Log)
	m.Searches.MaxFutureSkew = c.MaxFutureSkew
	ropt := recommend.Options{Logger: m.Log, SearchLogDepth: c.SearchLogDepth, CatalogGraphs: recommend.NewCatalogGraphs(m.DB, m.Log)}
	if c.SearchLogDepth > 0 {
		ropt.Searches = m.Searches
	}
	start = time.Now()
	m.Rank = recommend.New(m.Features, m.Models, m.Attrib, ropt)
	made := m.Rank.CatalogIndexes()
	args := []any{"seconds", time.Since(start).Seconds()}
	for _, mod := range slices.Sorted(maps.Keys(made)) {
		args = append(args, mod, made[mod])
	}
	m.Log.Info("catalogue retrieval indexes", args...)

	m.Keys = keys.New(m.DB)
	if err := m.Keys.Refresh(stepCtx()); err != nil {
		return fmt.Errorf("api keys: %w", err)
	}
	var photoService api.PhotoService
	if photos != nil {
		photoService = m.Features
	}
	m.API = api.New(api.Config{
		Auth: c.Auth, RequestTimeout: c.RequestTimeout, WriteTimeout: c.WriteTimeout, BodyTimeout: c.BodyTimeout, MaxInFlight: c.MaxInFlight,
		RateLimit: c.RateLimit, PublicRateLimit: c.PublicRate, ClientRateLimit: c.ClientRate, TrustedProxies: c.TrustedProxies,
		// Rate limits hold across every replica on the same Redis (and namespace).
		SharedRates:       ratelimit.New(m.Redis, m.Namespace),
		MaxPhotoBodyBytes: maxPhotoBody(c),
		Logger:            m.Log, Registry: m.Metrics,
		Extra: m.webRoutes(), // the demo page and the widget (demo.go)
	}, api.Deps{
		Ready: []api.HealthCheck{
			{Name: "postgres", Check: m.DB.Ping},
			{Name: "redis", Check: func(ctx context.Context) error { return m.Redis.Ping(ctx).Err() }},
			{Name: "catalogue", Check: func(context.Context) error {
				if !m.Features.Catalog().Loaded() {
					return errors.New("not loaded yet")
				}
				return nil
			}},
		},
		Items:      m.Features,
		Events:     m.Features,
		Users:      m.Features,
		Keys:       m.Keys,
		UserTokens: m.Keys,
		Rank:       m.Rank,
		Models:     m.ModelRegistry,
		Stats:      m.Attrib,
		Searches:   m.Searches,
		Photos:     photoService,
	})
	return nil
}

// Listen binds the configured address (":0" picks a free port).
func (m *Main) Listen() error {
	l, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("FUSIONRANK_ADDR %s: %w", m.Config.Addr, err)
	}
	m.listener = l
	return nil
}

// URL is the base URL of the listening server.
func (m *Main) URL() string { return "http://" + m.listener.Addr().String() }

// Run serves until ctx ends, then shuts down gracefully: it stops accepting, finishes
// in-flight requests (up to 20 s) and closes the stores.
func (m *Main) Run(ctx context.Context) error {
	if m.listener == nil {
		if err := m.Listen(); err != nil {
			return err
		}
	}
	handler := web.CORS(m.API.Handler())
	if m.Config.TraceSlow > 0 {
		st, err := newSlowTracer(m.Config.TraceSlow, m.Config.TraceDir, m.Log)
		if err != nil {
			return err
		}
		defer st.stop()
		handler = st.wrap(handler)
		m.Log.Info("requests slower than FUSIONRANK_TRACE_SLOW get their execution trace written", "threshold", m.Config.TraceSlow.String(), "dir", st.dir)
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	go m.Keys.Run(bg, m.Log)
	if addr := m.Config.PprofAddr; addr != "" {
		// Profiling for operators, on its own listener (never the API's port).
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() { m.Log.Warn("pprof listener stopped", "err", http.ListenAndServe(addr, mux)) }()
		m.Log.Info("pprof", "addr", addr)
	}
	go m.Features.RunCatalogue(bg, 500*time.Millisecond)
	go m.followModels(bg)
	go m.Features.RunCounters(bg, m.Config.CounterRefresh)
	go m.Features.RunLocalCache(bg)
	go m.Features.RunPhotos(bg, time.Second)
	// The coming months' event partitions exist before their events arrive; those past
	// FUSIONRANK_EVENT_RETENTION are dropped.
	go m.Features.RunPartitions(bg, time.Hour, 2, m.Config.EventRetention)
	// After Redis lost its data (checked every second, and at start), one pass over
	// the events builds the co-visitation sets and the recent shoppers' profiles,
	// instead of a query per item or shopper as requests find them missing.
	go m.Features.RunWarm(bg, time.Second, m.Config.WarmProfiles)
	m.attribDone = make(chan struct{})
	m.searchesDone = make(chan struct{})
	go func() { m.Attrib.Run(bg); close(m.attribDone) }()
	go func() { m.Searches.Run(bg); close(m.searchesDone) }()
	go m.pruneSearches(bg)
	// The header must arrive within FUSIONRANK_HEADER_TIMEOUT and the whole request
	// within that plus FUSIONRANK_BODY_TIMEOUT; each route then sets its own body
	// deadline (the bulk item load's is longer), so a client that announces a body and
	// never sends it holds a connection for seconds, not for ever.
	m.server = &http.Server{Handler: handler, ReadHeaderTimeout: m.Config.HeaderTimeout,
		ReadTimeout: m.API.ReadTimeout(m.Config.HeaderTimeout), IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- m.server.Serve(m.listener) }()
	m.Log.Info("serving", "url", m.URL())
	select {
	case err := <-errc:
		cancel()
		return err
	case <-ctx.Done():
	}
	m.Log.Info("shutting down: finishing in-flight requests")
	shutCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer done()
	err := m.server.Shutdown(shutCtx)
	cancel()
	<-m.attribDone
	<-m.searchesDone
	m.Close()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	m.Log.Info("stopped")
	return nil
}

// Close releases the stores.
func (m *Main) Close() {
	if m.cancel != nil {
		m.cancel()
	}
	if m.DB != nil {
		m.DB.Close()
	}
	if m.Replica != nil {
		m.Replica.Close()
	}
	if m.Redis != nil {
		m.Redis.Close()
	}
}

// followModels loads a newly activated model (or rollback) within a second: it polls
// the registry's active version. In-flight requests finish on the model they started
// with.
func (m *Main) followModels(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := m.Models.Sync(ctx)
		if err != nil && ctx.Err() == nil {
			m.Log.Warn("model sync failed; keeping the current model", "err", err)
		}
		if changed {
			m.Log.Info("model switched", "version", m.Models.Version(), "recent_index", m.Models.RecentIndex())
		}
	}
}

func openDB(ctx context.Context, url string) (*postgres.DB, error) { return postgres.Open(ctx, url) }

// openReplica opens FUSIONRANK_DATABASE_REPLICA_URL, or returns nil without one.
func openReplica(ctx context.Context, c Config) (*postgres.DB, error) {
	if c.ReplicaURL == "" {
		return nil, nil
	}
	db, err := postgres.Open(ctx, c.ReplicaURL)
	if err != nil {
		return nil, fmt.Errorf("FUSIONRANK_DATABASE_REPLICA_URL: %w", err)
	}
	return db, nil
}

// openRedis makes a client of FUSIONRANK_REDIS_URL (a single node, or a Redis Cluster
// given as redis+cluster://host:port,host:port; see internal/redisconn) with short
// timeouts: Redis is a cache, and a slow cache must not hold a request past its
// deadline.
func openRedis(url string) (redis.UniversalClient, error) {
	return redisconn.Open(url, redisconn.Tuning{
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond,
		MaxRetries: 1, ContextTimeoutEnabled: true, PoolSize: 64, DisableIdentity: true,
		// A failed-over master's slots move to its replica; a second bounds how long
		// the service keeps knocking on the dead one (one CLUSTER SLOTS a second).
		ClusterStateReload: time.Second,
	})
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "serve [flags]", stderr)
	cfg, err := loadConfig(os.Getenv, fs, args)
	if err != nil {
		return err
	}
	m := &Main{Config: cfg}
	if err := m.Open(ctx); err != nil {
		m.Close()
		return err
	}
	return m.Run(ctx)
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", "migrate [flags]", stderr)
	cfg, err := loadConfig(os.Getenv, fs, args)
	if err != nil {
		return err
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	for _, a := range applied {
		fmt.Fprintln(stdout, "applied", a)
	}
	if err == nil && len(applied) == 0 {
		fmt.Fprintln(stdout, "up to date")
	}
	return err
}

// keysUsage documents the keys subcommands.
const keysUsage = `keys create --scope public|read|write|admin [--name N] [--expires D|TIME]
     | list
     | revoke ID|PREFIX
     | rotate ID|PREFIX [--grace D] [--expires D|TIME]
     | user-secret [--grace D]
     | user-token --user ID [--ttl D]

create       prints a new API key once (only its SHA-256 hash is stored); --expires
             (a duration like 2160h or an RFC3339 time) makes it stop working then.
rotate       replaces a key without downtime: prints a new key of the same scope and
             name, and the old one keeps working for --grace (default 24h), then stops.
user-secret  creates the secret user tokens are signed with (the first time) or rotates
             it: prints frus_<id>_<key> once; the secrets before it keep verifying for
             --grace (default 24h; 0 cuts them off at once, for a leaked secret).
user-token   signs a user token for --user, valid for --ttl (default 1h), with the
             current secret: for testing; shops sign their own (client.SignUserToken).`

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: fusionrank "+keysUsage)
		return errors.New("missing subcommand")
	}
	sub := args[0]
	fs := newFlags("keys "+sub, keysUsage, stderr)
	scope := fs.String("scope", "", "public, read, write or admin (create)")
	name := fs.String("name", "", "a name to recognise the key by (create)")
	expires := fs.String("expires", "", "when the key stops working: a duration from now (2160h) or an RFC3339 time (create, rotate)")
	grace := fs.Duration("grace", keys.DefaultSecretGrace, "how long the old key or secret keeps working (rotate, user-secret)")
	user := fs.String("user", "", "the user id to sign a token for (user-token)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid (user-token)")
	rest := args[1:]
	if len(rest) > 1 && !strings.HasPrefix(rest[0], "-") {
		rest = append(rest[1:len(rest):len(rest)], rest[0]) // "rotate ID --grace 1h": flags first
	}
	cfg, err := loadConfig(os.Getenv, fs, rest)
	if err != nil {
		return err
	}
	exp, err := parseExpiry(*expires, time.Now())
	if err != nil {
		return err
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	ks := keys.New(db)
	switch sub {
	case "create":
		sc, err := fusionrank.ParseScope(*scope)
		if err != nil {
			return err
		}
		key, k, err := ks.CreateExpiring(ctx, sc, *name, exp)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, key)
		fmt.Fprintf(stderr, "created key %d (%s…, scope %s%s); it is shown only this once\n", k.ID, k.Prefix, k.Scope, expiryNote(k.ExpiresAt))
	case "list":
		list, err := ks.List(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		for _, k := range list {
			state := "active"
			switch {
			case k.RevokedAt != nil:
				state = "revoked " + k.RevokedAt.Format(time.RFC3339)
			case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
				state = "expired " + k.ExpiresAt.Format(time.RFC3339)
			case k.ExpiresAt != nil:
				state = "active until " + k.ExpiresAt.Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%d\t%s…\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Scope, k.Name, k.CreatedAt.Format(time.RFC3339), state)
		}
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("usage: fusionrank keys revoke ID|PREFIX")
		}
		k, err := ks.Revoke(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked key %d (%s…)\n", k.ID, k.Prefix)
	case "rotate":
		if fs.NArg() != 1 {
			return errors.New("usage: fusionrank keys rotate ID|PREFIX [--grace D] [--expires D|TIME]")
		}
		key, nk, old, err := ks.Rotate(ctx, fs.Arg(0), *grace, exp)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, key)
		fmt.Fprintf(stderr, "created key %d (%s…, scope %s%s); it is shown only this once\n", nk.ID, nk.Prefix, nk.Scope, expiryNote(nk.ExpiresAt))
		fmt.Fprintf(stderr, "key %d (%s…) stops working at %s: deploy the new key before then\n", old.ID, old.Prefix, old.ExpiresAt.Format(time.RFC3339))
	case "user-secret":
		sec, err := ks.RotateUserSecret(ctx, *grace)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, sec.String())
		fmt.Fprintf(stderr, "created user-token secret %d; it signs from now on, earlier secrets verify for %s more; it is shown only this once\n", sec.ID, *grace)
	case "user-token":
		if err := ks.Refresh(ctx); err != nil {
			return err
		}
		token, at, err := ks.SignUserToken(*user, *ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, token)
		fmt.Fprintf(stderr, "user token for %s, valid until %s\n", *user, at.Format(time.RFC3339))
	default:
		return fmt.Errorf("unknown keys subcommand %q", sub)
	}
	return nil
}

// parseExpiry reads --expires: empty (never), a duration from now, or an RFC3339 time.
func parseExpiry(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("--expires: %q is not in the future", v)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--expires: %q is neither a duration (2160h) nor an RFC3339 time", v)
	}
	return t, nil
}

func expiryNote(at *time.Time) string {
	if at == nil {
		return ", never expires"
	}
	return ", expires " + at.Format(time.RFC3339)
}

// redisLog routes go-redis's own messages (dial failures while Redis is down) into the
// structured log at debug level: the store's breaker already reports outages once.
type redisLog struct{ log *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.log.Debug("redis client", "msg", fmt.Sprintf(format, v...))
}
