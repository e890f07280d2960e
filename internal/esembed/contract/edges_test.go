package contract

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"
	"github.com/elastic/go-elasticsearch/v8/typedapi/core/search"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the randomized tests (0: a random one)")

// TestAutoCreateIndex: a write to a missing index creates it with a dynamic mapping, and the
// first document of an index gets _seq_no 0.
func TestAutoCreateIndex(t *testing.T) {
	e := newEnv(t)
	idx := uniqueName("auto")
	e.cleanupIndex(t, idx)
	r := e.mustRaw(t, 201, http.MethodPut, "/"+idx+"/_doc/1", `{"title": "hello", "n": 1}`)
	if r["result"] != "created" || jsonInt(r["_seq_no"]) != 0 || jsonInt(r["_version"]) != 1 {
		t.Errorf("first write to a new index: got %s, want created _seq_no 0 _version 1", show(r))
	}
	r = e.mustRaw(t, 201, http.MethodPut, "/"+idx+"/_doc/2", `{"title": "again", "n": 2}`)
	if jsonInt(r["_seq_no"]) != 1 {
		t.Errorf("second write: _seq_no %v, want 1", r["_seq_no"])
	}
	m := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_mapping", nil)
	if path(m, idx+".mappings.properties.title.type") != "text" || path(m, idx+".mappings.properties.n.type") != "long" {
		t.Errorf("auto-created mapping: got %s", show(m))
	}
	// The same through bulk and update (doc_as_upsert).
	idx2 := uniqueName("auto")
	e.cleanupIndex(t, idx2)
	status, data := e.rawBytes(t, http.MethodPost, "/_bulk", `{"create": {"_index": "`+idx2+`", "_id": "1"}}`+"\n{\"a\": 1}\n", "application/x-ndjson")
	if resp := decode(t, data); status != 200 || jsonInt(path(resp, "items.0.create.status")) != 201 || jsonInt(path(resp, "items.0.create._seq_no")) != 0 {
		t.Errorf("bulk create into a new index: got %d %s", status, show(resp))
	}
	idx3 := uniqueName("auto")
	e.cleanupIndex(t, idx3)
	r = e.mustRaw(t, 201, http.MethodPost, "/"+idx3+"/_update/1", `{"doc": {"a": 1}, "doc_as_upsert": true}`)
	if jsonInt(r["_seq_no"]) != 0 {
		t.Errorf("upsert into a new index: _seq_no %v, want 0", r["_seq_no"])
	}
}

// TestVersionValidation: request shapes Elasticsearch refuses before touching a document.
func TestVersionValidation(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "vval", docMapping)
	// create (op_type=create) only supports internal versioning.
	status, body := e.raw(t, http.MethodPut, "/"+idx+"/_create/1?version=5&version_type=external", `{"n": 1}`)
	checkErrorShape(t, status, body, 400, "action_request_validation_exception")
	// An empty _id in bulk is a per-item error, not a generated id.
	status, data := e.rawBytes(t, http.MethodPost, "/_bulk", `{"index": {"_index": "`+idx+`", "_id": ""}}`+"\n{\"n\": 1}\n"+
		`{"index": {"_index": "`+idx+`", "_id": "ok"}}`+"\n{\"n\": 2}\n", "application/x-ndjson")
	resp := decode(t, data)
	if status != 200 || resp["errors"] != true || jsonInt(path(resp, "items.0.index.status")) != 400 || jsonInt(path(resp, "items.1.index.status")) != 201 {
		t.Errorf("bulk with an empty _id: got %d %s, want item 0 failing with 400 and item 1 created", status, show(resp))
	}
	// Negative external versions are refused.
	status, _ = e.raw(t, http.MethodPut, "/"+idx+"/_doc/2?version=-1&version_type=external", `{"n": 1}`)
	if status != 400 {
		t.Errorf("version -1: got %d, want 400", status)
	}
}

// TestSpecialIDs: ids with characters that need escaping in a URL round-trip through every API.
func TestSpecialIDs(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	idx := e.createIndex(t, "ids", docMapping)
	// The typed client escapes path parts except '/', so "a/b" goes through an escaped raw
	// request (as other clients send it); the rest through the typed client.
	e.mustRaw(t, 201, http.MethodPut, "/"+idx+"/_doc/a%2Fb", `{"n": 1}`)
	if g := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_doc/a%2Fb", nil); g["_id"] != "a/b" {
		t.Errorf("get a%%2Fb: got _id %v, want a/b", g["_id"])
	}
	for _, id := range []string{"with space", "q?x=1&y#z", "percent%2Fencoded", "ünïcødé", "plus+sign", "..x", "-dash"} {
		t.Run(id, func(t *testing.T) {
			if _, err := e.typed.Index(idx).Id(id).Raw(strings.NewReader(`{"n": 1}`)).Do(ctx); err != nil {
				t.Fatalf("index %q: %v", id, err)
			}
			g, err := e.typed.Get(idx, id).Do(ctx)
			if err != nil || !g.Found || g.Id_ != id {
				t.Fatalf("get %q: got %+v, %v", id, g, err)
			}
			e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_refresh", nil)
			resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", map[string]any{"query": map[string]any{"ids": map[string]any{"values": []string{id}}}})
			if got := hitIDs(resp); !slices.Equal(got, []string{id}) {
				t.Errorf("ids query %q: got %v", id, got)
			}
			if d, err := e.typed.Delete(idx, id).Do(ctx); err != nil || d.Id_ != id {
				t.Errorf("delete %q: got %+v, %v", id, d, err)
			}
			status, _ := e.raw(t, http.MethodGet, "/"+idx+"/_doc/"+url.PathEscape(id), nil)
			if status != 404 {
				t.Errorf("get %q after delete: got %d, want 404", id, status)
			}
		})
	}
}

