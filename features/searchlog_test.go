package features_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/internal/testenv"
	"github.com/fusionrank/fusionrank/postgres"
)

// TestSearchLogOutcomesAndRetention: a logged search comes back from the export with
// the outcome of each impression taken from the events that carry its id (the
// strongest one per item), a judged search with its grades; the held-out flag splits
// them; and retention drops whole days.
func TestSearchLogOutcomesAndRetention(t *testing.T) {
	db := testenv.DB(t, "featsearch")
	ctx := context.Background()
	log := features.NewSearchLog(db, nil)
	rdb, ns := testenv.Redis(t)
	store := features.New(db, rdb, features.Options{Namespace: ns, Now: func() time.Time { return time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC) }})
	day := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	one := 1.5
	g2, g0 := 2.0, 0.0
	live := features.Search{ID: "s-live", At: day, Source: features.SearchFromRerank, UserID: "u1", Text: "red bag",
		Vectors:     map[string][]float32{"image": {0.6, 0.8}},
		Impressions: []features.Impression{{ItemID: "a", EngineScore: &one}, {ItemID: "b"}, {ItemID: "c"}}}
	judged := features.Search{ID: "s-judged", At: day.Add(48 * time.Hour), Source: features.SearchFromImport, Text: "hat",
		Judged: true, Holdout: true, Impressions: []features.Impression{{ItemID: "a", Grade: &g0}, {ItemID: "b", Grade: &g2}}}
	if err := log.Write(ctx, []features.Search{live, judged}); err != nil {
		t.Fatal(err)
	}
	if err := log.Write(ctx, []features.Search{live}); err != nil { // a retried report is stored once
		t.Fatal(err)
	}
	if err := features.CreateEventPartitions(ctx, db, day.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []struct{ id, item, typ string }{{"e1", "b", "click"}, {"e2", "b", "purchase"}, {"e3", "c", "view"}, {"e4", "a", "add_to_cart"}} {
		req := "s-live"
		if ev.id == "e4" {
			req = "other-request"
		}
		res, err := store.IngestEvents(ctx, []fusionrank.Event{{EventID: ev.id, UserID: "u1", ItemID: ev.item, Type: fusionrank.EventType(ev.typ),
			Timestamp: day.Add(time.Minute), RequestID: req}})
		if err != nil || res.Accepted != 1 {
			t.Fatalf("event %s: %+v, %v", ev.id, res, err)
		}
	}
	var got []features.LoggedSearch
	if _, err := features.ExportSearches(ctx, db, false, func(s features.LoggedSearch) error { got = append(got, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "s-live" || len(got[0].Impressions) != 3 {
		t.Fatalf("training searches: %+v", got)
	}
	if want := []float64{0, 3, 0}; got[0].Outcomes[0] != want[0] || got[0].Outcomes[1] != want[1] || got[0].Outcomes[2] != want[2] {
		t.Errorf("outcomes %v, want %v (b clicked and bought; a's cart belongs to another request; a view is no outcome)", got[0].Outcomes, want)
	}
	if e := got[0].Impressions[0].EngineScore; e == nil || *e != 1.5 || got[0].Impressions[1].EngineScore != nil {
		t.Errorf("engine scores not kept: %+v", got[0].Impressions)
	}
	if v := got[0].Vectors["image"]; len(v) != 2 || v[1] != 0.8 {
		t.Errorf("query vectors %v", got[0].Vectors)
	}
	var held []features.LoggedSearch
	if _, err := features.ExportSearches(ctx, db, true, func(s features.LoggedSearch) error { held = append(held, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(held) != 1 || held[0].ID != "s-judged" || held[0].Outcomes[1] != 2 {
		t.Fatalf("held-out searches: %+v", held)
	}
	// Retention: a cutoff a day after the first search's day drops that day only.
	days, err := log.Prune(ctx, day.Truncate(24*time.Hour).Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 1 || days[0] != "20260301" {
		t.Fatalf("dropped %v, want [20260301]", days)
	}
	got = nil
	if _, err := features.ExportSearches(ctx, db, false, func(s features.LoggedSearch) error { got = append(got, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("after retention: %+v", got)
	}
	if err := log.Write(ctx, []features.Search{live}); err != nil { // the day is created again
		t.Fatal(err)
	}
}

// TestSearchImpressionsMigration migrates a database whose search log keeps one row per
// impression (the schema before 008): each search comes back from the export with its
// impressions in position order, their engine scores and grades, NULL kept as none.
func TestSearchImpressionsMigration(t *testing.T) {
	ctx := context.Background()
	db, err := postgres.Open(ctx, testenv.FreshDatabase(t, "features_searchmig"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.MigrateTo(ctx, 7); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if _, err := db.Pool.Exec(ctx, `
		CREATE TABLE searches_p20260301 PARTITION OF searches FOR VALUES FROM ('2026-03-01') TO ('2026-03-02');
		CREATE TABLE search_impressions_p20260301 PARTITION OF search_impressions FOR VALUES FROM ('2026-03-01') TO ('2026-03-02')`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO searches (search_id, created_at, source, query_text, judged) VALUES ('m1', $1, 'rerank', 'red bag', false), ('m2', $1, 'import', 'hat', true)`,
		`INSERT INTO search_impressions (search_id, created_at, position, item_id, engine_score, grade) VALUES
			('m1', $1, 2, 'c', NULL, NULL), ('m1', $1, 0, 'a', 1.5, NULL), ('m1', $1, 1, 'b', NULL, NULL),
			('m2', $1, 0, 'x', NULL, 2), ('m2', $1, 1, 'y', NULL, 0)`,
	} {
		if _, err := db.Pool.Exec(ctx, q, at); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]features.LoggedSearch{}
	for _, holdout := range []bool{false, true} {
		if _, err := features.ExportSearches(ctx, db, holdout, func(s features.LoggedSearch) error { got[s.ID] = s; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	m1, m2 := got["m1"], got["m2"]
	if len(got) != 2 || len(m1.Impressions) != 3 || len(m2.Impressions) != 2 || m1.Text != "red bag" || !m2.Judged {
		t.Fatalf("migrated searches: %+v", got)
	}
	for p, id := range []string{"a", "b", "c"} {
		if im := m1.Impressions[p]; im.ItemID != id || im.Grade != nil || (p == 0) != (im.EngineScore != nil) {
			t.Errorf("m1 position %d: %+v, want %s", p, im, id)
		}
	}
	if e := m1.Impressions[0].EngineScore; e == nil || *e != 1.5 {
		t.Errorf("engine score %v, want 1.5", e)
	}
	if g := m2.Impressions[0].Grade; g == nil || *g != 2 || m2.Outcomes[0] != 2 || m2.Outcomes[1] != 0 {
		t.Errorf("judged search: %+v, outcomes %v", m2.Impressions, m2.Outcomes)
	}
	var tables int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname LIKE 'search_impressions%'`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("%d tables of the old impressions left (%v)", tables, err)
	}
	// A batch that repeats a stored search stores the new one and leaves the stored one.
	log := features.NewSearchLog(db, nil)
	again := features.Search{ID: "m1", At: at, Source: features.SearchFromRerank, Text: "changed", Impressions: []features.Impression{{ItemID: "z"}}}
	fresh := features.Search{ID: "m3", At: at.Add(time.Second), Source: features.SearchFromRerank, Text: "shoes", Impressions: []features.Impression{{ItemID: "s"}}}
	if err := log.Write(ctx, []features.Search{again, fresh}); err != nil {
		t.Fatal(err)
	}
	clear(got)
	if _, err := features.ExportSearches(ctx, db, false, func(s features.LoggedSearch) error { got[s.ID] = s; return nil }); err != nil {
		t.Fatal(err)
	}
	if m1, m3 := got["m1"], got["m3"]; m1.Text != "red bag" || len(m1.Impressions) != 3 || m3.Text != "shoes" || len(m3.Impressions) != 1 {
		t.Errorf("after a batch with a repeated search: %+v", got)
	}
}

// TestSearchLogAnswered: the searches the service answered (Record, written by Run)
// are stored with their impressions as given; a batch holding a search already stored
// (the same id and time) stores the others and leaves that one as it was.
func TestSearchLogAnswered(t *testing.T) {
	db := testenv.DB(t, "featsearchans")
	log := features.NewSearchLog(db, nil)
	at := time.Date(2026, 4, 2, 9, 30, 0, 123000, time.UTC)
	s1, s2 := 0.25, -3.0
	search := func(id string, n int) features.Search {
		s := features.Search{ID: id, At: at, Source: features.SearchFromRerank, UserID: "u-" + id, Text: "q " + id, ModelVersion: "m1"}
		for p := range n {
			im := features.Impression{ItemID: fmt.Sprintf("%s-item%d", id, p)}
			if p == 1 {
				im.EngineScore = &s1
			} else if p == 2 {
				im.EngineScore = &s2
			}
			s.Impressions = append(s.Impressions, im)
		}
		return s
	}
	// A search stored before, with other impressions than the one recorded later.
	if err := log.Write(context.Background(), []features.Search{search("dup", 1)}); err != nil {
		t.Fatal(err)
	}
	run := func(ss ...features.Search) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { log.Run(ctx); close(done) }()
		for _, s := range ss {
			log.Record(s)
		}
		cancel() // Run writes what is queued, then returns
		<-done
	}
	run(search("a", 3), search("b", 0), search("c", 20))
	run(search("d", 2), search("dup", 4), search("e", 5))
	rows, err := db.Pool.Query(context.Background(), `SELECT search_id, created_at, user_id, query_text, model_version, item_ids, engine_scores, grades
		FROM searches ORDER BY search_id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id, user, text, version string
		var ts time.Time
		var ids []string
		var scores, grades []*float64
		if err := rows.Scan(&id, &ts, &user, &text, &version, &ids, &scores, &grades); err != nil {
			t.Fatal(err)
		}
		want := search(id, map[string]int{"a": 3, "b": 0, "c": 20, "d": 2, "dup": 1, "e": 5}[id])
		if !ts.Equal(at) || user != want.UserID || text != want.Text || version != "m1" || len(ids) != len(want.Impressions) ||
			len(scores) != len(ids) || len(grades) != len(ids) {
			t.Fatalf("%s: stored %v %q %q %q, %d ids, %d scores, %d grades", id, ts, user, text, version, len(ids), len(scores), len(grades))
		}
		for p, im := range want.Impressions {
			if ids[p] != im.ItemID || (scores[p] == nil) != (im.EngineScore == nil) || (scores[p] != nil && *scores[p] != *im.EngineScore) || grades[p] != nil {
				t.Fatalf("%s position %d: %s %v %v, want %+v", id, p, ids[p], scores[p], grades[p], im)
			}
		}
		got = append(got, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c", "d", "dup", "e"}; !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
}
