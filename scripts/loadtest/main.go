// Command loadtest generates a synthetic shop and drives a running fusionrank with a
// fixed request rate (open loop: latency is measured from the moment a request was due,
// so a slow server cannot hide its queueing), or with a closed loop for throughput.
// It only ever targets loopback addresses, and every run is bounded in time.
//
//	go run ./scripts/loadtest gen -items 100000 -users 10000 -out /tmp/shop
//	go run ./scripts/loadtest run -scenario rerank -rate 2000 -duration 30s -key $KEY
//	go run ./scripts/loadtest soak -rerank-rate 2000 -recommend-rate 1000 -duration 10m -pid $PID -csv soak.csv -key $KEY
//
// Scenarios: events (closed loop, batches of -batch events, reports events/s), rerank
// (-candidates per request, personalised), recommend, features, similar, search. soak
// runs rerank and recommendations together and writes p99 and the server's resident
// memory per window to a CSV (scripts/soak.sh drives it).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/client"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadtest gen|run|soak [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	case "soak":
		err = soak(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// words is the vocabulary of generated titles: common shop words, all in GloVe.
var words = strings.Fields(`red blue green black white pink small large long short summer winter
cotton leather wooden metal glass ceramic vintage modern classic soft warm light dark silver gold
dress shirt shoes boots bag mug lamp chair table candle frame clock garden kitchen bottle box
heart star flower bird cat dog tree christmas party gift set pack card paper cup plate bowl`)

func itemID(i int) string { return fmt.Sprintf("lt-%d", i) }
func userID(i int) string { return fmt.Sprintf("lu-%d", i) }

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	items := fs.Int("items", 100000, "catalogue size")
	users := fs.Int("users", 10000, "users with histories")
	perUser := fs.Int("events-per-user", 20, "events per user")
	dim := fs.Int("image-dim", 32, "dimension of the generated image vectors (serve with FUSIONRANK_MODALITIES=image:DIM)")
	out := fs.String("out", "/tmp/fusionrank-shop", "output directory")
	seed := fs.Uint64("seed", 1, "random seed")
	fs.Parse(args)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(*seed, 1))
	f, err := os.Create(filepath.Join(*out, "items.ndjson"))
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	cats := 50
	for i := range *items {
		n := 2 + rng.IntN(4)
		t := make([]string, n)
		for k := range t {
			t[k] = words[rng.IntN(len(words))]
		}
		v := make([]float32, *dim)
		c := i % cats
		for k := range v {
			v[k] = float32(rng.NormFloat64()*0.3) + float32(math.Sin(float64(c*(k+1))))
		}
		if err := enc.Encode(map[string]any{"id": itemID(i), "title": strings.Join(t, " "), "category": fmt.Sprintf("cat-%d", c),
			"price": 1 + rng.Float64()*99, "vectors": map[string]any{"image": v}}); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	f.Close()
	f, err = os.Create(filepath.Join(*out, "events.ndjson"))
	if err != nil {
		return err
	}
	w = bufio.NewWriterSize(f, 1<<20)
	enc = json.NewEncoder(w)
	start := time.Now().Add(-6 * 24 * time.Hour).UTC()
	types := []string{"view", "view", "view", "click", "click", "add_to_cart", "purchase"}
	for u := range *users {
		item := rng.IntN(*items)
		for e := range *perUser {
			// Sessions wander: mostly a neighbour of the previous item, sometimes a jump.
			if rng.IntN(4) == 0 {
				item = rng.IntN(*items)
			} else {
				item = (item + 1 + rng.IntN(50)) % *items
			}
			ts := start.Add(time.Duration(rng.Int64N(int64(6 * 24 * time.Hour))))
			if err := enc.Encode(map[string]any{"event_id": fmt.Sprintf("lte-%d-%d", u, e), "user_id": userID(u), "item_id": itemID(item),
				"type": types[rng.IntN(len(types))], "timestamp": ts.Format(time.RFC3339Nano)}); err != nil {
				return err
			}
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	f.Close()
	fmt.Printf("wrote %d items and %d events to %s (image dim %d)\n", *items, *users**perUser, *out, *dim)
	return nil
}

// call is one request through the project's client.
type call func(ctx context.Context, c *client.Client) error

// newSender checks the target (loopback only) and the duration (at most 15 minutes)
// and returns a function that makes one call with the project's client (no retries,
// 10 s timeout) and reports its status: 200, the answer's status, or a transport
// error.
func newSender(base, key string, duration time.Duration) (func(call) result, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("-url %s: only loopback targets are allowed", base)
	}
	if duration > 15*time.Minute {
		return nil, fmt.Errorf("-duration over 15m")
	}
	tr := &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}
	c := client.New(base, key, client.WithHTTPClient(&http.Client{Transport: tr}), client.WithRetries(0), client.WithTimeout(10*time.Second))
	return func(do call) result {
		err := do(context.Background(), c)
		var ae *client.Error
		switch {
		case err == nil:
			return result{status: http.StatusOK}
		case errors.As(err, &ae):
			return result{status: ae.Status}
		}
		return result{err: true}
	}, nil
}

