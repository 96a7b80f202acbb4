package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/ranking"
	"github.com/fusionrank/fusionrank/recommend"
)

// registerRandomModel registers a model with random weights and random learned collab
// vectors for the given items.
// With an odd seed the model also has a query encoder.
func registerRandomModel(t *testing.T, m *Main, version string, seed uint64, items []string) {
	t.Helper()
	layout := ranking.Layout{Recent: 4, RecentMod: "collab", ProfileMods: []string{"text", "image"}, QueryMods: []string{"image"}, Words: 4}
	cfg := ranking.Config{Modalities: []ranking.Modality{{Name: "text", Dim: 100}, {Name: "image", Dim: 4}, {Name: "collab", Dim: 8}},
		DModel: 16, DAttn: 8, NFeatures: ranking.NFeatures, MaxQueryTokens: layout.Tokens()}
	rng := rand.New(rand.NewPCG(seed, 7))
	model := ranking.NewRandomModel(cfg, rng)
	learned := map[string]map[string][]float32{}
	for _, id := range items {
		v := make([]float32, 8)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		learned[id] = map[string][]float32{"collab": v}
	}
	spec := recommend.Spec{Ranking: cfg, Layout: layout, Features: ranking.FeatureNames, Learned: []string{"collab"}}
	var enc *ranking.RecencyEmbedding
	if seed%2 == 1 {
		enc = ranking.NewRecencyEmbedding(layout.Recent, 8)
		for i := range enc.Pos {
			enc.Pos[i] = float32(rng.NormFloat64())
		}
	}
	if err := m.ModelRegistry.Register(context.Background(), version, model, enc, spec, map[string]float64{"NDCG@10": 0.1}, "test", learned); err != nil {
		t.Fatal(err)
	}
}

func TestModelSwapUnderLoad(t *testing.T) {
	m := startMain(t, map[string]string{"FUSIONRANK_MODALITIES": "image:4", "FUSIONRANK_TEXT_VECTORS": glove})
	ctx := context.Background()
	base := m.URL()
	key := createKey(t, m, fusionrank.ScopeAdmin)
	p := "swap-"
	items := putItems(t, m, key, p, 40, func(i int) map[string]any {
		return map[string]any{"title": fmt.Sprintf("product number %d red blue", i),
			"category": fmt.Sprintf("c%d", i%5), "vectors": map[string]any{"image": []float32{1, float32(i), 0, 1}}}
	})
	waitForItem(t, m, p+"item39")
	v1, v2 := p+"v1-"+fmt.Sprint(time.Now().UnixNano()), p+"v2-"+fmt.Sprint(time.Now().UnixNano())
	registerRandomModel(t, m, v1, 1, items)
	registerRandomModel(t, m, v2, 2, items)
	if _, err := m.ModelRegistry.ActivateModel(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Models.Sync(ctx); err != nil || m.Models.Version() != v1 {
		t.Fatalf("sync: %v, version %s", err, m.Models.Version())
	}
	var events []any
	for i := range 5 {
		events = append(events, map[string]any{"event_id": fmt.Sprintf("%se%d", p, i), "user_id": p + "u", "item_id": items[i], "type": "click",
			"timestamp": time.Now().UTC().Add(-time.Duration(5-i) * time.Minute).Format(time.RFC3339)})
	}
	do(t, "POST", base+"/v1/events", key, map[string]any{"events": events})

	// Concurrent load while the active model flips between v1 and v2.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var requests, failures atomic.Int64
	versions := sync.Map{}
	for w := range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var r response
				if w%2 == 0 {
					r = do(t, "POST", base+"/v1/recommendations", key, map[string]any{"user_id": p + "u", "count": 5, "explain": true})
				} else {
					r = do(t, "POST", base+"/v1/rerank", key, map[string]any{"user_id": p + "u", "query": map[string]any{"text": "red product"},
						"items": []any{map[string]any{"id": items[7]}, map[string]any{"id": items[9]}, map[string]any{"id": items[11]}}})
				}
				requests.Add(1)
				if r.status != 200 {
					failures.Add(1)
					t.Errorf("request failed during swap: %d %s", r.status, r.body)
					continue
				}
				versions.Store(r.json(t)["model_version"], true)
			}
		})
	}
	for i := range 6 {
		v := []string{v2, v1}[i%2]
		if _, err := m.ModelRegistry.ActivateModel(ctx, v); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Models.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond) // let requests run on this model
	}
	close(stop)
	wg.Wait()
	if failures.Load() > 0 || requests.Load() < 10 {
		t.Fatalf("%d of %d requests failed", failures.Load(), requests.Load())
	}
	for _, v := range []string{v1, v2} {
		if _, ok := versions.Load(v); !ok {
			t.Errorf("no answer came from model %s", v)
		}
	}
	// Rollback returns to the previously active version.
	cur := m.Models.Version()
	rb, err := m.ModelRegistry.RollbackModel(ctx)
	if err != nil || rb.Version == cur {
		t.Fatalf("rollback: %v to %s (was %s)", err, rb.Version, cur)
	}
	r := do(t, "GET", base+"/v1/models", key, nil)
	if r.status != 200 || len(r.json(t)["models"].([]any)) < 2 {
		t.Fatalf("list models: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", base+"/v1/models/nope/activate", key, nil); r.status != 404 {
		t.Fatalf("activate unknown: %d %s", r.status, r.body)
	}
}

// TestOlderModelLoads: a model registered before the seq feature existed (six
// scalar features) still loads and serves; the new feature weighs 0.
func TestOlderModelLoads(t *testing.T) {
	m := startMain(t, nil)
	ctx := context.Background()
	key := createKey(t, m, fusionrank.ScopeAdmin)
	p := "older-"
	items := putItems(t, m, key, p, 5, func(int) map[string]any { return map[string]any{"title": "a thing", "category": "c"} })
	layout := ranking.Layout{Recent: 2, RecentMod: "collab"}
	cfg := ranking.Config{Modalities: []ranking.Modality{{Name: "collab", Dim: 4}}, DModel: 8, DAttn: 4, NFeatures: 6, MaxQueryTokens: layout.Tokens()}
	model := ranking.NewRandomModel(cfg, rand.New(rand.NewPCG(1, 2)))
	model.U[ranking.FeatCovis] = 1
	learned := map[string]map[string][]float32{}
	for _, id := range items {
		learned[id] = map[string][]float32{"collab": {1, 0, 0, 1}}
	}
	spec := recommend.Spec{Ranking: cfg, Layout: layout, Features: ranking.FeatureNames[:6], Learned: []string{"collab"}}
	version := fmt.Sprintf("%sv%d", p, time.Now().UnixNano())
	if err := m.ModelRegistry.Register(ctx, version, model, nil, spec, nil, "test", learned); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ModelRegistry.ActivateModel(ctx, version); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Models.Sync(ctx); err != nil || m.Models.Version() != version {
		t.Fatalf("sync: %v, serving %s", err, m.Models.Version())
	}
	r := do(t, "POST", m.URL()+"/v1/rerank", key, map[string]any{"items": []any{map[string]any{"id": items[0]}, map[string]any{"id": items[1]}}})
	if r.status != 200 || r.json(t)["model_version"] != version {
		t.Fatalf("rerank: %d %s", r.status, r.body)
	}
}
