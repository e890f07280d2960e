package contract

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestStrictness: requests Elasticsearch refuses must be refused by the engine too, or code
// developed against it would break in production.
func TestStrictness(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "strict", `{"mappings": {"properties": {"k": {"type": "keyword"}, "o": {"properties": {"x": {"type": "long"}}}, "d": {"type": "date"}}}}`)
	for _, tt := range []struct{ name, doc string }{
		{"object into a keyword", `{"k": {"a": 1}}`},
		{"scalar into an object", `{"o": "text"}`},
		{"bad date", `{"d": "31/12/2024"}`},
		{"bad long in an object", `{"o": {"x": "many"}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.raw(t, http.MethodPut, "/"+idx+"/_doc/1", tt.doc)
			checkErrorShape(t, status, body, 400, "document_parsing_exception")
		})
	}
	for _, name := range []string{"-dash", "has,comma", "star*", "a b", "UPPER", "with#hash", ".", ".."} {
		t.Run("index name "+name, func(t *testing.T) {
			status, body := e.raw(t, http.MethodPut, "/"+urlPathEscape(name), "")
			if status != 400 || path(body, "error.type") != "invalid_index_name_exception" {
				t.Errorf("create %q: got %d %s, want 400 invalid_index_name_exception", name, status, show(body))
				if status == 200 {
					e.cleanupIndex(t, name)
				}
			}
		})
	}
	t.Run("alias named like an index", func(t *testing.T) {
		other := e.createIndex(t, "other", "")
		status, body := e.raw(t, http.MethodPut, "/"+idx+"/_alias/"+other, nil)
		checkErrorShape(t, status, body, 400, "invalid_alias_name_exception")
	})
	t.Run("numeric strings stay strings", func(t *testing.T) {
		dyn := e.createIndex(t, "numstr", "")
		e.mustRaw(t, 201, http.MethodPut, "/"+dyn+"/_doc/1", `{"code": "5", "when": "2024-01-02"}`)
		m := e.mustRaw(t, 200, http.MethodGet, "/"+dyn+"/_mapping", nil)
		if got := path(m, dyn+".mappings.properties.code.type"); got != "text" {
			t.Errorf(`dynamic type of "5": got %v, want text (numeric_detection is off)`, got)
		}
		if got := path(m, dyn+".mappings.properties.when.type"); got != "date" {
			t.Errorf(`dynamic type of "2024-01-02": got %v, want date`, got)
		}
	})
	t.Run("wildcard matching no index", func(t *testing.T) {
		resp := e.mustRaw(t, 200, http.MethodPost, "/"+uniqueName("none")+"-*/_search", `{}`)
		if totalHits(resp) != 0 {
			t.Errorf("got %d hits, want 0", totalHits(resp))
		}
	})
}

// TestTotalHitsCap: without track_total_hits the total is exact only up to 10,000, as
// Elasticsearch reports it.
func TestTotalHitsCap(t *testing.T) {
	if testing.Short() {
		t.Skip("indexes 10,001 documents")
	}
	e := newEnv(t)
	idx := e.createIndex(t, "cap", `{"settings": {"refresh_interval": "-1"}, "mappings": {"properties": {"n": {"type": "long"}}}}`)
	const n = 10001
	var sb strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, `{"index": {"_id": "%d"}}`+"\n"+`{"n": %d}`+"\n", i, i)
	}
	status, data := e.rawBytes(t, http.MethodPost, "/"+idx+"/_bulk?refresh=true", sb.String(), "application/x-ndjson")
	if status != 200 || strings.Contains(string(data), `"errors":true`) {
		t.Fatalf("bulk: %d %s", status, truncate(string(data), 300))
	}
	resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 1}`)
	if totalHits(resp) != 10000 || path(resp, "hits.total.relation") != "gte" {
		t.Errorf("default total: got %s, want {10000, gte}", show(path(resp, "hits.total")))
	}
	resp = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 1, "track_total_hits": true}`)
	if totalHits(resp) != n || path(resp, "hits.total.relation") != "eq" {
		t.Errorf("track_total_hits true: got %s, want {%d, eq}", show(path(resp, "hits.total")), n)
	}
	if c := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_count", nil); jsonInt(c["count"]) != n {
		t.Errorf("_count: got %v, want %d (always exact)", c["count"], n)
	}
}