type result struct {
	latency time.Duration
	status  int
	err     bool
}

// query is a two-word query text.
func query(r *rand.Rand) string { return words[r.IntN(len(words))] + " " + words[r.IntN(len(words))] }

// rerankCall is a personalised rerank of n random candidates with engine scores.
func rerankCall(r *rand.Rand, items, users, n int) call {
	req := fusionrank.RerankRequest{UserID: userID(r.IntN(users)), Items: make([]fusionrank.Candidate, n), Query: fusionrank.Query{Text: query(r)}}
	for i := range req.Items {
		score := r.Float64()
		req.Items[i] = fusionrank.Candidate{ID: itemID(r.IntN(items)), Score: &score}
	}
	return func(ctx context.Context, c *client.Client) error { _, err := c.Rerank(ctx, req); return err }
}

// recommendCall asks for ten recommendations for a random user.
func recommendCall(r *rand.Rand, users int) call {
	req := fusionrank.RecommendRequest{UserID: userID(r.IntN(users)), Count: 10}
	return func(ctx context.Context, c *client.Client) error { _, err := c.Recommend(ctx, req); return err }
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "fusionrank base URL (loopback only)")
	key := fs.String("key", os.Getenv("FUSIONRANK_KEY"), "API key (write scope for events, read for the rest)")
	scenario := fs.String("scenario", "rerank", "events|rerank|recommend|features|similar|search")
	rate := fs.Float64("rate", 1000, "requests per second (open-loop scenarios)")
	duration := fs.Duration("duration", 20*time.Second, "how long to send (at most 15m)")
	items := fs.Int("items", 100000, "catalogue size of the generated shop")
	users := fs.Int("users", 10000, "users of the generated shop")
	candidates := fs.Int("candidates", 100, "rerank: candidates per request")
	batch := fs.Int("batch", 500, "events: events per request")
	conc := fs.Int("concurrency", 8, "events: concurrent senders (closed loop)")
	maxInflight := fs.Int("max-inflight", 2000, "open loop: cap on requests in flight")
	seed := fs.Uint64("seed", 2, "random seed")
	sequential := fs.Bool("sequential-users", false, "features: user i for request i (every request a different user, to measure profile rebuilds)")
	pid := fs.Int("pid", 0, "server process id: report its CPU time per request (0: not measured)")
	redisAddr := fs.String("redis", "", "Redis host:port: report its CPU time per request (empty: not measured)")
	fs.Parse(args)
	meter := cpuMeter{pid: *pid, redisAddr: *redisAddr}
	send, err := newSender(*base, *key, *duration)
	if err != nil {
		return err
	}
	if *scenario == "events" {
		return runEvents(send, *users, *items, *batch, *conc, *duration, *seed)
	}
	var mk func(r *rand.Rand) call
	switch *scenario {
	case "rerank":
		mk = func(r *rand.Rand) call { return rerankCall(r, *items, *users, *candidates) }
	case "recommend":
		mk = func(r *rand.Rand) call { return recommendCall(r, *users) }
	case "features":
		next := 0
		mk = func(r *rand.Rand) call {
			u := r.IntN(*users)
			if *sequential {
				u, next = next%*users, next+1
			}
			return func(ctx context.Context, c *client.Client) error {
				_, err := c.UserFeatures(ctx, userID(u))
				return err
			}
		}
	case "similar":
		mk = func(r *rand.Rand) call {
			req := fusionrank.SimilarRequest{ItemID: itemID(r.IntN(*items)), Count: 10}
			return func(ctx context.Context, c *client.Client) error { _, err := c.Similar(ctx, req); return err }
		}
	case "search":
		mk = func(r *rand.Rand) call {
			req := fusionrank.SearchRequest{Query: fusionrank.Query{Text: query(r)}, Count: 10}
			return func(ctx context.Context, c *client.Client) error { _, err := c.Search(ctx, req); return err }
		}
	default:
		return fmt.Errorf("unknown scenario %q", *scenario)
	}
	return openLoop(send, mk, *rate, *duration, *maxInflight, *seed, *scenario, meter)
}

