package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/internal/testenv"
	"github.com/fusionrank/fusionrank/ranking"
	"github.com/fusionrank/fusionrank/recommend"
)

// TestTrainServesSequenceEncoder: `fusionrank train` registers a model with
// its sequence encoder, and the service's seq feature of every candidate is
// the encoder's formula over the stored rows and the user's recent items
// (what training computes: training.TestSeqEncoderServed), with a non-zero
// weight in the model.
func TestTrainServesSequenceEncoder(t *testing.T) {
	// A database of its own: training reads every event of the database.
	m := startMainOn(t, testenv.DB(t, "cmdtrain"), nil, testLog(t))
	ctx := context.Background()
	base := m.URL()
	key := createKey(t, m, fusionrank.ScopeAdmin)
	const p, n = "seqtrain-", 20
	ids := putItems(t, m, key, p, n, func(i int) map[string]any {
		return map[string]any{"title": fmt.Sprintf("thing %d", i), "category": "c"}
	})
	item := func(i int) string { return ids[i%n] }
	// A candidate the serving catalogue has not loaded yet is answered as unknown,
	// without an explanation.
	waitForItem(t, m, ids[n-1])
	// Users walk the chain item i → item i+1 from different starts.
	t0 := time.Now().UTC().Add(-48 * time.Hour)
	var events []any
	for u := range 60 {
		for k := range 6 {
			events = append(events, map[string]any{"event_id": fmt.Sprintf("%se%d-%d", p, u, k), "user_id": fmt.Sprintf("%suser%d", p, u),
				"item_id": item(u + k), "type": "click", "timestamp": t0.Add(time.Duration(u*10+k) * time.Minute).Format(time.RFC3339)})
		}
	}
	if r := do(t, "POST", base+"/v1/events", key, map[string]any{"events": events}); r.status/100 != 2 {
		t.Fatalf("events: %d %s", r.status, r.body)
	}
	version := fmt.Sprintf("%sv%d", p, time.Now().UnixNano())
	var out, errb bytes.Buffer
	if err := runTrain(ctx, []string{"--database-url", m.Config.DatabaseURL, "--version", version, "--activate", "--epochs", "1", "--quiet"}, &out, &errb); err != nil {
		t.Fatalf("train: %v\n%s", err, errb.String())
	}
	if _, err := m.Models.Sync(ctx); err != nil || m.Models.Version() != version {
		t.Fatalf("sync: %v, serving %s", err, m.Models.Version())
	}

	// The stored encoder: its gates, the u weight of seq, its rows.
	var cfg, weights []byte
	if err := m.DB.Pool.QueryRow(ctx, `SELECT config, weights FROM models WHERE version = $1`, version).Scan(&cfg, &weights); err != nil {
		t.Fatal(err)
	}
	var spec recommend.Spec
	if err := json.Unmarshal(cfg, &spec); err != nil || spec.Seq == nil {
		t.Fatalf("spec without a sequence encoder: %v %s", err, cfg)
	}
	model, _, err := ranking.ReadModelRecency(bytes.NewReader(weights))
	if err != nil {
		t.Fatal(err)
	}
	if u := model.U[ranking.FeatSeq]; u == 0 {
		t.Errorf("seq weight 0: the served model ignores the encoder")
	}
	rows := map[string][]float32{}
	rs, err := m.DB.Pool.Query(ctx, `SELECT item_id, data FROM item_vectors WHERE model_version = $1 AND modality = $2`, version, recommend.SeqModality)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var id string
		var data []byte
		if err := rs.Scan(&id, &data); err != nil {
			t.Fatal(err)
		}
		v := make([]float32, len(data)/4)
		features.ReadFloats(v, data)
		rows[id] = v
	}
	rs.Close()
	if len(rows[item(0)]) != spec.Seq.Dim+1 {
		t.Fatalf("row of %s has %d floats, want dim+1 = %d", item(0), len(rows[item(0)]), spec.Seq.Dim+1)
	}

	user := p + "user7"
	f := do(t, "GET", base+"/v1/users/"+user+"/features", key, nil)
	if f.status != 200 {
		t.Fatalf("features: %d %s", f.status, f.body)
	}
	var recent [][]float32
	for _, id := range f.json(t)["recent_items"].([]any) {
		recent = append(recent, rows[id.(string)])
	}
	h := make([]float32, spec.Seq.Dim)
	spec.Seq.QueryTo(h, recent)
	var cands []any
	for i := range n {
		cands = append(cands, map[string]any{"id": item(i)})
	}
	r := do(t, "POST", base+"/v1/rerank", key, map[string]any{"user_id": user, "items": cands, "explain": true})
	if r.status != 200 {
		t.Fatalf("rerank: %d %s", r.status, r.body)
	}
	distinct := map[float64]bool{}
	for _, it := range r.json(t)["items"].([]any) {
		it := it.(map[string]any)
		ex, ok := it["explanation"].(map[string]any)
		if !ok {
			t.Fatalf("%s has no explanation: %s", it["id"], r.body)
		}
		got := ex["features"].(map[string]any)["seq"].(float64)
		want := float64(spec.Seq.Score(h, rows[it["id"].(string)]))
		if math.Abs(got-want) > 1e-3*(1+math.Abs(want)) {
			t.Errorf("%s: served seq %v, formula %v", it["id"], got, want)
		}
		distinct[got] = true
	}
	if len(distinct) < n/2 {
		t.Errorf("only %d distinct seq values over %d items", len(distinct), n)
	}
}

