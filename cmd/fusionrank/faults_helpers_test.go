package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fusionrank/fusionrank/internal/testenv"
	"github.com/fusionrank/fusionrank/postgres"
)

// Helpers for the fault tests: a private redis-server, a TCP proxy that can be cut, the
// built binary, and a recorder of every answer a load generator received.

// faultDB is the fault and hardening tests' own database: they start servers and child
// processes against it, apart from the rest of the package's tests.
func faultDB(t *testing.T) *postgres.DB { return testenv.DB(t, "cmd_faults") }

// startFaultMain is startMain on the fault tests' database (so that these tests never
// recreate the database the package's other tests use).
func startFaultMain(t *testing.T, env map[string]string) *Main {
	t.Helper()
	return startFaultMainLog(t, env, testLog(t))
}

// startFaultMainLog is startFaultMain with the service's log going to log.
func startFaultMainLog(t *testing.T, env map[string]string, log *slog.Logger) *Main {
	t.Helper()
	return startMainOn(t, faultDB(t), env, log)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// redisServer is a redis-server process of the test's own, without persistence.
type redisServer struct {
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts redis-server on port (scripts/services.sh installs it) and waits
// until it answers. The test's cleanup kills it.
func startRedis(t *testing.T, port int) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (run scripts/services.sh): %v", err)
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &redisServer{port: port, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() { r.kill() })
	rdb := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		select {
		case <-r.done:
			t.Fatalf("redis-server on port %d exited at start", port)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d did not answer within 10s", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }
func (r *redisServer) url() string  { return "redis://" + r.addr() + "/0" }

// kill sends SIGKILL and waits for the process to be gone.
func (r *redisServer) kill() {
	_ = r.cmd.Process.Kill()
	<-r.done
}

// proxy forwards TCP connections to target until it is cut.
type proxy struct {
	target, addr string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{target: target, addr: "127.0.0.1:0", conns: map[net.Conn]bool{}}
	if err := p.listen(); err != nil {
		t.Fatal(err)
	}
	p.addr = p.ln.Addr().String()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) listen() error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
	return nil
}

func (p *proxy) pipe(c net.Conn) {
	u, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut while dialling
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// cut closes the listener and every connection: to the client, the database is gone.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// restore listens again on the same address.
func (p *proxy) restore(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := p.listen()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// buildBinary builds fusionrank into a temporary directory and returns its path.
func buildBinary(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "fusionrank")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// answer is one response a load generator received (or the transport error it got).
type answer struct {
	kind       string
	start, end time.Time
	status     int
	body       []byte
	err        error
}

// recorder keeps every answer.
type recorder struct {
	mu  sync.Mutex
	all []answer
}

func (r *recorder) add(a answer) {
	r.mu.Lock()
	r.all = append(r.all, a)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []answer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]answer(nil), r.all...)
}

// count counts the answers of kind that started after t and satisfy ok.
func (r *recorder) count(kind string, after time.Time, ok func(answer) bool) int {
	n := 0
	for _, a := range r.snapshot() {
		if a.kind == kind && a.start.After(after) && (ok == nil || ok(a)) {
			n++
		}
	}
	return n
}

// client is an HTTP client for load: bounded time per request, many connections.
var loadClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// send sends one JSON request and records the answer.
func (r *recorder) send(kind, method, url, key string, body any) answer {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	a := answer{kind: kind, start: time.Now()}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := loadClient.Do(req)
	if err != nil {
		a.err, a.end = err, time.Now()
		r.add(a)
		return a
	}
	a.status = resp.StatusCode
	a.body, a.err = io.ReadAll(resp.Body)
	resp.Body.Close()
	a.end = time.Now()
	r.add(a)
	return a
}

// pollUntil polls cond every 20ms until it holds or d passes.
func pollUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
