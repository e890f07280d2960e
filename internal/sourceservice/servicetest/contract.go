package servicetest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Contract is a service's OpenAPI document, used to check that real responses match it.
type Contract struct {
	router routers.Router
}

// LoadContract fetches base/openapi.json, validates it as an OpenAPI 3 document and returns
// a checker for responses.
func LoadContract(t testing.TB, base string) *Contract {
	t.Helper()
	r := Do(t, "GET", base+"/openapi.json", "")
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.Body)
	if err != nil {
		t.Fatalf("load /openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("/openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &Contract{router: router}
}

// Check fails the test when r (as returned by Do) is not documented: unknown route, an
// undocumented status, or a body that does not match the status's schema.
func (c *Contract) Check(t testing.TB, r Response) {
	t.Helper()
	if c == nil {
		return
	}
	req, err := http.NewRequest(r.Method, r.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if r.Status == http.StatusNotFound || r.Status == http.StatusMethodNotAllowed {
			return // no such route: answered by the frame, not part of the API
		}
		t.Fatalf("%s %s is not in /openapi.json: %v", r.Method, r.URL, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.Status,
		Header:                 r.Header,
		Body:                   io.NopCloser(bytes.NewReader(r.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("%s %s answered %d %s, which /openapi.json does not allow: %v", r.Method, r.URL, r.Status, r.Body, err)
	}
}
