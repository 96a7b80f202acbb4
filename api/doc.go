// Package api is fusionrank's HTTP transport, on Gin: the routes, the request and
// response types, the one table that maps error codes to HTTP status, authentication with
// scoped API keys (and, for keys of scope public, the user tokens that let them act for
// one shopper), request limits (body sizes, body read deadlines, rate limits per key,
// per public key and per client address), strict JSON decoding (checkJSON refuses keys
// given twice, NUL characters and bytes that are not UTF-8, naming the field),
// Prometheus metrics with bounded labels and the OpenAPI document.
//
// It holds no business logic. Each use case it serves is reached through a small
// interface declared here (ItemService, EventService, RankService, …) and implemented by
// the features and recommend packages; cmd/fusionrank wires them together.
//
// Every route is declared once, in the table built by (*Server).routes: that table
// registers the Gin handler and produces the OpenAPI document served at /openapi.json,
// so the two cannot drift apart (a test also compares the document with what Gin
// actually serves).
//
// A rerank's candidates are read into memory the handler reuses (candBufs), so the
// ranking service keeps nothing of a request's items once it has returned; each answer
// is handed back with RankService.Release once written, and the service reuses its
// items (a RankService may also ignore Release).
//
// Errors always leave as {"error":{"code":…,"message":…}}. The status comes from
// statusOf; a 5xx answer carries a generic message while the detail goes to the log
// with the request id. POST /v1/rerank:batch answers each of its requests with the
// same status, code and message a single call would have had, inside its result.
package api
