package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/keys"
)

// childEnv is the environment of a fusionrank child process: the test's database, plus
// the given variables.
func childEnv(dbURL string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FUSIONRANK_") {
			env = append(env, kv)
		}
	}
	return append(append(env, "FUSIONRANK_DATABASE_URL="+dbURL), extra...)
}

func countEvents(t *testing.T, prefix string) (total, distinct int) {
	t.Helper()
	db := faultDB(t)
	err := db.Pool.QueryRow(context.Background(),
		`SELECT count(*), count(DISTINCT event_id) FROM events WHERE starts_with(event_id, $1)`, prefix).Scan(&total, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	return total, distinct
}

var importSummary = regexp.MustCompile(`events: read (\d+), stored (\d+), duplicates (\d+), rejected (\d+)`)

// TestFaultProcesses builds the binary once and runs the fault tests that need a real
// process: an import killed halfway, and SIGTERM under load.
func TestFaultProcesses(t *testing.T) {
	bin := buildBinary(t)
	t.Run("ImportKilledAndRerun", func(t *testing.T) { testImportKilledAndRerun(t, bin) })
	t.Run("SIGTERMUnderLoad", func(t *testing.T) { testSIGTERMUnderLoad(t, bin) })
}

// testImportKilledAndRerun kills `fusionrank import events` with SIGKILL after its
// first chunk has committed, then runs it again: the second run stores exactly what the
// first did not, and the database ends with every event exactly once.
func testImportKilledAndRerun(t *testing.T, bin string) {
	dbURL := faultDB(t).Pool.Config().ConnString()
	p := runPrefix("frk-import")
	// Seven chunks, the last one short; the first run stores two at once, so at the
	// kill (once the first is committed) at least three are still to come.
	const n = 6*features.ImportChunk + features.ImportChunk/5
	const bad = 7
	path := filepath.Join(t.TempDir(), "events.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	base := time.Now().Add(-30 * 24 * time.Hour).UTC().Truncate(time.Second)
	types := []string{"view", "click", "add_to_cart", "purchase"}
	for i := range n {
		fmt.Fprintf(w, `{"event_id":"%s%d","user_id":"%su%d","item_id":"%si%d","type":%q,"timestamp":%q}`+"\n",
			p, i, p, i%1000, p, i%500, types[i%4], base.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
		if i%(n/bad) == n/bad/2 { // a few invalid lines spread through the file
			fmt.Fprintf(w, `{"event_id":"%sbad%d","user_id":"u","item_id":"i","type":"like","timestamp":%q}`+"\n", p, i, base.Format(time.RFC3339))
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// First run: SIGKILL once the first chunk is committed.
	var out1 bytes.Buffer
	cmd := exec.Command(bin, "import", "events", "--quiet", path)
	cmd.Env = childEnv(dbURL, "FUSIONRANK_IMPORT_STREAMS=2")
	cmd.Stdout, cmd.Stderr = &out1, &out1
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(45 * time.Second)
	for {
		if total, _ := countEvents(t, p); total >= features.ImportChunk {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("import exited (%v) before its first chunk was seen committed: %s", err, out1.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no chunk committed within 45s: %s", out1.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	if err := <-exited; err == nil {
		t.Fatalf("the import finished before it was killed; the file is too small to test a crash")
	}
	afterKill, distinct := countEvents(t, p)
	// Chunks are stored several at once, so any of them may be committed, the short
	// last one too: whole chunks are a multiple of ImportChunk, plus the short one.
	if r := afterKill % features.ImportChunk; (r != 0 && r != n%features.ImportChunk) || afterKill == 0 || afterKill >= n || distinct != afterKill {
		t.Fatalf("after SIGKILL: %d events (%d distinct); want whole chunks (of %d, the last of %d), fewer than %d",
			afterKill, distinct, features.ImportChunk, n%features.ImportChunk, n)
	}

	// Second run: completes, and stores exactly the rest.
	cmd = exec.Command(bin, "import", "events", "--quiet", path)
	cmd.Env = childEnv(dbURL)
	dieWithTest(cmd)
	out2, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, out2)
	}
	m := importSummary.FindStringSubmatch(string(out2))
	if m == nil {
		t.Fatalf("rerun printed no summary: %s", out2)
	}
	got := make([]int, 4)
	for i := range got {
		got[i], _ = strconv.Atoi(m[i+1])
	}
	if want := []int{n + bad, n - afterKill, afterKill, bad}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rerun read/stored/duplicates/rejected = %v, want %v", got, want)
	}
	total, distinct := countEvents(t, p)
	if total != n || distinct != n {
		t.Fatalf("after the rerun: %d events (%d distinct), want exactly %d", total, distinct, n)
	}
	var users int
	if err := faultDB(t).Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM users WHERE starts_with(id, $1)`, p).Scan(&users); err != nil || users != 1000 {
		t.Fatalf("users: %d (%v), want 1000", users, err)
	}
	t.Logf("killed with %d of %d events committed; the rerun stored %d and skipped %d: %d events, each once", afterKill, n, got[1], got[2], total)
}

// testSIGTERMUnderLoad sends SIGTERM to a serving fusionrank under load: every
// response a client receives is a complete 2xx, requests in flight at the signal
// complete, the process exits 0, and every acknowledged event is in Postgres.
func testSIGTERMUnderLoad(t *testing.T, bin string) {
	db := faultDB(t)
	rs := startRedis(t, freePort(t))
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve")
	cmd.Env = childEnv(db.Pool.Config().ConnString(), "FUSIONRANK_REDIS_URL="+rs.url(), fmt.Sprintf("FUSIONRANK_ADDR=127.0.0.1:%d", port),
		"FUSIONRANK_MODALITIES=image:4", "FUSIONRANK_REQUEST_TIMEOUT=5s", "FUSIONRANK_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	pollUntil(t, 30*time.Second, "the server to be ready", func() bool {
		r, err := loadClient.Get(base + "/readyz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	key, _, err := keys.New(db).Create(context.Background(), fusionrank.ScopeWrite, "sigterm-test")
	if err != nil {
		t.Fatal(err)
	}
	p := runPrefix("frk-term")
	var nd strings.Builder
	items := make([]string, 30)
	for i := range items {
		items[i] = fmt.Sprintf("%sitem%d", p, i)
		fmt.Fprintf(&nd, `{"id":%q,"title":"item","vectors":{"image":[1,%d,0,1]}}`+"\n", items[i], i)
	}
	rec := &recorder{}
	if r := do(t, "POST", base+"/v1/items:batch", key, nd.String()); r.status != 200 {
		t.Fatalf("items: %d %s", r.status, r.body)
	}

	log := newEventLog()
	var seq sync.Mutex
	next := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				var a answer
				if w%2 == 0 {
					evs := make([]fusionrank.Event, 1000) // the largest batch: slow enough to be in flight at the signal
					seq.Lock()
					for i := range evs {
						next++
						evs[i] = log.make(fmt.Sprintf("%sev%d", p, next), fmt.Sprintf("%su%d", p, next%50), items[next%len(items)], fusionrank.View)
					}
					seq.Unlock()
					a = log.post(rec, base, key, evs)
				} else {
					cands := make([]map[string]any, len(items))
					for i := range cands {
						cands[i] = map[string]any{"id": items[(i+k)%len(items)]}
					}
					a = rec.send("rerank", "POST", base+"/v1/rerank", key, map[string]any{"user_id": fmt.Sprintf("%su%d", p, k%50), "items": cands})
				}
				if a.err != nil && a.status == 0 {
					return // the server no longer accepts connections
				}
			}
		})
	}
	pollUntil(t, 30*time.Second, "load before the signal", func() bool { return rec.count("events", time.Time{}, nil) >= 8 })
	term := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30s after SIGTERM")
	}
	close(stop)
	wg.Wait()
	if exitErr != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", exitErr, logs.String())
	}

	inFlight, refused := 0, 0
	for _, a := range rec.snapshot() {
		switch {
		case a.status == 0:
			refused++ // no response: the request never reached a handler
		case a.err != nil:
			t.Errorf("%s: a truncated response (status %d): %v", a.kind, a.status, a.err)
		case a.status/100 != 2 || !json.Valid(a.body):
			t.Errorf("%s started %s before SIGTERM: status %d body %s", a.kind, term.Sub(a.start), a.status, a.body)
		case a.start.Before(term) && a.end.After(term):
			inFlight++
		}
	}
	if inFlight == 0 {
		t.Fatalf("no request was in flight at SIGTERM; the test proved nothing")
	}
	stored := map[string]bool{}
	rows, err := db.Pool.Query(context.Background(), `SELECT event_id FROM events WHERE starts_with(event_id, $1)`, p)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		stored[id] = true
	}
	for id := range log.acked {
		if !stored[id] {
			t.Fatalf("acknowledged event %s is not in Postgres", id)
		}
	}
	t.Logf("%d requests were in flight at SIGTERM and completed with 2xx; %d later ones found the port closed; %d acknowledged events all stored; exit 0",
		inFlight, refused, len(log.acked))
}
