package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/fusionrank/fusionrank"
)

// MaxRerankBatch caps the requests of one POST /v1/rerank:batch.
const MaxRerankBatch = 64

// rerankBatch answers several rerank requests in one exchange. Each is answered as
// POST /v1/rerank would answer it alone: its own answer id (after the caller's
// X-Request-ID, as for a single call), its own deadline (RequestTimeout, from when it
// starts), its search logged under its id, and its own status in the result. The rate
// limits and MaxInFlight count each request of the batch; a batch whose body does not
// parse, is empty or is over MaxRerankBatch fails whole.
func (s *Server) rerankBatch(c *gin.Context) {
	body, release, err := readJSONPooled(c)
	var req fusionrank.RerankBatchRequest
	if err == nil && !decodeRerankBatchFast(body, &req) {
		req = fusionrank.RerankBatchRequest{}
		err = DecodeStrict(body, &req)
	}
	release()
	switch {
	case err != nil:
	case len(req.Requests) == 0:
		err = invalid("requests: empty; expected 1 to %d rerank requests", MaxRerankBatch)
	case len(req.Requests) > MaxRerankBatch:
		err = fusionrank.Errorf(fusionrank.TooLarge, "requests: %d requests is over the limit of %d", len(req.Requests), MaxRerankBatch)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	// The route's limits took one token and one in-flight place; the batch's other
	// requests take theirs, so a batch is shed as its requests would be.
	for range len(req.Requests) - 1 {
		if !s.allow(c, false) {
			return
		}
	}
	if s.cfg.MaxInFlight > 0 {
		more := int64(len(req.Requests) - 1)
		n := s.inFlight.Add(more)
		defer s.inFlight.Add(-more)
		if n > int64(s.cfg.MaxInFlight) {
			s.overloaded(c)
			return
		}
	}
	out := fusionrank.RerankBatch{Results: make([]fusionrank.RerankResult, len(req.Requests))}
	for i := range req.Requests {
		out.Results[i] = s.rerankOne(c, &req.Requests[i])
	}
	s.writeFast(c, out, func(b []byte) ([]byte, bool) { return appendRerankBatch(b, &out) })
	for _, r := range out.Results {
		if r.Ranking != nil {
			s.deps.Rank.Release(r.Ranking)
		}
	}
}

// rerankOne answers one request of a batch.
func (s *Server) rerankOne(c *gin.Context, req *fusionrank.RerankRequest) fusionrank.RerankResult {
	id := answerID(c)
	ctx, cancel := context.WithTimeout(fusionrank.WithRequestID(c.Request.Context(), id), s.cfg.RequestTimeout)
	defer cancel()
	r, err := s.deps.Rank.Rerank(ctx, *req)
	if err != nil {
		err, status, code, msg := describeIn(ctx, s.cfg.RequestTimeout, err)
		s.serverFailure(ctx, id, c.FullPath(), status, err)
		return fusionrank.RerankResult{Status: status, Error: &fusionrank.ErrorDetail{Code: string(code), Message: msg}}
	}
	if r.Items == nil {
		r.Items = []fusionrank.RankedItem{}
	}
	return fusionrank.RerankResult{Status: http.StatusOK, Ranking: &r}
}

// appendRerankBatch appends the JSON of a batch's answer as encoding/json writes it,
// each ranking through appendRanking; ok is false when one of them cannot be written
// that way (the caller then uses json.Marshal).
func appendRerankBatch(b []byte, out *fusionrank.RerankBatch) (_ []byte, ok bool) {
	b = append(b, `{"results":[`...)
	for i := range out.Results {
		r := &out.Results[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"status":`...)
		b = strconv.AppendInt(b, int64(r.Status), 10)
		if r.Ranking != nil {
			b = append(b, `,"ranking":`...)
			if b, ok = appendRanking(b, r.Ranking); !ok {
				return b, false
			}
		}
		if r.Error != nil {
			e, err := json.Marshal(r.Error)
			if err != nil {
				return b, false
			}
			b = append(b, `,"error":`...)
			b = append(b, e...)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...), true
}
