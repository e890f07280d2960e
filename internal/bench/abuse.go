package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// AbuseCase is one hostile request to the public search API. The abuse suite (chaos/) asserts
// that each gets its expected answer in bounded time; the bench's abuse figure replays them
// while measuring normal traffic.
type AbuseCase struct {
	// Name says what the request tries.
	Name string
	// Method, Path and Query make the request; Query is sent raw (already encoded).
	Method string
	Path   string
	Query  string
	// Body, when BodySize > 0, is BodySize bytes of JSON-looking filler.
	BodySize int
	// Header adds one header of HeaderSize bytes when HeaderSize > 0.
	HeaderSize int
	// LiteralOK marks inputs that are harmless as literal data (regex-like text in q is matched
	// as words, never as a pattern): a 200 is as good as a 4xx for them; a 5xx never is.
	LiteralOK bool
}

// WantText describes the accepted answers.
func (c AbuseCase) WantText() string {
	if c.LiteralOK {
		return "2xx or 4xx"
	}
	return "4xx"
}

// Accepts reports whether status is an acceptable answer to the case.
func (c AbuseCase) Accepts(status int) bool {
	if status >= 400 && status < 500 {
		return true
	}
	return c.LiteralOK && status >= 200 && status < 300
}

// AbuseCases returns the hostile requests. validCursor, when non-empty, is a real next_cursor
// from the API, used to build tampered variants of it.
func AbuseCases(validCursor string) []AbuseCase {
	get := func(name, query string) AbuseCase {
		return AbuseCase{Name: name, Method: http.MethodGet, Path: "/v1/orders", Query: query}
	}
	literal := func(name, query string) AbuseCase {
		c := get(name, query)
		c.LiteralOK = true
		return c
	}
	many := func(n int, f func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = f(i)
		}
		return strings.Join(parts, "&")
	}
	b64 := base64.RawURLEncoding.EncodeToString
	cases := []AbuseCase{
		get("deep offset from=1000000", "from=1000000"),
		get("deep offset page=100000", "page=100000&size=50"),
		get("deep offset offset=9999999", "offset=9999999"),
		get("huge size", "size=1000000"),
		get("size beyond int64", "size=99999999999999999999999"),
		get("negative size", "size=-1"),
		get("size twice", "size=10&size=20"),
		get("sort on text field", "sort=customer_name.keyword"),
		get("sort on unknown field", "sort=no_such_column"),
		get("sort on _score", "sort=_score"),
		get("sort on _id", "sort=_id"),
		get("sort script injection", "sort="+url.QueryEscape("doc['total'].value")),
		get("too many sort columns", "sort=status,currency,total,placed_at,updated_at,order_number"),
		literal("regex-like q", "q="+url.QueryEscape(`/.*/`)),
		literal("catastrophic regex q", "q="+url.QueryEscape(`(a+)+$`)),
		literal("query-string syntax q", "q="+url.QueryEscape(`*:* OR _exists_:total^1000`)),
		literal("wildcard-only q", "q="+url.QueryEscape(`*?*?*?*?*?*`)),
		literal("regex-like filter value", "filter.status="+url.QueryEscape(`/pa.*/`)),
		get("10k-character regex q", "q="+url.QueryEscape(strings.Repeat("(a|aa)*", 1500))),
		get("control characters in q", "q="+url.QueryEscape("abc\x00\x01def")),
		get("malformed cursor", "cursor=not-a-cursor"),
		get("cursor of random base64", "cursor="+b64([]byte(`{"index":"orders_v1","after":[1,2,3]}`))),
		get("cursor naming another index", "cursor="+b64([]byte(`{"i":"bench_engine","a":["x"],"s":"forged"}`))),
		get("cursor with NUL", "cursor="+url.QueryEscape("abc\x00def")),
		get("oversized cursor", "cursor="+strings.Repeat("A", 64<<10)),
		get("thousands of filters", many(3000, func(i int) string { return fmt.Sprintf("filter.status=s%d", i) })),
		get("thousands of filter values", "filter.status="+strings.Repeat("paid,", 5000)+"paid"),
		get("filters on unknown columns", many(50, func(i int) string { return fmt.Sprintf("filter.col%d=x", i) })),
		get("bad range filter", "filter.total="+url.QueryEscape(">=abc")),
		get("bad date filter", "filter.placed_at="+url.QueryEscape(">=2026-13-45")),
		get("unknown parameter flood", many(2000, func(i int) string { return fmt.Sprintf("p%d=%d", i, i) })),
		get("1 MB query string", "q="+strings.Repeat("a", 1<<20)),
		{Name: "10 MB POST body", Method: http.MethodPost, Path: "/v1/orders", BodySize: 10 << 20},
		{Name: "10 MB body on GET", Method: http.MethodGet, Path: "/v1/orders", BodySize: 10 << 20, LiteralOK: true},
		{Name: "10 MB PUT body on columns", Method: http.MethodPut, Path: "/v1/orders/columns", BodySize: 10 << 20},
		{Name: "2 MB header", Method: http.MethodGet, Path: "/v1/orders", HeaderSize: 2 << 20},
	}
	if validCursor != "" {
		flipped := []byte(validCursor)
		flipped[len(flipped)/2] ^= 0x01
		if flipped[len(flipped)/2] == validCursor[len(validCursor)/2] {
			flipped[len(flipped)/2] = 'A'
		}
		cases = append(cases,
			get("tampered cursor", "cursor="+url.QueryEscape(string(flipped))),
			get("truncated cursor", "cursor="+url.QueryEscape(validCursor[:len(validCursor)/2])),
			get("cursor with changed sort", "cursor="+url.QueryEscape(validCursor)+"&sort=-total"),
		)
	}
	return cases
}

// Do sends the request and returns its status and duration. A connection closed by the server
// on purpose (e.g. a header beyond its limit) is reported as an error with status 0.
func (c AbuseCase) Do(ctx context.Context, hc *http.Client, baseURL string) (int, time.Duration, error) {
	target := strings.TrimRight(baseURL, "/") + c.Path
	if c.Query != "" {
		target += "?" + c.Query
	}
	var body io.Reader
	if c.BodySize > 0 {
		body = io.LimitReader(repeatReader(`{"filter":{"status":"paid"},"pad":"`), int64(c.BodySize))
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, target, body)
	if err != nil {
		return 0, 0, fmt.Errorf("abuse %s: %w", c.Name, err)
	}
	if c.BodySize > 0 {
		req.ContentLength = int64(c.BodySize)
		req.Header.Set("Content-Type", "application/json")
	}
	if c.HeaderSize > 0 {
		req.Header.Set("X-Abuse", strings.Repeat("x", c.HeaderSize))
	}
	start := time.Now()
	res, err := hc.Do(req)
	if err != nil {
		return 0, time.Since(start), fmt.Errorf("abuse %s: %w", c.Name, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	return res.StatusCode, time.Since(start), nil
}

// repeatReader repeats s forever.
func repeatReader(s string) io.Reader {
	return &cycle{b: []byte(s)}
}

type cycle struct {
	b   []byte
	off int
}

func (c *cycle) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.b[c.off:])
		n += k
		c.off = (c.off + k) % len(c.b)
	}
	return n, nil
}

var _ io.Reader = (*cycle)(nil)
