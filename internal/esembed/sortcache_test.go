package esembed

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/search"
)

// sortTestMapping has a field of every sortable kind, with few distinct values so that
// ties are common (they are broken by hit order, which the two collectors must agree on).
const sortTestMapping = `{"settings":{"number_of_shards":1,"refresh_interval":"-1"},"mappings":{"properties":{
	"name":{"type":"text","fields":{"keyword":{"type":"keyword"}}},
	"tag":{"type":"keyword"},
	"n":{"type":"long"},
	"x":{"type":"double"},
	"small":{"type":"integer"},
	"at":{"type":"date"},
	"flag":{"type":"boolean"},
	"raw":{"type":"keyword","doc_values":false}}}}`

func sortTestDoc(r *rand.Rand) map[string]any {
	d := map[string]any{}
	words := []string{"alpha", "beta", "gamma", "delta", "Émile", "zeta", ""}
	if r.IntN(8) > 0 {
		d["name"] = words[r.IntN(len(words))] + " " + words[r.IntN(len(words))]
	}
	switch r.IntN(6) {
	case 0: // missing
	case 1: // multi-valued: mode min/max decides
		d["tag"] = []any{words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))]}
	default:
		d["tag"] = words[r.IntN(len(words))]
	}
	if r.IntN(7) > 0 {
		d["n"] = r.Int64N(40) - 20
	}
	if r.IntN(7) > 0 {
		d["x"] = float64(r.IntN(50)-25) / 4
	}
	if r.IntN(5) > 0 {
		d["small"] = []any{r.IntN(10), r.IntN(10)}
	}
	if r.IntN(6) > 0 {
		d["at"] = time.Date(2026, 1, 1+r.IntN(20), r.IntN(3), 0, 0, 0, time.UTC).Format(time.RFC3339)
	}
	if r.IntN(3) > 0 {
		d["flag"] = r.IntN(2) == 0
	}
	d["raw"] = words[r.IntN(len(words))]
	return d
}

// sortTestRequest is a random sorted search over the sortTestMapping fields.
func sortTestRequest(r *rand.Rand) map[string]any {
	fields := []string{"name.keyword", "tag", "n", "x", "small", "at", "flag", "_doc", "_seq_no", "absent"}
	var sorts []any
	for k := 0; k <= r.IntN(3); k++ {
		f := fields[r.IntN(len(fields))]
		spec := map[string]any{"order": []string{"asc", "desc"}[r.IntN(2)]}
		if r.IntN(3) == 0 {
			spec["missing"] = []string{"_first", "_last"}[r.IntN(2)]
		}
		if r.IntN(3) == 0 && f != "_doc" && f != "_seq_no" {
			spec["mode"] = []string{"min", "max"}[r.IntN(2)]
		}
		if f == "absent" {
			spec["unmapped_type"] = "keyword"
		}
		sorts = append(sorts, map[string]any{f: spec})
	}
	body := map[string]any{"sort": sorts, "size": 1 + r.IntN(30), "seq_no_primary_term": r.IntN(2) == 0, "version": r.IntN(2) == 0}
	if r.IntN(3) == 0 {
		body["from"] = r.IntN(40)
	}
	switch r.IntN(4) {
	case 0:
		body["query"] = map[string]any{"match": map[string]any{"name": "beta"}}
	case 1:
		body["query"] = map[string]any{"range": map[string]any{"n": map[string]any{"gte": -5}}}
	}
	if r.IntN(4) == 0 {
		body["_source"] = false
	}
	return body
}

