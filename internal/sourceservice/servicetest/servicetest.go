// Package servicetest holds test helpers for the source services: HTTP calls with status and
// error-shape checks, and a view of the outbox to assert which events a request emitted.
package servicetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/ordertable/ordertable/internal/apierror"
	"github.com/ordertable/ordertable/internal/events"
)

// Response is a recorded HTTP answer to Method URL.
type Response struct {
	Method, URL string
	Status      int
	Header      http.Header
	Body        []byte
}

// Error decodes the error body, failing the test when it does not have the one error shape.
func (r Response) Error(t testing.TB) *apierror.Error {
	t.Helper()
	var b apierror.Body
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Error == nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("status %d: body %q is not the error shape {\"error\":{\"code\",\"message\",\"details\"}}: %v", r.Status, r.Body, err)
	}
	return b.Error
}

// Decode unmarshals the body into v, failing the test on error.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// Do sends a request with a raw body ("" for none) and headers given as "Name: value".
func Do(t testing.TB, method, url, body string, headers ...string) Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Method: method, URL: url, Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Outbox reads the events waiting in the outbox of the database at url, in id order.
func Outbox(t testing.TB, url string) []events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT payload FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatal(err)
	}
	out := make([]events.Event, len(payloads))
	for i, p := range payloads {
		if out[i], err = events.Decode(p); err != nil {
			t.Fatalf("outbox row %d: %v", i, err)
		}
	}
	return out
}

// Count returns the result of a count query on the database at url.
func Count(t testing.TB, url, query string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// CheckOpenAPI fetches base/openapi.json and checks that it documents every route of engine
// and equals the checked-in golden file (rewritten when update is set).
func CheckOpenAPI(t *testing.T, base string, routes gin.RoutesInfo, golden string, update bool) {
	t.Helper()
	r := Do(t, "GET", base+"/openapi.json", "")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d", r.Status)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r.Decode(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q, want 3.x", doc.OpenAPI)
	}
	for _, rt := range routes {
		p := rt.Path
		if i := strings.Index(p, "/:"); i >= 0 {
			j := strings.IndexByte(p[i+1:], '/')
			name := p[i+2:]
			rest := ""
			if j >= 0 {
				name, rest = p[i+2:i+1+j], p[i+1+j:]
			}
			p = p[:i] + "/{" + name + "}" + rest
		}
		if _, ok := doc.Paths[p][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("route %s %s is not documented in /openapi.json", rt.Method, p)
		}
	}
	if update {
		if err := os.WriteFile(golden, r.Body, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, r.Body) {
		t.Fatalf("/openapi.json differs from %s; run the test with -update and review the diff", golden)
	}
}

// ErrorCase is one bad request and the error it must produce.
type ErrorCase struct {
	Name, Method, URL, Body string
	Headers                 []string
	Status                  int
	Code                    string
	// Fields are the detail fields, in order (none: no details).
	Fields []string
}

// RunErrorCases sends each request as a subtest and checks status, the one error shape, the
// code, the detail fields and (when contract is not nil) that the answer is documented.
func RunErrorCases(t *testing.T, contract *Contract, cases []ErrorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			r := Do(t, tc.Method, tc.URL, tc.Body, tc.Headers...)
			if r.Status != tc.Status {
				t.Fatalf("got status %d (%s), want %d", r.Status, r.Body, tc.Status)
			}
			contract.Check(t, r)
			e := r.Error(t)
			if e.Code != tc.Code {
				t.Fatalf("got code %q, want %q", e.Code, tc.Code)
			}
			var fields []string
			for _, d := range e.Details {
				fields = append(fields, d.Field)
			}
			if strings.Join(fields, ",") != strings.Join(tc.Fields, ",") {
				t.Fatalf("got detail fields %v, want %v (%s)", fields, tc.Fields, r.Body)
			}
		})
	}
}

// Case builds an ErrorCase (positional, to keep case tables one line each).
func Case(name, method, url, body string, headers []string, status int, code string, fields []string) ErrorCase {
	return ErrorCase{Name: name, Method: method, URL: url, Body: body, Headers: headers, Status: status, Code: code, Fields: fields}
}