// TestTrainChoosesRecentModality: on a shop with a catalogue modality,
// `fusionrank train` trains both candidates (recent slots holding collab
// vectors, or the catalogue modality's without collab), reports both and
// the one it serves in `models show`; a model trained with the catalogue
// modality in the recent slots (--recent) serves them from the catalogue:
// the explanation of a user with history has recent tokens.
func TestTrainChoosesRecentModality(t *testing.T) {
	m := startMainOn(t, testenv.DB(t, "cmdtrainrecent"), nil, testLog(t))
	ctx := context.Background()
	base := m.URL()
	key := createKey(t, m, fusionrank.ScopeAdmin)
	const p, n = "recent-", 16
	ids := putItems(t, m, key, p, n, func(i int) map[string]any {
		v := make([]float32, 512)
		v[i%8] = 1
		return map[string]any{"title": fmt.Sprintf("thing %d", i), "category": "c", "vectors": map[string]any{"image": v}}
	})
	t0 := time.Now().UTC().Add(-48 * time.Hour)
	var events []any
	for u := range 40 {
		for k := range 5 {
			events = append(events, map[string]any{"event_id": fmt.Sprintf("%se%d-%d", p, u, k), "user_id": fmt.Sprintf("%suser%d", p, u),
				"item_id": ids[(u+k)%n], "type": "click", "timestamp": t0.Add(time.Duration(u*10+k) * time.Minute).Format(time.RFC3339)})
		}
	}
	if r := do(t, "POST", base+"/v1/events", key, map[string]any{"events": events}); r.status/100 != 2 {
		t.Fatalf("events: %d %s", r.status, r.body)
	}
	train := func(version string, extra ...string) map[string]any {
		t.Helper()
		var out, errb bytes.Buffer
		args := append([]string{"--database-url", m.Config.DatabaseURL, "--version", version, "--epochs", "1", "--seq=false", "--quiet"}, extra...)
		if err := runTrain(ctx, args, &out, &errb); err != nil {
			t.Fatalf("train %v: %v\n%s", extra, err, errb.String())
		}
		var cfg []byte
		if err := m.DB.Pool.QueryRow(ctx, `SELECT config FROM models WHERE version = $1`, version).Scan(&cfg); err != nil {
			t.Fatal(err)
		}
		var spec recommend.Spec
		if err := json.Unmarshal(cfg, &spec); err != nil {
			t.Fatal(err)
		}
		return spec.Notes
	}
	v1 := fmt.Sprintf("%sauto%d", p, time.Now().UnixNano())
	notes := train(v1)
	cands, _ := notes["candidates"].(map[string]any)
	// Attention and late fusion for each recent modality, and off once.
	if len(cands) != 5 || cands["recent=collab"] == nil || cands["fusion=off"] == nil || cands["recent=collab,fusion=late"] == nil {
		t.Fatalf("candidates %v", notes["candidates"])
	}
	var other string
	for name := range cands {
		if name != "recent=collab" && !strings.Contains(name, "fusion=") {
			other = strings.TrimPrefix(name, "recent=")
		}
	}
	for name, c := range cands {
		if f, _ := c.(map[string]any)["fusion"].(string); f == "" || (strings.Contains(name, "fusion=") && !strings.HasSuffix(name, "fusion="+f)) {
			t.Errorf("candidate %s: fusion %q", name, f)
		}
	}
	if c, _ := notes["chosen"].(string); cands[c] == nil {
		t.Errorf("chosen %q is not a candidate", notes["chosen"])
	}
	var out, errb bytes.Buffer
	if err := runTrain(ctx, []string{"--database-url", m.Config.DatabaseURL, "--recent", "nosuch", "--quiet"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "--recent") {
		t.Errorf("--recent nosuch: %v", err)
	}

	v2 := fmt.Sprintf("%sother%d", p, time.Now().UnixNano())
	if notes := train(v2, "--recent", other, "--fusion", "attention", "--activate"); notes["chosen"] != "recent="+other {
		t.Fatalf("chosen %v, want recent=%s", notes["chosen"], other)
	}
	if _, err := m.Models.Sync(ctx); err != nil || m.Models.Version() != v2 {
		t.Fatalf("sync: %v, serving %s", err, m.Models.Version())
	}
	var cands2 []any
	for i := range n {
		cands2 = append(cands2, map[string]any{"id": ids[i]})
	}
	r := do(t, "POST", base+"/v1/rerank", key, map[string]any{"user_id": p + "user3", "items": cands2, "explain": true})
	if r.status != 200 {
		t.Fatalf("rerank: %d %s", r.status, r.body)
	}
	recentTokens := 0
	for _, it := range r.json(t)["items"].([]any) {
		ex := it.(map[string]any)["explanation"].(map[string]any)
		toks, _ := ex["tokens"].([]any)
		for _, tk := range toks {
			if strings.HasPrefix(tk.(map[string]any)["token"].(string), "recent:") {
				recentTokens++
			}
		}
	}
	if recentTokens == 0 {
		t.Errorf("no recent token in the explanations: the recent slots are empty (%s)", r.body)
	}

	// A late-fusion model is served in its own mode: the registry and the API say
	// so, and its explanations are the modalities' contributions; an off model
	// explains by its features alone.
	for _, mode := range []string{"late", "off"} {
		v := fmt.Sprintf("%s%s%d", p, mode, time.Now().UnixNano())
		if notes := train(v, "--recent", other, "--fusion", mode, "--activate"); notes["fusion"] != mode {
			t.Fatalf("--fusion %s: notes %v", mode, notes)
		}
		if _, err := m.Models.Sync(ctx); err != nil || m.Models.Version() != v {
			t.Fatalf("sync: %v, serving %s", err, m.Models.Version())
		}
		var lo, le bytes.Buffer
		if err := runModels(ctx, []string{"show", "--database-url", m.Config.DatabaseURL, v}, &lo, &le); err != nil {
			t.Fatalf("models show: %v %s", err, le.String())
		}
		var info fusionrank.ModelInfo
		if err := json.Unmarshal(lo.Bytes(), &info); err != nil || info.Fusion != mode {
			t.Fatalf("models show: fusion %q (%v): %s", info.Fusion, err, lo.String())
		}
		// This shop is below recommend.ExactLimit items: models index stores no graph
		// and says why.
		lo.Reset()
		if err := runModels(ctx, []string{"index", "--database-url", m.Config.DatabaseURL, v}, &lo, &le); err != nil || !strings.Contains(lo.String(), "no graph to store") {
			t.Fatalf("models index: %v %q %s", err, lo.String(), le.String())
		}
		r := do(t, "POST", base+"/v1/rerank", key, map[string]any{"user_id": p + "user3", "items": cands2, "explain": true})
		if r.status != 200 {
			t.Fatalf("rerank: %d %s", r.status, r.body)
		}
		contributed := 0
		for _, it := range r.json(t)["items"].([]any) {
			ex := it.(map[string]any)["explanation"].(map[string]any)
			if ex["fusion"] != mode {
				t.Fatalf("%s model: explanation %v", mode, ex)
			}
			mods, _ := ex["modalities"].(map[string]any)
			con, _ := ex["contributions"].(map[string]any)
			if mode == "off" && (len(mods) > 0 || len(con) > 0) {
				t.Fatalf("off model explains modalities: %v", ex)
			}
			if len(con) > 0 {
				contributed++
			}
		}
		if mode == "late" && contributed == 0 {
			t.Errorf("late model: no contributions in the explanations (%s)", r.body)
		}
	}
}
