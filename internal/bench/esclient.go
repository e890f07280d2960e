package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/elastic/go-elasticsearch/v8"
)

// esConn is the handful of raw Elasticsearch calls the bench makes itself (creating scratch
// indices, refreshing, counting), over the official client's transport.
type esConn struct {
	c *elasticsearch.Client
}

func newESConn(url string) (esConn, error) {
	c, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{url}})
	if err != nil {
		return esConn{}, fmt.Errorf("elasticsearch client %s: %w", url, err)
	}
	return esConn{c: c}, nil
}

// do sends one request. body is JSON-encoded unless it is []byte (sent as NDJSON). A non-2xx
// answer is an error carrying the start of the body; out, if non-nil, receives the 2xx body.
func (e esConn) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/x-ndjson"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := e.c.Perform(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		msg := string(raw)
		if len(msg) > 400 {
			msg = msg[:400] + "..."
		}
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, res.StatusCode, strings.TrimSpace(msg))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// count returns the number of searchable documents in index (after a refresh).
func (e esConn) count(ctx context.Context, index string) (int, error) {
	if err := e.do(ctx, http.MethodPost, "/"+index+"/_refresh", nil, nil); err != nil {
		return 0, err
	}
	var out struct {
		Count int `json:"count"`
	}
	err := e.do(ctx, http.MethodGet, "/"+index+"/_count", nil, &out)
	return out.Count, err
}
