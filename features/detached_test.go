package features

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/memo"
	"github.com/fusionrank/fusionrank/internal/redisconn"
	"github.com/fusionrank/fusionrank/internal/testenv"
)

// privateRedis starts a redis-server of the test's own on a free port (it is paused
// with SIGSTOP, which must not stall other tests) and returns its process and URL.
func privateRedis(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Skipf("redis-server: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	probe := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer probe.Close()
	waitFor(t, "redis-server up", func() bool { return probe.Ping(context.Background()).Err() == nil })
	return cmd, url
}

// TestLateRedisReadKeepsConnection: a profile read, and a co-visitation fill, that
// outlast their request's budget answer the request with its deadline error at once,
// while the read itself finishes on the same connection (no redial) and keeps what it
// read locally for the next request.
func TestLateRedisReadKeepsConnection(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	proc, url := privateRedis(t)
	rdb, err := redisconn.Open(url, redisconn.Tuning{DialTimeout: 200 * time.Millisecond, ReadTimeout: 100 * time.Millisecond,
		WriteTimeout: 100 * time.Millisecond, MaxRetries: 1, ContextTimeoutEnabled: true, PoolSize: 4, DisableIdentity: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	s := New(testenv.DB(t, "features"), rdb, Options{Modalities: []Modality{{"image", 4}, {"color", 3}},
		Namespace: "late-" + runTag(), Now: func() time.Time { return now }, Rules: ProfileRules{HalfLife: 24 * time.Hour}})
	s.lc = &localCache{ttl: time.Minute, profiles: memo.New[*Profile](1000), covis: memo.New[*covisSet](1000)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.RunLocalCache(ctx)
	waitFor(t, "subscribed", func() bool { return s.local() != nil })

	tag := runTag() + "late-"
	raceShop(t, s, tag, 4)
	user := tag + "u"
	ev := eventsOf(tag, user, fusionrank.View, now)
	ingest(t, s, ev(1), ev(2))
	if p, _, err := s.Profile(ctx, user); err != nil || p.Events != 2 {
		t.Fatalf("profile: %v %+v", err, p)
	}
	s.lc.profiles.Drop(user)
	conns := rdb.PoolStats().TotalConns

	if err := proc.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Millisecond)
	start := time.Now()
	_, _, err = s.Profile(rctx, user)
	waited := time.Since(start)
	rcancel()
	time.Sleep(100 * time.Millisecond) // the read is still waiting for Redis
	proc.Process.Signal(syscall.SIGCONT)
	if !errors.Is(err, context.DeadlineExceeded) || waited > 500*time.Millisecond {
		t.Fatalf("the request waited %v and got %v; want its own deadline's error at about 30 ms", waited, err)
	}
	waitFor(t, "the late read kept locally", func() bool {
		p, _, ok := s.lc.profiles.Get(user, time.Now().UnixNano())
		return ok && p.Events == 2
	})
	if got := rdb.PoolStats().TotalConns; got > conns {
		t.Errorf("connections %d → %d: the late read's connection was closed and redialled", conns, got)
	}
	p, src, err := s.Profile(ctx, user)
	if err != nil || src != SourceCache || p.Events != 2 {
		t.Fatalf("next request: %s %v %+v", src, err, p)
	}

	// The co-visitation set of item 1 (followed by item 2), dropped locally.
	recent, cands := []string{tag + "1"}, []string{tag + "2", tag + "3"}
	if c, err := s.Covisitation(ctx, recent, cands); err != nil || c[0][0] != 1 {
		t.Fatalf("co-visitation: %v %v", err, c)
	}
	s.lc.covis.Drop(tag + "1")
	conns = rdb.PoolStats().TotalConns
	if err := proc.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel = context.WithTimeout(ctx, 30*time.Millisecond)
	_, err = s.Covisitation(rctx, recent, cands)
	rcancel()
	time.Sleep(100 * time.Millisecond)
	proc.Process.Signal(syscall.SIGCONT)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("co-visitation past the request's deadline: %v, want its deadline's error", err)
	}
	waitFor(t, "the late fill kept locally", func() bool {
		set, _, ok := s.lc.covis.Get(tag+"1", time.Now().UnixNano())
		return ok && set.lookup(covisHash(tag+"2"), tag+"2") == 1
	})
	if got := rdb.PoolStats().TotalConns; got > conns {
		t.Errorf("connections %d → %d: the late fill's connection was closed and redialled", conns, got)
	}
}
