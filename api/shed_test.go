package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fusionrank/fusionrank"
)

// blocking answers reranks once release is closed, after saying it started.
type blocking struct {
	unused
	started chan struct{}
	release chan struct{}
}

func (b blocking) Rerank(ctx context.Context, _ fusionrank.RerankRequest) (fusionrank.Ranking, error) {
	b.started <- struct{}{}
	<-b.release
	return fusionrank.Ranking{}, nil
}

// TestShedsPastMaxInFlight checks that a read request arriving while MaxInFlight are
// in progress is answered 503 with Retry-After at once, and that requests are served
// again once the others finish.
func TestShedsPastMaxInFlight(t *testing.T) {
	b := blocking{started: make(chan struct{}), release: make(chan struct{})}
	s := New(Config{Auth: false, MaxInFlight: 2}, Deps{Rank: b})
	rerank := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/v1/rerank", strings.NewReader(`{"items":[{"id":"a"}]}`)))
		return w
	}
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Go(func() { codes[i] = rerank().Code })
		<-b.started
	}
	w := rerank()
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), `"code":"unavailable"`) {
		t.Fatalf("third request while two are in progress: %d %v %s", w.Code, w.Header(), w.Body)
	}
	close(b.release)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Fatalf("the two in progress: %v", codes)
	}
	go func() { <-b.started }()
	if w := rerank(); w.Code != 200 {
		t.Fatalf("after the others finished: %d %s", w.Code, w.Body)
	}
}

// TestShedsBatchPastMaxInFlight: a batch takes an in-flight place per request, so a
// batch of three is shed at MaxInFlight 2 while one of two is answered.
func TestShedsBatchPastMaxInFlight(t *testing.T) {
	b := blocking{started: make(chan struct{}, 8), release: make(chan struct{})}
	close(b.release)
	s := New(Config{Auth: false, MaxInFlight: 2}, Deps{Rank: b})
	batch := func(n int) *httptest.ResponseRecorder {
		reqs := strings.TrimSuffix(strings.Repeat(`{"items":[{"id":"a"}]},`, n), ",")
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/v1/rerank:batch", strings.NewReader(`{"requests":[`+reqs+`]}`)))
		return w
	}
	if w := batch(3); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("a batch of 3 at MaxInFlight 2: %d %s", w.Code, w.Body)
	}
	if w := batch(2); w.Code != 200 || strings.Count(w.Body.String(), `"status":200`) != 2 {
		t.Fatalf("a batch of 2 at MaxInFlight 2: %d %s", w.Code, w.Body)
	}
	if n := s.inFlight.Load(); n != 0 {
		t.Fatalf("%d requests still counted in flight", n)
	}
}