// TestLongPrecision: long values beyond 2^53 keep every digit in _source, in sort values and
// in term/range queries.
func TestLongPrecision(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "long", `{"mappings": {"properties": {"v": {"type": "long"}}}}`)
	vals := map[string]string{"a": "9007199254740992", "b": "9007199254740993", "c": "9223372036854775807", "d": "-9223372036854775808"}
	for id, v := range vals {
		e.mustRaw(t, 201, http.MethodPut, "/"+idx+"/_doc/"+id, `{"v": `+v+`}`)
	}
	e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_refresh", nil)
	status, data := e.rawBytes(t, http.MethodGet, "/"+idx+"/_doc/b", nil, "")
	if status != 200 || !strings.Contains(string(data), `"v":9007199254740993`) && !strings.Contains(string(data), `"v": 9007199254740993`) {
		t.Errorf("_source of b: got %s, want the exact digits 9007199254740993", data)
	}
	resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"query": {"term": {"v": 9007199254740993}}}`)
	if got := hitIDs(resp); !slices.Equal(got, []string{"b"}) {
		t.Errorf("term 9007199254740993: got %v, want [b]", got)
	}
	resp = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"query": {"range": {"v": {"gt": 9007199254740992}}}, "sort": [{"v": "asc"}]}`)
	if got := hitIDs(resp); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("range gt 2^53: got %v, want [b c]", got)
	}
	resp = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"sort": [{"v": "desc"}]}`)
	if got := hitIDs(resp); !slices.Equal(got, []string{"c", "b", "a", "d"}) {
		t.Errorf("sort v desc: got %v, want [c b a d]", got)
	}
	if got := show(path(resp, "hits.hits.1.sort")); got != "[9007199254740993]" {
		t.Errorf("sort value of b: got %s, want [9007199254740993]", got)
	}
	if got := show(path(resp, "hits.hits.0.sort")); got != "[9223372036854775807]" {
		t.Errorf("sort value of c: got %s, want [9223372036854775807]", got)
	}
	// search_after with an exact long continues after b, not after a rounded value.
	resp = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"sort": [{"v": "asc"}], "search_after": [9007199254740992]}`)
	if got := hitIDs(resp); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("search_after 2^53: got %v, want [b c]", got)
	}
}

