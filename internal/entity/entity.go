// Package entity holds the business-rule errors shared by the source services, independent
// of HTTP and storage: per-field validation problems (so one request reports every bad field
// at once), unknown ids and optimistic-concurrency conflicts.
package entity

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound means no entity has the id.
var ErrNotFound = errors.New("not found")

// ConflictError reports an expected version (If-Match) that is not the current one.
type ConflictError struct {
	Want, Current int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("version conflict: expected %d, current %d", e.Want, e.Current)
}

// CheckVersion returns a *ConflictError when want is set (> 0) and differs from current.
func CheckVersion(want, current int64) error {
	if want > 0 && want != current {
		return &ConflictError{Want: want, Current: current}
	}
	return nil
}

// FieldError is one problem with one field.
type FieldError struct {
	Field   string
	Message string
}

// Errors is a list of field problems; the zero value is empty and ready to use.
type Errors []FieldError

// Add records a problem with field.
func (e *Errors) Add(field, message string) { *e = append(*e, FieldError{field, message}) }

// Err returns e as an error, or nil when it is empty.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid: " + strings.Join(parts, "; ")
}
