package fusionrank

import (
	"errors"
	"fmt"
)

// Code classifies an error for callers; the API maps each code to one HTTP status.
type Code string

// The error codes. Every error that leaves a package boundary should carry one of these.
const (
	Invalid      Code = "invalid"      // the request is malformed or violates a rule
	NotFound     Code = "not_found"    // the named thing does not exist
	Conflict     Code = "conflict"     // the request conflicts with the current state
	Unavailable  Code = "unavailable"  // a store is down; the caller may retry
	Unauthorized Code = "unauthorized" // no credentials or unknown credentials
	Forbidden    Code = "forbidden"    // credentials lack the needed scope
	TooLarge     Code = "too_large"    // the body or a field is over its limit
	RateLimited  Code = "rate_limited" // the caller is over its rate limit
	Timeout      Code = "timeout"      // the request's body did not arrive within its deadline
	Internal     Code = "internal"     // a bug; details go to the log, never to the client
)

// Error is an error with a code and a message meant for the client. Err, when set, is the
// underlying cause; it is logged but never shown to clients.
type Error struct {
	Code    Code
	Message string
	Err     error
}

// Error returns the message, followed by the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		if e.Message == "" {
			return e.Err.Error()
		}
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted client message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the code and message whose cause is err.
func Wrap(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, Internal for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the client message of the first *Error in err's chain. For an
// error without a code it returns a generic text: internal details never reach clients.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		if e.Message != "" {
			return e.Message
		}
		return string(e.Code)
	}
	return "internal error"
}
