//go:build linux

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/testenv"
)

// TestServeReadsFromTheReplica: with FUSIONRANK_DATABASE_REPLICA_URL naming a real
// streaming replica, serve loads the catalogue and rebuilds profiles from it, and
// /metrics says which pool served each rebuild.
func TestServeReadsFromTheReplica(t *testing.T) {
	db := testenv.DB(t, "cmd")
	rep := testenv.StartPostgresReplica(t)
	replica := rep.Open(t, db)
	m := startMainOn(t, db, map[string]string{
		"FUSIONRANK_DATABASE_REPLICA_URL": replica.Pool.Config().ConnString(),
		"FUSIONRANK_WARM_PROFILES":        "0",
	}, testLog(t))
	if m.Replica == nil {
		t.Fatal("no replica pool")
	}
	ctx := context.Background()
	now := time.Now().UTC()
	if _, err := m.Features.PutItems(ctx, []fusionrank.Item{{ID: "rpl-item", Title: "item", Active: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Features.IngestEvents(ctx, []fusionrank.Event{{EventID: "rpl-e1", UserID: "rpl-user", ItemID: "rpl-item", Type: fusionrank.View, Timestamp: now}}); err != nil {
		t.Fatal(err)
	}
	if err := rep.CatchUp(ctx, db); err != nil {
		t.Fatal(err)
	}
	testenv.DeleteNamespace(ctx, m.Redis, m.Namespace)
	p, src, err := m.Features.Profile(ctx, "rpl-user")
	if err != nil || p.Events != 1 {
		t.Fatalf("profile: %v %+v (%s)", err, p, src)
	}
	body := string(do(t, "GET", m.URL()+"/metrics", "", nil).body)
	if !strings.Contains(body, `fusionrank_profile_rebuild_reads_total{pool="replica"} 1`) {
		t.Fatalf("/metrics lacks one rebuild from the replica:\n%s", grepLines(body, "fusionrank_profile_rebuild_reads_total"))
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