// TestConcurrentExternalWrites: writers racing on the same documents with external versions
// leave each document at the highest version any writer sent, with that writer's body.
func TestConcurrentExternalWrites(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "race", `{"mappings": {"properties": {"v": {"type": "long"}}}}`)
	seed := *seedFlag
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	const docs, writers, writesEach = 5, 6, 40
	var mu sync.Mutex
	maxV := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan string, writers*writesEach)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := 0; i < writesEach; i++ {
				id := fmt.Sprint("d", rng.IntN(docs))
				v := 1 + rng.IntN(1000)
				status, body, err := e.tryRaw(t.Context(), http.MethodPut, fmt.Sprintf("/%s/_doc/%s?version=%d&version_type=external", idx, id, v), fmt.Sprintf(`{"v": %d}`, v))
				if err != nil {
					errs <- err.Error()
					continue
				}
				switch status {
				case 200, 201:
					mu.Lock()
					if v > maxV[id] {
						maxV[id] = v
					}
					mu.Unlock()
				case 409:
				default:
					errs <- fmt.Sprintf("%s v%d: %d %s", id, v, status, show(body))
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for id, v := range maxV {
		doc := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_doc/"+id, nil)
		if jsonInt(doc["_version"]) != v || jsonInt(path(doc, "_source.v")) != v {
			t.Errorf("%s: _version %v body %s, want version and body %d (seed %d)", id, doc["_version"], show(doc["_source"]), v, seed)
		}
	}
}

// TestSearchAfterAcrossAlias pages through an alias over two indices (the reindex cut-over
// reads both while it runs): every document once, in order.
func TestSearchAfterAcrossAlias(t *testing.T) {
	e := newEnv(t)
	a, b := twoIndices(t, e, 23, 19)
	alias := uniqueName("pages")
	e.mustRaw(t, 200, http.MethodPost, "/_aliases", aliasActions(
		`{"add": {"index": "`+a+`", "alias": "`+alias+`"}}`, `{"add": {"index": "`+b+`", "alias": "`+alias+`"}}`))
	seen := map[string]bool{}
	var order []string
	after := ""
	for page := 0; page < 20; page++ {
		body := `{"size": 5, "sort": [{"n": "asc"}, {"src": "asc"}]`
		if after != "" {
			body += `, "search_after": ` + after
		}
		resp := e.mustRaw(t, 200, http.MethodPost, "/"+alias+"/_search", body+`}`)
		hits, _ := path(resp, "hits.hits").([]any)
		if len(hits) == 0 {
			break
		}
		for _, h := range hits {
			key := fmt.Sprint(path(h, "_index"), "/", path(h, "_id"))
			if seen[key] {
				t.Errorf("%s returned twice", key)
			}
			seen[key] = true
			order = append(order, fmt.Sprint(path(h, "_source.n"), "/", path(h, "_source.src")))
		}
		after = show(path(hits[len(hits)-1], "sort"))
	}
	if len(seen) != 42 {
		t.Errorf("visited %d documents, want 42", len(seen))
	}
	for i := 1; i < len(order); i++ {
		var n1, n2 int
		var s1, s2 string
		fmt.Sscanf(strings.Replace(order[i-1], "/", " ", 1), "%d %s", &n1, &s1)
		fmt.Sscanf(strings.Replace(order[i], "/", " ", 1), "%d %s", &n2, &s2)
		if n1 > n2 || n1 == n2 && s1 > s2 {
			t.Errorf("out of order: %s before %s", order[i-1], order[i])
		}
	}
}

// TestCompatibilityMediaTypes: the media types the official clients send in compatibility
// mode are accepted and answered in kind.
func TestCompatibilityMediaTypes(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "media", docMapping)
	do := func(method, p, body, ctype string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctxT(t), method, p, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", ctype)
		}
		req.Header.Set("Accept", "application/vnd.elasticsearch+json; compatible-with=8")
		resp, err := e.plain.Perform(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, p, err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp, sb.String()
	}
	resp, body := do(http.MethodPut, "/"+idx+"/_doc/1", `{"n": 1}`, "application/vnd.elasticsearch+json; compatible-with=8")
	if resp.StatusCode != 201 {
		t.Errorf("index with a compatible-with=8 body: got %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
		t.Errorf("response Content-Type: got %q, want JSON", ct)
	}
	resp, body = do(http.MethodPost, "/_bulk", `{"index": {"_index": "`+idx+`", "_id": "2"}}`+"\n{\"n\": 2}\n", "application/vnd.elasticsearch+x-ndjson; compatible-with=8")
	if resp.StatusCode != 200 || strings.Contains(body, `"errors":true`) {
		t.Errorf("bulk with compatible-with=8 NDJSON: got %d %s", resp.StatusCode, body)
	}
	resp, body = do(http.MethodPost, "/"+idx+"/_search", `{"query": {"match_all": {}}}`, "application/json; charset=UTF-8")
	if resp.StatusCode != 200 {
		t.Errorf("search with charset: got %d %s", resp.StatusCode, body)
	}
	// An unknown query parameter is a 400 that names it, as in Elasticsearch.
	status, errBody := e.raw(t, http.MethodGet, "/"+idx+"/_search?no_such_param=1", nil)
	checkErrorShape(t, status, errBody, 400, "illegal_argument_exception")
	if r, _ := path(errBody, "error.reason").(string); !strings.Contains(r, "no_such_param") {
		t.Errorf("unknown parameter reason: got %q, want it named", r)
	}
}

// TestClientsInCompatibilityMode: the official clients with EnableCompatibilityMode (what
// ELASTIC_CLIENT_APIVERSIONING=true turns on) send vnd.elasticsearch media types everywhere,
// NDJSON included.
func TestClientsInCompatibilityMode(t *testing.T) {
	base := newEnv(t)
	cfg := elasticsearch.Config{Addresses: []string{base.url}, EnableCompatibilityMode: true}
	typed, err := elasticsearch.NewTypedClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := elasticsearch.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	idx := base.createIndex(t, "compat", docMapping)
	if _, err := typed.Index(idx).Id("1").Raw(strings.NewReader(`{"n": 1, "tag": "a"}`)).Do(ctx); err != nil {
		t.Fatalf("typed index: %v", err)
	}
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: plain, Index: idx, Refresh: "true"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 5; i++ {
		if err := bi.Add(ctx, esutil.BulkIndexerItem{Action: "index", DocumentID: fmt.Sprint(i), Body: strings.NewReader(`{"n": 2, "tag": "b"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bi.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := bi.Stats(); st.NumFailed != 0 || st.NumIndexed != 4 {
		t.Errorf("bulk in compatibility mode: %+v", st)
	}
	res, err := typed.Search().Index(idx).Request(&search.Request{Query: &types.Query{Term: map[string]types.TermQuery{"tag": {Value: "b"}}}}).Do(ctx)
	if err != nil || res.Hits.Total == nil || res.Hits.Total.Value != 4 {
		t.Errorf("typed search in compatibility mode: got %+v, %v; want 4 hits", res, err)
	}
	_, err = typed.Indices.Create(idx).Do(ctx)
	esErr(t, err, 400, "resource_already_exists_exception")
}
