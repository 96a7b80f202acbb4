package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/client"
)

// TestClientAgainstServer runs the Go client against a real server: rerank,
// recommendations, search, similar items and events, and its errors.
func TestClientAgainstServer(t *testing.T) {
	m := startMain(t, map[string]string{"FUSIONRANK_TEXT_VECTORS": glove})
	customers := loadFixtureShop(t, m, "client-")
	ctx := context.Background()
	read := client.New(m.URL(), createKey(t, m, fusionrank.ScopeRead))
	public := client.New(m.URL(), createKey(t, m, fusionrank.ScopePublic))

	cands := []fusionrank.Candidate{{ID: "client-item-3-0"}, {ID: "client-item-0-1"}, {ID: "client-item-0-0"}, {ID: "client-nope"}}
	r, err := read.Rerank(ctx, fusionrank.RerankRequest{UserID: customers[0], Query: fusionrank.Query{Text: "heart candle"}, Items: cands, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.RequestID == "" || r.ModelVersion == "" || len(r.Items) != 4 || r.Items[3].ID != "client-nope" ||
		len(r.UnknownItems) != 1 || r.Items[0].ID == "client-item-3-0" {
		t.Errorf("rerank: %+v", r)
	}

	// A public key acts for a shopper with the token the shop's backend signed.
	sec, err := m.Keys.RotateUserSecret(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	token, err := client.SignUserToken(sec.String(), customers[0], time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := public.Recommend(ctx, fusionrank.RecommendRequest{UserID: customers[0], UserToken: token, Count: 10, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Items) != 10 || rec.Items[0].Source == "" || rec.Items[0].Explanation == nil || !rec.Personalized {
		t.Errorf("recommendations: %+v", rec)
	}
	if anon, err := public.Recommend(ctx, fusionrank.RecommendRequest{UserID: customers[0], Count: 10}); err != nil || anon.Personalized || len(anon.Warnings) == 0 {
		t.Errorf("recommendations without a token: %+v %v", anon, err)
	}

	s, err := read.Search(ctx, fusionrank.SearchRequest{Query: fusionrank.Query{Text: "lunch bag"}, Count: 3})
	if err != nil || len(s.Items) != 3 {
		t.Errorf("search: %+v %v", s, err)
	}
	sim, err := read.Similar(ctx, fusionrank.SimilarRequest{ItemID: "client-item-1-0", Count: 4})
	if err != nil || len(sim.Items) != 4 {
		t.Errorf("similar: %+v %v", sim, err)
	}

	ev := fusionrank.Event{EventID: "client-ev-click", UserID: customers[0], ItemID: rec.Items[0].ID, Type: fusionrank.Click,
		Timestamp: time.Now().UTC().Truncate(time.Second), RequestID: rec.RequestID}
	res, err := public.SendEventsFor(ctx, token, []fusionrank.Event{ev})
	if err != nil || res.Accepted != 1 {
		t.Fatalf("events: %+v %v", res, err)
	}
	if res, err := public.SendEventsFor(ctx, token, []fusionrank.Event{ev}); err != nil || res.Duplicates != 1 {
		t.Errorf("the same event again: %+v %v", res, err)
	}
	if res, err := public.SendEvents(ctx, []fusionrank.Event{ev}); err != nil || len(res.Rejected) != 1 || res.Accepted+res.Duplicates != 0 {
		t.Errorf("the event without a token: %+v %v", res, err)
	}

	// Errors: the API's code and message, not retried.
	ev.EventID, ev.Type = "client-ev-buy", fusionrank.Purchase
	_, err = public.SendEvents(ctx, []fusionrank.Event{ev})
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Status != 403 || fusionrank.ErrorCode(err) != fusionrank.Forbidden || ae.RequestID == "" {
		t.Errorf("a purchase with a public key: %v", err)
	}
	if _, err := public.Rerank(ctx, fusionrank.RerankRequest{Items: cands}); fusionrank.ErrorCode(err) != fusionrank.Forbidden {
		t.Errorf("rerank with a public key: %v", err)
	}
	if _, err := client.New(m.URL(), "frk_unknown").Recommend(ctx, fusionrank.RecommendRequest{UserID: "u"}); fusionrank.ErrorCode(err) != fusionrank.Unauthorized {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := read.Recommend(ctx, fusionrank.RecommendRequest{UserID: "no spaces allowed"}); fusionrank.ErrorCode(err) != fusionrank.Invalid {
		t.Errorf("bad user id: %v", err)
	}
}
