package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fusionrank/fusionrank"
)

// ItemService manages the catalogue.
type ItemService interface {
	// PutItem creates or replaces an item; created reports whether it was new.
	PutItem(ctx context.Context, item fusionrank.Item) (created bool, err error)
	// PutItems stores many items; errs[i] is the error of items[i] or nil. The returned
	// error is for the whole call (a store down).
	PutItems(ctx context.Context, items []fusionrank.Item) (errs []error, err error)
	GetItem(ctx context.Context, id string) (fusionrank.ItemView, error)
	// DeleteItem deactivates an item: it stops being recommended; its history stays.
	DeleteItem(ctx context.Context, id string) error
}

// EventService ingests interaction events. Event ids are idempotent within space (the
// caller's scope's, fusionrank.Scope.EventIDSpace).
type EventService interface {
	IngestEventsIn(ctx context.Context, space fusionrank.EventIDSpace, events []fusionrank.Event) (fusionrank.EventResult, error)
}

// RankService answers the ranking calls.
type RankService interface {
	// Rerank keeps nothing of req.Items (nor the scores they point to) once it has
	// returned: the handler reuses their memory for the next request.
	Rerank(ctx context.Context, req fusionrank.RerankRequest) (fusionrank.Ranking, error)
	Recommend(ctx context.Context, req fusionrank.RecommendRequest) (fusionrank.Ranking, error)
	Similar(ctx context.Context, req fusionrank.SimilarRequest) (fusionrank.Ranking, error)
	Search(ctx context.Context, req fusionrank.SearchRequest) (fusionrank.Ranking, error)
	// Release is called with each answer once it is written: nothing of r is used
	// after, so its items may be reused.
	Release(r *fusionrank.Ranking)
}

// UserService reads what the feature store knows about a user.
type UserService interface {
	UserFeatures(ctx context.Context, userID string) (fusionrank.UserFeatures, error)
}

// ModelService is the model registry.
type ModelService interface {
	ListModels(ctx context.Context) ([]fusionrank.ModelInfo, error)
	ActivateModel(ctx context.Context, version string) (fusionrank.ModelInfo, error)
	RollbackModel(ctx context.Context) (fusionrank.ModelInfo, error)
}

// PhotoService stores item photos given as raw files, serves the stored ones, and is
// the image encoder registry.
type PhotoService interface {
	// PutItemImage replaces an existing item's photo with the file in data.
	PutItemImage(ctx context.Context, id string, data []byte) (fusionrank.ItemView, error)
	// Image returns a stored photo and its content type by the SHA-256 of its bytes.
	Image(ctx context.Context, sha string) ([]byte, string, error)
	ListEncoders(ctx context.Context) ([]fusionrank.ImageEncoderInfo, error)
	// ActivateEncoder starts a switch of image encoder (see the README).
	ActivateEncoder(ctx context.Context, version string) (fusionrank.ImageEncoderInfo, error)
}

// SearchService stores searches a shop's own engine answered.
type SearchService interface {
	RecordSearches(ctx context.Context, searches []fusionrank.SearchRecord) (fusionrank.SearchResult, error)
}

// StatsService reads attribution statistics.
type StatsService interface {
	ModelStats(ctx context.Context) ([]fusionrank.ModelStats, error)
}

// Route is one entry of the route table: what Gin serves and what the OpenAPI document
// says.
type Route struct {
	Method  string
	Path    string // OpenAPI template: /v1/items/{id}
	Scope   Scope  // the least scope a key needs; ScopeNone for ops routes
	Summary string
	// Request and Response name schemas of the OpenAPI components ("" for none).
	Request, Response string
	// Status is the success status (default 200).
	Status int
	// Bulk routes get the batch body limit and deadline.
	Bulk bool
	// Write routes (they commit to Postgres) get the write deadline.
	Write bool
	// Timeout, when set, is the route's deadline instead of the default one.
	Timeout time.Duration
	Handler gin.HandlerFunc
	// ContentType of the response when it is not JSON.
	ContentType string
	// RequestType is the media type of the body (default application/json).
	RequestType string
	// Photo routes may carry a photo in their body: they get the photo body limit.
	Photo bool
}

