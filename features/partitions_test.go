package features

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/testenv"
	"github.com/fusionrank/fusionrank/postgres"
)

// partitionOf names the partition that holds the stored event with key eid.
func partitionOf(t *testing.T, db *postgres.DB, eid string) string {
	t.Helper()
	var name string
	if err := db.Pool.QueryRow(context.Background(), `SELECT tableoid::regclass::text FROM events WHERE event_id = $1`, eid).Scan(&name); err != nil {
		t.Fatalf("event %s: %v", eid, err)
	}
	return name
}

// TestEventPartitionsAndRetention stores events of three months: each lands in its
// month's partition; an id is unique across partitions (a replay with another time is a
// conflict, never a second event); the retention drops the oldest month as a whole,
// takes its events off the user's count, and the profile rebuilt afterwards holds the
// remaining events and is then kept up to date by new events.
func TestEventPartitionsAndRetention(t *testing.T) {
	now := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	db := testenv.DB(t, "features_parts")
	rdb, ns := testenv.Redis(t)
	s := New(db, rdb, Options{Modalities: []Modality{{"image", 4}}, Namespace: ns, Now: func() time.Time { return now }})
	ctx := context.Background()
	tag := runTag() + "pt-"
	raceShop(t, s, tag, 5)
	user := tag + "user"
	ev := func(id string, item int, ts time.Time) fusionrank.Event {
		return fusionrank.Event{EventID: tag + id, UserID: user, ItemID: tag + string(rune('0'+item)), Type: fusionrank.Click, Timestamp: ts}
	}
	aug, sep, nov := now.AddDate(0, 0, -80), now.AddDate(0, 0, -50), now.Add(-time.Hour)
	ingest(t, s, ev("a", 0, aug), ev("b", 1, sep), ev("c", 2, nov))
	for id, want := range map[string]string{"a": "events_p202608", "b": "events_p202609", "c": "events_p202611"} {
		if got := partitionOf(t, db, tag+id); got != want {
			t.Errorf("event %s is in %s, want %s", id, got, want)
		}
	}
	// The same id in another month: a conflict on the timestamp, and still one event.
	res, err := s.IngestEvents(ctx, []fusionrank.Event{ev("a", 0, nov), ev("b", 1, sep)})
	if err != nil || res.Accepted != 0 || res.Duplicates != 1 || len(res.Conflicts) != 1 || res.Conflicts[0].Field != "timestamp" {
		t.Fatalf("replays across partitions: %+v %v", res, err)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE event_id = $1`, tag+"a").Scan(&n); err != nil || n != 1 {
		t.Fatalf("event a stored %d times (%v)", n, err)
	}
	if _, src, err := s.Profile(ctx, user); err != nil || src == SourcePostgres {
		t.Fatalf("profile: %s %v", src, err)
	}

	// Retention 60 days: August ends before the cutoff, September does not.
	st, err := s.MaintainPartitions(ctx, 2, 60*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(st.Dropped, "events_p202608") || slices.Contains(st.Dropped, "events_p202609") {
		t.Fatalf("dropped %v", st.Dropped)
	}
	var parts []string
	rows, _ := db.Pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY 1`)
	for rows.Next() {
		var p string
		_ = rows.Scan(&p)
		parts = append(parts, p)
	}
	rows.Close()
	for _, want := range []string{"events_p202609", "events_p202611", "events_p202612", "events_p202701"} {
		if !slices.Contains(parts, want) {
			t.Errorf("partitions %v lack %s (created ahead or kept)", parts, want)
		}
	}
	var count int64
	if err := db.Pool.QueryRow(ctx, `SELECT events FROM users WHERE id = $1`, user).Scan(&count); err != nil || count != 2 {
		t.Fatalf("users.events after the drop: %d %v, want 2", count, err)
	}
	// The dropped month's id is free again (its event is gone).
	ingest(t, s, ev("d", 3, nov.Add(time.Minute)))
	p, _, err := s.Profile(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.rebuildProfile(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	sameProfile(t, "after the retention drop", p, want)
	if want.Events != 3 || slices.Contains(want.RecentIDs(), tag+"0") {
		t.Fatalf("rebuilt profile: %d events, recent %v", want.Events, want.RecentIDs())
	}
}

// TestPartitionMigrationKeepsHistory migrates a database that has events in the
// unpartitioned table (the schema before 006): they stay readable as events_legacy, a
// replay of one of them is a duplicate, the same id with another payload a conflict,
// and a new event goes to the monthly partitions.
func TestPartitionMigrationKeepsHistory(t *testing.T) {
	ctx := context.Background()
	u := testenv.FreshDatabase(t, "features_partmig")
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.MigrateTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	if _, err := db.Pool.Exec(ctx, `
		INSERT INTO events (event_id, user_id, item_id, type, ts) VALUES ('old1', 'mu', 'mi0', 'view', $1), ('old2', 'mu', 'mi1', 'click', $1 + interval '1 minute')`, old); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO users (id, events) VALUES ('mu', 2)`); err != nil {
		t.Fatal(err)
	}
	applied, err := db.Migrate(ctx)
	if err != nil || len(applied) < 2 {
		t.Fatalf("migrate: %v %v", applied, err)
	}
	// The old table holds every event before legacy_until (the first of the month after
	// the migration's day); later ones go to monthly partitions.
	var until time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT legacy_until FROM event_partitioning`).Scan(&until); err != nil {
		t.Fatal(err)
	}
	if until.Day() != 1 || !until.After(time.Now()) {
		t.Fatalf("legacy_until %s", until)
	}
	now := until.Add(24 * time.Hour)
	rdb, ns := testenv.Redis(t)
	s := New(db, rdb, Options{Modalities: []Modality{{"image", 4}}, Namespace: ns, Now: func() time.Time { return now }})
	raceShop(t, s, "mi", 3)
	if got := partitionOf(t, db, "old1"); got != "events_legacy" {
		t.Fatalf("old event in %s", got)
	}
	res, err := s.IngestEvents(ctx, []fusionrank.Event{
		{EventID: "old1", UserID: "mu", ItemID: "mi0", Type: fusionrank.View, Timestamp: old},
		{EventID: "old2", UserID: "mu", ItemID: "mi2", Type: fusionrank.Click, Timestamp: old.Add(time.Minute)},
		{EventID: "new1", UserID: "mu", ItemID: "mi2", Type: fusionrank.Purchase, Timestamp: until.Add(time.Hour)},
	})
	if err != nil || res.Accepted != 1 || res.Duplicates != 1 || len(res.Conflicts) != 1 || res.Conflicts[0].Field != "item_id" {
		t.Fatalf("ingest after the migration: %+v %v", res, err)
	}
	if got := partitionOf(t, db, "new1"); got != partitionName(monthIndex(until)) {
		t.Fatalf("new event in %s", got)
	}
	p, err := s.rebuildProfile(ctx, "mu")
	if err != nil || p.Events != 3 || !slices.Equal(p.RecentIDs(), []string{"mi2", "mi1", "mi0"}) {
		t.Fatalf("profile after the migration: %+v %v", p, err)
	}
}