// TestSortedCollectorMatchesBleve runs random sorted searches, with search_after pages, on
// one engine, each twice: once collected from cached sort columns, once by bleve's own
// collector. Every answer must be equal.
func TestSortedCollectorMatchesBleve(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, seed^0x50c7))
	ts := newTestServer(t)
	cache := ts.eng.sortCache.Load()
	must := func(method, path string, body any) {
		t.Helper()
		status, m := ts.do(method, path, body)
		if status >= 300 || get(m, "errors") == true {
			t.Fatalf("%s %s: status %d: %v", method, path, status, m)
		}
	}
	for _, ix := range []string{"st1", "st2"} {
		must("PUT", "/"+ix, sortTestMapping)
	}
	must("POST", "/_aliases", `{"actions":[{"add":{"index":"st1","alias":"st"}},{"add":{"index":"st2","alias":"st"}}]}`)
	// Several rounds, each refreshed: several segments, with updates and deletes of earlier
	// rounds' documents (deleted documents keep their place in their segment's column).
	next := 0
	for round := 0; round < 6; round++ {
		var bulk strings.Builder
		for k := 0; k < 40+r.IntN(80); k++ {
			ix := []string{"st1", "st2"}[r.IntN(2)]
			if next > 0 && r.IntN(5) == 0 {
				id := r.IntN(next)
				if r.IntN(2) == 0 {
					fmt.Fprintf(&bulk, `{"delete":{"_index":%q,"_id":"d%d"}}`+"\n", ix, id)
					continue
				}
				b, _ := json.Marshal(sortTestDoc(r))
				fmt.Fprintf(&bulk, `{"index":{"_index":%q,"_id":"d%d"}}`+"\n%s\n", ix, id, b)
				continue
			}
			b, _ := json.Marshal(sortTestDoc(r))
			fmt.Fprintf(&bulk, `{"index":{"_index":%q,"_id":"d%d"}}`+"\n%s\n", ix, next, b)
			next++
		}
		must("POST", "/_bulk", bulk.String())
		must("POST", "/st1,st2/_refresh", nil)
	}

	for q := 0; q < 150; q++ {
		body := sortTestRequest(r)
		path := []string{"/st1/_search", "/st/_search"}[r.IntN(2)]
		for page := 0; page < 4; page++ {
			// The same pinned snapshot answers both (refresh_interval is -1), so even
			// ties, broken by the order of documents in the segments, must agree.
			sa, a := ts.do("POST", path, body)
			ts.eng.sortCache.Store(nil)
			sb, b := ts.do("POST", path, body)
			ts.eng.sortCache.Store(cache)
			delete(a, "took")
			delete(b, "took")
			if sa != sb || !reflect.DeepEqual(a, b) {
				t.Fatalf("POST %s %s:\ncached: %d %s\nbleve:  %d %s", path, str(body), sa, str(a), sb, str(b))
			}
			hits, _ := get(a, "hits.hits").([]any)
			if sa != 200 || len(hits) == 0 || body["from"] != nil {
				break
			}
			body["search_after"] = get(hits[len(hits)-1], "sort")
		}
	}
	if cols, _ := cache.stats(); cols == 0 {
		t.Fatalf("the cached engine holds no sort column: its sorted searches did not use the cache")
	}
}

// TestSortCacheBudget checks that the cache stays within its byte budget, evicting the least
// recently used columns, and that idle columns are pruned.
func TestSortCacheBudget(t *testing.T) {
	ts := newTestServerWith(t, Config{SortCacheBytes: 6000})
	eng := ts.eng
	ts.must(200, "PUT", "/b", `{"mappings":{"properties":{"a":{"type":"keyword"},"b":{"type":"keyword"},"c":{"type":"keyword"}}}}`)
	var bulk strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&bulk, `{"index":{"_id":"%d"}}`+"\n"+`{"a":"a%03d","b":"b%03d","c":"c%03d"}`+"\n", i, i, 99-i, i%7)
	}
	ts.must(200, "POST", "/b/_bulk?refresh=true", bulk.String())
	// One column: 100 values of 16 bytes of header plus 4 bytes each: 2,000 bytes.
	exists := map[string]any{"exists": map[string]any{"field": "a"}}
	for _, f := range []string{"a", "b", "c", "a"} {
		// Not match_all, which also caches a sort order per segment.
		m := ts.must(200, "POST", "/b/_search", map[string]any{"size": 1, "query": exists, "sort": []any{map[string]any{f: "asc"}}})
		if got, want := str(get(m, "hits.hits.0.sort.0")), f+"000"; got != want {
			t.Fatalf("sort on %s: got first sort value %s, want %s", f, got, want)
		}
		if _, bytes := eng.sortCache.Load().stats(); bytes > 6000 {
			t.Fatalf("after sorting on %s: cache holds %d bytes, budget 6000", f, bytes)
		}
	}
	if cols, bytes := eng.sortCache.Load().stats(); cols != 3 || bytes != 6000 {
		t.Fatalf("got %d columns of %d bytes, want 3 of 6000", cols, bytes)
	}
	// A fourth column (desc: its missing values sort low, so it is another column) evicts
	// the least recently used one, which is b's.
	ts.must(200, "POST", "/b/_search", map[string]any{"size": 1, "query": exists, "sort": []any{map[string]any{"c": "desc"}}})
	if cols, bytes := eng.sortCache.Load().stats(); cols != 3 || bytes != 6000 {
		t.Fatalf("after a fourth column: got %d columns of %d bytes, want 3 of 6000", cols, bytes)
	}
	c := eng.sortCache.Load()
	c.mu.Lock()
	for k := range c.cols {
		if strings.HasSuffix(k.sig, "|b") {
			t.Errorf("the least recently used column (b) was kept")
		}
	}
	c.mu.Unlock()
	eng.sortCache.Load().prune(time.Now().Add(time.Hour), time.Minute)
	if cols, bytes := eng.sortCache.Load().stats(); cols != 0 || bytes != 0 {
		t.Fatalf("after pruning idle columns: got %d columns of %d bytes, want none", cols, bytes)
	}
}