func (s *Server) routes() []Route {
	rs := []Route{
		{Method: "GET", Path: "/healthz", Summary: "The process is alive.", Response: "Status", Handler: s.healthz},
		{Method: "GET", Path: "/readyz", Summary: "Both stores answer and the catalogue is loaded.", Response: "Status", Handler: s.readyz},
		{Method: "GET", Path: "/metrics", Summary: "Prometheus metrics.", ContentType: "text/plain", Handler: s.metricsHandler()},
		{Method: "GET", Path: "/openapi.json", Summary: "This document.", ContentType: "application/json", Handler: s.openapi},
	}
	if s.deps.Items != nil {
		rs = append(rs,
			Route{Method: "PUT", Path: "/v1/items/{id}", Scope: ScopeWrite, Summary: "Create or replace an item (with its photo: image_url, or the file base64-encoded in image).", Request: "ItemInput", Response: "PutItemResult", Write: true, Photo: true, Handler: s.putItem},
			Route{Method: "GET", Path: "/v1/items/{id}", Scope: ScopeRead, Summary: "Read an item with the modalities it has.", Response: "ItemView", Handler: s.getItem},
			Route{Method: "DELETE", Path: "/v1/items/{id}", Scope: ScopeWrite, Summary: "Deactivate an item; its history stays.", Status: http.StatusNoContent, Write: true, Handler: s.deleteItem},
			Route{Method: "POST", Path: "/v1/items:batch", Scope: ScopeWrite, Summary: "Bulk load items, one JSON object per line (NDJSON).", Request: "ItemInput", RequestType: "application/x-ndjson", Response: "BatchResult", Bulk: true, Handler: s.putItems},
		)
	}
	if s.deps.Photos != nil {
		rs = append(rs,
			Route{Method: "PUT", Path: "/v1/items/{id}/image", Scope: ScopeWrite, Summary: "Replace an existing item's photo with the file in the body (JPEG, PNG, GIF or WebP).", Request: "ImageFile", RequestType: "application/octet-stream", Response: "ItemView", Write: true, Photo: true, Handler: s.putItemImage},
			Route{Method: "GET", Path: "/images/{sha256}", Summary: "A stored photo, by the SHA-256 of its bytes (the display_url of photos sent as files).", ContentType: "image/*", Handler: s.getImage},
			Route{Method: "GET", Path: "/v1/encoders", Scope: ScopeAdmin, Summary: "The image encoder registry, with each version's progress over the catalogue's photos.", Response: "EncoderList", Handler: s.listEncoders},
			Route{Method: "POST", Path: "/v1/encoders/{version}/activate", Scope: ScopeAdmin, Summary: "Switch the image encoder: the catalogue is re-encoded in the background, and the version serves once every photo has its vector.", Response: "EncoderInfo", Write: true, Handler: s.activateEncoder},
		)
	}
	if s.deps.Events != nil {
		rs = append(rs, Route{Method: "POST", Path: "/v1/events", Scope: ScopePublic, Summary: "Record interaction events (public keys: view and click only, for the user of a valid user_token).", Request: "EventBatch", Response: "EventResult", Write: true, Handler: s.postEvents})
	}
	if s.deps.Searches != nil {
		rs = append(rs, Route{Method: "POST", Path: "/v1/searches", Scope: ScopeWrite, Summary: "Record searches a shop's own engine answered (query, items shown in order, engine scores), for training; events carrying a search_id as request_id are attributed to it.", Request: "SearchBatch", Response: "SearchResult", Write: true, Handler: s.postSearches})
	}
	if s.deps.Rank != nil {
		rs = append(rs,
			Route{Method: "POST", Path: "/v1/rerank", Scope: ScopeRead, Summary: "Reorder a search engine's candidates for a query and a shopper.", Request: "RerankRequest", Response: "Ranking", Photo: true, Handler: s.rerank},
			Route{Method: "POST", Path: "/v1/rerank:batch", Scope: ScopeRead, Summary: "Several rerank requests in one exchange, each answered as POST /v1/rerank would answer it alone (its own status, answer id and deadline).", Request: "RerankBatchRequest", Response: "RerankBatch", Photo: true, Timeout: s.cfg.RequestTimeout * MaxRerankBatch, Handler: s.rerankBatch},
			Route{Method: "POST", Path: "/v1/recommendations", Scope: ScopePublic, Summary: "Personalised recommendations for a shopper (public keys: personal only with a valid user_token).", Request: "RecommendRequest", Response: "Ranking", Photo: true, Handler: s.recommend},
			Route{Method: "GET", Path: "/v1/items/{id}/similar", Scope: ScopeRead, Summary: "Items similar to an item.", Response: "Ranking", Handler: s.similar},
			Route{Method: "POST", Path: "/v1/search", Scope: ScopeRead, Summary: "Search the whole catalogue with text, a photo and/or vectors (JSON, or multipart/form-data with the parts request and image).", Request: "SearchRequest", Response: "Ranking", Photo: true, Handler: s.search},
		)
	}
	if s.deps.Users != nil {
		rs = append(rs, Route{Method: "GET", Path: "/v1/users/{id}/features", Scope: ScopeRead, Summary: "What the feature store knows about a user.", Response: "UserFeatures", Handler: s.userFeatures})
	}
	if s.deps.Models != nil {
		rs = append(rs,
			Route{Method: "GET", Path: "/v1/models", Scope: ScopeAdmin, Summary: "The model registry.", Response: "ModelList", Handler: s.listModels},
			Route{Method: "POST", Path: "/v1/models/{version}/activate", Scope: ScopeAdmin, Summary: "Make a model version live, atomically.", Response: "ModelInfo", Write: true, Handler: s.activateModel},
			Route{Method: "POST", Path: "/v1/models:rollback", Scope: ScopeAdmin, Summary: "Reactivate the previously active model version.", Response: "ModelInfo", Write: true, Handler: s.rollbackModel},
		)
	}
	if s.deps.Stats != nil {
		rs = append(rs, Route{Method: "GET", Path: "/v1/stats/models", Scope: ScopeRead, Summary: "Click-through and conversion per model version.", Response: "ModelStatsList", Handler: s.modelStats})
	}
	return append(rs, s.cfg.Extra...)
}

