package servicetest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/ordertable/ordertable/services/customers"
)

// fakeT records a fatal failure instead of failing the real test.
type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeT) Fatal(args ...any) { f.failed = fmt.Sprint(args...); runtime.Goexit() }

func checkFails(c *Contract, r Response) string {
	f := &fakeT{}
	done := make(chan struct{})
	go func() { defer close(done); c.Check(f, r) }()
	<-done
	return f.failed
}

// The contract check must reject what the document does not allow, or the API tests that
// rely on it prove nothing.
func TestContractRejectsUndocumentedAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(customers.OpenAPI())
	}))
	defer srv.Close()
	c := LoadContract(t, srv.URL)
	json := http.Header{"Content-Type": {"application/json"}}
	good := `{"id":"01936f0e-7b7c-7cc1-9d1c-5b1f3c1e2a10","name":"Ada","email":"ada@example.com","country":"GB",
		"created_at":"2026-11-25T10:00:00Z","updated_at":"2026-11-25T10:00:00Z","version":1}`
	cases := []struct {
		name string
		r    Response
		ok   bool
	}{
		{"documented entity", Response{Method: "GET", URL: srv.URL + "/v1/customers/01936f0e-7b7c-7cc1-9d1c-5b1f3c1e2a10", Status: 200, Header: json, Body: []byte(good)}, true},
		{"documented error", Response{Method: "GET", URL: srv.URL + "/v1/customers/01936f0e-7b7c-7cc1-9d1c-5b1f3c1e2a10", Status: 404, Header: json, Body: []byte(`{"error":{"code":"not_found","message":"x"}}`)}, true},
		{"undocumented status", Response{Method: "GET", URL: srv.URL + "/v1/customers/01936f0e-7b7c-7cc1-9d1c-5b1f3c1e2a10", Status: 418, Header: json, Body: []byte(`{}`)}, false},
		{"missing field", Response{Method: "GET", URL: srv.URL + "/v1/customers/01936f0e-7b7c-7cc1-9d1c-5b1f3c1e2a10", Status: 200, Header: json, Body: []byte(`{"id":"x"}`)}, false},
		{"error without shape", Response{Method: "POST", URL: srv.URL + "/v1/customers", Status: 422, Header: json, Body: []byte(`{"message":"bad"}`)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := checkFails(c, tc.r)
			if (msg == "") != tc.ok {
				t.Fatalf("got failure %q, want ok=%v", msg, tc.ok)
			}
		})
	}
}