func openLoop(send func(call) result, mk func(*rand.Rand) call, rate float64, d time.Duration, maxInflight int, seed uint64, name string, meter cpuMeter) error {
	n := int(rate * d.Seconds())
	rng := rand.New(rand.NewPCG(seed, 3))
	reqs := make([]call, n)
	for i := range reqs {
		reqs[i] = mk(rng)
	}
	results := make([]result, n)
	var inflight atomic.Int64
	var dropped atomic.Int64
	var wg sync.WaitGroup
	cpu0 := meter.sample()
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		if inflight.Load() >= int64(maxInflight) {
			dropped.Add(1)
			results[i] = result{err: true}
			continue
		}
		inflight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inflight.Add(-1)
			r := send(reqs[i])
			r.latency = time.Since(due)
			results[i] = r
		}()
	}
	sent := time.Since(start)
	wg.Wait()
	cpu1 := meter.sample()
	report(name, results, sent, rate, dropped.Load())
	meter.report(cpu0, cpu1, n)
	return nil
}

func report(name string, rs []result, sent time.Duration, rate float64, dropped int64) {
	var lat []time.Duration
	codes := map[int]int{}
	errs := 0
	for _, r := range rs {
		if r.err {
			errs++
			continue
		}
		codes[r.status]++
		lat = append(lat, r.latency)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	fmt.Printf("scenario=%s target_rate=%.0f/s sent=%d in %.1fs (%.0f/s) ok=%d errors=%d dropped=%d statuses=%v\n",
		name, rate, len(rs), sent.Seconds(), float64(len(rs))/sent.Seconds(), codes[200], errs, dropped, codes)
	fmt.Printf("latency p50=%s p90=%s p99=%s p99.9=%s max=%s\n", q(.5), q(.9), q(.99), q(.999), q(1))
}

func runEvents(send func(call) result, users, items, batch, conc int, d time.Duration, seed uint64) error {
	var sent, okEvents atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lat []time.Duration
	codes := map[int]int{}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	runID := time.Now().UnixNano()
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for k := 0; ctx.Err() == nil; k++ {
				evs := make([]fusionrank.Event, batch)
				now := time.Now().UTC()
				for i := range evs {
					evs[i] = fusionrank.Event{EventID: fmt.Sprintf("ev-%d-%d-%d-%d", runID, w, k, i), UserID: userID(rng.IntN(users)),
						ItemID: itemID(rng.IntN(items)), Type: fusionrank.View, Timestamp: now}
				}
				t0 := time.Now()
				r := send(func(ctx context.Context, c *client.Client) error { _, err := c.SendEvents(ctx, evs); return err })
				mu.Lock()
				lat = append(lat, time.Since(t0))
				codes[r.status]++
				mu.Unlock()
				sent.Add(int64(batch))
				if r.status == 200 {
					okEvents.Add(int64(batch))
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("scenario=events batch=%d concurrency=%d events_acknowledged=%d in %.1fs: %.0f events/s statuses=%v\n",
		batch, conc, okEvents.Load(), el.Seconds(), float64(okEvents.Load())/el.Seconds(), codes)
	if len(lat) > 0 {
		fmt.Printf("batch latency p50=%s p99=%s max=%s\n", lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1])
	}
	return nil
}
