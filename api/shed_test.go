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
