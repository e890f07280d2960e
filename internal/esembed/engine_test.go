package esembed

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomized tests (0: time-based)")

func testSeed(t *testing.T) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed %d)", s, s)
	return s
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestErrorShapes(t *testing.T) {
	ts := newTestServer(t)
	ts.must(200, "PUT", "/idx", map[string]any{"settings": map[string]any{"refresh_interval": "-1"},
		"mappings": map[string]any{"properties": map[string]any{"t": map[string]any{"type": "text"}, "n": map[string]any{"type": "long"}}}})
	ts.must(201, "PUT", "/idx/_doc/1?refresh=true", map[string]any{"n": 1})
	for _, tt := range []struct {
		name, method, path string
		body               any
		status             int
		typ                string
		rootType           string
	}{
		{"missing index", "GET", "/nope/_search", nil, 404, "index_not_found_exception", "index_not_found_exception"},
		{"index exists", "PUT", "/idx", nil, 400, "resource_already_exists_exception", "resource_already_exists_exception"},
		{"bad mapping type", "PUT", "/bad", map[string]any{"mappings": map[string]any{"properties": map[string]any{"x": map[string]any{"type": "nope"}}}}, 400, "mapper_parsing_exception", "mapper_parsing_exception"},
		{"unknown query", "POST", "/idx/_search", map[string]any{"query": map[string]any{"nope": map[string]any{}}}, 400, "parsing_exception", "parsing_exception"},
		{"unknown parameter", "GET", "/idx/_search?bogus=1", nil, 400, "illegal_argument_exception", "illegal_argument_exception"},
		{"version conflict", "PUT", "/idx/_create/1", map[string]any{"n": 2}, 409, "version_conflict_engine_exception", "version_conflict_engine_exception"},
		{"sort on text", "POST", "/idx/_search", map[string]any{"sort": []any{"t"}}, 400, "search_phase_execution_exception", "illegal_argument_exception"},
		{"bad number", "PUT", "/idx/_doc/2", map[string]any{"n": "abc"}, 400, "document_parsing_exception", "document_parsing_exception"},
		{"window too large", "POST", "/idx/_search", map[string]any{"from": 9995, "size": 10}, 400, "search_phase_execution_exception", "illegal_argument_exception"},
		{"script update", "POST", "/idx/_update/1", map[string]any{"script": "ctx._source.n++"}, 400, "illegal_argument_exception", "illegal_argument_exception"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := ts.do(tt.method, tt.path, tt.body)
			if status != tt.status {
				t.Fatalf("status: got %d, want %d (%v)", status, tt.status, body)
			}
			if got := str(get(body, "error.type")); got != tt.typ {
				t.Errorf("error.type: got %s, want %s", got, tt.typ)
			}
			if got := str(get(body, "error.root_cause.0.type")); got != tt.rootType {
				t.Errorf("root_cause type: got %s, want %s", got, tt.rootType)
			}
			if got := str(get(body, "status")); got != fmt.Sprint(tt.status) {
				t.Errorf("status field: got %s, want %d", got, tt.status)
			}
			if str(get(body, "error.reason")) == "" {
				t.Errorf("empty reason: %v", body)
			}
		})
	}
}

