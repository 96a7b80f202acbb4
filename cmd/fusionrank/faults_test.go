package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
)

// The fault tests break what they start themselves (a private redis-server, a TCP proxy
// in front of Postgres, a child process) and never touch the shared servers' processes.

// shop loads n items with 4-d image vectors through the API and waits until the
// catalogue serves them.
func shop(t testing.TB, m *Main, key, prefix string, n int) []string {
	t.Helper()
	var nd strings.Builder
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%sitem%d", prefix, i)
		fmt.Fprintf(&nd, `{"id":%q,"title":"item %d","category":"cat-%d","price":%d,"vectors":{"image":[%d,%d,1,%d]}}`+"\n",
			ids[i], i, i%5, 1+i, i%3, i%7, 1+i%2)
	}
	r := do(t, "POST", m.URL()+"/v1/items:batch", key, nd.String())
	if r.status != 200 || r.json(t)["accepted"] != float64(n) {
		t.Fatalf("loading the shop: %d %s", r.status, r.body)
	}
	waitForItem(t, m, ids[n-1])
	return ids
}

// eventLog is the client's record of the events the service acknowledged with 2xx.
type eventLog struct {
	mu    sync.Mutex
	acked map[string]fusionrank.Event
	sent  map[string]bool
	clock atomic.Int64 // every event gets its own millisecond: no ties in recency
	base  time.Time
}

func newEventLog() *eventLog {
	return &eventLog{acked: map[string]fusionrank.Event{}, sent: map[string]bool{}, base: time.Now().Add(-time.Hour).Truncate(time.Millisecond)}
}

func (l *eventLog) make(id, user, item string, typ fusionrank.EventType) fusionrank.Event {
	ts := l.base.Add(time.Duration(l.clock.Add(1)) * time.Millisecond)
	return fusionrank.Event{EventID: id, UserID: user, ItemID: item, Type: typ, Timestamp: ts.UTC()}
}

// post sends a batch and records it as acknowledged when the answer is 2xx.
func (l *eventLog) post(rec *recorder, base, key string, evs []fusionrank.Event) answer {
	l.mu.Lock()
	for _, e := range evs {
		l.sent[e.EventID] = true
	}
	l.mu.Unlock()
	a := rec.send("events", "POST", base+"/v1/events", key, map[string]any{"events": evs})
	if a.err == nil && a.status/100 == 2 {
		var res fusionrank.EventResult
		if json.Unmarshal(a.body, &res) == nil && len(res.Rejected) == 0 {
			l.mu.Lock()
			for _, e := range evs {
				l.acked[e.EventID] = e
			}
			l.mu.Unlock()
		}
	}
	return a
}

// recent is what Postgres implies for a user's recent items: distinct items, latest
// interaction first, at most 50.
func (l *eventLog) recent(user string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	latest := map[string]time.Time{}
	for _, e := range l.acked {
		if e.UserID == user && e.Timestamp.After(latest[e.ItemID]) {
			latest[e.ItemID] = e.Timestamp
		}
	}
	items := make([]string, 0, len(latest))
	for it := range latest {
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool { return latest[items[i]].After(latest[items[j]]) })
	return items[:min(len(items), 50)]
}

// mixedLoad runs rerank, recommendation and event senders until stop is closed.
type mixedLoad struct {
	base, key string
	users     []string
	items     []string
	rec       *recorder
	log       *eventLog
	prefix    string
	seq       atomic.Int64
}

// newMixedLoad puts a shop of 40 items under prefix p (with key, of scope write) and
// returns a load of 8 users on it, not yet started.
func newMixedLoad(t *testing.T, m *Main, key, p string) *mixedLoad {
	t.Helper()
	items := shop(t, m, key, p, 40)
	users := make([]string, 8)
	for i := range users {
		users[i] = fmt.Sprintf("%su%d", p, i)
	}
	return &mixedLoad{base: m.URL(), key: key, users: users, items: items, rec: &recorder{}, log: newEventLog(), prefix: p}
}

// start runs workers senders; stop (also called when the test ends, and safe to call
// twice) ends them and waits. stopped is closed by stop; wg may take more senders.
func (ml *mixedLoad) start(t *testing.T, workers int) (stopped <-chan struct{}, wg *sync.WaitGroup, stop func()) {
	ch := make(chan struct{})
	wg = ml.run(ch, workers)
	var once sync.Once
	stop = func() {
		once.Do(func() { close(ch) })
		wg.Wait()
	}
	t.Cleanup(stop)
	return ch, wg, stop
}

// enough is a poll condition: at least n answers of each kind (rerank, recommend and
// events when none is named) requested after after have come back.
func (ml *mixedLoad) enough(after time.Time, n int, kinds ...string) func() bool {
	if len(kinds) == 0 {
		kinds = []string{"rerank", "recommend", "events"}
	}
	return func() bool {
		for _, k := range kinds {
			if ml.rec.count(k, after, func(a answer) bool { return !a.end.IsZero() }) < n {
				return false
			}
		}
		return true
	}
}

