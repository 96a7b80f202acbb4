package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// soak runs rerank and recommendations together at fixed rates (open loop) for a long
// time and writes one CSV row per scenario per window: requests, statuses, achieved
// rate, latency quantiles, and the server's resident memory (VmRSS of -pid). It exits
// non-zero when any answer was a 4xx or 5xx, when more than 1% of the requests had to be
// dropped or failed in transport (the rate was not held), or when resident memory grew
// between the first window after warm-up and the last.
func soak(args []string) error {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "fusionrank base URL (loopback only)")
	key := fs.String("key", os.Getenv("FUSIONRANK_KEY"), "API key (read scope)")
	rerankRate := fs.Float64("rerank-rate", 2000, "rerank requests per second")
	recRate := fs.Float64("recommend-rate", 1000, "recommendation requests per second")
	duration := fs.Duration("duration", 10*time.Minute, "how long to send (at most 15m)")
	window := fs.Duration("window", 30*time.Second, "reporting window")
	items := fs.Int("items", 100000, "catalogue size of the generated shop")
	users := fs.Int("users", 10000, "users of the generated shop")
	candidates := fs.Int("candidates", 100, "rerank: candidates per request")
	maxInflight := fs.Int("max-inflight", 2000, "cap on requests in flight per scenario; requests due beyond it are dropped and counted")
	pid := fs.Int("pid", 0, "server process id, for VmRSS (0: not recorded)")
	csvPath := fs.String("csv", "soak.csv", "output CSV")
	growth := fs.Float64("max-rss-growth", 0.10, "allowed growth of resident memory from the first window after warm-up to the last (fraction), plus 16 MiB")
	seed := fs.Uint64("seed", 2, "random seed")
	fs.Parse(args)
	send, err := newSender(*base, *key, *duration)
	if err != nil {
		return err
	}
	out, err := os.Create(*csvPath)
	if err != nil {
		return err
	}
	defer out.Close()
	csv := bufio.NewWriter(out)
	fmt.Fprintln(csv, "window,end_s,scenario,target_rps,sent,achieved_rps,status_2xx,status_4xx,status_5xx,errors,dropped,p50_ms,p99_ms,max_ms,rss_mb")

	// A pool of request bodies per scenario, cycled: building 100-candidate JSON 2000
	// times a second would load the (shared) machine more than the server.
	rng := rand.New(rand.NewPCG(*seed, 5))
	rerankBodies := make([][]byte, 4096)
	for i := range rerankBodies {
		cs := make([]map[string]any, *candidates)
		for k := range cs {
			cs[k] = map[string]any{"id": itemID(rng.IntN(*items)), "score": rng.Float64()}
		}
		rerankBodies[i], _ = json.Marshal(map[string]any{"user_id": userID(rng.IntN(*users)), "items": cs,
			"query": map[string]any{"text": words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))]}})
	}
	recBodies := make([][]byte, 4096)
	for i := range recBodies {
		recBodies[i], _ = json.Marshal(map[string]any{"user_id": userID(rng.IntN(*users)), "count": 10})
	}

	type scenario struct {
		name   string
		path   string
		rate   float64
		bodies [][]byte
		mu     sync.Mutex
		stats  windowStats
		infl   atomic.Int64
		total  windowStats
	}
	scs := []*scenario{
		{name: "rerank", path: "/v1/rerank", rate: *rerankRate, bodies: rerankBodies},
		{name: "recommend", path: "/v1/recommendations", rate: *recRate, bodies: recBodies},
	}
	start := time.Now()
	end := start.Add(*duration)
	var wg sync.WaitGroup
	for _, sc := range scs {
		if sc.rate <= 0 {
			continue
		}
		wg.Go(func() {
			interval := time.Duration(float64(time.Second) / sc.rate)
			var reqs sync.WaitGroup
			for i := 0; ; i++ {
				due := start.Add(time.Duration(i) * interval)
				if !due.Before(end) {
					break
				}
				if w := time.Until(due); w > 0 {
					time.Sleep(w)
				}
				if sc.infl.Load() >= int64(*maxInflight) {
					sc.mu.Lock()
					sc.stats.dropped++
					sc.mu.Unlock()
					continue
				}
				sc.infl.Add(1)
				body := sc.bodies[i%len(sc.bodies)]
				reqs.Go(func() {
					defer sc.infl.Add(-1)
					status := 0 // a transport error
					if r := send("POST", sc.path, body); !r.err {
						status = r.status
					}
					lat := time.Since(due)
					sc.mu.Lock()
					sc.stats.add(status, lat)
					sc.mu.Unlock()
				})
			}
			reqs.Wait()
		})
	}

	// Every window: one row per scenario. RSS is sampled every second; a window reports
	// its highest sample.
	var rssMax atomic.Int64
	var gone atomic.Bool
	sample := func() {
		kb := vmRSS(*pid)
		if *pid > 0 && kb == 0 {
			gone.Store(true)
		}
		if kb > rssMax.Load() {
			rssMax.Store(kb)
		}
	}
	var windowRSS []int64
	last := start
	finish := func(w int) {
		rss := rssMax.Swap(0)
		windowRSS = append(windowRSS, rss)
		now := time.Now()
		el, length := now.Sub(start).Seconds(), now.Sub(last)
		last = now
		for _, sc := range scs {
			sc.mu.Lock()
			st := sc.stats
			sc.stats = windowStats{}
			sc.total.merge(st)
			sc.mu.Unlock()
			row := st.row(w, el, sc.name, sc.rate, length, rss)
			fmt.Fprintln(csv, strings.Join(row, ","))
			fmt.Printf("window %d (%.0fs) %-9s sent=%d (answered %s/s of %.0f) 2xx=%d 4xx=%d 5xx=%d errors=%d dropped=%d p50=%sms p99=%sms rss=%sMB\n",
				w, el, sc.name, st.sent(), row[5], sc.rate, st.s2, st.s4, st.s5, st.errs, st.dropped, row[11], row[12], row[14])
		}
		csv.Flush()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	w := 0
	next := start.Add(*window)
	sample()
loop:
	for {
		select {
		case <-done:
			break loop
		case now := <-tick.C:
			sample()
			if !now.Before(next) {
				finish(w)
				w++
				next = next.Add(*window)
			}
		}
	}
	sample()
	finish(w) // the rest: requests that finished after the last full window

	var failures []string
	for _, sc := range scs {
		t := sc.total
		fmt.Printf("total %-9s sent=%d 2xx=%d 4xx=%d 5xx=%d errors=%d dropped=%d p99=%.1fms achieved=%.0f/s of %.0f/s\n",
			sc.name, t.sent(), t.s2, t.s4, t.s5, t.errs, t.dropped, ms(t.quantile(0.99)), float64(t.sent()-t.dropped)/duration.Seconds(), sc.rate)
		if t.s5 > 0 {
			failures = append(failures, fmt.Sprintf("%s: %d answers were 5xx", sc.name, t.s5))
		}
		if t.s4 > 0 {
			failures = append(failures, fmt.Sprintf("%s: %d answers were 4xx", sc.name, t.s4))
		}
		// An open loop that had to drop requests (too many in flight) or lost them to
		// transport errors did not hold the rate: the run says nothing about that rate.
		if lost := t.dropped + t.errs; float64(lost) > 0.01*float64(t.sent()) {
			failures = append(failures, fmt.Sprintf("%s: rate not sustained: %d of %d requests dropped or failed (%.0f%%); answered %.0f/s of %.0f/s",
				sc.name, lost, t.sent(), 100*float64(lost)/float64(t.sent()), float64(t.sent()-lost)/duration.Seconds(), sc.rate))
		}
	}
	if gone.Load() {
		failures = append(failures, fmt.Sprintf("the server process %d went away during the run", *pid))
	}
	if *pid > 0 && len(windowRSS) >= 2 {
		// Warm-up fills caches and pools: compare from the second window when there
		// are at least three, else from the first.
		from := 0
		if len(windowRSS) >= 3 {
			from = 1
		}
		warm, last := windowRSS[from], windowRSS[len(windowRSS)-1]
		limit := int64(float64(warm)*(1+*growth)) + 16<<10
		fmt.Printf("resident memory: %.1f MB after warm-up, %.1f MB at the end (limit %.1f MB)\n", float64(warm)/1024, float64(last)/1024, float64(limit)/1024)
		if last > limit {
			failures = append(failures, fmt.Sprintf("resident memory grew from %.1f MB to %.1f MB", float64(warm)/1024, float64(last)/1024))
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("soak failed: %s", strings.Join(failures, "; "))
	}
	fmt.Println("soak passed: rates held, no 5xx, no memory growth; CSV in", *csvPath)
	return nil
}

// windowStats counts the answers of one scenario in one window.
type windowStats struct {
	s2, s4, s5, other, errs, dropped int
	lat                              []time.Duration
}

func (s *windowStats) add(status int, lat time.Duration) {
	switch {
	case status == 0:
		s.errs++
	case status/100 == 2:
		s.s2++
	case status/100 == 4:
		s.s4++
	case status/100 == 5:
		s.s5++
	default:
		s.other++
	}
	if status != 0 {
		s.lat = append(s.lat, lat)
	}
}

func (s *windowStats) merge(o windowStats) {
	s.s2, s.s4, s.s5, s.other, s.errs, s.dropped = s.s2+o.s2, s.s4+o.s4, s.s5+o.s5, s.other+o.other, s.errs+o.errs, s.dropped+o.dropped
	s.lat = append(s.lat, o.lat...)
}

func (s *windowStats) sent() int { return s.s2 + s.s4 + s.s5 + s.other + s.errs + s.dropped }

func (s *windowStats) quantile(q float64) time.Duration {
	slices.Sort(s.lat)
	return quantile(s.lat, q)
}

func (s *windowStats) row(w int, end float64, name string, rate float64, window time.Duration, rssKB int64) []string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }
	return []string{strconv.Itoa(w), f(end), name, f(rate), strconv.Itoa(s.sent()), f(float64(s.sent()-s.dropped) / window.Seconds()),
		strconv.Itoa(s.s2), strconv.Itoa(s.s4), strconv.Itoa(s.s5), strconv.Itoa(s.errs), strconv.Itoa(s.dropped),
		f(ms(s.quantile(0.5))), f(ms(s.quantile(0.99))), f(ms(s.quantile(1))), f(float64(rssKB) / 1024)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// vmRSS reads a process's resident set size in kB from /proc (0 when unknown).
func vmRSS(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb
			}
		}
	}
	return 0
}