func (s *Server) putItem(c *gin.Context) {
	var it fusionrank.Item
	it.Active = true
	if err := decodeJSON(c, &itemInput{&it}); err != nil {
		s.fail(c, err)
		return
	}
	id := c.Param("id")
	if it.ID != "" && it.ID != id {
		s.fail(c, invalid("id: %q in the body differs from %q in the path", it.ID, id))
		return
	}
	it.ID = id
	created, err := s.deps.Items.PutItem(c.Request.Context(), it)
	if err != nil {
		s.fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	s.writeJSON(c, status, gin.H{"id": id, "created": created})
}

// itemInput decodes an item with "active" defaulting to true.
type itemInput struct{ *fusionrank.Item }

func (in *itemInput) UnmarshalJSON(b []byte) error {
	type plain fusionrank.Item
	p := (*plain)(in.Item)
	p.Active = true
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(p)
}

func (s *Server) getItem(c *gin.Context) {
	v, err := s.deps.Items.GetItem(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeJSON(c, http.StatusOK, v)
}

func (s *Server) deleteItem(c *gin.Context) {
	if err := s.deps.Items.DeleteItem(c.Request.Context(), c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// batchChunk is how many valid lines are stored per call to PutItems; a chunk is
// stored early once its photos reach batchChunkBytes, so a batch of large photos
// does not hold a thousand of them in memory.
const (
	batchChunk      = 1000
	batchChunkBytes = 32 << 20
)

// putItems streams an NDJSON body line by line, storing valid items in chunks. A line
// that is not a valid item is reported and skipped; the rest still load. When the load
// cannot go on (a store fails, a line or the body is over its limit, the body stops
// arriving, the deadline passes), the valid lines read so far are stored if they can
// be, and the error answer's result says exactly what was stored and from which line
// on nothing was.
func (s *Server) putItems(c *gin.Context) {
	ctx := c.Request.Context()
	res := fusionrank.BatchResult{Rejected: []fusionrank.LineRejection{}}
	// A line may hold an item with its photo (base64).
	maxLine := int(min(max(s.cfg.MaxBodyBytes, s.cfg.MaxPhotoBodyBytes), 16<<20))
	sc := bufio.NewScanner(c.Request.Body)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var chunk []fusionrank.Item
	var lines []int
	chunkBytes := 0 // the photo bytes the chunk holds
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		errs, err := s.deps.Items.PutItems(ctx, chunk)
		if err != nil {
			return err
		}
		for i, e := range errs {
			if e != nil {
				res.Rejected = append(res.Rejected, fusionrank.LineRejection{Line: lines[i], ID: chunk[i].ID, Error: fusionrank.ErrorMessage(e)})
			} else {
				res.Accepted++
			}
		}
		chunk, lines, chunkBytes = chunk[:0], lines[:0], 0
		return nil
	}
	// stop answers err with the result so far; nothing from line on is stored.
	stop := func(line int, err error) {
		_, _, _, msg := s.describe(c, err)
		res.Stopped = &fusionrank.BatchStop{Line: line, Error: "not stored from this line on: " + msg}
		sortLines(res.Rejected)
		s.failWith(c, err, res)
	}
	// end stores the chunk in hand and stops at line with err.
	end := func(line int, err error) {
		if len(chunk) > 0 {
			first := lines[0]
			if ferr := flush(); ferr != nil {
				stop(first, ferr)
				return
			}
		}
		stop(line, err)
	}
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(trimSpace(b)) == 0 {
			continue
		}
		var it fusionrank.Item
		if err := DecodeStrict(b, &itemInput{&it}); err != nil {
			res.Rejected = append(res.Rejected, fusionrank.LineRejection{Line: line, ID: it.ID, Error: fusionrank.ErrorMessage(err)})
			continue
		}
		chunk = append(chunk, it)
		lines = append(lines, line)
		chunkBytes += len(it.Image)
		if len(chunk) == batchChunk || chunkBytes >= batchChunkBytes {
			first := lines[0]
			if err := flush(); err != nil {
				stop(first, err)
				return
			}
		}
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			end(line+1, fusionrank.Errorf(fusionrank.TooLarge, "line %d: longer than %d bytes", line+1, maxLine))
			return
		}
		end(line+1, bodyError(err))
		return
	}
	if err := flush(); err != nil {
		stop(lines[0], err)
		return
	}
	sortLines(res.Rejected)
	s.writeJSON(c, http.StatusOK, res)
}

// MaxEventsPerCall caps one POST /v1/events.
const MaxEventsPerCall = 1000

type eventBatch struct {
	Events []json.RawMessage `json:"events"`
	// UserToken vouches for the user of a public-scope caller's events.
	UserToken string `json:"user_token,omitempty"`
}

type eventInput struct {
	EventID   string  `json:"event_id"`
	UserID    string  `json:"user_id"`
	ItemID    string  `json:"item_id"`
	Type      string  `json:"type"`
	Timestamp *string `json:"timestamp"`
	RequestID string  `json:"request_id,omitempty"`
	SessionID string  `json:"session_id,omitempty"`
}

// postEvents stores a batch of events. The envelope is checked here and every event on
// its own, so an invalid event is rejected by index while the others are stored. A key
// of scope public may send view and click events, and only for the user its batch's
// user_token vouches for: an event naming another user is rejected, since anyone can
// read a public key and would otherwise steer any shopper's profile.
func (s *Server) postEvents(c *gin.Context) {
	var batch eventBatch
	body, err := readJSON(c)
	if err == nil {
		err = decodeStrict(body, &batch, 2)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if batch.Events == nil {
		s.fail(c, invalid("events: required"))
		return
	}
	if len(batch.Events) > MaxEventsPerCall {
		s.fail(c, fusionrank.Errorf(fusionrank.TooLarge, "events: %d events is over the limit of %d per call", len(batch.Events), MaxEventsPerCall))
		return
	}
	scope := callerScope(c)
	public := scope < ScopeWrite
	vouched, tokenErr := "", error(nil)
	if scope == ScopePublic && s.cfg.Auth {
		vouched, tokenErr = s.verifyUserToken(batch.UserToken)
	}
	var valid []fusionrank.Event
	var index []int
	rejected := []fusionrank.EventRejection{}
	for i, raw := range batch.Events {
		ev, err := parseEvent(raw)
		if err == nil && public && ev.Type != fusionrank.View && ev.Type != fusionrank.Click {
			s.fail(c, fusionrank.Errorf(fusionrank.Forbidden, "events[%d].type: %s events need a key with scope write; this key may send view and click only", i, ev.Type))
			return
		}
		if err == nil && scope == ScopePublic && s.cfg.Auth && ev.UserID != vouched {
			reason := "it vouches for another user"
			if tokenErr != nil {
				reason = fusionrank.ErrorMessage(tokenErr)
			}
			err = fusionrank.Errorf(fusionrank.Unauthorized, "user_id: a public key may send events only for the user of a valid user_token (%s)", reason)
		}
		if err != nil {
			rejected = append(rejected, fusionrank.EventRejection{Index: i, Error: fusionrank.ErrorMessage(err)})
			continue
		}
		valid = append(valid, ev)
		index = append(index, i)
	}
	res := fusionrank.EventResult{}
	if len(valid) > 0 {
		var err error
		res, err = s.deps.Events.IngestEventsIn(c.Request.Context(), scope.EventIDSpace(), valid)
		if err != nil {
			s.fail(c, err)
			return
		}
		// The service counts in valid; the client in its own list.
		for i := range res.Rejected {
			res.Rejected[i].Index = index[res.Rejected[i].Index]
		}
		for i := range res.Conflicts {
			res.Conflicts[i].Index = index[res.Conflicts[i].Index]
		}
	}
	if res.Conflicts == nil {
		res.Conflicts = []fusionrank.EventConflict{}
	}
	res.Rejected = append(rejected, res.Rejected...)
	sortRejections(res.Rejected)
	s.writeJSON(c, http.StatusOK, res)
}

// verifyUserToken returns the user a public-scope caller's token vouches for.
func (s *Server) verifyUserToken(token string) (string, error) {
	if token == "" {
		return "", fusionrank.Errorf(fusionrank.Unauthorized, "user_token: missing")
	}
	if s.deps.UserTokens == nil {
		return "", fusionrank.Errorf(fusionrank.Unauthorized, "user_token: this server checks no user tokens")
	}
	return s.deps.UserTokens.VerifyUserToken(token)
}

func parseEvent(raw json.RawMessage) (fusionrank.Event, error) {
	if t := trimSpace(raw); len(t) > 0 && t[0] != '{' {
		return fusionrank.Event{}, invalid("event: expected a JSON object, got %s", jsonKind(t[0]))
	}
	var in eventInput
	if err := DecodeStrict(raw, &in); err != nil {
		return fusionrank.Event{}, err
	}
	ev := fusionrank.Event{EventID: in.EventID, UserID: in.UserID, ItemID: in.ItemID,
		Type: fusionrank.EventType(in.Type), RequestID: in.RequestID, SessionID: in.SessionID}
	for _, f := range []struct{ name, v string }{{"event_id", ev.EventID}, {"user_id", ev.UserID}, {"item_id", ev.ItemID}} {
		if err := fusionrank.ValidateID(f.name, f.v); err != nil {
			return ev, err
		}
	}
	if !ev.Type.Valid() {
		return ev, invalid("type: %q is not one of view, click, add_to_cart, purchase", in.Type)
	}
	if in.Timestamp == nil {
		return ev, invalid("timestamp: required (RFC3339)")
	}
	ts, err := time.Parse(time.RFC3339Nano, *in.Timestamp)
	if err != nil {
		return ev, invalid("timestamp: %q is not an RFC3339 timestamp", *in.Timestamp)
	}
	ev.Timestamp = ts.UTC() // the instant; range checks compare in UTC
	if ev.RequestID != "" {
		if err := fusionrank.ValidateID("request_id", ev.RequestID); err != nil {
			return ev, err
		}
	}
	if ev.SessionID != "" {
		if err := fusionrank.ValidateID("session_id", ev.SessionID); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

// postSearches stores a batch of searches from a shop's engine.
func (s *Server) postSearches(c *gin.Context) {
	var batch fusionrank.SearchBatch
	if err := decodeJSON(c, &batch); err != nil {
		s.fail(c, err)
		return
	}
	res, err := s.deps.Searches.RecordSearches(c.Request.Context(), batch.Searches)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

func (s *Server) rerank(c *gin.Context) {
	var req fusionrank.RerankRequest
	var err error
	if isMultipart(c) {
		err = decodeMultipart(c, &req, &req.Query)
	} else {
		var body []byte
		var release func()
		body, release, err = readJSONPooled(c)
		// The candidates are read into pooled memory, handed back once the answer is
		// written: nothing keeps req after (the ranking service copies what it keeps).
		bufs := candBufPool.Get().(*candBufs)
		defer bufs.reuse()
		if err == nil && !decodeRerankFast(body, &req, bufs) {
			req = fusionrank.RerankRequest{}
			err = queryImageField(DecodeStrict(body, &req))
		}
		release()
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.answer(c, func(ctx context.Context) (fusionrank.Ranking, error) { return s.deps.Rank.Rerank(ctx, req) })
}

// recommend answers a recommendation request. A key of scope public is readable by
// anyone, so its calls get a personal answer only for the user a valid user_token
// vouches for; otherwise the answer is the one an unknown shopper gets (nothing of the
// named user's history shows, not even through what is left out), with personalized
// false and a warning saying why.
func (s *Server) recommend(c *gin.Context) {
	var req fusionrank.RecommendRequest
	body, release, err := readJSONPooled(c)
	if err == nil && !decodeRecommendFast(body, &req) {
		req = fusionrank.RecommendRequest{}
		err = queryImageField(DecodeStrict(body, &req))
	}
	release()
	if err != nil {
		s.fail(c, err)
		return
	}
	var warning string
	if callerScope(c) == ScopePublic && s.cfg.Auth && req.UserID != "" {
		user, err := s.verifyUserToken(req.UserToken)
		switch {
		case err != nil:
			warning = fusionrank.ErrorMessage(err)
		case user != req.UserID:
			warning = "user_token: vouches for another user"
		}
		if warning != "" {
			req.Anonymous = true
			warning += ": answered without personalisation (a public key gets personal answers only for the user of a valid user_token)"
		}
	}
	s.answer(c, func(ctx context.Context) (fusionrank.Ranking, error) {
		r, err := s.deps.Rank.Recommend(ctx, req)
		if warning != "" {
			r.Warnings = append(r.Warnings, warning)
		}
		return r, err
	})
}

func (s *Server) search(c *gin.Context) {
	var req fusionrank.SearchRequest
	var err error
	if isMultipart(c) {
		err = decodeMultipart(c, &req, &req.Query)
	} else {
		err = queryImageField(decodeJSON(c, &req))
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.answer(c, func(ctx context.Context) (fusionrank.Ranking, error) { return s.deps.Rank.Search(ctx, req) })
}

func (s *Server) similar(c *gin.Context) {
	req := fusionrank.SimilarRequest{ItemID: c.Param("id")}
	for k := range c.Request.URL.Query() {
		if k != "count" && k != "explain" {
			s.fail(c, invalid("%s: unknown query parameter", k))
			return
		}
	}
	if v := c.Query("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.fail(c, invalid("count: expected a whole number, got %q", v))
			return
		}
		req.Count = n
	}
	if v := c.Query("explain"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.fail(c, invalid("explain: expected true or false, got %q", v))
			return
		}
		req.Explain = b
	}
	s.answer(c, func(ctx context.Context) (fusionrank.Ranking, error) { return s.deps.Rank.Similar(ctx, req) })
}

// answer runs a ranking call with the request id set, and writes its answer.
func (s *Server) answer(c *gin.Context, call func(context.Context) (fusionrank.Ranking, error)) {
	ctx := fusionrank.WithRequestID(c.Request.Context(), requestID(c))
	r, err := call(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	if r.Items == nil {
		r.Items = []fusionrank.RankedItem{}
	}
	if callerScope(c) == ScopePublic && s.cfg.Auth {
		// The features map holds co-visitation and popularity counts, which come from
		// other shoppers' histories: keys anyone can read see the attention weights only.
		for i := range r.Items {
			if e := r.Items[i].Explanation; e != nil {
				e.Features = nil
			}
		}
	}
	s.writeFast(c, r, func(b []byte) ([]byte, bool) { return appendRanking(b, &r) })
	s.deps.Rank.Release(&r)
}

// writeFast answers 200 with v encoded by appendTo into a pooled buffer, or by
// encoding/json (writeJSON) when appendTo cannot write it (ok false).
func (s *Server) writeFast(c *gin.Context, v any, appendTo func([]byte) ([]byte, bool)) {
	bp := answerBufs.Get().(*[]byte)
	if b, ok := appendTo((*bp)[:0]); ok {
		c.Data(http.StatusOK, "application/json; charset=utf-8", b)
		if cap(b) <= 1<<20 { // an unusually long answer's buffer is left to the GC
			*bp = b[:0]
			answerBufs.Put(bp)
		}
		return
	}
	answerBufs.Put(bp)
	s.writeJSON(c, http.StatusOK, v)
}

func (s *Server) userFeatures(c *gin.Context) {
	id := c.Param("id")
	if err := fusionrank.ValidateID("user_id", id); err != nil {
		s.fail(c, err)
		return
	}
	f, err := s.deps.Users.UserFeatures(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeJSON(c, http.StatusOK, f)
}

func (s *Server) listModels(c *gin.Context) {
	ms, err := s.deps.Models.ListModels(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	if ms == nil {
		ms = []fusionrank.ModelInfo{}
	}
	s.writeJSON(c, http.StatusOK, gin.H{"models": ms})
}

func (s *Server) activateModel(c *gin.Context) {
	m, err := s.deps.Models.ActivateModel(c.Request.Context(), c.Param("version"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeJSON(c, http.StatusOK, m)
}

func (s *Server) rollbackModel(c *gin.Context) {
	m, err := s.deps.Models.RollbackModel(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeJSON(c, http.StatusOK, m)
}

func (s *Server) modelStats(c *gin.Context) {
	st, err := s.deps.Stats.ModelStats(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	if st == nil {
		st = []fusionrank.ModelStats{}
	}
	s.writeJSON(c, http.StatusOK, gin.H{"models": st})
}

func (s *Server) putItemImage(c *gin.Context) {
	data, err := readJSON(c) // the whole body, within the photo body limit
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.deps.Photos.PutItemImage(c.Request.Context(), c.Param("id"), data)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// getImage serves a stored photo. The address is its content's hash, so the answer
// never changes and may be cached for good.
func (s *Server) getImage(c *gin.Context) {
	data, ct, err := s.deps.Photos.Image(c.Request.Context(), c.Param("sha256"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=31536000, immutable")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, ct, data)
}

func (s *Server) listEncoders(c *gin.Context) {
	es, err := s.deps.Photos.ListEncoders(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	if es == nil {
		es = []fusionrank.ImageEncoderInfo{}
	}
	c.JSON(http.StatusOK, gin.H{"encoders": es})
}

func (s *Server) activateEncoder(c *gin.Context) {
	e, err := s.deps.Photos.ActivateEncoder(c.Request.Context(), c.Param("version"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}
