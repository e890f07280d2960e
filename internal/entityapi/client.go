package entityapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ordertable/ordertable/internal/apierror"
)

// ErrUnavailable wraps transport failures: the service could not be reached or answered
// without a usable response.
var ErrUnavailable = errors.New("service unavailable")

// Transport performs JSON calls against one service. API errors come back as
// *apierror.Error (with Status set); transport failures wrap ErrUnavailable.
type Transport struct {
	// BaseURL is the service root, e.g. http://127.0.0.1:8081.
	BaseURL string
	// Token, when set, is sent as a bearer token.
	Token string
	// HTTP is the client; nil uses a pooled client with a 30 s timeout.
	HTTP *http.Client
}

// DefaultHTTPClient keeps enough idle connections for concurrent callers (the default
// transport keeps only 2 per host, which makes parallel seeding reconnect constantly).
func DefaultHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	tr.MaxIdleConns = 256
	return &http.Client{Timeout: 30 * time.Second, Transport: tr}
}

// Call sends method path?query with body (JSON-encoded when non-nil) and decodes a 2xx
// answer into out (when non-nil). ifMatch > 0 sends If-Match.
func (t *Transport) Call(ctx context.Context, method, path string, query url.Values, ifMatch int64, body, out any) error {
	u := strings.TrimRight(t.BaseURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if t.Token != "" {
		req.Header.Set("Authorization", "Bearer "+t.Token)
	}
	if ifMatch > 0 {
		req.Header.Set("If-Match", strconv.FormatInt(ifMatch, 10))
	}
	hc := t.HTTP
	if hc == nil {
		hc = DefaultHTTPClient()
		t.HTTP = hc
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", method, u, ctx.Err())
		}
		return fmt.Errorf("%s %s: %w: %w", method, u, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w: %w", method, u, ErrUnavailable, err)
	}
	if resp.StatusCode >= 300 {
		var b apierror.Body
		if json.Unmarshal(data, &b) == nil && b.Error != nil {
			b.Error.Status = resp.StatusCode
			return b.Error
		}
		e := apierror.New(resp.StatusCode, "http_"+strconv.Itoa(resp.StatusCode), strings.TrimSpace(string(data)))
		if resp.StatusCode >= 500 {
			return fmt.Errorf("%s %s: %w: %w", method, u, ErrUnavailable, e)
		}
		return e
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode response: %w", method, u, err)
		}
	}
	return nil
}

// StatusOf returns the HTTP status of an API error, or 0 for other errors.
func StatusOf(err error) int {
	var e *apierror.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// IsNotFound reports whether err is a 404 from the service.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// ListQueryValues encodes keyset paging parameters.
func ListQueryValues(after, before string, limit int) url.Values {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if before != "" {
		q.Set("before", before)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

// Client is a typed client for one entity collection, e.g. "/v1/customers": T is the entity,
// C the create body and P the patch body.
type Client[T, C, P any] struct {
	Transport *Transport
	Path      string
}

// NewClient returns a client for the collection at path of the service at baseURL; token is
// sent as a bearer token when non-empty; hc may be nil.
func NewClient[T, C, P any](baseURL, path, token string, hc *http.Client) *Client[T, C, P] {
	return &Client[T, C, P]{Transport: &Transport{BaseURL: baseURL, Token: token, HTTP: hc}, Path: path}
}

// Get fetches one entity; a missing one is an error for which IsNotFound is true.
func (c *Client[T, C, P]) Get(ctx context.Context, id string) (T, error) {
	var v T
	err := c.Transport.Call(ctx, http.MethodGet, c.Path+"/"+url.PathEscape(id), nil, 0, nil, &v)
	return v, err
}

// List fetches one keyset page with after < id < before (empty bounds are open).
func (c *Client[T, C, P]) List(ctx context.Context, after, before string, limit int) (Page[T], error) {
	var p Page[T]
	err := c.Transport.Call(ctx, http.MethodGet, c.Path, ListQueryValues(after, before, limit), 0, nil, &p)
	return p, err
}

// BatchGet fetches the entities among ids that exist (any number of ids; they are sent in
// requests of at most MaxListLimit).
func (c *Client[T, C, P]) BatchGet(ctx context.Context, ids []string) ([]T, error) {
	var out []T
	for len(ids) > 0 {
		n := min(len(ids), MaxListLimit)
		var p BatchPage[T]
		q := url.Values{"ids": {strings.Join(ids[:n], ",")}}
		if err := c.Transport.Call(ctx, http.MethodGet, c.Path, q, 0, nil, &p); err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		ids = ids[n:]
	}
	return out, nil
}

// Create posts body and returns the created entity.
func (c *Client[T, C, P]) Create(ctx context.Context, body C) (T, error) {
	var v T
	err := c.Transport.Call(ctx, http.MethodPost, c.Path, nil, 0, body, &v)
	return v, err
}

// Update patches the entity; ifMatch > 0 makes it conditional on that version.
func (c *Client[T, C, P]) Update(ctx context.Context, id string, ifMatch int64, patch P) (T, error) {
	var v T
	err := c.Transport.Call(ctx, http.MethodPatch, c.Path+"/"+url.PathEscape(id), nil, ifMatch, patch, &v)
	return v, err
}

// Delete removes the entity; ifMatch > 0 makes it conditional on that version.
func (c *Client[T, C, P]) Delete(ctx context.Context, id string, ifMatch int64) error {
	return c.Transport.Call(ctx, http.MethodDelete, c.Path+"/"+url.PathEscape(id), nil, ifMatch, nil, nil)
}

// Each walks the whole collection in id order with pages of limit, calling fn per page.
func (c *Client[T, C, P]) Each(ctx context.Context, limit int, fn func([]T) error) error {
	after := ""
	for {
		p, err := c.List(ctx, after, "", limit)
		if err != nil {
			return err
		}
		if len(p.Items) > 0 {
			if err := fn(p.Items); err != nil {
				return err
			}
		}
		if p.Next == nil {
			return nil
		}
		after = *p.Next
	}
}
