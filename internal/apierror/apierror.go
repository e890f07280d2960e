// Package apierror is the one JSON error shape that every ordertable HTTP API answers with:
//
//	{"error":{"code":"validation_failed","message":"...","details":[{"field":"email","message":"..."}]}}
//
// Handlers map domain errors to an *Error and call Write (or Abort in gin middleware).
package apierror

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
)

// Detail names one offending field or parameter.
type Detail struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an API error with its HTTP status.
type Error struct {
	Status  int      `json:"-"`
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []Detail `json:"details,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Body is the wire form.
type Body struct {
	Error *Error `json:"error"`
}

// New returns an error with the given status, machine-readable code and human message.
func New(status int, code, message string, details ...Detail) *Error {
	return &Error{Status: status, Code: code, Message: message, Details: details}
}

// Common constructors. Codes are stable API; messages are for people.
func BadRequest(message string, details ...Detail) *Error {
	return New(http.StatusBadRequest, "bad_request", message, details...)
}
func Invalid(message string, details ...Detail) *Error {
	return New(http.StatusUnprocessableEntity, "validation_failed", message, details...)
}
func NotFound(message string) *Error { return New(http.StatusNotFound, "not_found", message) }
func Internal() *Error {
	return New(http.StatusInternalServerError, "internal", "internal error; see server logs")
}

// Write sends err as the JSON error body. Errors that are not *Error become a 500 whose
// message reveals nothing internal.
func Write(c *gin.Context, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = Internal()
	}
	c.AbortWithStatusJSON(e.Status, Body{Error: e})
}