func (ml *mixedLoad) run(stop <-chan struct{}, workers int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				user := ml.users[rng.IntN(len(ml.users))]
				switch k % 3 {
				case 0:
					cands := make([]map[string]any, 20)
					for i := range cands {
						cands[i] = map[string]any{"id": ml.items[rng.IntN(len(ml.items))], "score": rng.Float64()}
					}
					ml.rec.send("rerank", "POST", ml.base+"/v1/rerank", ml.key, map[string]any{
						"user_id": user, "items": cands, "query": map[string]any{"vectors": map[string]any{"image": []float32{1, 0, 1, 0}}}})
				case 1:
					ml.rec.send("recommend", "POST", ml.base+"/v1/recommendations", ml.key, map[string]any{"user_id": user, "count": 5})
				case 2:
					evs := make([]fusionrank.Event, 1+rng.IntN(4))
					for i := range evs {
						evs[i] = ml.log.make(fmt.Sprintf("%sev%d", ml.prefix, ml.seq.Add(1)), user, ml.items[rng.IntN(len(ml.items))],
							fusionrank.EventTypes[rng.IntN(len(fusionrank.EventTypes))])
					}
					ml.log.post(ml.rec, ml.base, ml.key, evs)
				}
			}
		})
	}
	return &wg
}

type rankingAnswer struct {
	Personalized bool     `json:"personalized"`
	Warnings     []string `json:"warnings"`
	Items        []struct {
		ID string `json:"id"`
	} `json:"items"`
}

// TestFaultRedisKilledUnderLoad kills the Redis server (SIGKILL) during a mixed load of
// rerank, recommendations and events, then restarts it on the same port. Every request
// must keep succeeding, rerank must say it answered without the online store, events
// must still be acknowledged, and afterwards every user's profile must be exactly what
// the acknowledged events imply.
func TestFaultRedisKilledUnderLoad(t *testing.T) {
	port := freePort(t)
	rs := startRedis(t, port)
	m := startFaultMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4", "FUSIONRANK_REDIS_URL": rs.url(),
		"FUSIONRANK_REQUEST_TIMEOUT": "2s"}) // the point is Redis, not a loaded machine's latency
	key := createKey(t, m, fusionrank.ScopeWrite)
	ml := newMixedLoad(t, m, key, runPrefix("frk-redis"))
	_, _, stop := ml.start(t, 6)
	t0 := time.Now()
	pollUntil(t, 30*time.Second, "load with Redis up", ml.enough(t0, 30))

	rs.kill()
	killed := time.Now()
	pollUntil(t, 30*time.Second, "load with Redis down", ml.enough(killed, 30))

	restarting := time.Now()
	startRedis(t, port)
	restarted := time.Now()
	// The Redis client backs off redialling after failures and the store's breaker
	// waits a second: the service returns to Redis within a few seconds, not at once.
	pollUntil(t, 10*time.Second, "the service to use Redis again", func() bool {
		r := do(t, "GET", m.URL()+"/v1/users/"+ml.users[0]+"/features", key, nil)
		var f fusionrank.UserFeatures
		return r.status == 200 && json.Unmarshal(r.body, &f) == nil && f.Source != "postgres"
	})
	recovered := time.Now()
	pollUntil(t, 30*time.Second, "load after Redis came back", ml.enough(recovered, 30))
	stop()

	all := ml.rec.snapshot()
	down := 0
	for _, a := range all {
		if a.err != nil || a.status/100 != 2 {
			t.Errorf("%s at %s (Redis killed at +%s, restarted at +%s): status %d err %v body %s",
				a.kind, a.start.Sub(t0), killed.Sub(t0), restarted.Sub(t0), a.status, a.err, a.body)
			continue
		}
		if a.kind == "rerank" && a.start.After(killed) && a.end.Before(restarting) {
			down++
			var r rankingAnswer
			if err := json.Unmarshal(a.body, &r); err != nil {
				t.Fatal(err)
			}
			if r.Personalized && len(r.Warnings) == 0 {
				t.Errorf("rerank with Redis down claimed a personalised answer without a warning: %s", a.body)
			}
		}
	}
	if down == 0 {
		t.Fatal("no rerank answer fell entirely inside the outage")
	}
	t.Logf("%d requests: %d rerank answers inside the outage; %d events acknowledged; back on Redis %s after its restart",
		len(all), down, len(ml.log.acked), recovered.Sub(restarted).Round(time.Millisecond))

	// Profiles are rebuilt from Postgres and equal what the acknowledged events imply,
	// and once rebuilt they are served from the new Redis.
	for _, u := range ml.users {
		want := ml.log.recent(u)
		var got fusionrank.UserFeatures
		for read := range 2 {
			r := do(t, "GET", m.URL()+"/v1/users/"+u+"/features", key, nil)
			if r.status != 200 {
				t.Fatalf("features of %s: %d %s", u, r.status, r.body)
			}
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.RecentItems, want) {
				t.Errorf("%s read %d (%s): recent items\n got %v\nwant %v", u, read, got.Source, got.RecentItems, want)
			}
			if read == 1 && got.Source != "cache" {
				t.Errorf("%s: second read came from %q, want the cache", u, got.Source)
			}
		}
	}
}

