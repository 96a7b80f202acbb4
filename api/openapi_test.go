package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/fusionrank/fusionrank"
)

// unused satisfies every service interface; the route table test never calls it.
type unused struct{}

func (unused) PutItem(context.Context, fusionrank.Item) (bool, error)       { panic("unused") }
func (unused) PutItems(context.Context, []fusionrank.Item) ([]error, error) { panic("unused") }
func (unused) GetItem(context.Context, string) (fusionrank.ItemView, error) { panic("unused") }
func (unused) DeleteItem(context.Context, string) error                     { panic("unused") }
func (unused) IngestEventsIn(context.Context, fusionrank.EventIDSpace, []fusionrank.Event) (fusionrank.EventResult, error) {
	panic("unused")
}
func (unused) Release(*fusionrank.Ranking) {}

func (unused) Rerank(context.Context, fusionrank.RerankRequest) (fusionrank.Ranking, error) {
	panic("unused")
}
func (unused) Recommend(context.Context, fusionrank.RecommendRequest) (fusionrank.Ranking, error) {
	panic("unused")
}
func (unused) Similar(context.Context, fusionrank.SimilarRequest) (fusionrank.Ranking, error) {
	panic("unused")
}
func (unused) Search(context.Context, fusionrank.SearchRequest) (fusionrank.Ranking, error) {
	panic("unused")
}
func (unused) UserFeatures(context.Context, string) (fusionrank.UserFeatures, error) { panic("unused") }
func (unused) ListModels(context.Context) ([]fusionrank.ModelInfo, error)            { panic("unused") }
func (unused) ActivateModel(context.Context, string) (fusionrank.ModelInfo, error)   { panic("unused") }
func (unused) RollbackModel(context.Context) (fusionrank.ModelInfo, error)           { panic("unused") }
func (unused) ModelStats(context.Context) ([]fusionrank.ModelStats, error)           { panic("unused") }
func (unused) Authenticate(context.Context, string) (fusionrank.Scope, string, error) {
	return 0, "", fusionrank.Errorf(fusionrank.Unauthorized, "unknown key")
}

func fullServer() *Server {
	u := unused{}
	return New(Config{Auth: true}, Deps{Items: u, Events: u, Rank: u, Users: u, Models: u, Stats: u, Keys: u})
}

// TestOpenAPIMatchesRoutes fails when a route is served without being documented, or
// documented without being served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := fullServer()
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/openapi.json", nil))
	if w.Code != 200 {
		t.Fatalf("GET /openapi.json: %d", w.Code)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var documented, served []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+strings.ReplaceAll(ginPath(p), `\:`, ":"))
		}
	}
	for _, r := range s.engine.Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	sort.Strings(documented)
	sort.Strings(served)
	if strings.Join(documented, "\n") != strings.Join(served, "\n") {
		t.Fatalf("documented routes:\n%s\n\nserved routes:\n%s", strings.Join(documented, "\n"), strings.Join(served, "\n"))
	}
	for _, want := range []string{"PUT /v1/items/:id", "POST /v1/items:batch", "POST /v1/events", "POST /v1/rerank",
		"POST /v1/recommendations", "GET /v1/items/:id/similar", "POST /v1/search", "GET /v1/users/:id/features",
		"GET /v1/models", "POST /v1/models/:version/activate", "GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json"} {
		if !contains(served, want) {
			t.Errorf("contract route %s is not served", want)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestErrorEnvelope(t *testing.T) {
	s := fullServer()
	cases := []struct {
		method, path, auth string
		status             int
		code               string
	}{
		{"GET", "/nope", "", 404, "not_found"},
		{"DELETE", "/healthz", "", 405, "method_not_allowed"},
		{"POST", "/v1/rerank", "", 401, "unauthorized"},
		{"POST", "/v1/rerank", "Bearer frk_x", 401, "unauthorized"},
		{"POST", "/v1/rerank", "Basic abc", 401, "unauthorized"},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(c.method, c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		s.Handler().ServeHTTP(w, req)
		var body ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != c.status || body.Error.Code != c.code || body.Error.Message == "" {
			t.Errorf("%s %s: %d %s; want %d %s", c.method, c.path, w.Code, w.Body, c.status, c.code)
		}
	}
}

func TestInternalErrorsAreGeneric(t *testing.T) {
	s := New(Config{Auth: false}, Deps{Rank: panicky{}})
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/v1/rerank", strings.NewReader(`{"items":[{"id":"a"}]}`)))
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "secret") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

type panicky struct{ unused }

func (panicky) Rerank(context.Context, fusionrank.RerankRequest) (fusionrank.Ranking, error) {
	panic("secret detail")
}
