// Package ratelimit keeps token buckets in Redis, so that every serving replica of one
// shop draws on the same bucket per key or client address: N replicas behind a load
// balancer allow a caller the configured rate, not N times it.
package ratelimit

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a set of token buckets in Redis under a key namespace.
type Redis struct {
	rdb redis.UniversalClient
	ns  string
}

// New returns buckets in rdb whose keys start with ns + ":v2:{rl:".
func New(rdb redis.UniversalClient, ns string) *Redis { return &Redis{rdb: rdb, ns: ns} }

// takeScript takes one token from the bucket KEYS[1] (a hash of tokens t and last
// refill l, in ms of the Redis server's clock, so that replicas' clocks do not matter;
// ARGV: rate per second, burst). It returns 0 when a token was taken, else the ms until
// one is. The bucket lives as long as it takes to refill, then it is full anyway.
var takeScript = redis.NewScript(`
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 't', 'l')
local tokens = tonumber(v[1]) or burst
local last = tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) / 1000 * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'l', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait`)

// Take takes one token from bucket of limiter (its name: "key", "public", "client") at
// rate per second with burst; it returns 0 when the request may go on, else how long
// until a token is there. An error means Redis did not answer: the caller decides.
func (r *Redis) Take(ctx context.Context, limiter, bucket string, rate, burst float64) (time.Duration, error) {
	key := r.ns + ":v2:{rl:" + limiter + ":" + bucket + "}"
	ms, err := takeScript.Run(ctx, r.rdb, []string{key}, strconv.FormatFloat(rate, 'g', -1, 64), strconv.FormatFloat(burst, 'g', -1, 64)).Int64()
	if err != nil {
		return 0, err
	}
	return time.Duration(ms) * time.Millisecond, nil
}
