package contract

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esutil"
)

func TestBulkPerItemResults(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "bulk", `{"mappings": {"dynamic": "strict", "properties": {"n": {"type": "long"}}}}`)
	e.mustRaw(t, 201, http.MethodPut, "/"+idx+"/_doc/exists", `{"n": 0}`)
	body := strings.Join([]string{
		`{"index": {"_index": "` + idx + `", "_id": "1"}}`, `{"n": 1}`,
		`{"create": {"_index": "` + idx + `", "_id": "exists"}}`, `{"n": 2}`,
		`{"update": {"_index": "` + idx + `", "_id": "missing"}}`, `{"doc": {"n": 3}}`,
		`{"delete": {"_index": "` + idx + `", "_id": "missing"}}`,
		`{"index": {"_index": "` + idx + `", "_id": "strict"}}`, `{"n": 4, "unknown": true}`,
		`{"create": {"_index": "` + idx + `", "_id": "2"}}`, `{"n": 5}`,
		`{"update": {"_index": "` + idx + `", "_id": "1"}}`, `{"doc": {"n": 6}}`,
		`{"delete": {"_index": "` + idx + `", "_id": "exists"}}`,
	}, "\n") + "\n"
	status, data := e.rawBytes(t, http.MethodPost, "/_bulk?refresh=true", body, "application/x-ndjson")
	if status != 200 {
		t.Fatalf("bulk: got %d %s, want 200", status, truncate(string(data), 400))
	}
	resp := decode(t, data)
	if resp["errors"] != true {
		t.Errorf("errors: got %v, want true", resp["errors"])
	}
	want := []struct {
		action, id string
		status     int
		result     string // for successes
		errType    string // for failures
	}{
		{"index", "1", 201, "created", ""},
		{"create", "exists", 409, "", "version_conflict_engine_exception"},
		{"update", "missing", 404, "", "document_missing_exception"},
		{"delete", "missing", 404, "not_found", ""},
		{"index", "strict", 400, "", "strict_dynamic_mapping_exception"},
		{"create", "2", 201, "created", ""},
		{"update", "1", 200, "updated", ""},
		{"delete", "exists", 200, "deleted", ""},
	}
	items, _ := resp["items"].([]any)
	if len(items) != len(want) {
		t.Fatalf("items: got %d, want %d: %s", len(items), len(want), show(resp))
	}
	for i, w := range want {
		item, _ := path(items[i], w.action).(map[string]any)
		if item == nil {
			t.Errorf("item %d: got %s, want a %q result", i, show(items[i]), w.action)
			continue
		}
		if jsonInt(item["status"]) != w.status {
			t.Errorf("item %d (%s %s): status %v, want %d: %s", i, w.action, w.id, item["status"], w.status, show(item))
		}
		if item["_id"] != w.id {
			t.Errorf("item %d: _id %v, want %s", i, item["_id"], w.id)
		}
		if w.errType != "" {
			if got := path(item, "error.type"); got != w.errType {
				t.Errorf("item %d (%s %s): error.type %v, want %s: %s", i, w.action, w.id, got, w.errType, show(item))
			}
			if r, _ := path(item, "error.reason").(string); r == "" {
				t.Errorf("item %d: error.reason missing", i)
			}
		} else if item["result"] != w.result {
			t.Errorf("item %d (%s %s): result %v, want %s", i, w.action, w.id, item["result"], w.result)
		}
	}
	// The good neighbours of failed items were applied.
	cnt := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_count", nil)
	if jsonInt(cnt["count"]) != 2 {
		t.Errorf("count after bulk: got %v, want 2 (ids 1 and 2)", cnt["count"])
	}
	doc := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_doc/1", nil)
	if jsonInt(path(doc, "_source.n")) != 6 {
		t.Errorf("doc 1 after bulk update: got %s, want n 6", show(doc["_source"]))
	}

	// A source that isn't valid JSON fails its own item only.
	status, data = e.rawBytes(t, http.MethodPost, "/_bulk", `{"index": {"_index": "`+idx+`", "_id": "bad"}}`+"\n"+`{"n": 1,,}`+"\n"+
		`{"index": {"_index": "`+idx+`", "_id": "good"}}`+"\n"+`{"n": 2}`+"\n", "application/x-ndjson")
	if r := decode(t, data); status != 200 || jsonInt(path(r, "items.0.index.status")) != 400 || jsonInt(path(r, "items.1.index.status")) != 201 {
		t.Errorf("bulk with a malformed source: got %d %s, want item 0 400 and item 1 201", status, show(r))
	}

	// /{index}/_bulk defaults the index; a malformed body is a 400 for the whole request.
	status, data = e.rawBytes(t, http.MethodPost, "/"+idx+"/_bulk", `{"index": {"_id": "3"}}`+"\n"+`{"n": 3}`+"\n", "application/x-ndjson")
	if r := decode(t, data); status != 200 || r["errors"] != false || path(r, "items.0.index._index") != idx {
		t.Errorf("/{index}/_bulk: got %d %s", status, show(r))
	}
	status, data = e.rawBytes(t, http.MethodPost, "/_bulk", `{"index": {"_index": "`+idx+`"}`+"\n", "application/x-ndjson")
	if status != 400 {
		t.Errorf("malformed bulk: got %d %s, want 400", status, truncate(string(data), 300))
	}
	// An item without an index fails validation of the whole request.
	status, data = e.rawBytes(t, http.MethodPost, "/_bulk", `{"index": {"_id": "x"}}`+"\n{}\n", "application/x-ndjson")
	if r := decode(t, data); status != 400 || path(r, "error.type") != "action_request_validation_exception" {
		t.Errorf("bulk item without _index: got %d %s, want 400 action_request_validation_exception", status, show(r))
	}
	status, data = e.rawBytes(t, http.MethodPost, "/_bulk", `{"explode": {"_index": "`+idx+`"}}`+"\n{}\n", "application/x-ndjson")
	if status != 400 {
		t.Errorf("unknown bulk action: got %d %s, want 400", status, truncate(string(data), 300))
	}
}

