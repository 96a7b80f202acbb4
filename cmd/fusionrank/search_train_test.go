package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/evaluation"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/internal/testenv"
	"github.com/fusionrank/fusionrank/ranking"
	"github.com/fusionrank/fusionrank/recommend"
)

// searchShop is a small shop with behaviour and search logs: six kinds of product
// (two words each), shoppers who click around, and searches reported by the shop's
// engine (POST /v1/searches) in which the shopper clicks the product whose words
// the query has, shown below others; the engine's score leans to it too.
type searchShop struct {
	m     *Main
	key   string
	kinds [][2]string
	items [][]string // items[g] are the ids of kind g
	user  string
}

func newSearchShop(t *testing.T) *searchShop {
	m := startMainOn(t, testenv.DB(t, "cmdsearch"), map[string]string{"FUSIONRANK_TEXT_VECTORS": glove}, testLog(t))
	sh := &searchShop{m: m, key: createKey(t, m, fusionrank.ScopeAdmin), user: "sq-user0",
		kinds: [][2]string{{"red", "bag"}, {"black", "jacket"}, {"blue", "shoes"}, {"wooden", "table"}, {"silver", "watch"}, {"green", "chair"}}}
	extra := []string{"classic", "large", "small", "new"}
	for g, k := range sh.kinds {
		var ids []string
		for e, x := range extra {
			id := fmt.Sprintf("sq-%d-%d", g, e)
			if r := do(t, "PUT", m.URL()+"/v1/items/"+id, sh.key, map[string]any{"title": k[0] + " " + k[1] + " " + x, "category": "c"}); r.status/100 != 2 {
				t.Fatalf("put %s: %d %s", id, r.status, r.body)
			}
			ids = append(ids, id)
		}
		sh.items = append(sh.items, ids)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	t0 := time.Now().UTC().Add(-20 * time.Hour)
	var events []any
	for u := range 20 {
		for k := range 5 {
			g := rng.IntN(len(sh.kinds))
			events = append(events, map[string]any{"event_id": fmt.Sprintf("sq-e%d-%d", u, k), "user_id": fmt.Sprintf("sq-user%d", u),
				"item_id": sh.items[g][rng.IntN(4)], "type": "click", "timestamp": t0.Add(time.Duration(u*10+k) * time.Minute).Format(time.RFC3339)})
		}
	}
	var searches []any
	for s := range 240 {
		g := s % len(sh.kinds)
		k := sh.kinds[g]
		text := []string{k[0], k[1], k[0] + " " + k[1]}[rng.IntN(3)]
		at := t0.Add(5*time.Hour + time.Duration(s)*time.Minute)
		shown := make([]string, len(sh.kinds))
		for h := range sh.kinds {
			shown[h] = sh.items[h][rng.IntN(4)]
		}
		rng.Shuffle(len(shown), func(a, b int) { shown[a], shown[b] = shown[b], shown[a] })
		var items []any
		for _, id := range shown {
			score := rng.NormFloat64()
			if id[:len(fmt.Sprintf("sq-%d-", g))] == fmt.Sprintf("sq-%d-", g) {
				score += 1.5
			}
			items = append(items, map[string]any{"id": id, "score": score})
		}
		id := fmt.Sprintf("sq-search%d", s)
		user := fmt.Sprintf("sq-user%d", s%20)
		searches = append(searches, map[string]any{"search_id": id, "timestamp": at.Format(time.RFC3339), "user_id": user,
			"query": map[string]any{"text": text}, "items": items})
		for _, sid := range shown {
			if sid[:len(fmt.Sprintf("sq-%d-", g))] == fmt.Sprintf("sq-%d-", g) {
				events = append(events, map[string]any{"event_id": "sq-click" + id, "user_id": user, "item_id": sid, "type": "click",
					"request_id": id, "timestamp": at.Add(10 * time.Second).Format(time.RFC3339)})
			}
		}
	}
	if r := do(t, "POST", m.URL()+"/v1/searches", sh.key, map[string]any{"searches": searches}); r.status != 200 {
		t.Fatalf("searches: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", m.URL()+"/v1/events", sh.key, map[string]any{"events": events}); r.status/100 != 2 {
		t.Fatalf("events: %d %s", r.status, r.body)
	}
	return sh
}

// train runs fusionrank train --activate and waits for the service to serve it.
func (sh *searchShop) train(t *testing.T, extra ...string) string {
	t.Helper()
	ctx := context.Background()
	version := fmt.Sprintf("sq-v%d", time.Now().UnixNano())
	args := append([]string{"--database-url", sh.m.Config.DatabaseURL, "--text-vectors", glove, "--version", version, "--activate",
		"--epochs", "30", "--patience", "5", "--lr", "5e-3", "--search-mix", "1", "--seq=false", "--quiet"}, extra...)
	var out, errb bytes.Buffer
	if err := runTrain(ctx, args, &out, &errb); err != nil {
		t.Fatalf("train: %v\n%s", err, errb.String())
	}
	if _, err := sh.m.Models.Sync(ctx); err != nil || sh.m.Models.Version() != version {
		t.Fatalf("sync: %v, serving %s", err, sh.m.Models.Version())
	}
	return version
}

// rerank asks for the order of the first product of every kind under a query, with
// the engine scores given (nil: none).
func (sh *searchShop) rerank(t *testing.T, text string, scores map[string]float64) []string {
	t.Helper()
	var items []any
	for g := range sh.kinds {
		it := map[string]any{"id": sh.items[g][0]}
		if s, ok := scores[sh.items[g][0]]; ok {
			it["score"] = s
		}
		items = append(items, it)
	}
	body := map[string]any{"user_id": sh.user, "items": items}
	if text != "" {
		body["query"] = map[string]any{"text": text}
	}
	r := do(t, "POST", sh.m.URL()+"/v1/rerank", sh.key, body)
	if r.status != 200 {
		t.Fatalf("rerank %q: %d %s", text, r.status, r.body)
	}
	var ans fusionrank.Ranking
	if err := json.Unmarshal(r.body, &ans); err != nil {
		t.Fatal(err)
	}
	if ans.ModelVersion != sh.m.Models.Version() {
		t.Fatalf("answered by %q, want the trained model %s", ans.ModelVersion, sh.m.Models.Version())
	}
	var ids []string
	for _, it := range ans.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

// TestTrainedModelReadsTheQuery: after fusionrank train on a shop with search logs,
// the same shopper and the same candidates under two queries come back in different
// orders, each query's product first; a strong engine score moves a product up, and
// the learned engine weight is positive and shown by fusionrank models show.
func TestTrainedModelReadsTheQuery(t *testing.T) {
	sh := newSearchShop(t)
	version := sh.train(t)

	bag, jacket := sh.items[0][0], sh.items[1][0]
	a := sh.rerank(t, "red bag", nil)
	b := sh.rerank(t, "black jacket", nil)
	if a[0] != bag || b[0] != jacket {
		t.Errorf("query's product not first: %q → %v, %q → %v", "red bag", a, "black jacket", b)
	}
	if slices.Equal(a, b) {
		t.Errorf("two queries, one order %v: the model does not read the query", a)
	}

	// The learned engine weight, as models show reports it.
	var out, errb bytes.Buffer
	if err := runModels(context.Background(), []string{"show", "--database-url", sh.m.Config.DatabaseURL, version}, &out, &errb); err != nil {
		t.Fatalf("models show: %v %s", err, errb.String())
	}
	var info fusionrank.ModelInfo
	if err := json.Unmarshal(out.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	w, ok := info.Metrics["engine_weight"]
	if !ok || !(w > 0) {
		t.Fatalf("models show: engine_weight %v (present %v), want a positive learned weight; metrics %v", w, ok, info.Metrics)
	}
	if _, ok := info.Metrics["search_mix"]; !ok {
		t.Errorf("models show: no search_mix in %v", info.Metrics)
	}
	// A strong engine score for the product ranked last moves it up.
	last := a[len(a)-1]
	scores := map[string]float64{}
	for g := range sh.kinds {
		scores[sh.items[g][0]] = 0
	}
	scores[last] = 100
	c := sh.rerank(t, "red bag", scores)
	if slices.Index(c, last) >= slices.Index(a, last) {
		t.Errorf("engine score 100 for %s: position %d, without it %d (weight %v)", last, slices.Index(c, last), slices.Index(a, last), w)
	}
}

// TestNoQueryIsTheBehaviouralRerank: a rerank without query text still works on a
// model with query slots (they are masked) and gives exactly what the same model
// without those slots (the behavioural layout: recent items and profile only) gives,
// within the documented tolerance (the answer's scores are rounded to 6 decimals).
func TestNoQueryIsTheBehaviouralRerank(t *testing.T) {
	sh := newSearchShop(t)
	version := sh.train(t)
	ctx := context.Background()
	withSlots := sh.rerankScores(t)

	// The same weights with the word and query-vector slots removed.
	var cfg, weights []byte
	if err := sh.m.DB.Pool.QueryRow(ctx, `SELECT config, weights FROM models WHERE version = $1`, version).Scan(&cfg, &weights); err != nil {
		t.Fatal(err)
	}
	var spec recommend.Spec
	if err := json.Unmarshal(cfg, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Layout.Words == 0 {
		t.Fatalf("trained layout has no word slots: %+v", spec.Layout)
	}
	model, enc, err := ranking.ReadModelRecency(bytes.NewReader(weights))
	if err != nil {
		t.Fatal(err)
	}
	spec.Layout.Words, spec.Layout.QueryMods = 0, nil
	spec.Ranking.MaxQueryTokens = spec.Layout.Tokens()
	plain := ranking.NewModel(spec.Ranking)
	src := map[string]ranking.Tensor{}
	for _, tn := range model.Tensors() {
		src[tn.Name] = tn
	}
	for _, tn := range plain.Tensors() {
		copy(tn.Data, src[tn.Name].Data) // pos_bias: the first slots, the behavioural ones
	}
	learned := map[string]map[string][]float32{}
	rows, err := sh.m.DB.Pool.Query(ctx, `SELECT item_id, modality, data FROM item_vectors WHERE model_version = $1`, version)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, mod string
		var data []byte
		if err := rows.Scan(&id, &mod, &data); err != nil {
			t.Fatal(err)
		}
		v := make([]float32, len(data)/4)
		for i := range v {
			v[i] = math.Float32frombits(uint32(data[4*i]) | uint32(data[4*i+1])<<8 | uint32(data[4*i+2])<<16 | uint32(data[4*i+3])<<24)
		}
		if learned[id] == nil {
			learned[id] = map[string][]float32{}
		}
		learned[id][mod] = v
	}
	rows.Close()
	reg := recommend.NewRegistry(sh.m.DB)
	plainVersion := version + "-plain"
	if err := reg.Register(ctx, plainVersion, plain, enc, spec, map[string]float64{}, "", learned); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ActivateModel(ctx, plainVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := sh.m.Models.Sync(ctx); err != nil || sh.m.Models.Version() != plainVersion {
		t.Fatalf("sync: %v, serving %s", err, sh.m.Models.Version())
	}
	without := sh.rerankScores(t)
	for id, s := range withSlots {
		if math.Abs(s-without[id]) > 2e-6 {
			t.Errorf("%s: score %v with masked query slots, %v without the slots", id, s, without[id])
		}
	}
}

// rerankScores is a rerank of every kind's first product without a query: the
// answer's scores by id.
func (sh *searchShop) rerankScores(t *testing.T) map[string]float64 {
	t.Helper()
	var items []any
	for g := range sh.kinds {
		items = append(items, map[string]any{"id": sh.items[g][0]})
	}
	r := do(t, "POST", sh.m.URL()+"/v1/rerank", sh.key, map[string]any{"user_id": sh.user, "items": items})
	if r.status != 200 {
		t.Fatalf("rerank without a query: %d %s", r.status, r.body)
	}
	var ans fusionrank.Ranking
	if err := json.Unmarshal(r.body, &ans); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, it := range ans.Items {
		out[it.ID] = it.Score
	}
	if len(out) != len(sh.kinds) {
		t.Fatalf("answer %s", r.body)
	}
	return out
}

// TestSearchesAreLogged: a rerank answer is in the search log with its query, the
// items in the order returned (the top FUSIONRANK_SEARCH_LOG_DEPTH of them) and the
// engine's scores (a repeated id's first, an unknown id's too), under its request_id; a
// shop's search with a missing field is a 400 naming it; /openapi.json documents the
// endpoint.
func TestSearchesAreLogged(t *testing.T) {
	m := startMainOn(t, testenv.DB(t, "cmdsearchlog"), map[string]string{"FUSIONRANK_TEXT_VECTORS": glove, "FUSIONRANK_SEARCH_LOG_DEPTH": "4"}, testLog(t))
	key := createKey(t, m, fusionrank.ScopeAdmin)
	ids := putItems(t, m, key, "sl-", 3, func(i int) map[string]any {
		return map[string]any{"title": []string{"red bag", "black jacket", "blue shoes"}[i]}
	})
	r := do(t, "POST", m.URL()+"/v1/rerank", key, map[string]any{"query": map[string]any{"text": "red bag"},
		"items": []any{map[string]any{"id": ids[0], "score": 1}, map[string]any{"id": ids[1], "score": 3}, map[string]any{"id": ids[2]},
			map[string]any{"id": ids[0], "score": 9}, map[string]any{"id": "sl-unknown", "score": 5}, map[string]any{"id": "sl-unknown-2"}}})
	if r.status != 200 {
		t.Fatalf("rerank: %d %s", r.status, r.body)
	}
	var ans fusionrank.Ranking
	if err := json.Unmarshal(r.body, &ans); err != nil {
		t.Fatal(err)
	}
	var got *features.LoggedSearch
	deadline := time.Now().Add(10 * time.Second)
	for got == nil && time.Now().Before(deadline) {
		if _, err := features.ExportSearches(context.Background(), m.DB, false, func(s features.LoggedSearch) error {
			if s.ID == ans.RequestID {
				got = &s
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if got == nil {
			time.Sleep(50 * time.Millisecond) // the log is written in the background every 200 ms
		}
	}
	if got == nil {
		t.Fatalf("the rerank answer %s is not in the search log", ans.RequestID)
	}
	if got.Text != "red bag" || got.Source != features.SearchFromRerank || got.ModelVersion != ans.ModelVersion || len(ans.Items) != 5 || len(got.Impressions) != 4 {
		t.Fatalf("logged %+v for answer %+v", got, ans)
	}
	want := map[string]float64{ids[0]: 1, ids[1]: 3, "sl-unknown": 5}
	if got.Impressions[3].ItemID != "sl-unknown" {
		t.Errorf("the fourth item logged is %s, want the first unknown id", got.Impressions[3].ItemID)
	}
	for p, im := range got.Impressions {
		if im.ItemID != ans.Items[p].ID {
			t.Errorf("position %d: logged %s, answered %s", p, im.ItemID, ans.Items[p].ID)
		}
		if w, ok := want[im.ItemID]; ok != (im.EngineScore != nil) || (ok && *im.EngineScore != w) {
			t.Errorf("%s: engine score %v, given %v", im.ItemID, im.EngineScore, w)
		}
	}
	bad := do(t, "POST", m.URL()+"/v1/searches", key, map[string]any{"searches": []any{map[string]any{"search_id": "x", "items": []any{map[string]any{"id": ids[0]}}}}})
	if bad.status != 400 || !bytes.Contains(bad.body, []byte("searches[0].timestamp")) {
		t.Errorf("search without timestamp: %d %s", bad.status, bad.body)
	}
	doc := do(t, "GET", m.URL()+"/openapi.json", "", nil)
	if !bytes.Contains(doc.body, []byte(`"/v1/searches"`)) {
		t.Errorf("/openapi.json does not document /v1/searches")
	}
}

// TestJudgementSetThroughTheServedPath: a relevance judgement set in the Home Depot
// format goes in as searches (import searches --holdout), fusionrank train learns a
// model from them alone (no behaviour), and eval rerank --model served scores the
// held-out searches through the service with that version, beside the engine's order.
func TestJudgementSetThroughTheServedPath(t *testing.T) {
	db := testenv.DB(t, "cmdjudged")
	m := startMainOn(t, db, map[string]string{"FUSIONRANK_TEXT_VECTORS": glove}, testLog(t))
	dir := t.TempDir()
	kinds := [][2]string{{"red", "bag"}, {"black", "jacket"}, {"blue", "shoes"}, {"wooden", "table"}, {"silver", "watch"}, {"green", "chair"}}
	var csv bytes.Buffer
	csv.WriteString("id,product_uid,product_title,search_term,relevance\n")
	row := 0
	for q := range 60 {
		g := q % len(kinds)
		term := []string{kinds[g][0], kinds[g][1], kinds[g][0] + " " + kinds[g][1]}[(q/len(kinds))%3] + fmt.Sprintf(" q%d", q)
		for h := range kinds {
			rel := 1.0
			if h == g {
				rel = 3
			}
			row++
			fmt.Fprintf(&csv, "%d,%d,%s %s item,%s,%g\n", row, 1000+h, kinds[h][0], kinds[h][1], term, rel)
		}
	}
	file := dir + "/judged.csv"
	if err := os.WriteFile(file, csv.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	url := m.Config.DatabaseURL
	var out, errb bytes.Buffer
	if err := runImport(context.Background(), []string{"searches", "--database-url", url, "--text-vectors", glove, "--holdout", "0.25", file}, &out, &errb); err != nil {
		t.Fatalf("import searches: %v %s", err, errb.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("searches: 60 (15 held out)")) {
		t.Errorf("import: %s", out.String())
	}
	version := fmt.Sprintf("judged-v%d", time.Now().UnixNano())
	if err := runTrain(context.Background(), []string{"--database-url", url, "--text-vectors", glove, "--version", version, "--activate", "--epochs", "3", "--quiet"}, &out, &errb); err != nil {
		t.Fatalf("train on searches alone: %v %s", err, errb.String())
	}
	outDir := dir + "/served"
	out.Reset()
	if err := runEvalRerank(context.Background(), []string{"--model", "served", "--database-url", url, "--redis-url", m.Config.RedisURL,
		"--text-vectors", glove, "--out", outDir, "--quiet", "--resamples", "200"}, &out, &errb); err != nil {
		t.Fatalf("eval rerank --model served: %v %s", err, errb.String())
	}
	b, err := os.ReadFile(outDir + "/metrics.json")
	if err != nil {
		t.Fatal(err)
	}
	var met struct {
		ModelVersion string             `json:"model_version"`
		Queries      int                `json:"queries"`
		Metrics      map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal(b, &met); err != nil {
		t.Fatal(err)
	}
	if met.ModelVersion != version || met.Queries != 15 || !(met.Metrics["NDCG@10"] > 0) {
		t.Errorf("metrics.json %s", b)
	}
	if !bytes.Contains(out.Bytes(), []byte("paired NDCG@10: served")) {
		t.Errorf("no paired comparison: %s", out.String())
	}
	// Each search's NDCG@k is in values.tsv (their mean is the report's), and eval
	// compare reads it: NDCG only, a run against itself differs by exactly 0.
	vals, err := evaluation.ReadCaseValues(filepath.Join(outDir, evaluation.ValuesFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 15 {
		t.Fatalf("values.tsv: %d searches, want 15", len(vals))
	}
	for _, k := range []string{"NDCG@5", "NDCG@10", "NDCG@20"} {
		var sum float64
		for _, v := range vals {
			x, ok := v.Get(k)
			if !ok {
				t.Fatalf("values.tsv: no %s", k)
			}
			sum += x
		}
		if math.Abs(sum/15-met.Metrics[k]) > 1e-9 {
			t.Errorf("values.tsv: mean %s %g, metrics.json %g", k, sum/15, met.Metrics[k])
		}
	}
	out.Reset()
	if err := runEval(context.Background(), []string{"compare", "--resamples", "200", outDir, outDir}, &out, &errb); err != nil {
		t.Fatalf("eval compare of served runs: %v %s", err, errb.String())
	}
	if !strings.Contains(out.String(), "| NDCG@10 |") || !strings.Contains(out.String(), "+0.0000 | [+0.0000, +0.0000]") || strings.Contains(out.String(), "HR@10") {
		t.Errorf("eval compare, a served run against itself:\n%s", out.String())
	}
}