func TestVersioning(t *testing.T) {
	ts := newTestServer(t)
	ts.must(200, "PUT", "/v", map[string]any{"settings": map[string]any{"gc_deletes": "300ms"}})
	steps := []struct {
		method, path string
		status       int
		version      string
	}{
		{"PUT", "/v/_doc/a?version=5&version_type=external", 201, "5"},
		{"PUT", "/v/_doc/a?version=5&version_type=external", 409, ""},
		{"PUT", "/v/_doc/a?version=5&version_type=external_gte", 200, "5"},
		{"PUT", "/v/_doc/a?version=4&version_type=external_gte", 409, ""},
		{"PUT", "/v/_doc/a?version=7&version_type=external", 200, "7"},
		{"PUT", "/v/_doc/a?op_type=create", 409, ""},
		{"PUT", "/v/_doc/a?if_seq_no=99&if_primary_term=1", 409, ""},
		{"DELETE", "/v/_doc/a?version=9&version_type=external", 200, "9"},
		{"PUT", "/v/_doc/a?version=8&version_type=external", 409, ""}, // tombstone keeps version 9
		// A delete of a missing document still records its external version.
		{"DELETE", "/v/_doc/ghost?version=20&version_type=external", 404, "20"},
		{"PUT", "/v/_doc/ghost?version=19&version_type=external", 409, ""},
		{"PUT", "/v/_doc/b", 201, "1"},
		{"PUT", "/v/_doc/b", 200, "2"},
		{"PUT", "/v/_doc/b?version=2", 400, ""}, // internal versioning can't be used for OCC
	}
	for i, s := range steps {
		var reqBody any = map[string]any{"x": i}
		if s.method == "DELETE" {
			reqBody = nil
		}
		status, body := ts.do(s.method, s.path, reqBody)
		if status != s.status {
			t.Fatalf("step %d %s %s: got %d, want %d: %v", i, s.method, s.path, status, s.status, body)
		}
		if s.version != "" && str(get(body, "_version")) != s.version {
			t.Fatalf("step %d: _version got %v, want %s", i, get(body, "_version"), s.version)
		}
	}
	// if_seq_no matches the current document.
	g := ts.must(200, "GET", "/v/_doc/b", nil)
	ts.must(200, "PUT", "/v/_doc/b?if_seq_no="+str(get(g, "_seq_no"))+"&if_primary_term=1", map[string]any{"x": 42})
	// Tombstones expire after index.gc_deletes: then a lower external version is accepted.
	eventually(t, 5*time.Second, "tombstone expiry", func() bool {
		status, _ := ts.do("PUT", "/v/_doc/a?version=8&version_type=external", map[string]any{"x": 43})
		return status == 201
	})
}

func TestRefreshVisibility(t *testing.T) {
	ts := newTestServer(t)
	count := func(idx string) string { return str(get(ts.must(200, "GET", "/"+idx+"/_count", nil), "count")) }
	ts.must(200, "PUT", "/manual", map[string]any{"settings": map[string]any{"refresh_interval": "-1"}})
	ts.must(201, "PUT", "/manual/_doc/1", map[string]any{"k": "v"})
	if got := str(get(ts.must(200, "GET", "/manual/_doc/1", nil), "_source.k")); got != "v" {
		t.Fatalf("real-time GET before refresh: got %q", got)
	}
	if got := count("manual"); got != "0" {
		t.Fatalf("search before refresh: got %s docs, want 0", got)
	}
	ts.must(200, "POST", "/manual/_refresh", nil)
	if got := count("manual"); got != "1" {
		t.Fatalf("search after _refresh: got %s, want 1", got)
	}
	ts.must(201, "PUT", "/manual/_doc/2?refresh=wait_for", map[string]any{"k": "w"})
	if got := count("manual"); got != "2" {
		t.Fatalf("after refresh=wait_for: got %s, want 2", got)
	}
	ts.must(200, "PUT", "/periodic", map[string]any{"settings": map[string]any{"refresh_interval": "200ms"}})
	ts.must(201, "PUT", "/periodic/_doc/1?refresh=wait_for", map[string]any{"k": "v"})
	if got := count("periodic"); got != "1" {
		t.Fatalf("after wait_for with periodic refresh: got %s, want 1", got)
	}
	ts.must(201, "PUT", "/periodic/_doc/2", map[string]any{"k": "v"})
	eventually(t, 5*time.Second, "periodic refresh", func() bool { return count("periodic") == "2" })
	// Updates and deletes are near-real-time too.
	ts.must(200, "DELETE", "/manual/_doc/1", nil)
	ts.must(404, "GET", "/manual/_doc/1", nil)
	if got := count("manual"); got != "2" {
		t.Fatalf("search sees a delete before refresh: got %s, want 2", got)
	}
}

