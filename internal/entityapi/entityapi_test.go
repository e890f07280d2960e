package entityapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ordertable/ordertable/internal/apierror"
)

func testContext(method, target, body string, headers map[string]string) *gin.Context {
	gin.SetMode(gin.ReleaseMode)
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(method, "/", strings.NewReader(body))
	c.Request.URL.RawQuery = target
	for k, v := range headers {
		c.Request.Header.Set(k, v)
	}
	return c
}

func wantAPIError(t *testing.T, err error, status int) {
	t.Helper()
	var e *apierror.Error
	if !errors.As(err, &e) || e.Status != status || e.Code == "" || e.Message == "" {
		t.Fatalf("got %v, want an *apierror.Error with status %d", err, status)
	}
}

func TestParseListQuery(t *testing.T) {
	id1, id2 := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
	q, err := ParseListQuery(testContext("GET", "after="+id1+"&before="+id2+"&limit=7", "", nil))
	if err != nil || q.After != id1 || q.Before != id2 || q.Limit != 7 || q.IDs != nil {
		t.Fatalf("got %+v, %v", q, err)
	}
	q, err = ParseListQuery(testContext("GET", "", "", nil))
	if err != nil || q.Limit != DefaultListLimit {
		t.Fatalf("defaults: got %+v, %v", q, err)
	}
	q, err = ParseListQuery(testContext("GET", "ids="+strings.ToUpper(id1)+","+id2+",,"+id1, "", nil))
	if err != nil || len(q.IDs) != 2 || q.IDs[0] != id1 {
		t.Fatalf("ids: got %+v, %v; want 2 distinct lower-case ids", q, err)
	}
	for _, bad := range []string{"limit=abc", "limit=-1", "after=x", "ids=", "ids=a,b", "ids=" + id1 + "&limit=3", "page=2"} {
		_, err := ParseListQuery(testContext("GET", bad, "", nil))
		wantAPIError(t, err, http.StatusBadRequest)
	}
}

func FuzzParseListQuery(f *testing.F) {
	f.Add("after=01932f4e-0000-7000-8000-000000000000&limit=10")
	f.Add("ids=01932f4e-0000-7000-8000-000000000000,01932f4e-0000-7000-8000-000000000001")
	f.Add("before=%zz&limit=1001")
	f.Add("ids=,,,&after=")
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := url.ParseQuery(raw); err != nil {
			return // net/http would have rejected or dropped it the same way
		}
		q, err := ParseListQuery(testContext("GET", raw, "", nil))
		if err != nil {
			wantAPIError(t, err, http.StatusBadRequest)
			return
		}
		if q.Limit < 1 || q.Limit > MaxListLimit || len(q.IDs) > MaxListLimit {
			t.Fatalf("accepted out-of-range query %+v", q)
		}
		for _, id := range append(q.IDs, q.After, q.Before) {
			if id == "" {
				continue
			}
			if _, err := uuid.Parse(id); err != nil || id != strings.ToLower(id) {
				t.Fatalf("accepted non-canonical id %q", id)
			}
		}
	})
}

func FuzzIfMatch(f *testing.F) {
	for _, s := range []string{"3", `"3"`, `W/"3"`, "", "0", "-1", "x", `W/"`, "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		v, err := IfMatch(testContext("PATCH", "", "", map[string]string{"If-Match": h}))
		if err != nil {
			wantAPIError(t, err, http.StatusBadRequest)
			return
		}
		if v < 0 || (v == 0 && strings.TrimSpace(h) != "") {
			t.Fatalf("If-Match %q gave version %d", h, v)
		}
	})
}

type patchBody struct {
	Name  Optional[string]    `json:"name"`
	Count Optional[int]       `json:"count"`
	When  Optional[time.Time] `json:"when"`
}

func TestDecodeJSONOptional(t *testing.T) {
	var p patchBody
	if err := DecodeJSON(testContext("PATCH", "", `{"name":null,"count":3}`, nil), &p); err != nil {
		t.Fatal(err)
	}
	if !p.Name.Set || !p.Name.Null || !p.Count.Set || p.Count.Value != 3 || p.When.Set {
		t.Fatalf("got %+v: want name null, count 3, when absent", p)
	}
	err := DecodeJSON(testContext("PATCH", "", `{"count":"three"}`, nil), &p)
	var e *apierror.Error
	if !errors.As(err, &e) || e.Status != 400 || len(e.Details) != 1 || e.Details[0].Field != "count" {
		t.Fatalf("wrong type in Optional: got %v, want 400 naming count", err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `{"name":null,"when":"2026-01-01T00:00:00Z"}`, `{"x":1}`, `[]`, `{"count":1e99}`, `{"name":"a"} {}`, ``, `nul`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var p patchBody
		err := DecodeJSON(testContext("PATCH", "", body, nil), &p)
		if err != nil {
			wantAPIError(t, err, http.StatusBadRequest)
		}
	})
}
