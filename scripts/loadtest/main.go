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
// (-candidates per request, personalised), rerank-batch (-rerank-batch such reranks per
// POST /v1/rerank:batch), recommend, features, similar, search; open-loop
// ones run together when given with their rates (-scenario rerank:1000,recommend:500).
// Rerank and recommend report the fraction of answers that said "personalized": true,
// overall and after -settle; -timeline FILE adds their figures per second of the run
// (requests, 200s, 503s, p50, p99, personalised share). -vegeta-targets writes the
// requests as vegeta targets instead of sending them. soak
// runs rerank and recommendations together and writes p99 and the server's resident
// memory per window to a CSV (scripts/soak.sh drives it).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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

// newSender checks the target (loopback only) and the duration (at most 15 minutes)
// and returns a function that sends one request with the key and reads the whole
// answer.
func newSender(base, key string, duration time.Duration) (func(method, path string, body []byte) result, error) {
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
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	return func(method, path string, body []byte) result {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			if firstErr.CompareAndSwap(nil, &err) {
				fmt.Fprintln(os.Stderr, "loadtest: first transport error:", err)
			}
			return result{err: true}
		}
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		_, err = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		r := result{status: resp.StatusCode, err: err != nil}
		r.personal = bytes.Contains(buf.Bytes(), personalTrue)
		bufPool.Put(buf)
		return r
	}, nil
}

var (
	firstErr     atomic.Pointer[error]
	bufPool      = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	personalTrue = []byte(`"personalized":true`)
)

type result struct {
	latency  time.Duration
	due      time.Duration // when the request was due, from the start of the run
	late     time.Duration // from when it was due to when its goroutine began to send it
	status   int
	err      bool
	personal bool // the answer said "personalized": true
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "fusionrank base URL (loopback only)")
	key := fs.String("key", os.Getenv("FUSIONRANK_KEY"), "API key (write scope for events, read for the rest)")
	scenario := fs.String("scenario", "rerank", "events|rerank|rerank-batch|recommend|features|similar|search, or several open-loop ones at once with their rates: rerank:1000,recommend:500")
	rate := fs.Float64("rate", 1000, "requests per second (open-loop scenarios)")
	duration := fs.Duration("duration", 20*time.Second, "how long to send (at most 15m)")
	items := fs.Int("items", 100000, "catalogue size of the generated shop")
	users := fs.Int("users", 10000, "users of the generated shop")
	candidates := fs.Int("candidates", 100, "rerank: candidates per request")
	rerankBatch := fs.Int("rerank-batch", 8, "rerank-batch: rerank requests per POST /v1/rerank:batch")
	batch := fs.Int("batch", 500, "events: events per request")
	conc := fs.Int("concurrency", 8, "events: concurrent senders (closed loop)")
	maxInflight := fs.Int("max-inflight", 2000, "open loop: cap on requests in flight per scenario")
	seed := fs.Uint64("seed", 2, "random seed")
	sequential := fs.Bool("sequential-users", false, "features: user i for request i (every request a different user, to measure profile rebuilds)")
	pid := fs.Int("pid", 0, "server process id: report its CPU time per request (0: not measured)")
	redisAddr := fs.String("redis", "", "Redis host:port: report its CPU time per request (empty: not measured)")
	pgCPU := fs.Bool("postgres", false, "report the CPU time per request of the Postgres server and its backends (every process named postgres)")
	settle := fs.Duration("settle", 5*time.Second, "the personalised fraction is also reported for the requests due after this much of the run")
	serverHist := fs.Bool("server-latency", false, "open loop: also report each scenario's latency as the server measured it (its histogram on /metrics, read before and after the run), and what its Go runtime allocated per request and how often it collected")
	fs.StringVar(&timelinePath, "timeline", "", "open loop: also write each scenario's figures per second of the run (by when requests were due) to this file, tab-separated")
	targets := fs.String("vegeta-targets", "", "write the requests to this file as vegeta JSON targets (one per line) instead of sending them")
	fs.Parse(args)
	meter := cpuMeter{pid: *pid, redisAddr: *redisAddr, postgres: *pgCPU}
	if *scenario == "events" {
		send, err := newSender(*base, *key, *duration)
		if err != nil {
			return err
		}
		return runEvents(send, *users, *items, *batch, *conc, *duration, *seed)
	}
	var parts []loadPart
	for i, spec := range strings.Split(*scenario, ",") {
		name, r := spec, *rate
		if n, rs, ok := strings.Cut(spec, ":"); ok {
			x, err := strconv.ParseFloat(rs, 64)
			if err != nil || x <= 0 {
				return fmt.Errorf("-scenario %q: bad rate %q", spec, rs)
			}
			name, r = n, x
		}
		mk, err := requestMaker(name, *items, *users, *candidates, *rerankBatch, *sequential)
		if err != nil {
			return err
		}
		parts = append(parts, loadPart{name: name, rate: r, mk: mk, seed: *seed + uint64(i)})
	}
	if *targets != "" {
		return writeTargets(*targets, *base, *key, parts, *duration)
	}
	send, err := newSender(*base, *key, *duration)
	if err != nil {
		return err
	}
	var before reading
	if *serverHist {
		if before, err = readMetrics(*base); err != nil {
			return fmt.Errorf("-server-latency: %w", err)
		}
	}
	if err := openLoop(send, parts, *duration, *maxInflight, *settle, meter); err != nil {
		return err
	}
	if *serverHist {
		after, err := readMetrics(*base)
		if err != nil {
			return fmt.Errorf("-server-latency: %w", err)
		}
		// Scenarios of one route run together are one figure.
		seen := map[string]bool{}
		for _, p := range parts {
			if r := scenarioRoute[p.name]; !seen[r] {
				seen[r] = true
				fmt.Printf("%s: %s\n", p.name, serverShare(before.latency, after.latency, r, .005, .01, .02, .05))
			}
		}
		fmt.Println(serverRuntime(before, after))
	}
	return nil
}

