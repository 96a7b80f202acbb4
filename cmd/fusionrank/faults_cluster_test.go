package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/testenv"
)

// TestFaultRedisClusterMasterKilled runs the service on a Redis Cluster of its own (3
// masters, one replica each) and kills (SIGKILL) the master holding a user's keys during
// a mixed load of rerank, recommendations and events. The replica is promoted; every
// request keeps succeeding meanwhile; the service serves that user's profile from the
// cluster again within seconds of the promotion, and every profile ends up exactly what
// the acknowledged events imply.
func TestFaultRedisClusterMasterKilled(t *testing.T) {
	cl, err := testenv.StartRedisCluster(t.TempDir(), 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	m := startFaultMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4", "FUSIONRANK_REDIS_URL": cl.URL(),
		"FUSIONRANK_REQUEST_TIMEOUT": "2s"})
	key := createKey(t, m, fusionrank.ScopeWrite)
	ml := newMixedLoad(t, m, key, runPrefix("frk-cluster"))
	_, _, stop := ml.start(t, 6)
	// onCluster: the user's profile came from the cluster (read from it, or rebuilt
	// from Postgres and written to it), not from Postgres alone.
	lastSource := ""
	onCluster := func(u string) func() bool {
		return func() bool {
			r := do(t, "GET", m.URL()+"/v1/users/"+u+"/features", key, nil)
			var f fusionrank.UserFeatures
			if r.status != 200 || json.Unmarshal(r.body, &f) != nil {
				return false
			}
			lastSource = f.Source
			return f.Source != "postgres"
		}
	}
	t0 := time.Now()
	pollUntil(t, 30*time.Second, "load on the cluster", ml.enough(t0, 30))
	pollUntil(t, 10*time.Second, "a profile cached on the cluster", onCluster(ml.users[0]))

	ctx := context.Background()
	master, err := cl.Master(ctx, "{u:"+ml.users[0]+"}")
	if err != nil {
		t.Fatal(err)
	}
	master.Kill()
	killed := time.Now()
	// Promoted: a live node serves the slot, and the cluster reports itself healthy.
	pollUntil(t, 30*time.Second, "the replica's promotion", func() bool {
		n, err := cl.Master(ctx, "{u:"+ml.users[0]+"}")
		return err == nil && n != master && n.Alive()
	})
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cl.WaitHealthy(hctx); err != nil {
		t.Fatalf("the cluster did not recover: %v", err)
	}
	promoted := time.Now()
	deadline := time.Now().Add(10 * time.Second)
	for !onCluster(ml.users[0])() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if lastSource == "postgres" {
		t.Fatalf("10s after the promotion the user's profile still comes from %q, not from the cluster", lastSource)
	}
	recovered := time.Now()
	pollUntil(t, 30*time.Second, "load after the failover", ml.enough(recovered, 30))
	stop()

	all := ml.rec.snapshot()
	during := 0
	for _, a := range all {
		if a.err != nil || a.status/100 != 2 {
			t.Errorf("%s at +%s (master killed at +%s, replica promoted at +%s): status %d err %v body %s",
				a.kind, a.start.Sub(t0), killed.Sub(t0), promoted.Sub(t0), a.status, a.err, a.body)
		}
		if a.start.After(killed) && a.end.Before(promoted) {
			during++
		}
	}
	t.Logf("%d requests, %d of them during the failover; replica promoted %s after the kill; profile from the cluster again %s after that",
		len(all), during, promoted.Sub(killed).Round(time.Millisecond), recovered.Sub(promoted).Round(time.Millisecond))

	// Every profile is right at once; caching resumes within seconds: until the
	// cluster client drops the dead master from its node list, its failed dials trip
	// the store's Redis breaker for a second at a time and rebuilt profiles are answered
	// from Postgres without being cached.
	cachedBy := time.Now().Add(10 * time.Second)
	for _, u := range ml.users {
		want := ml.log.recent(u)
		var got fusionrank.UserFeatures
		for read := 0; ; read++ {
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
			if read > 0 && got.Source == "cache" {
				break
			}
			if time.Now().After(cachedBy) {
				t.Errorf("%s: read %d came from %q; want the cache again within 10 s of the failover", u, read, got.Source)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("profiles cached again %s after the promotion", time.Since(promoted).Round(time.Millisecond))
}