func TestSortAndSearchAfter(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, seed^0x9e37))
	ts := newTestServer(t)
	ts.must(200, "PUT", "/orders", string(ordersV2Body(t)))
	n := 300
	docs := make([]map[string]any, n)
	var bulk strings.Builder
	for i := range docs {
		docs[i] = orderDoc(r, i)
		if r.IntN(10) == 0 {
			delete(docs[i], "total") // some missing values
		}
		b := bulkBody(docs, i, i+1, "orders")
		bulk.Write(b)
	}
	res := ts.must(200, "POST", "/_bulk?refresh=true", bulk.String())
	if get(res, "errors") != false {
		t.Fatalf("bulk errors: %v", res)
	}
	for _, tt := range []struct {
		field string
		desc  bool
		less  func(a, b map[string]any) int
	}{
		{"customer_name.keyword", false, func(a, b map[string]any) int {
			return strings.Compare(a["customer_name"].(string), b["customer_name"].(string))
		}},
		{"order_number", true, func(a, b map[string]any) int {
			return strings.Compare(a["order_number"].(string), b["order_number"].(string))
		}},
		{"placed_at", false, func(a, b map[string]any) int {
			return strings.Compare(a["placed_at"].(string), b["placed_at"].(string))
		}},
		{"order_version", true, func(a, b map[string]any) int {
			x, y := a["order_version"].(int64), b["order_version"].(int64)
			return map[bool]int{true: -1, false: 1}[x < y] * boolInt(x != y)
		}},
	} {
		t.Run(tt.field, func(t *testing.T) {
			want := make([]int, n)
			for i := range want {
				want[i] = i
			}
			sort.SliceStable(want, func(i, j int) bool {
				c := tt.less(docs[want[i]], docs[want[j]])
				if c == 0 {
					return fmt.Sprintf("o%d", want[i]) < fmt.Sprintf("o%d", want[j])
				}
				if tt.desc {
					return c > 0
				}
				return c < 0
			})
			order := "asc"
			if tt.desc {
				order = "desc"
			}
			var got []int
			var after []any
			for page := 0; page < 100; page++ {
				body := map[string]any{"size": 7, "_source": false, "sort": []any{map[string]any{tt.field: order}, map[string]any{"order_number": "asc"}}}
				if after != nil {
					body["search_after"] = after
				}
				s := ts.must(200, "POST", "/orders/_search", body)
				hits, _ := get(s, "hits.hits").([]any)
				if len(hits) == 0 {
					break
				}
				for _, h := range hits {
					var id int
					fmt.Sscanf(str(get(h, "_id")), "o%d", &id)
					got = append(got, id)
				}
				after = get(hits[len(hits)-1], "sort").([]any)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("search_after pages: got %v..., want %v...", got[:min(10, len(got))], want[:10])
			}
		})
	}
	// Missing totals sort last in both directions.
	s := ts.must(200, "POST", "/orders/_search", map[string]any{"size": n, "_source": []any{"total"}, "sort": []any{map[string]any{"total": "desc"}}})
	hits := get(s, "hits.hits").([]any)
	seenMissing := false
	for _, h := range hits {
		_, has := get(h, "_source").(map[string]any)["total"]
		if !has {
			seenMissing = true
		} else if seenMissing {
			t.Fatalf("a document with a total sorts after a missing one")
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestAliasSwapUnderLoad: searches through an alias never fail nor see zero indices while
// the alias moves between indices atomically.
func TestAliasSwapUnderLoad(t *testing.T) {
	ts := newTestServer(t)
	for _, ix := range []string{"a1", "a2"} {
		ts.must(200, "PUT", "/"+ix, nil)
		ts.must(201, "PUT", "/"+ix+"/_doc/1?refresh=true", map[string]any{"ix": ix})
	}
	ts.must(200, "POST", "/_aliases", map[string]any{"actions": []any{map[string]any{"add": map[string]any{"index": "a1", "alias": "live"}}}})
	var stop atomic.Bool
	var bad atomic.Int64
	var searches atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				status, body := ts.do("GET", "/live/_search", nil)
				searches.Add(1)
				if status != 200 || str(get(body, "hits.total.value")) != "1" || str(get(body, "_shards.total")) != "1" {
					bad.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		from, to := "a1", "a2"
		if i%2 == 1 {
			from, to = to, from
		}
		ts.must(200, "POST", "/_aliases", map[string]any{"actions": []any{
			map[string]any{"remove": map[string]any{"index": from, "alias": "live"}},
			map[string]any{"add": map[string]any{"index": to, "alias": "live"}},
		}})
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of %d searches failed or saw no/two indices during swaps", bad.Load(), searches.Load())
	}
	// A failing action leaves everything as it was.
	ts.must(404, "POST", "/_aliases", map[string]any{"actions": []any{
		map[string]any{"add": map[string]any{"index": "a1", "alias": "other"}},
		map[string]any{"add": map[string]any{"index": "missing", "alias": "other"}},
	}})
	ts.must(404, "GET", "/_alias/other", nil)
}

// TestConcurrentWriters: parallel bulk writers and readers keep every acknowledged write
// (run with -race).
func TestConcurrentWriters(t *testing.T) {
	ts := newTestServer(t)
	ts.must(200, "PUT", "/c", map[string]any{"settings": map[string]any{"refresh_interval": "50ms"}})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := 0; b < 10; b++ {
				var sb strings.Builder
				for i := 0; i < 20; i++ {
					fmt.Fprintf(&sb, "{\"index\":{\"_index\":\"c\",\"_id\":\"w%d-%d-%d\"}}\n{\"n\":%d,\"k\":\"w%d\"}\n", w, b, i, i, w)
				}
				if r := ts.must(200, "POST", "/_bulk", sb.String()); get(r, "errors") != false {
					t.Errorf("bulk errors: %v", r)
				}
				ts.do("GET", fmt.Sprintf("/c/_doc/w%d-%d-0", w, b), nil)
				ts.do("POST", "/c/_search", map[string]any{"query": map[string]any{"term": map[string]any{"k": fmt.Sprint("w", w)}}})
			}
		}(w)
	}
	wg.Wait()
	ts.must(200, "POST", "/c/_refresh", nil)
	if got := str(get(ts.must(200, "GET", "/c/_count", nil), "count")); got != "800" {
		t.Fatalf("count: got %s, want 800", got)
	}
}