// TestRefreshWarmsSortColumns checks that a refresh builds the sort columns and orders that
// searches used recently over the new snapshot before publishing it, so the searches after it
// build nothing; that an index nobody sorted is not warmed; and that sorts unused for
// sortColumnIdle are forgotten.
func TestRefreshWarmsSortColumns(t *testing.T) {
	ts := newTestServerWith(t, Config{})
	eng := ts.eng
	cache := eng.sortCache.Load()
	mapping := `{"mappings":{"properties":{"a":{"type":"keyword"},"n":{"type":"long"}}}}`
	ts.must(200, "PUT", "/w", mapping)
	ts.must(200, "PUT", "/quiet", mapping)
	next := 0
	write := func(index string, n int) {
		var bulk strings.Builder
		for range n {
			fmt.Fprintf(&bulk, `{"index":{"_id":"%d"}}`+"\n"+`{"a":"a%05d","n":%d}`+"\n", next, next, -next)
			next++
		}
		ts.must(200, "POST", "/"+index+"/_bulk?refresh=true", bulk.String())
	}
	// The last written document is first in both sorts.
	searches := func() {
		t.Helper()
		m := ts.must(200, "POST", "/w/_search", map[string]any{"size": 2, "sort": []any{map[string]any{"a": "desc"}}})
		if got, want := str(get(m, "hits.hits.0._id")), fmt.Sprint(next-1); got != want {
			t.Fatalf("match_all sorted on a desc: got first hit %s, want %s", got, want)
		}
		exists := map[string]any{"exists": map[string]any{"field": "n"}}
		m = ts.must(200, "POST", "/w/_search", map[string]any{"size": 2, "query": exists, "sort": []any{map[string]any{"n": "asc"}}})
		if got, want := str(get(m, "hits.hits.0._id")), fmt.Sprint(next-1); got != want {
			t.Fatalf("exists sorted on n asc: got first hit %s, want %s", got, want)
		}
	}
	write("w", 40)
	searches() // builds: nothing was warm yet
	before := cache.built.Load()
	if before == 0 {
		t.Fatal("the first sorted searches built no column")
	}
	write("w", 40)
	warmed := cache.built.Load()
	// The new segment: a's column and order (match_all), n's column.
	if got, want := warmed-before, int64(3); got < want {
		t.Fatalf("the refresh built %d columns and orders, want at least %d", got, want)
	}
	searches()
	if got := cache.built.Load(); got != warmed {
		t.Fatalf("the searches after the refresh built %d columns or orders, want 0 (the refresh should have)", got-warmed)
	}
	write("quiet", 40)
	if got := cache.built.Load(); got != warmed {
		t.Fatalf("a refresh of an index nobody sorted built %d columns or orders, want 0", got-warmed)
	}
	cache.prune(time.Now().Add(time.Hour), sortColumnIdle)
	write("w", 40)
	if got := cache.built.Load(); got != warmed {
		t.Fatalf("a refresh after the sorts went idle built %d columns or orders, want 0", got-warmed)
	}
}

// TestWarmingFillsOnlyFreeRoom checks that a refresh does not warm past nine tenths of the
// cache's budget (it would evict the columns searches use), and that searches still build
// what they need then.
func TestWarmingFillsOnlyFreeRoom(t *testing.T) {
	// One column of 40 documents: 40 × (16 + 6) = 880 bytes; two fill 1,760 of 1,900, past
	// nine tenths (1,710).
	ts := newTestServerWith(t, Config{SortCacheBytes: 1900})
	eng := ts.eng
	cache := eng.sortCache.Load()
	ts.must(200, "PUT", "/f", `{"mappings":{"properties":{"a":{"type":"keyword"},"b":{"type":"keyword"}}}}`)
	next := 0
	write := func() {
		var bulk strings.Builder
		for range 40 {
			fmt.Fprintf(&bulk, `{"index":{"_id":"%d"}}`+"\n"+`{"a":"a%05d","b":"b%05d"}`+"\n", next, next, next)
			next++
		}
		ts.must(200, "POST", "/f/_bulk?refresh=true", bulk.String())
	}
	exists := map[string]any{"exists": map[string]any{"field": "a"}}
	sorted := func(f string) {
		t.Helper()
		m := ts.must(200, "POST", "/f/_search", map[string]any{"size": 1, "query": exists, "sort": []any{map[string]any{f: "desc"}}})
		if got, want := str(get(m, "hits.hits.0._id")), fmt.Sprint(next-1); got != want {
			t.Fatalf("sorted on %s desc: got first hit %s, want %s", f, got, want)
		}
	}
	write()
	sorted("a")
	sorted("b")
	if _, bytes := cache.stats(); bytes != 1760 {
		t.Fatalf("after two sorted searches the cache holds %d bytes, want 1760", bytes)
	}
	built := cache.built.Load()
	write()
	if got := cache.built.Load(); got != built {
		t.Fatalf("a refresh with the cache nine tenths full built %d columns, want 0", got-built)
	}
	sorted("a")
	sorted("b")
	if got := cache.built.Load(); got <= built {
		t.Fatalf("the searches after it built no column for the new segment")
	}
}

