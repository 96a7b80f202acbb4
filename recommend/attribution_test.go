package recommend

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank/internal/testenv"
)

// TestAttributionWrite: a batch is stored with every column, an anonymous answer with a
// NULL user; a request id given twice in a batch, or again in a later batch, is stored
// once, as first written; a failed write is logged, not lost silently.
func TestAttributionWrite(t *testing.T) {
	db := testenv.DB(t, "recommend_attribution")
	var logs bytes.Buffer
	a := NewAttribution(db, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	a.write(ctx, []record{
		{"r1", "rerank", "v1", "u1", 20, at},
		{"r2", "recommendations", "none", "", 10, at.Add(time.Second)},
		{"r1", "rerank", "v2", "u9", 5, at.Add(2 * time.Second)},
	})
	a.write(ctx, []record{{"r2", "search", "v3", "u2", 3, at}, {"r3", "similar", "v1", "u3", 7, at}})
	type row struct {
		kind, version string
		user          *string
		n             int32
		at            time.Time
	}
	got := map[string]row{}
	rows, err := db.Pool.Query(ctx, `SELECT request_id, kind, model_version, user_id, n_items, created_at FROM rank_requests`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.kind, &r.version, &r.user, &r.n, &r.at); err != nil {
			t.Fatal(err)
		}
		got[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d rows, want 3: %v", len(got), got)
	}
	if r := got["r1"]; r.kind != "rerank" || r.version != "v1" || r.user == nil || *r.user != "u1" || r.n != 20 || !r.at.Equal(at) {
		t.Errorf("r1 = %+v, want the first record of it", r)
	}
	if r := got["r2"]; r.kind != "recommendations" || r.user != nil || r.n != 10 {
		t.Errorf("r2 = %+v, want the anonymous recommendation with a NULL user", r)
	}
	if r := got["r3"]; r.kind != "similar" || *r.user != "u3" {
		t.Errorf("r3 = %+v", r)
	}

	// A batch Postgres refuses is logged.
	a.write(ctx, []record{{"r4", "rerank", "v1", "u\x00", 1, at}})
	if !bytes.Contains(logs.Bytes(), []byte("attribution: could not write records")) {
		t.Errorf("a refused batch left no log line: %q", logs.String())
	}
}
