package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/fusionrank/fusionrank"
)

// statusOf is the one table from error codes to HTTP status.
var statusOf = map[fusionrank.Code]int{
	fusionrank.Invalid:      http.StatusBadRequest,
	fusionrank.Unauthorized: http.StatusUnauthorized,
	fusionrank.Forbidden:    http.StatusForbidden,
	fusionrank.NotFound:     http.StatusNotFound,
	fusionrank.Conflict:     http.StatusConflict,
	fusionrank.TooLarge:     http.StatusRequestEntityTooLarge,
	fusionrank.RateLimited:  http.StatusTooManyRequests,
	fusionrank.Timeout:      http.StatusRequestTimeout,
	fusionrank.Unavailable:  http.StatusServiceUnavailable,
	fusionrank.Internal:     http.StatusInternalServerError,
}

// StatusOf is the HTTP status of an error code (500 for an unknown one), for handlers
// outside the package.
func StatusOf(code fusionrank.Code) int {
	if st, ok := statusOf[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// ErrorBody is the envelope of every error answer. Result, on the answer of a batch
// that stopped part way, says exactly what was stored before it stopped.
type ErrorBody struct {
	Error  ErrorDetail `json:"error"`
	Result any         `json:"result,omitempty"`
}

// ErrorDetail names the error's code and says what went wrong.
type ErrorDetail = fusionrank.ErrorDetail

// fail answers with the error's status and envelope, and logs server-side failures with
// their cause. It aborts the handler chain.
func (s *Server) fail(c *gin.Context, err error) { s.failWith(c, err, nil) }

// failWith is fail with a result in the envelope (see ErrorBody).
func (s *Server) failWith(c *gin.Context, err error, result any) {
	err, status, code, msg := s.describe(c, err)
	s.serverFailure(c.Request.Context(), requestID(c), c.FullPath(), status, err)
	if code == fusionrank.RateLimited {
		var e *fusionrank.Error
		if errors.As(err, &e) {
			if ra, ok := e.Err.(retryAfter); ok {
				c.Header("Retry-After", fmt.Sprint(ra.seconds()))
			}
		}
	}
	c.AbortWithStatusJSON(status, ErrorBody{Error: ErrorDetail{Code: string(code), Message: msg}, Result: result})
}

// serverFailure counts and logs, with its cause, an answer of status 5xx (nothing for
// a lower status): a 503 as a warning (a store was down or the deadline passed), any
// other as an error (a bug).
func (s *Server) serverFailure(ctx context.Context, requestID, route string, status int, err error) {
	if status < 500 {
		return
	}
	level := slog.LevelError
	if status == http.StatusServiceUnavailable {
		level = slog.LevelWarn
		s.metrics.unavailable.Inc()
	} else {
		s.metrics.internalErrors.Inc()
	}
	s.log.Log(ctx, level, "request failed", "request_id", requestID, "route", route, "status", status, "err", err.Error())
}

// describe maps an error to what the client is told: the status, the code and the
// message (generic for a 5xx, whose cause only the log sees). It also returns err,
// rewritten where the message must name a limit.
func (s *Server) describe(c *gin.Context, err error) (error, int, fusionrank.Code, string) {
	d, _ := c.Get(deadlineKey)
	return describeIn(c.Request.Context(), d, err)
}

// describeIn is describe for a call that ran under ctx with deadline d (a
// time.Duration, or nil when the call had none): each request of a batch has its own.
func describeIn(ctx context.Context, d any, err error) (error, int, fusionrank.Code, string) {
	code := fusionrank.ErrorCode(err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		code = fusionrank.TooLarge
		err = fusionrank.Errorf(fusionrank.TooLarge, "body: larger than the limit of %d bytes", mbe.Limit)
	}
	// A request that ran out of its deadline is a 503 that names the limit, whatever
	// shape the error took on its way up (a bare context error carries no code).
	overDeadline := errors.Is(ctx.Err(), context.DeadlineExceeded) &&
		(code == fusionrank.Unavailable || code == fusionrank.Internal)
	if overDeadline {
		code = fusionrank.Unavailable
	}
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	msg := fusionrank.ErrorMessage(err)
	switch {
	case status == http.StatusServiceUnavailable:
		msg = "a store is unavailable; retry"
		if d != nil && overDeadline {
			msg = fmt.Sprintf("deadline: the request did not finish within its deadline of %s; retry", d)
		}
	case status >= 500:
		msg = "internal error"
	}
	return err, status, code, msg
}

// writeJSON answers v with status. It encodes v before writing anything, so a value
// that cannot be encoded (a NaN that escaped validation, say) is a logged 500 with the
// envelope, never a success status with an empty or cut body.
func (s *Server) writeJSON(c *gin.Context, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.fail(c, fmt.Errorf("encoding the answer: %w", err))
		return
	}
	c.Data(status, "application/json; charset=utf-8", b)
}

// WriteJSON is writeJSON for handlers outside the package (the web routes): on an
// encoding failure it answers the 500 envelope and records the cause on c (the
// request log line names it).
func WriteJSON(c *gin.Context, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		_ = c.Error(fmt.Errorf("encoding the answer: %w", err))
		c.AbortWithStatusJSON(http.StatusInternalServerError, ErrorBody{Error: ErrorDetail{Code: string(fusionrank.Internal), Message: "internal error"}})
		return
	}
	c.Data(status, "application/json; charset=utf-8", b)
}

// invalid is shorthand for a 400 naming the field.
func invalid(format string, args ...any) error {
	return fusionrank.Errorf(fusionrank.Invalid, format, args...)
}
