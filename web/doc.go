// Package web serves the browser side of fusionrank: the demo shop page at /demo and
// the homepage widget script at /widget.js, both embedded into the binary, plus the few
// small endpoints outside /v1 that they need and the v1 API does not offer:
//
//	GET /widget/items?ids=a,b,c   titles, categories and prices of active items (any key)
//	GET /demo/customers?count=n   the customers with the most events (read key)
//	GET /demo/search?q=words      lexical retrieval over catalogue titles (read key)
//	POST /demo/user-token         a user token for {"user_id"} (read key)
//
// Each route declares the scope it needs and the transport authenticates it and applies
// the rate limits (per key, per public key and, for these browser endpoints whatever
// the key, per client address), as for /v1. Everything else the pages do goes through
// the public /v1 API with the keys the operator gave them: the page is an API client
// like any other, and holds no privilege of its own on the server. POST
// /demo/user-token keeps that rule: it needs a read key, which already gets personal
// answers for any user and may send view and click events for any user, the whole of
// what a user token lets a public key do.
//
// The widget runs on other sites' pages, so its calls are cross-origin: CORS wraps a
// handler so that the calls a browser widget makes (recommendations, events and item
// titles) answer preflight requests and carry Access-Control-Allow-Origin: *. Keys travel
// in the Authorization header, never in cookies, so allowing every origin grants nothing
// a caller does not already hold.
//
// The lexical retrieval is deliberately plain (title words weighted by inverse document
// frequency): it stands in for a shop's own search engine, whose results the demo then
// sends to POST /v1/rerank.
package web