// TestSortedFieldsOnlyForFieldSorts checks which sort orders the cached collector serves.
func TestSortedFieldsOnlyForFieldSorts(t *testing.T) {
	f := &search.SortField{Field: "a"}
	for _, tt := range []struct {
		name  string
		order search.SortOrder
		want  bool
	}{
		{"fields", search.SortOrder{f, &search.SortField{Field: "b", Desc: true}}, true},
		{"none", nil, false},
		{"score", search.SortOrder{f, &search.SortScore{}}, false},
		{"id", search.SortOrder{&search.SortDocID{}}, false},
	} {
		if got := sortedFields(tt.order) != nil; got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestSortCacheRecreatedIndex checks that an index deleted and created again under the same
// name (whose segments scorch numbers from the start again) gets no cached column of its
// predecessor.
func TestSortCacheRecreatedIndex(t *testing.T) {
	ts := newTestServer(t)
	for round, first := range []string{"a", "z"} {
		ts.must(200, "PUT", "/re", `{"mappings":{"properties":{"k":{"type":"keyword"}}}}`)
		var bulk strings.Builder
		for i := 0; i < 20; i++ {
			v := fmt.Sprintf("m%02d", i)
			if i == 7 {
				v = first
			}
			fmt.Fprintf(&bulk, `{"index":{"_id":"%d"}}`+"\n"+`{"k":%q}`+"\n", i, v)
		}
		ts.must(200, "POST", "/re/_bulk?refresh=true", bulk.String())
		m := ts.must(200, "POST", "/re/_search", map[string]any{"size": 1, "sort": []any{map[string]any{"k": "desc"}}})
		want := map[string]string{"a": "m19", "z": "z"}[first]
		if got := str(get(m, "hits.hits.0.sort.0")); got != want {
			t.Fatalf("round %d: got first sort value %s, want %s", round, got, want)
		}
		ts.must(200, "DELETE", "/re", nil)
	}
}

// TestSortedSearchesDuringWrites runs sorted searches from several goroutines while a writer
// indexes, deletes and refreshes, so columns are built concurrently for segments that come and
// go (merges); every page must be in order and every search must succeed. Run it with -race.
func TestSortedSearchesDuringWrites(t *testing.T) {
	seed := testSeed(t)
	ts := newTestServer(t)
	ts.must(200, "PUT", "/w", `{"settings":{"refresh_interval":"-1"},"mappings":{"properties":{"k":{"type":"keyword"},"n":{"type":"long"}}}}`)
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		r := rand.New(rand.NewPCG(seed, 1))
		for round := 0; ; round++ {
			select {
			case <-stop:
				return
			default:
			}
			var bulk strings.Builder
			for i := 0; i < 50; i++ {
				id := r.IntN(2000)
				if r.IntN(6) == 0 {
					fmt.Fprintf(&bulk, `{"delete":{"_id":"%d"}}`+"\n", id)
					continue
				}
				fmt.Fprintf(&bulk, `{"index":{"_id":"%d"}}`+"\n"+`{"k":"v%04d","n":%d}`+"\n", id, r.IntN(500), r.IntN(100))
			}
			if status, _ := ts.raw("POST", "/w/_bulk?refresh=true", bulk.String()); status != 200 {
				t.Errorf("bulk round %d: status %d", round, status)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Go(func() {
			for i := 0; i < 60; i++ {
				body := map[string]any{"size": 20, "sort": []any{map[string]any{"k": "asc"}, map[string]any{"n": "desc"}}}
				if (g+i)%2 == 1 {
					body["query"] = map[string]any{"range": map[string]any{"n": map[string]any{"gte": 10}}}
				}
				status, raw := ts.raw("POST", "/w/_search", body)
				if status != 200 {
					t.Errorf("search: status %d: %s", status, raw)
					return
				}
				var res struct {
					Hits struct {
						Hits []struct {
							Sort []any `json:"sort"`
						} `json:"hits"`
					} `json:"hits"`
				}
				if err := json.Unmarshal(raw, &res); err != nil {
					t.Errorf("search: %v", err)
					return
				}
				for j := 1; j < len(res.Hits.Hits); j++ {
					a, b := res.Hits.Hits[j-1].Sort, res.Hits.Hits[j].Sort
					if a[0].(string) > b[0].(string) || (a[0] == b[0] && a[1].(float64) < b[1].(float64)) {
						t.Errorf("page out of order at %d: %v before %v", j, a, b)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-writerDone
}
