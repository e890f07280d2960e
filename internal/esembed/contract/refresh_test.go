package contract

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/refresh"
)

func searchCount(t *testing.T, e *env, idx string) int {
	t.Helper()
	resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"query": {"match_all": {}}, "track_total_hits": true}`)
	return totalHits(resp)
}

func TestRefreshVisibility(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)

	t.Run("refresh_interval -1 shows nothing until _refresh", func(t *testing.T) {
		idx := e.createIndex(t, "nrt", `{"settings": {"refresh_interval": "-1"}, "mappings": {"properties": {"n": {"type": "long"}}}}`)
		e.mustRaw(t, 201, http.MethodPut, "/"+idx+"/_doc/1", `{"n": 1}`)
		// GET by id is real-time...
		if doc := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_doc/1", nil); doc["found"] != true {
			t.Errorf("real-time get: got %s, want found", show(doc))
		}
		// ...search is not.
		if n := searchCount(t, e, idx); n != 0 {
			t.Errorf("search before refresh: got %d hits, want 0", n)
		}
		if c := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_count", nil); jsonInt(c["count"]) != 0 {
			t.Errorf("_count before refresh: got %v, want 0", c["count"])
		}
		r := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_refresh", nil)
		if jsonInt(path(r, "_shards.failed")) != 0 || path(r, "_shards.successful") == nil {
			t.Errorf("refresh response: got %s, want _shards", show(r))
		}
		if n := searchCount(t, e, idx); n != 1 {
			t.Errorf("search after refresh: got %d hits, want 1", n)
		}
		// Deletes and updates are just as invisible until the next refresh.
		e.mustRaw(t, 200, http.MethodDelete, "/"+idx+"/_doc/1", nil)
		if n := searchCount(t, e, idx); n != 1 {
			t.Errorf("search after an unrefreshed delete: got %d hits, want still 1", n)
		}
		e.mustRaw(t, 200, http.MethodPost, "/_refresh", nil)
		if n := searchCount(t, e, idx); n != 0 {
			t.Errorf("search after /_refresh: got %d hits, want 0", n)
		}
	})

	t.Run("refresh=true and wait_for on writes", func(t *testing.T) {
		idx := e.createIndex(t, "rw", `{"settings": {"refresh_interval": "1s"}, "mappings": {"properties": {"n": {"type": "long"}}}}`)
		if _, err := e.typed.Index(idx).Id("1").Raw(strings.NewReader(`{"n": 1}`)).Refresh(refresh.True).Do(ctx); err != nil {
			t.Fatal(err)
		}
		if n := searchCount(t, e, idx); n != 1 {
			t.Errorf("after refresh=true: got %d hits, want 1", n)
		}
		if _, err := e.typed.Index(idx).Id("2").Raw(strings.NewReader(`{"n": 2}`)).Refresh(refresh.Waitfor).Do(ctx); err != nil {
			t.Fatal(err)
		}
		if n := searchCount(t, e, idx); n != 2 {
			t.Errorf("after refresh=wait_for: got %d hits, want 2", n)
		}
		status, data := e.rawBytes(t, http.MethodPost, "/_bulk?refresh=wait_for", `{"index": {"_index": "`+idx+`", "_id": "3"}}`+"\n{\"n\": 3}\n", "application/x-ndjson")
		if status != 200 {
			t.Fatalf("bulk wait_for: %d %s", status, data)
		}
		if n := searchCount(t, e, idx); n != 3 {
			t.Errorf("after bulk refresh=wait_for: got %d hits, want 3", n)
		}
		e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_update/3?refresh=wait_for", `{"doc": {"n": 30}}`)
		if resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"query": {"term": {"n": 30}}}`); totalHits(resp) != 1 {
			t.Errorf("after update refresh=wait_for: got %d hits for the new value, want 1", totalHits(resp))
		}
		e.mustRaw(t, 200, http.MethodDelete, "/"+idx+"/_doc/3?refresh=true", nil)
		if n := searchCount(t, e, idx); n != 2 {
			t.Errorf("after delete refresh=true: got %d hits, want 2", n)
		}
	})

	t.Run("periodic refresh", func(t *testing.T) {
		idx := e.createIndex(t, "per", `{"settings": {"refresh_interval": "200ms"}, "mappings": {"properties": {"n": {"type": "long"}}}}`)
		e.mustRaw(t, 201, http.MethodPut, "/"+idx+"/_doc/1", `{"n": 1}`)
		waitFor(t, 10*time.Second, "periodic refresh makes the doc searchable", func() (bool, string) {
			n := searchCount(t, e, idx)
			return n == 1, "hits " + strconv.Itoa(n)
		})
		// Turning the interval off stops periodic refreshes; turning it on again resumes them.
		e.mustRaw(t, 200, http.MethodPut, "/"+idx+"/_settings", `{"index": {"refresh_interval": "-1"}}`)
		e.mustRaw(t, 201, http.MethodPut, "/"+idx+"/_doc/2", `{"n": 2}`)
		if n := searchCount(t, e, idx); n != 1 {
			t.Errorf("right after disabling refresh: got %d hits, want 1", n)
		}
		e.mustRaw(t, 200, http.MethodPut, "/"+idx+"/_settings", `{"index": {"refresh_interval": "100ms"}}`)
		waitFor(t, 10*time.Second, "re-enabled refresh makes doc 2 searchable", func() (bool, string) {
			n := searchCount(t, e, idx)
			return n == 2, "hits " + strconv.Itoa(n)
		})
	})
}
