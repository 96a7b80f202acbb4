package api

import (
	"context"
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
	fusionrank.Unavailable:  http.StatusServiceUnavailable,
	fusionrank.Internal:     http.StatusInternalServerError,
}

// ErrorBody is the envelope of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names the error's code and says what went wrong.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// fail answers with the error's status and envelope, and logs server-side failures with
// their cause. It aborts the handler chain.
func (s *Server) fail(c *gin.Context, err error) {
	code := fusionrank.ErrorCode(err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		code = fusionrank.TooLarge
		err = fusionrank.Errorf(fusionrank.TooLarge, "body: larger than the limit of %d bytes", mbe.Limit)
	}
	// A request that ran out of its deadline is a 503 that names the limit, whatever
	// shape the error took on its way up (a bare context error carries no code).
	overDeadline := errors.Is(c.Request.Context().Err(), context.DeadlineExceeded) &&
		(code == fusionrank.Unavailable || code == fusionrank.Internal)
	if overDeadline {
		code = fusionrank.Unavailable
	}
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	msg := fusionrank.ErrorMessage(err)
	if status >= 500 {
		level := slog.LevelError
		if status == http.StatusServiceUnavailable {
			level = slog.LevelWarn
			msg = "a store is unavailable; retry"
			if d, ok := c.Get(deadlineKey); ok && overDeadline {
				msg = fmt.Sprintf("deadline: the request did not finish within its deadline of %s; retry", d)
			}
			s.metrics.unavailable.Inc()
		} else {
			msg = "internal error"
		}
		s.log.Log(c.Request.Context(), level, "request failed",
			"request_id", requestID(c), "route", c.FullPath(), "status", status, "err", err.Error())
		if status != http.StatusServiceUnavailable {
			s.metrics.internalErrors.Inc()
		}
	}
	if code == fusionrank.RateLimited {
		var e *fusionrank.Error
		if errors.As(err, &e) {
			if ra, ok := e.Err.(retryAfter); ok {
				c.Header("Retry-After", fmt.Sprint(ra.seconds()))
			}
		}
	}
	c.AbortWithStatusJSON(status, ErrorBody{ErrorDetail{Code: string(code), Message: msg}})
}

// invalid is shorthand for a 400 naming the field.
func invalid(format string, args ...any) error {
	return fusionrank.Errorf(fusionrank.Invalid, format, args...)
}
