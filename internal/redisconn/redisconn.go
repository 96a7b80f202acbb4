// Package redisconn opens Redis from a URL: a single node (redis://, rediss://) or a
// Redis Cluster (redis+cluster://, rediss+cluster://), both as a redis.UniversalClient,
// so that the rest of the service runs unchanged on either.
//
// The cluster form lists one or more seed nodes separated by commas; the client learns
// the rest of the cluster from them:
//
//	redis+cluster://10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379
//	rediss+cluster://user:secret@redis-a:6379,redis-b:6379?read_timeout=200ms
//
// A cluster has only database 0, so the path must be empty, "/" or "/0". The query takes
// go-redis's cluster URL options (dial_timeout, read_timeout, pool_size, …).
package redisconn

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Tuning holds the client settings the service sets on every connection, whatever the
// URL's form. Zero values keep go-redis's defaults.
type Tuning struct {
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	MaxRetries                             int
	PoolSize                               int
	ContextTimeoutEnabled                  bool
	// DisableIdentity skips the CLIENT SETINFO calls go-redis makes on every new
	// connection: a request whose Redis call runs out of time closes its connection,
	// and under load the redials' extra round trips are a visible share of the CPU.
	DisableIdentity bool
	// ClusterStateReload is how often a cluster client re-reads which node serves
	// which slots (go-redis's default is a minute). After a failover a client learns
	// the promoted replica from a MOVED answer or from this re-read; commands that
	// only meet the dead master's refused connections wait for the re-read.
	ClusterStateReload time.Duration
}

// IsCluster reports whether rawURL names a Redis Cluster.
func IsCluster(rawURL string) bool {
	s, _, ok := strings.Cut(rawURL, "://")
	return ok && (s == "redis+cluster" || s == "rediss+cluster")
}

// ClusterOptions parses a redis+cluster:// or rediss+cluster:// URL.
func ClusterOptions(rawURL string) (*redis.ClusterOptions, error) {
	scheme, rest, _ := strings.Cut(rawURL, "://")
	base := strings.TrimSuffix(scheme, "+cluster")
	if base == scheme {
		return nil, fmt.Errorf("redis cluster URL: scheme %q is not redis+cluster or rediss+cluster", scheme)
	}
	// The host part holds commas, which url.Parse takes as part of one host: split it
	// off first, then hand the first address and the rest as addr= parameters to
	// go-redis's cluster URL parser.
	hostEnd := strings.IndexAny(rest, "/?")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	authority, tail := rest[:hostEnd], rest[hostEnd:]
	userinfo := ""
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, authority = authority[:at+1], authority[at+1:]
	}
	var addrs []string
	for _, a := range strings.Split(authority, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("redis cluster URL: no node addresses")
	}
	path, query, _ := strings.Cut(tail, "?")
	if path != "" && path != "/" && path != "/0" {
		return nil, fmt.Errorf("redis cluster URL: a cluster has only database 0, not %q", strings.TrimPrefix(path, "/"))
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("redis cluster URL: %w", err)
	}
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	u := base + "://" + userinfo + addrs[0]
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return redis.ParseClusterURL(u)
}

// Open returns a client of the Redis named by rawURL, with tune applied.
func Open(rawURL string, tune Tuning) (redis.UniversalClient, error) {
	if IsCluster(rawURL) {
		o, err := ClusterOptions(rawURL)
		if err != nil {
			return nil, err
		}
		set(&o.DialTimeout, tune.DialTimeout)
		set(&o.ReadTimeout, tune.ReadTimeout)
		set(&o.WriteTimeout, tune.WriteTimeout)
		set(&o.MaxRetries, tune.MaxRetries)
		set(&o.PoolSize, tune.PoolSize)
		set(&o.ClusterStateReloadInterval, tune.ClusterStateReload)
		o.ContextTimeoutEnabled = o.ContextTimeoutEnabled || tune.ContextTimeoutEnabled
		o.DisableIdentity = o.DisableIdentity || tune.DisableIdentity
		return redis.NewClusterClient(o), nil
	}
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	set(&o.DialTimeout, tune.DialTimeout)
	set(&o.ReadTimeout, tune.ReadTimeout)
	set(&o.WriteTimeout, tune.WriteTimeout)
	set(&o.MaxRetries, tune.MaxRetries)
	set(&o.PoolSize, tune.PoolSize)
	o.ContextTimeoutEnabled = o.ContextTimeoutEnabled || tune.ContextTimeoutEnabled
	o.DisableIdentity = o.DisableIdentity || tune.DisableIdentity
	return redis.NewClient(o), nil
}

func set[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// ForEachMaster runs fn on the client of every node that holds keys: the client
// itself on a single node, each master (concurrently) on a cluster. Scans and other
// per-node commands need it: on a cluster they see only the node they reach.
func ForEachMaster(ctx context.Context, rdb redis.UniversalClient, fn func(context.Context, *redis.Client) error) error {
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *redis.Client:
		return fn(ctx, c)
	default:
		return fmt.Errorf("redisconn: unsupported client %T", rdb)
	}
}
