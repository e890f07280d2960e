package esindex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
)

// Client is a connection to one cluster: the official clients plus the helpers of this
// package. It is safe for concurrent use.
type Client struct {
	// ES is the plain go-elasticsearch client (esapi), for calls this package doesn't wrap.
	ES *elasticsearch.Client
	// Typed is the typed go-elasticsearch client over the same transport settings.
	Typed *elasticsearch.TypedClient

	// bulkES is ES without transport retries: the bulk writer retries itself, item by item,
	// and counts what it retries.
	bulkES  *elasticsearch.Client
	timeout time.Duration
	fields  *fieldCache
}

// ResponseError is an Elasticsearch error answer (status >= 400).
type ResponseError struct {
	Op     string // e.g. "GET /_alias/orders"
	Status int
	Type   string // error.type, e.g. "index_not_found_exception"
	Reason string // error.reason
}

func (e *ResponseError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("%s: status %d", e.Op, e.Status)
	}
	return fmt.Sprintf("%s: status %d: %s: %s", e.Op, e.Status, e.Type, e.Reason)
}

// Retryable reports whether the request may succeed when repeated unchanged: throttling (429)
// and server-side errors (5xx).
func (e *ResponseError) Retryable() bool { return e.Status == 429 || e.Status >= 500 }

// StatusOf returns the HTTP status of an Elasticsearch error answer, or 0 for other errors.
func StatusOf(err error) int {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.Status
	}
	return 0
}

// IsRetryable reports whether an error from this package is worth retrying: transport errors
// (connection refused, timeouts, closed connections) and 429/5xx answers. Context
// cancellation and 4xx answers are not.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var re *ResponseError
	if errors.As(err, &re) {
		return re.Retryable()
	}
	return true
}

// Do sends one request and returns the status and body of a 2xx answer. Other answers become a
// *ResponseError (404 included: test it with StatusOf). body may be nil.
func (c *Client) Do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	return c.do(ctx, c.ES, method, path, body)
}

func (c *Client) doBulk(ctx context.Context, path string, body []byte) (int, []byte, error) {
	return c.do(ctx, c.bulkES, http.MethodPost, path, body)
}

func (c *Client) do(ctx context.Context, es *elasticsearch.Client, method, path string, body []byte) (int, []byte, error) {
	op := method + " " + path
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	if body != nil {
		if strings.Contains(path, "/_bulk") || strings.Contains(path, "/_msearch") {
			req.Header.Set("Content-Type", "application/x-ndjson")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	res, err := es.Perform(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, nil, fmt.Errorf("%s: read body: %w", op, err)
	}
	if res.StatusCode >= 300 {
		return res.StatusCode, data, responseError(op, res.StatusCode, data)
	}
	return res.StatusCode, data, nil
}

func responseError(op string, status int, body []byte) *ResponseError {
	re := &ResponseError{Op: op, Status: status}
	var eb struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &eb) == nil && len(eb.Error) > 0 {
		var detail struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		}
		if json.Unmarshal(eb.Error, &detail) == nil {
			re.Type, re.Reason = detail.Type, detail.Reason
		} else {
			var s string
			_ = json.Unmarshal(eb.Error, &s)
			re.Reason = s
		}
	}
	return re
}

// Ping checks that the cluster answers (for readiness probes).
func (c *Client) Ping(ctx context.Context) error {
	_, _, err := c.Do(ctx, http.MethodGet, "/", nil)
	return err
}

// Refresh makes every write to index visible to search.
func (c *Client) Refresh(ctx context.Context, index string) error {
	_, _, err := c.Do(ctx, http.MethodPost, "/"+index+"/_refresh", nil)
	return err
}

// CreateIndex creates index with body ({settings, mappings, aliases}). It reports created=false
// without error when the index already exists.
func (c *Client) CreateIndex(ctx context.Context, index string, body []byte) (created bool, err error) {
	_, _, err = c.Do(ctx, http.MethodPut, "/"+index, body)
	var re *ResponseError
	if errors.As(err, &re) && re.Status == http.StatusBadRequest && re.Type == "resource_already_exists_exception" {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create index %s: %w", index, err)
	}
	return true, nil
}

// IndexExists reports whether a concrete index or alias of that name exists.
func (c *Client) IndexExists(ctx context.Context, name string) (bool, error) {
	_, _, err := c.Do(ctx, http.MethodHead, "/"+name, nil)
	if StatusOf(err) == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}
