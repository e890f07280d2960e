// Package entityapi is the HTTP plumbing shared by the two source services (customers and
// orders), whose APIs have the same shape: strict JSON bodies, optional PATCH fields, keyset
// list and batch-lookup parameters, If-Match versions, bearer-token auth on writes, and the
// Go client transport that speaks to them.
package entityapi

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ordertable/ordertable/internal/apierror"
	"github.com/ordertable/ordertable/internal/entity"
	"github.com/ordertable/ordertable/internal/httpserver"
)

// MaxListLimit bounds a keyset page and a batch lookup.
const (
	MaxListLimit     = 1000
	DefaultListLimit = 100
)

// Page is the answer of a list or batch lookup. Next is the cursor for the following page
// (the last id) or null at the end; batch lookups leave it out.
type Page[T any] struct {
	Items []T     `json:"items"`
	Next  *string `json:"next"`
}

// BatchPage is the answer of a batch lookup by ids.
type BatchPage[T any] struct {
	Items []T `json:"items"`
}

// DecodeJSON reads the request body into dst, rejecting unknown fields, trailing data, an
// empty body and bodies over the server's limit. Errors are *apierror.Error (400 or 413).
func DecodeJSON(c *gin.Context, dst any) error {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		if httpserver.IsBodyTooLarge(err) {
			return apierror.New(http.StatusRequestEntityTooLarge, "body_too_large", "request body exceeds the size limit")
		}
		return apierror.BadRequest("could not read request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return apierror.BadRequest("request body is empty; a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return apierror.BadRequest("malformed JSON: trailing data after the object")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return apierror.BadRequest(fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return apierror.BadRequest("malformed JSON: the body must be a JSON object")
		}
		return apierror.BadRequest("malformed JSON: wrong type",
			apierror.Detail{Field: field, Message: "must be a JSON " + jsonKind(typ.Type.Kind().String())})
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apierror.BadRequest("malformed JSON: unexpected end of body")
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return apierror.BadRequest("unknown field "+strconv.Quote(name), apierror.Detail{Field: name, Message: "unknown field"})
	}
	return apierror.BadRequest("malformed JSON: " + msg)
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "int64", "int", "int32", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice":
		return "array"
	}
	return k
}

// DomainError maps the shared business-rule errors to API errors: field errors to 422,
// unknown ids to 404 and version conflicts to 412. Other errors pass through unchanged.
func DomainError(kind string, err error) error {
	var fe entity.Errors
	var ce *entity.ConflictError
	switch {
	case errors.As(err, &fe):
		details := make([]apierror.Detail, len(fe))
		for i, f := range fe {
			details[i] = apierror.Detail{Field: f.Field, Message: f.Message}
		}
		return apierror.Invalid("request has invalid fields", details...)
	case errors.Is(err, entity.ErrNotFound):
		return apierror.NotFound(kind + " not found")
	case errors.As(err, &ce):
		return apierror.New(http.StatusPreconditionFailed, "version_mismatch",
			fmt.Sprintf("%s is at version %d, not %d (If-Match); fetch it again and retry", kind, ce.Current, ce.Want))
	}
	return err
}

// ParseID validates a path id. Ids are UUIDs; anything else cannot exist, so it is a 404.
func ParseID(c *gin.Context, what string) (string, error) {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return "", apierror.NotFound(what + " " + strconv.Quote(id) + " not found")
	}
	return strings.ToLower(id), nil
}

// ListQuery is a parsed list request: either a keyset page (After/Before/Limit) or a batch
// lookup (IDs).
type ListQuery struct {
	After, Before string
	Limit         int
	IDs           []string
}

// ParseListQuery reads after, before, limit and ids, answering 400 with the offending
// parameter for anything malformed.
func ParseListQuery(c *gin.Context) (ListQuery, error) {
	q := ListQuery{Limit: DefaultListLimit}
	var details []apierror.Detail
	bad := func(field, msg string) { details = append(details, apierror.Detail{Field: field, Message: msg}) }
	for key := range c.Request.URL.Query() {
		switch key {
		case "after", "before", "limit", "ids":
		default:
			bad(key, "unknown query parameter")
		}
	}
	checkID := func(field, v string) string {
		if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
			bad(field, "must be an id (UUID)")
			return ""
		}
		return strings.ToLower(v)
	}
	if v, ok := c.GetQuery("after"); ok {
		q.After = checkID("after", v)
	}
	if v, ok := c.GetQuery("before"); ok {
		q.Before = checkID("before", v)
	}
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxListLimit {
			bad("limit", fmt.Sprintf("must be an integer from 1 to %d", MaxListLimit))
		}
		q.Limit = n
	}
	if v, ok := c.GetQuery("ids"); ok {
		if c.Query("after") != "" || c.Query("before") != "" || c.Query("limit") != "" {
			bad("ids", "cannot be combined with after, before or limit")
		}
		seen := map[string]bool{}
		for _, id := range strings.Split(v, ",") {
			id = strings.TrimSpace(id)
			if id == "" {
				continue
			}
			id = checkID("ids", id)
			if id != "" && !seen[id] {
				seen[id] = true
				q.IDs = append(q.IDs, id)
			}
		}
		if len(q.IDs) > MaxListLimit {
			bad("ids", fmt.Sprintf("at most %d ids per request", MaxListLimit))
		}
		if len(q.IDs) == 0 && len(details) == 0 {
			bad("ids", "must list at least one id")
		}
	}
	if len(details) > 0 {
		return q, apierror.BadRequest("invalid query parameters", details...)
	}
	return q, nil
}

// IfMatch returns the version named by an If-Match header (accepting 3, "3" and W/"3"), or 0
// when the header is absent. A malformed header is a 400.
func IfMatch(c *gin.Context) (int64, error) {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" {
		return 0, nil
	}
	v := strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, apierror.BadRequest("If-Match must be an entity version (a positive integer)",
			apierror.Detail{Field: "If-Match", Message: "not a version: " + h})
	}
	return n, nil
}

// RequireToken answers 401 to requests without "Authorization: Bearer <token>". An empty
// token disables the check.
func RequireToken(token string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if token == "" {
			return
		}
		got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="ordertable"`)
			apierror.Write(c, apierror.New(http.StatusUnauthorized, "unauthorized", "a valid bearer token is required for this request"))
			return
		}
	}
}

// SetVersion exposes the entity version as an ETag so clients can echo it in If-Match.
func SetVersion(c *gin.Context, v int64) {
	c.Header("ETag", `"`+strconv.FormatInt(v, 10)+`"`)
}
