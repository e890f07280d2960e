package contract

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
)

// env is one server under test with both official clients.
type env struct {
	url   string
	typed *elasticsearch.TypedClient
	plain *elasticsearch.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	u := esURL(t)
	cfg := elasticsearch.Config{Addresses: []string{u}, MaxRetries: 1}
	typed, err := elasticsearch.NewTypedClient(cfg)
	if err != nil {
		t.Fatalf("typed client: %v", err)
	}
	plain, err := elasticsearch.NewClient(cfg)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return &env{url: u, typed: typed, plain: plain}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// uniqueName makes index and alias names that can't collide on a shared real cluster.
func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "ct-" + prefix + "-" + hex.EncodeToString(b)
}

// createIndex creates a uniquely named index with body (JSON text, may be "") and deletes it
// when the test ends.
func (e *env) createIndex(t *testing.T, prefix, body string) string {
	t.Helper()
	name := uniqueName(prefix)
	status, resp := e.raw(t, http.MethodPut, "/"+name, body)
	if status != http.StatusOK {
		t.Fatalf("create index %s: got %d %v, want 200", name, status, resp)
	}
	e.cleanupIndex(t, name)
	return name
}

func (e *env) cleanupIndex(t *testing.T, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, "/"+name, nil)
		if resp, err := e.plain.Perform(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// raw sends a request through the plain client's transport and decodes the JSON answer.
// body is nil, a string (sent as is) or a value encoded as JSON.
func (e *env) raw(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	status, data := e.rawBytes(t, method, path, body, "")
	var m map[string]any
	if len(data) > 0 && method != http.MethodHead {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, truncate(string(data), 300), err)
		}
	}
	return status, m
}

func (e *env) rawBytes(t *testing.T, method, path string, body any, contentType string) (int, []byte) {
	t.Helper()
	status, data, err := e.tryRawBytes(ctxT(t), method, path, body, contentType)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, data
}

// tryRaw is raw for goroutines other than the test's: errors are returned, never fatal.
func (e *env) tryRaw(ctx context.Context, method, path string, body any) (int, map[string]any, error) {
	status, data, err := e.tryRawBytes(ctx, method, path, body, "")
	if err != nil || len(data) == 0 || method == http.MethodHead {
		return status, nil, err
	}
	m, err := decodeJSON(data)
	if err != nil {
		return status, nil, fmt.Errorf("%s %s: decode %q: %w", method, path, truncate(string(data), 200), err)
	}
	return status, m, nil
}

func (e *env) tryRawBytes(ctx context.Context, method, path string, body any, contentType string) (int, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		if b != "" {
			rd = strings.NewReader(b)
		}
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return 0, nil, fmt.Errorf("encode body: %w", err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return 0, nil, err
	}
	if rd != nil {
		if contentType == "" {
			contentType = "application/json"
			if strings.HasSuffix(path, "_bulk") || strings.Contains(path, "_bulk?") {
				contentType = "application/x-ndjson"
			}
		}
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.plain.Perform(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read: %w", err)
	}
	return resp.StatusCode, data, nil
}

// mustRaw is raw that fails the test unless the status is want.
func (e *env) mustRaw(t *testing.T, want int, method, path string, body any) map[string]any {
	t.Helper()
	status, resp := e.raw(t, method, path, body)
	if status != want {
		t.Fatalf("%s %s: got %d %s, want %d", method, path, status, show(resp), want)
	}
	return resp
}

// esErr asserts err is an Elasticsearch error with status and type.
func esErr(t *testing.T, err error, wantStatus int, wantType string) *types.ElasticsearchError {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %d %s", wantStatus, wantType)
	}
	var ee *types.ElasticsearchError
	if !errors.As(err, &ee) {
		t.Fatalf("got error %T %v, want *types.ElasticsearchError %d %s", err, err, wantStatus, wantType)
	}
	if ee.Status != wantStatus || ee.ErrorCause.Type != wantType {
		t.Errorf("got error %d %s (%v), want %d %s", ee.Status, ee.ErrorCause.Type, ee, wantStatus, wantType)
	}
	return ee
}

// checkErrorShape asserts Elasticsearch's error body:
// {"error":{"root_cause":[{"type","reason"}],"type","reason"},"status":N}.
func checkErrorShape(t *testing.T, status int, body map[string]any, wantStatus int, wantType string) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status: got %d, want %d (%s)", status, wantStatus, show(body))
	}
	if got := jsonInt(body["status"]); got != wantStatus {
		t.Errorf("body status: got %v, want %d", body["status"], wantStatus)
	}
	e, ok := body["error"].(map[string]any)
	if !ok {
		t.Errorf("error: got %s, want an object", show(body["error"]))
		return
	}
	if e["type"] != wantType {
		t.Errorf("error.type: got %v, want %s (reason %v)", e["type"], wantType, e["reason"])
	}
	if r, _ := e["reason"].(string); r == "" {
		t.Errorf("error.reason: got %v, want a message", e["reason"])
	}
	rc, ok := e["root_cause"].([]any)
	if !ok || len(rc) == 0 {
		t.Errorf("error.root_cause: got %s, want a non-empty list", show(e["root_cause"]))
		return
	}
	first, _ := rc[0].(map[string]any)
	if first["type"] == nil || first["reason"] == nil {
		t.Errorf("error.root_cause[0]: got %s, want type and reason", show(first))
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s (last: %s)", what, timeout, state)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-tick.C:
		}
	}
}

func jsonInt(v any) int {
	switch x := v.(type) {
	case json.Number:
		n, _ := x.Int64()
		return int(n)
	case float64:
		return int(x)
	case int:
		return x
	}
	return -1
}

// path walks a decoded JSON value by dotted keys and list indices.
func path(v any, p string) any {
	for _, seg := range strings.Split(p, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			var i int
			if _, err := fmt.Sscan(seg, &i); err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return truncate(string(b), 600)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// hitIDs returns the _id of each hit of a raw search response.
func hitIDs(resp map[string]any) []string {
	hits, _ := path(resp, "hits.hits").([]any)
	ids := make([]string, 0, len(hits))
	for _, h := range hits {
		id, _ := path(h, "_id").(string)
		ids = append(ids, id)
	}
	return ids
}

func totalHits(resp map[string]any) int { return jsonInt(path(resp, "hits.total.value")) }

func decodeJSON(data []byte) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	err := dec.Decode(&m)
	return m, err
}

func urlPathEscape(s string) string { return url.PathEscape(s) }