// TestFaultPostgresDownDuringIngestion cuts a TCP proxy between the service and Postgres
// during event ingestion. While it is cut, writes answer 503 (never 2xx, never 500) and
// reads keep answering from memory and Redis; after it comes back, every event that was
// acknowledged with 2xx is in Postgres.
func TestFaultPostgresDownDuringIngestion(t *testing.T) {
	db := faultDB(t)
	u, err := url.Parse(db.Pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	px := startProxy(t, u.Host)
	u.Host = px.addr
	m := startFaultMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4", "FUSIONRANK_DATABASE_URL": u.String(),
		"FUSIONRANK_REQUEST_TIMEOUT": "2s"})
	key := createKey(t, m, fusionrank.ScopeWrite)
	p := runPrefix("frk-pgdown")
	ml := newMixedLoad(t, m, key, p)
	stopped, wg, stop := ml.start(t, 6)
	// A writer of items too: item writes must also answer 503 while Postgres is away.
	var itemSeq atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-stopped:
				return
			default:
			}
			id := fmt.Sprintf("%snew%d", p, itemSeq.Add(1))
			ml.rec.send("item", "PUT", m.URL()+"/v1/items/"+id, key, map[string]any{"title": "new item", "vectors": map[string]any{"image": []float32{1, 1, 0, 0}}})
			time.Sleep(10 * time.Millisecond)
		}
	})
	t0 := time.Now()
	pollUntil(t, 30*time.Second, "load with Postgres up", ml.enough(t0, 30, "rerank", "recommend", "events", "item"))

	px.cut()
	cut := time.Now()
	// Hold the outage past several key-store and catalogue refreshes (every 500ms):
	// the service must keep serving from what it already has.
	downLoad := ml.enough(cut, 30, "rerank", "recommend", "events", "item")
	pollUntil(t, 30*time.Second, "load with Postgres down", func() bool { return time.Since(cut) > 1500*time.Millisecond && downLoad() })
	restoring := time.Now()
	px.restore(t)
	restored := time.Now()
	// Writes come back once the pool reconnects.
	pollUntil(t, 30*time.Second, "event writes to succeed again", func() bool {
		return ml.rec.count("events", restored, func(a answer) bool { return a.status == 200 }) >= 10 &&
			ml.rec.count("item", restored, func(a answer) bool { return a.status/100 == 2 }) >= 3
	})
	stop()

	var downWrites, downReads int
	for _, a := range ml.rec.snapshot() {
		when := fmt.Sprintf("%s at +%s (cut at +%s, restored at +%s)", a.kind, a.start.Sub(t0), cut.Sub(t0), restored.Sub(t0))
		if a.err != nil {
			t.Errorf("%s: %v", when, a.err)
			continue
		}
		inside := a.start.After(cut) && a.end.Before(restoring)
		switch a.kind {
		case "events", "item":
			switch {
			case a.status == 503:
				if c := errorCodeOf(a.body); c != "unavailable" {
					t.Errorf("%s: 503 with envelope code %q: %s", when, c, a.body)
				}
			case a.status/100 == 2 && !inside:
			default:
				t.Errorf("%s: status %d, want 503 while Postgres is down and 2xx otherwise: %s", when, a.status, a.body)
			}
			if inside {
				downWrites++
			}
		default:
			if a.status != 200 {
				t.Errorf("%s: status %d: %s", when, a.status, a.body)
			}
			if inside {
				downReads++
			}
		}
	}
	if downWrites == 0 || downReads == 0 {
		t.Fatalf("the outage saw %d writes and %d reads", downWrites, downReads)
	}

	// Every acknowledged event is in Postgres; nothing that was never sent is.
	rows, err := db.Pool.Query(context.Background(), `SELECT event_id FROM events WHERE starts_with(event_id, $1)`, p)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		stored[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for id := range ml.log.acked {
		if !stored[id] {
			missing++
		}
	}
	for id := range stored {
		if !ml.log.sent[id] {
			t.Errorf("event %s is stored but was never sent", id)
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged events are missing from Postgres", missing, len(ml.log.acked))
	}
	t.Logf("outage: %d writes answered 503, %d reads answered 200; %d acknowledged events all in Postgres (%d stored, %d sent)",
		downWrites, downReads, len(ml.log.acked), len(stored), len(ml.log.sent))
}

// runPrefix makes ids unique to this run of a test (the package database is shared by
// every test of the process, and -count reruns them).
func runPrefix(name string) string {
	return fmt.Sprintf("%s-%x-", name, rand.Uint32())
}

func errorCodeOf(body []byte) string {
	var e struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		return ""
	}
	return e.Error.Code
}
