package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/testenv"
)

// TestMatchFeaturesThroughTheServedPath: products whose titles differ only in a word
// the word vectors do not know (so their text vectors are equal and the word slots
// cannot tell them apart), judged searches naming that word and no engine score.
// After fusionrank train, the learned match_share weight is positive and a rerank
// request puts the product whose title has the query's words first, wherever it is
// given: only the match features (the query's words against the title) carry it.
func TestMatchFeaturesThroughTheServedPath(t *testing.T) {
	db := testenv.DB(t, "cmdmatch")
	m := startMainOn(t, db, map[string]string{"FUSIONRANK_TEXT_VECTORS": glove}, testLog(t))
	dir := t.TempDir()
	codes := []string{"zqxa", "zqxb", "zqxc", "zqxd", "zqxe", "zqxf"}
	var csv bytes.Buffer
	csv.WriteString("id,product_uid,product_title,search_term,relevance\n")
	row := 0
	for q := range 90 {
		g := q % len(codes)
		for h := range codes {
			rel := 1.0
			if h == g {
				rel = 3
			}
			row++
			fmt.Fprintf(&csv, "%d,%d,red item %s,red %s,%g\n", row, 2000+h, codes[h], codes[g], rel)
		}
	}
	file := dir + "/judged.csv"
	if err := os.WriteFile(file, csv.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	url := m.Config.DatabaseURL
	var out, errb bytes.Buffer
	if err := runImport(context.Background(), []string{"searches", "--database-url", url, "--text-vectors", glove, "--engine", "none", file}, &out, &errb); err != nil {
		t.Fatalf("import searches: %v %s", err, errb.String())
	}
	version := fmt.Sprintf("match-v%d", time.Now().UnixNano())
	if err := runTrain(context.Background(), []string{"--database-url", url, "--text-vectors", glove, "--version", version, "--activate",
		"--epochs", "5", "--lr", "5e-3", "--quiet"}, &out, &errb); err != nil {
		t.Fatalf("train: %v %s", err, errb.String())
	}
	if _, err := m.Models.Sync(context.Background()); err != nil || m.Models.Version() != version {
		t.Fatalf("sync: %v, serving %s", err, m.Models.Version())
	}
	var w float64
	if err := m.DB.Pool.QueryRow(context.Background(), `SELECT (metrics->>'match_share_weight')::float8 FROM models WHERE version = $1`, version).Scan(&w); err != nil {
		t.Fatal(err)
	}
	if !(w > 0) {
		t.Errorf("learned match_share weight %v, want > 0", w)
	}
	key := createKey(t, m, fusionrank.ScopeAdmin)
	for g, code := range codes {
		var items []any
		for h := range codes {
			items = append(items, map[string]any{"id": fmt.Sprint(2000 + (g+1+h)%len(codes))}) // the match given last
		}
		r := do(t, "POST", m.URL()+"/v1/rerank", key, map[string]any{"query": map[string]any{"text": "red " + code}, "items": items})
		if r.status != 200 {
			t.Fatalf("rerank: %d %s", r.status, r.body)
		}
		var ans fusionrank.Ranking
		if err := json.Unmarshal(r.body, &ans); err != nil {
			t.Fatal(err)
		}
		if ans.ModelVersion != version || ans.Items[0].ID != fmt.Sprint(2000+g) {
			t.Errorf("query red %s: %s first (model %s), want %d", code, ans.Items[0].ID, ans.ModelVersion, 2000+g)
		}
	}
}