func TestBulkIndexer(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "bi", `{"settings": {"refresh_interval": "-1"}, "mappings": {"properties": {"n": {"type": "long"}, "k": {"type": "keyword"}}}}`)
	const n = 1000
	var mu sync.Mutex
	var failures []string
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:     e.plain,
		Index:      idx,
		NumWorkers: 2,
		FlushBytes: 16 << 10,
		OnError: func(_ context.Context, err error) {
			mu.Lock()
			failures = append(failures, "indexer: "+err.Error())
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	onFailure := func(_ context.Context, it esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf("%s %s: %d %s %v", it.Action, it.DocumentID, res.Status, res.Error.Type, err))
	}
	for i := 0; i < n; i++ {
		v := int64(i + 1)
		if err := bi.Add(ctx, esutil.BulkIndexerItem{
			Action:      "index",
			DocumentID:  fmt.Sprint(i),
			Version:     &v,
			VersionType: "external",
			Body:        strings.NewReader(fmt.Sprintf(`{"n": %d, "k": "k%03d"}`, i, i%7)),
			OnFailure:   onFailure,
		}); err != nil {
			t.Fatalf("add: %v", err)
		}
	}
	if err := bi.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	st := bi.Stats()
	if st.NumFailed != 0 || st.NumIndexed+st.NumCreated != n || len(failures) != 0 {
		t.Fatalf("stats: %+v, failures %v; want %d indexed, none failed", st, failures, n)
	}

	// Not searchable before a refresh (refresh_interval -1), all there after one.
	if c := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_count", nil); jsonInt(c["count"]) != 0 {
		t.Errorf("count before refresh: got %v, want 0", c["count"])
	}
	if _, err := e.typed.Indices.Refresh().Index(idx).Do(ctx); err != nil {
		t.Fatal(err)
	}
	if c := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_count", nil); jsonInt(c["count"]) != n {
		t.Errorf("count after refresh: got %v, want %d", c["count"], n)
	}

	// Per-item failures reach OnFailure with status and error type; the rest succeed.
	var conflicts, ok int
	bi2, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: e.plain, Index: idx, NumWorkers: 1, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		action := "create" // ids 0..9 exist already: conflicts
		id := fmt.Sprint(i * 100)
		if i >= 10 {
			id = fmt.Sprint("new-", i)
		}
		err := bi2.Add(ctx, esutil.BulkIndexerItem{
			Action: action, DocumentID: id, Body: strings.NewReader(`{"n": 1}`),
			OnSuccess: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem) {
				mu.Lock()
				ok++
				mu.Unlock()
			},
			OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, _ error) {
				mu.Lock()
				defer mu.Unlock()
				if res.Status == 409 && res.Error.Type == "version_conflict_engine_exception" {
					conflicts++
				} else {
					failures = append(failures, fmt.Sprintf("%d %s", res.Status, res.Error.Type))
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := bi2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if conflicts != 10 || ok != 10 || len(failures) != 0 {
		t.Errorf("create over existing ids: %d conflicts, %d ok, other failures %v; want 10, 10, none", conflicts, ok, failures)
	}
}

func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	m, err := decodeJSON(data)
	if err != nil {
		t.Fatalf("decode %s: %v", truncate(string(data), 300), err)
	}
	return m
}
