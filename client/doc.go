// Package client is the Go client of the fusionrank API for services that call it: a
// search service reranking its results (Rerank, or RerankBatch for several lists in one
// exchange), a backend asking for recommendations
// (Recommend, Similar, Search) or reporting events (SendEvents). Requests and answers
// are the domain types of package fusionrank, exactly what the server decodes and
// encodes.
//
//	c := client.New("http://fusionrank:8080", os.Getenv("FUSIONRANK_KEY"))
//	r, err := c.Rerank(ctx, fusionrank.RerankRequest{UserID: "u1",
//		Query: fusionrank.Query{Text: "red dress"}, Items: candidates})
//
// Retries: an answer 429 (rate limited), 502, 503 (a store is down) or 504, and a
// failure to reach the server, are retried up to Retries times (default 3). The wait
// before retry n is the server's Retry-After when it sends one, else a random duration
// up to min(MaxBackoff, MinBackoff × 2^n) ("full jitter", defaults 50ms and 1s). Every
// call is safe to retry: the ranking calls only read, and events are idempotent on
// their event_id.
//
// Deadlines: each call, retries included, ends by the caller's context deadline or
// after Timeout (default 2s), whichever comes first; a retry whose wait would pass the
// deadline is not attempted, and the last error is returned at once.
//
// User tokens: UserTokens signs, with the shop's secret, the token that lets a browser
// holding a public key act for one shopper (the widget's data-user-token).
//
// Errors: a non-2xx answer is an *Error with the HTTP status, the API's error code and
// message and the request id; it unwraps to a *fusionrank.Error, so
// fusionrank.ErrorCode(err) works on it.
package client