// requestMaker returns the request generator of an open-loop scenario.
func requestMaker(scenario string, items, users, candidates, rerankBatch int, sequential bool) (func(r *rand.Rand) (string, string, []byte), error) {
	rerank := func(r *rand.Rand) map[string]any {
		cs := make([]map[string]any, candidates)
		for i := range cs {
			cs[i] = map[string]any{"id": itemID(r.IntN(items)), "score": r.Float64()}
		}
		return map[string]any{"user_id": userID(r.IntN(users)), "items": cs,
			"query": map[string]any{"text": words[r.IntN(len(words))] + " " + words[r.IntN(len(words))]}}
	}
	switch scenario {
	case "rerank":
		return func(r *rand.Rand) (string, string, []byte) {
			b, _ := json.Marshal(rerank(r))
			return "POST", "/v1/rerank", b
		}, nil
	case "rerank-batch":
		return func(r *rand.Rand) (string, string, []byte) {
			reqs := make([]map[string]any, rerankBatch)
			for i := range reqs {
				reqs[i] = rerank(r)
			}
			b, _ := json.Marshal(map[string]any{"requests": reqs})
			return "POST", "/v1/rerank:batch", b
		}, nil
	case "recommend":
		return func(r *rand.Rand) (string, string, []byte) {
			b, _ := json.Marshal(map[string]any{"user_id": userID(r.IntN(users)), "count": 10})
			return "POST", "/v1/recommendations", b
		}, nil
	case "features":
		next := 0
		return func(r *rand.Rand) (string, string, []byte) {
			u := r.IntN(users)
			if sequential {
				u, next = next%users, next+1
			}
			return "GET", "/v1/users/" + userID(u) + "/features", nil
		}, nil
	case "similar":
		return func(r *rand.Rand) (string, string, []byte) {
			return "GET", "/v1/items/" + itemID(r.IntN(items)) + "/similar?count=10", nil
		}, nil
	case "search":
		return func(r *rand.Rand) (string, string, []byte) {
			b, _ := json.Marshal(map[string]any{"query": map[string]any{"text": words[r.IntN(len(words))] + " " + words[r.IntN(len(words))]}, "count": 10})
			return "POST", "/v1/search", b
		}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q", scenario)
}

// loadPart is one scenario of an open-loop run and its rate.
type loadPart struct {
	name string
	rate float64
	mk   func(*rand.Rand) (string, string, []byte)
	seed uint64
}

// maxBodies bounds the requests generated ahead of a run per scenario; a longer run
// cycles through them (a 100-candidate rerank body is about 5 KB).
const maxBodies = 30000

type request struct {
	method, path string
	body         []byte
}

func (p loadPart) requests(d time.Duration) []request {
	n := min(int(p.rate*d.Seconds()), maxBodies)
	rng := rand.New(rand.NewPCG(p.seed, 3))
	reqs := make([]request, n)
	for i := range reqs {
		m, path, b := p.mk(rng)
		reqs[i] = request{m, path, b}
	}
	return reqs
}

// writeTargets writes each part's requests as vegeta JSON targets, one file per part
// (path, or path with the scenario's name before its extension when there are several).
func writeTargets(path, base, key string, parts []loadPart, d time.Duration) error {
	for _, p := range parts {
		name := path
		if len(parts) > 1 {
			ext := filepath.Ext(path)
			name = strings.TrimSuffix(path, ext) + "-" + p.name + ext
		}
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		enc := json.NewEncoder(w)
		hdr := map[string][]string{"Authorization": {"Bearer " + key}, "Content-Type": {"application/json"}}
		for _, r := range p.requests(d) {
			if err := enc.Encode(map[string]any{"method": r.method, "url": base + r.path, "body": r.body, "header": hdr}); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Println("wrote", name)
	}
	return nil
}

func openLoop(send func(string, string, []byte) result, parts []loadPart, d time.Duration, maxInflight int, settle time.Duration, meter cpuMeter) error {
	type run struct {
		reqs    []request
		results []result
		dropped atomic.Int64
		sent    time.Duration
	}
	runs := make([]*run, len(parts))
	total := 0
	for i, p := range parts {
		n := int(p.rate * d.Seconds())
		runs[i] = &run{reqs: p.requests(d), results: make([]result, n)}
		total += n
	}
	var wg sync.WaitGroup
	cpu0 := meter.sample()
	start := time.Now()
	for i, p := range parts {
		r := runs[i]
		wg.Go(func() {
			var inflight atomic.Int64
			var reqs sync.WaitGroup
			interval := time.Duration(float64(time.Second) / p.rate)
			for k := range r.results {
				due := start.Add(time.Duration(k) * interval)
				if w := time.Until(due); w > 0 {
					time.Sleep(w)
				}
				if inflight.Load() >= int64(maxInflight) {
					r.dropped.Add(1)
					r.results[k] = result{err: true, due: due.Sub(start)}
					continue
				}
				inflight.Add(1)
				q := r.reqs[k%len(r.reqs)]
				reqs.Go(func() {
					defer inflight.Add(-1)
					late := time.Since(due)
					res := send(q.method, q.path, q.body)
					res.latency = time.Since(due)
					res.due = due.Sub(start)
					res.late = late
					r.results[k] = res
				})
			}
			r.sent = time.Since(start)
			reqs.Wait()
		})
	}
	wg.Wait()
	cpu1 := meter.sample()
	for i, p := range parts {
		report(p.name, runs[i].results, runs[i].sent, p.rate, runs[i].dropped.Load(), settle)
	}
	meter.report(cpu0, cpu1, total)
	return nil
}

// quantile returns the p-quantile (0 ≤ p ≤ 1) of sorted latencies, 0 when there are
// none.
func quantile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// timelinePath is run's -timeline: where report writes the per-second figures.
var timelinePath string

// writeTimeline appends, for each second of the run, the scenario's requests due in
// it, their 200 and 503 answers, transport errors, latency quantiles of the answered
// ones (ms) and the personalised share of the 200s (%).
func writeTimeline(path, name string, rs []result) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w := bufio.NewWriter(f)
	if info.Size() == 0 {
		fmt.Fprintln(w, "scenario\tsecond\trequests\tok\tshed\terrors\tp50_ms\tp99_ms\tmax_ms\tpersonalised_pct")
	}
	bySecond := map[int][]result{}
	last := 0
	for _, r := range rs {
		sec := int(r.due / time.Second)
		bySecond[sec] = append(bySecond[sec], r)
		last = max(last, sec)
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	for sec := 0; sec <= last; sec++ {
		var lat []time.Duration
		var ok, shed, errs, personal int
		for _, r := range bySecond[sec] {
			switch {
			case r.err:
				errs++
				continue
			case r.status == 200:
				ok++
				if r.personal {
					personal++
				}
			case r.status == 503:
				shed++
			}
			lat = append(lat, r.latency)
		}
		slices.Sort(lat)
		q := func(p float64) float64 { return ms(quantile(lat, p)) }
		pct := 0.0
		if ok > 0 {
			pct = 100 * float64(personal) / float64(ok)
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\n", name, sec, len(bySecond[sec]), ok, shed, errs, q(.5), q(.99), q(1), pct)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func report(name string, rs []result, sent time.Duration, rate float64, dropped int64, settle time.Duration) {
	if timelinePath != "" {
		if err := writeTimeline(timelinePath, name, rs); err != nil {
			fmt.Fprintln(os.Stderr, "timeline:", err)
		}
	}
	var lat, late []time.Duration
	codes := map[int]int{}
	errs := 0
	var ok, personal, okLate, personalLate int
	for _, r := range rs {
		if r.err {
			errs++
			continue
		}
		codes[r.status]++
		lat = append(lat, r.latency)
		late = append(late, r.late)
		if r.status == 200 {
			ok++
			if r.personal {
				personal++
			}
			if r.due >= settle {
				okLate++
				if r.personal {
					personalLate++
				}
			}
		}
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return quantile(lat, p) }
	frac := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return 100 * float64(a) / float64(b)
	}
	fmt.Printf("scenario=%s target_rate=%.0f/s sent=%d in %.1fs (%.0f/s) ok=%d errors=%d dropped=%d statuses=%v\n",
		name, rate, len(rs), sent.Seconds(), float64(len(rs))/sent.Seconds(), codes[200], errs, dropped, codes)
	fmt.Printf("latency p50=%s p90=%s p99=%s p99.9=%s max=%s\n", q(.5), q(.9), q(.99), q(.999), q(1))
	// The generator's own part: how late each request began to be sent (its sleep's
	// wake-up and the scheduling of its goroutine, on the same machine as the server).
	slices.Sort(late)
	fmt.Printf("sent late by p50=%s p99=%s max=%s (included in the latency above)\n", quantile(late, .5), quantile(late, .99), quantile(late, 1))
	if name == "rerank" || name == "recommend" {
		fmt.Printf("personalised %.2f%% of 200 answers; %.2f%% of those due after %s\n", frac(personal, ok), frac(personalLate, okLate), settle)
	}
}

func runEvents(send func(string, string, []byte) result, users, items, batch, conc int, d time.Duration, seed uint64) error {
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
				evs := make([]map[string]any, batch)
				now := time.Now().UTC()
				for i := range evs {
					evs[i] = map[string]any{"event_id": fmt.Sprintf("ev-%d-%d-%d-%d", runID, w, k, i), "user_id": userID(rng.IntN(users)),
						"item_id": itemID(rng.IntN(items)), "type": "view", "timestamp": now.Format(time.RFC3339Nano)}
				}
				b, _ := json.Marshal(map[string]any{"events": evs})
				t0 := time.Now()
				r := send("POST", "/v1/events", b)
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
	slices.Sort(lat)
	fmt.Printf("scenario=events batch=%d concurrency=%d events_acknowledged=%d in %.1fs: %.0f events/s statuses=%v\n",
		batch, conc, okEvents.Load(), el.Seconds(), float64(okEvents.Load())/el.Seconds(), codes)
	if len(lat) > 0 {
		fmt.Printf("batch latency p50=%s p99=%s max=%s\n", quantile(lat, .5), quantile(lat, .99), quantile(lat, 1))
	}
	return nil
}
