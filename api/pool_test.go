package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fusionrank/fusionrank"
)

// echoRank answers a rerank with the candidates in their order, each scored with the
// engine's score it came with; it counts the answers handed back.
type echoRank struct {
	unused
	released *int64
	mu       *sync.Mutex
}

func (e echoRank) Rerank(_ context.Context, req fusionrank.RerankRequest) (fusionrank.Ranking, error) {
	r := fusionrank.Ranking{ModelVersion: "none"}
	for _, c := range req.Items {
		it := fusionrank.RankedItem{ID: c.ID, Score: -1}
		if c.Score != nil {
			it.Score = *c.Score
		}
		r.Items = append(r.Items, it)
	}
	return r, nil
}

func (e echoRank) Release(r *fusionrank.Ranking) {
	e.mu.Lock()
	*e.released++
	e.mu.Unlock()
	clear(r.Items) // as a service reusing them would, at once
}

// TestRerankMemoryReused: the rerank handler reads candidates into memory it reuses
// for the next request, and hands each answer back to the ranking service once written.
// Many requests at once, each with its own ids and scores, get answers with exactly
// their own candidates (make test runs the api tests under the race detector too), and
// every answer is handed back once.
func TestRerankMemoryReused(t *testing.T) {
	var released int64
	var mu sync.Mutex
	s := New(Config{Auth: false}, Deps{Rank: echoRank{released: &released, mu: &mu}})
	h := s.Handler()
	const goroutines, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan string, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for round := range each {
				n := 1 + (g*7+round)%150 // some past the pooled 128
				var sb strings.Builder
				sb.WriteString(`{"items":[`)
				for i := range n {
					if i > 0 {
						sb.WriteByte(',')
					}
					if i%5 == 4 {
						fmt.Fprintf(&sb, `{"id":"g%d-r%d-i%d"}`, g, round, i)
					} else {
						fmt.Fprintf(&sb, `{"id":"g%d-r%d-i%d","score":%d.5}`, g, round, i, g*1000+i)
					}
				}
				sb.WriteString(`]}`)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("POST", "/v1/rerank", strings.NewReader(sb.String())))
				if w.Code != http.StatusOK {
					errs <- fmt.Sprintf("status %d: %s", w.Code, w.Body)
					return
				}
				var r fusionrank.Ranking
				if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
					errs <- err.Error()
					return
				}
				if len(r.Items) != n {
					errs <- fmt.Sprintf("goroutine %d round %d: %d items, want %d", g, round, len(r.Items), n)
					return
				}
				for i, it := range r.Items {
					want := float64(g*1000+i) + 0.5
					if i%5 == 4 {
						want = -1
					}
					if it.ID != fmt.Sprintf("g%d-r%d-i%d", g, round, i) || it.Score != want {
						errs <- fmt.Sprintf("goroutine %d round %d: item %d is %s scored %v", g, round, i, it.ID, it.Score)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Fatal(msg)
	}
	if released != goroutines*each {
		t.Fatalf("%d answers handed back, want %d", released, goroutines*each)
	}
}

// TestCandidateMemoryReused: a second body decoded into the same candBufs (reset, as
// the handler's are between requests) lands in the first one's candidates and scores,
// not in new memory (the point of candBufs), and holds only its own values.
func TestCandidateMemoryReused(t *testing.T) {
	bufs := candBufPool.New().(*candBufs)
	var a, b fusionrank.RerankRequest
	if !decodeRerankFast([]byte(`{"items":[{"id":"a","score":1},{"id":"b"}]}`), &a, bufs) {
		t.Fatal("fast path refused the body")
	}
	first, firstScore := &a.Items[0], a.Items[0].Score
	bufs.reset()
	if a.Items[0].ID != "" || a.Items[0].Score != nil {
		t.Fatal("reset kept the first body's ids and score pointers alive")
	}
	if !decodeRerankFast([]byte(`{"items":[{"id":"c","score":2}]}`), &b, bufs) {
		t.Fatal("fast path refused the body")
	}
	if len(b.Items) != 1 || b.Items[0].ID != "c" || *b.Items[0].Score != 2 {
		t.Fatalf("the second body decoded as %+v", b.Items)
	}
	if &b.Items[0] != first || b.Items[0].Score != firstScore {
		t.Fatal("the second body's candidate is not in the first one's memory")
	}
}