func TestAggregations(t *testing.T) {
	ts := newTestServer(t)
	ts.must(200, "PUT", "/orders", string(ordersV2Body(t)))
	body := `{"index":{"_index":"orders","_id":"1"}}
{"status":"paid","total":10.5,"placed_at":"2024-01-02T00:00:00Z","customer_deleted":false}
{"index":{"_index":"orders","_id":"2"}}
{"status":"paid","total":3,"placed_at":"2024-03-02T00:00:00Z","customer_deleted":true}
{"index":{"_index":"orders","_id":"3"}}
{"status":"open","placed_at":"2023-12-31T00:00:00Z"}
`
	ts.must(200, "POST", "/_bulk?refresh=true", body)
	s := ts.must(200, "POST", "/orders/_search", map[string]any{"size": 0, "aggs": map[string]any{
		"st":  map[string]any{"terms": map[string]any{"field": "status"}},
		"mn":  map[string]any{"min": map[string]any{"field": "total"}},
		"mx":  map[string]any{"max": map[string]any{"field": "placed_at"}},
		"cnt": map[string]any{"value_count": map[string]any{"field": "total"}},
		"del": map[string]any{"terms": map[string]any{"field": "customer_deleted"}},
	}})
	for path, want := range map[string]string{
		"aggregations.st.buckets.0.key": "paid", "aggregations.st.buckets.0.doc_count": "2",
		"aggregations.st.buckets.1.key": "open", "aggregations.mn.value": "3",
		"aggregations.mx.value_as_string": "2024-03-02T00:00:00.000Z", "aggregations.cnt.value": "2",
		"aggregations.del.buckets.0.key_as_string": "false", "aggregations.del.buckets.0.key": "0",
	} {
		if got := str(get(s, path)); got != want {
			t.Errorf("%s: got %s, want %s", path, got, want)
		}
	}
}

