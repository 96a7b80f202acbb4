// Package web serves the browser side of fusionrank: the demo shop page at /demo and
// the homepage widget script at /widget.js, both embedded into the binary, plus the few
// small endpoints outside /v1 that they need and the v1 API does not offer:
//
//	GET /widget/items?ids=a,b,c   titles, categories and prices of items (any key)
//	GET /demo/customers?count=n   the customers with the most events (read key)
//	GET /demo/search?q=words      lexical retrieval over catalogue titles (read key)
//
// These endpoints check the caller's API key themselves (they are not under /v1, so the
// transport's authentication does not run for them) and answer errors in the API's
// envelope. Everything else the pages do goes through the public /v1 API with the keys
// the operator gave them: the page is an API client like any other, and holds no
// privilege of its own on the server.
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