// TestRequestBodyLimit: a body over MaxContentLength (http.max_content_length) is refused with
// 413 and a structured error, whether its length is announced or it comes chunked, and
// changes nothing; a body of exactly the limit is accepted.
func TestRequestBodyLimit(t *testing.T) {
	const limit = 2048
	ts := newTestServerWith(t, Config{MaxContentLength: limit})
	ts.must(200, "PUT", "/lim", map[string]any{"mappings": map[string]any{"properties": map[string]any{"n": map[string]any{"type": "long"}}}})
	bulk := func(size int) []byte {
		var b strings.Builder
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, `{"index":{"_index":"lim","_id":"d%d"}}`+"\n"+`{"n":%d}`+"\n", i, i)
		}
		out := []byte(b.String())
		if len(out) > size { // pad the last line to the exact size with spaces inside the object
			out = out[:size-1]
			for len(out) > 0 && out[len(out)-1] != '\n' {
				out = out[:len(out)-1]
			}
			out = append(out, bytes.Repeat([]byte(" "), size-1-len(out))...)
			out = append(out, '\n')
		}
		return out
	}
	send := func(body io.Reader, length int64) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, ts.url+"/_bulk?refresh=true", body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/x-ndjson")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	over := bulk(3 * limit)
	for _, tc := range []struct {
		name   string
		body   io.Reader
		length int64
	}{
		{"announced", bytes.NewReader(over), int64(len(over))},
		{"chunked", io.MultiReader(bytes.NewReader(over)), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, m := send(tc.body, tc.length)
			if status != http.StatusRequestEntityTooLarge || get(m, "error.type") != "content_too_long_exception" || fmt.Sprint(get(m, "status")) != "413" {
				t.Fatalf("got %d %v, want 413 content_too_long_exception", status, m)
			}
			if n := fmt.Sprint(get(ts.must(200, "GET", "/lim/_count", nil), "count")); n != "0" {
				t.Fatalf("count after a refused bulk = %v, want 0", n)
			}
		})
	}
	exact := bulk(limit)
	if len(exact) != limit {
		t.Fatalf("test body is %d bytes, want %d", len(exact), limit)
	}
	if status, m := send(bytes.NewReader(exact), int64(len(exact))); status != 200 || get(m, "errors") != false {
		t.Fatalf("bulk of exactly the limit: %d %v, want 200 without errors", status, m)
	}
	if n := fmt.Sprint(get(ts.must(200, "GET", "/lim/_count", nil), "count")); n == "0" {
		t.Fatalf("count after the accepted bulk = %s, want more", n)
	}
}

// TestSourceTrailingDataRejected: a source is written into responses as stored, so a body
// with anything but whitespace after its object is refused (it would otherwise inject JSON
// into other readers' answers); whitespace around it is kept and every answer stays valid.
func TestSourceTrailingDataRejected(t *testing.T) {
	ts := newTestServer(t)
	ts.must(200, "PUT", "/src", map[string]any{"mappings": map[string]any{"properties": map[string]any{"k": map[string]any{"type": "keyword"}}}})
	for _, body := range []string{`{"k":"a"}],"injected":{"x":1`, `{"k":"a"}}`, `{"k":"a"} {"k":"b"}`, `{"k":"a"}x`} {
		if status, b := ts.raw("PUT", "/src/_doc/bad", body); status != 400 {
			t.Errorf("PUT %s: %d %s, want 400", body, status, b)
		}
		_, b := ts.raw("POST", "/src/_bulk", `{"index":{"_id":"bad"}}`+"\n"+body+"\n")
		if !json.Valid(b) || !strings.Contains(string(b), `"errors":true`) {
			t.Errorf("bulk %s: %s, want an item error", body, b)
		}
	}
	if status, b := ts.raw("GET", "/src/_doc/bad", nil); status != 404 {
		t.Fatalf("GET of a refused document: %d %s, want 404", status, b)
	}
	// Whitespace is not trailing data: kept as written, as Elasticsearch does.
	pretty := "{\n  \"k\" : \"b\"\n}\n\n"
	ts.must(201, "PUT", "/src/_doc/ok?refresh=true", pretty)
	for _, path := range []string{"/src/_doc/ok", "/src/_search", "/src/_search?sort=k:asc"} {
		status, b := ts.raw("GET", path, nil)
		if status != 200 || !json.Valid(b) || !strings.Contains(string(b), `"_source":{`) {
			t.Fatalf("GET %s: %d %s, want valid JSON with the source", path, status, b)
		}
	}
}
