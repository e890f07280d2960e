package contract

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/typedapi/core/search"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
)

// product is the search fixture; nil fields are missing from the document.
type product struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Category string   `json:"category"`
	Price    *float64 `json:"price,omitempty"`
	Qty      int      `json:"qty"`
	Created  string   `json:"created,omitempty"`
	Active   *bool    `json:"active,omitempty"`
	Tags     []string `json:"tags,omitempty"`
}

func fp(f float64) *float64 { return &f }
func bp(b bool) *bool       { return &b }

var products = []product{
	{"p01", "Red apple", "fruit", fp(1.5), 10, "2024-01-01", bp(true), []string{"red", "sweet"}},
	{"p02", "Green apple", "fruit", fp(1.2), 5, "2024-01-05", bp(true), []string{"green", "sour"}},
	{"p03", "Banana split", "dessert", fp(4.0), 2, "2024-02-10", bp(false), []string{"sweet"}},
	{"p04", "Apple pie", "dessert", fp(6.5), 1, "2024-03-01", bp(true), []string{"sweet", "baked"}},
	{"p05", "Carrot", "vegetable", fp(0.8), 50, "2023-12-24", bp(true), []string{"orange"}},
	{"p06", "Orange juice", "drink", fp(3.2), 20, "2024-01-15", bp(false), []string{"orange", "sweet"}},
	{"p07", "Big red tomato", "vegetable", fp(2.1), 0, "", bp(true), []string{"red"}},
	{"p08", "Blue cheese", "dairy", nil, 7, "2024-02-29T12:30:00Z", bp(true), nil},
	{"p09", "Apple juice", "drink", fp(2.9), 12, "2024-01-20", bp(true), []string{"sweet"}},
	{"p10", "Red pepper", "vegetable", fp(1.9), 3, "2024-03-10", nil, []string{"red", "hot"}},
}

const productMapping = `{"mappings": {"dynamic": "strict", "properties": {
	"id": {"type": "keyword"},
	"name": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
	"category": {"type": "keyword"},
	"price": {"type": "double"},
	"qty": {"type": "integer"},
	"created": {"type": "date"},
	"active": {"type": "boolean"},
	"tags": {"type": "keyword"}
}}}`

func productIndex(t *testing.T, e *env) string {
	t.Helper()
	idx := e.createIndex(t, "prod", productMapping)
	var sb strings.Builder
	for _, p := range products {
		doc, _ := json.Marshal(p)
		fmt.Fprintf(&sb, `{"index": {"_index": %q, "_id": %q}}`+"\n%s\n", idx, p.ID, doc)
	}
	status, data := e.rawBytes(t, http.MethodPost, "/_bulk?refresh=true", sb.String(), "application/x-ndjson")
	if status != 200 || strings.Contains(string(data), `"errors":true`) {
		t.Fatalf("seed products: %d %s", status, truncate(string(data), 500))
	}
	return idx
}

func ids(pred func(p product) bool) []string {
	var out []string
	for _, p := range products {
		if pred(p) {
			out = append(out, p.ID)
		}
	}
	return out
}

func has(list []string, v string) bool { return slices.Contains(list, v) }

func TestSearchQueries(t *testing.T) {
	e := newEnv(t)
	idx := productIndex(t, e)
	all := func(product) bool { return true }
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"match_all", `{"match_all": {}}`, ids(all)},
		{"match_none", `{"match_none": {}}`, nil},
		{"term keyword", `{"term": {"category": "fruit"}}`, []string{"p01", "p02"}},
		{"term keyword value object", `{"term": {"category": {"value": "fruit"}}}`, []string{"p01", "p02"}},
		{"term subfield", `{"term": {"name.keyword": "Apple pie"}}`, []string{"p04"}},
		{"term number", `{"term": {"qty": 5}}`, []string{"p02"}},
		{"term boolean", `{"term": {"active": false}}`, []string{"p03", "p06"}},
		{"term array field", `{"term": {"tags": "red"}}`, []string{"p01", "p07", "p10"}},
		{"terms", `{"terms": {"category": ["drink", "dairy"]}}`, []string{"p06", "p08", "p09"}},
		{"ids", `{"ids": {"values": ["p01", "p05", "zz"]}}`, []string{"p01", "p05"}},
		{"exists", `{"exists": {"field": "price"}}`, ids(func(p product) bool { return p.Price != nil })},
		{"exists date", `{"exists": {"field": "created"}}`, ids(func(p product) bool { return p.Created != "" })},
		{"range double", `{"range": {"price": {"gte": 2, "lt": 4}}}`, []string{"p06", "p07", "p09"}},
		{"range integer", `{"range": {"qty": {"gt": 10}}}`, []string{"p05", "p06", "p09"}},
		{"range date", `{"range": {"created": {"gte": "2024-02-01", "lte": "2024-03-01"}}}`, []string{"p03", "p04", "p08"}},
		{"range date epoch_millis", `{"range": {"created": {"gte": 1706745600000, "lt": 1709251200000, "format": "epoch_millis"}}}`, []string{"p03", "p08"}},
		{"range keyword", `{"range": {"category": {"gte": "f", "lt": "g"}}}`, []string{"p01", "p02"}},
		{"prefix", `{"prefix": {"category": "veg"}}`, []string{"p05", "p07", "p10"}},
		{"wildcard", `{"wildcard": {"name.keyword": {"value": "*juice"}}}`, []string{"p06", "p09"}},
		{"wildcard ?", `{"wildcard": {"category": "d?iry"}}`, []string{"p08"}},
		{"match", `{"match": {"name": "apple"}}`, []string{"p01", "p02", "p04", "p09"}},
		{"match or", `{"match": {"name": "red apple"}}`, []string{"p01", "p02", "p04", "p07", "p09", "p10"}},
		{"match and", `{"match": {"name": {"query": "red apple", "operator": "and"}}}`, []string{"p01"}},
		{"match case-insensitive", `{"match": {"name": "APPLE"}}`, []string{"p01", "p02", "p04", "p09"}},
		{"match on keyword is exact", `{"match": {"category": "fruit"}}`, []string{"p01", "p02"}},
		{"match_phrase", `{"match_phrase": {"name": "apple juice"}}`, []string{"p09"}},
		{"match_phrase order matters", `{"match_phrase": {"name": "juice apple"}}`, nil},
		{"multi_match", `{"multi_match": {"query": "orange", "fields": ["name", "tags"]}}`, []string{"p05", "p06"}},
		{"simple_query_string", `{"simple_query_string": {"query": "apple -juice", "fields": ["name"], "default_operator": "and"}}`, []string{"p01", "p02", "p04"}},
		{"simple_query_string or", `{"simple_query_string": {"query": "carrot | cheese", "fields": ["name"]}}`, []string{"p05", "p08"}},
		{"bool must filter must_not", `{"bool": {"must": [{"match": {"name": "apple"}}], "filter": [{"term": {"active": true}}], "must_not": [{"term": {"category": "drink"}}]}}`, []string{"p01", "p02", "p04"}},
		{"bool should msm", `{"bool": {"should": [{"term": {"category": "fruit"}}, {"term": {"category": "dairy"}}], "minimum_should_match": 1}}`, []string{"p01", "p02", "p08"}},
		{"bool should msm 2", `{"bool": {"should": [{"term": {"tags": "red"}}, {"term": {"tags": "sweet"}}, {"term": {"category": "vegetable"}}], "minimum_should_match": 2}}`, []string{"p01", "p07", "p10"}},
		{"bool filter with optional should", `{"bool": {"filter": {"term": {"active": true}}, "should": [{"term": {"category": "fruit"}}]}}`, ids(func(p product) bool { return p.Active != nil && *p.Active })},
		{"bool must_not exists", `{"bool": {"must_not": {"exists": {"field": "active"}}}}`, []string{"p10"}},
		{"nested bool", `{"bool": {"should": [{"bool": {"filter": [{"term": {"category": "drink"}}, {"range": {"price": {"lt": 3}}}]}}, {"ids": {"values": ["p05"]}}]}}`, []string{"p05", "p09"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 100, "query": `+tt.query+`}`)
			got := hitIDs(resp)
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
			if totalHits(resp) != len(want) || path(resp, "hits.total.relation") != "eq" {
				t.Errorf("hits.total: got %s, want {value: %d, relation: eq}", show(path(resp, "hits.total")), len(want))
			}
			c := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_count", `{"query": `+tt.query+`}`)
			if jsonInt(c["count"]) != len(want) {
				t.Errorf("_count: got %v, want %d", c["count"], len(want))
			}
		})
	}

	t.Run("typed client query", func(t *testing.T) {
		res, err := e.typed.Search().Index(idx).Request(&search.Request{
			Query: &types.Query{Bool: &types.BoolQuery{
				Filter: []types.Query{{Term: map[string]types.TermQuery{"category": {Value: "vegetable"}}}},
				Must:   []types.Query{{Range: map[string]types.RangeQuery{"qty": types.NumberRangeQuery{Gte: ptr(types.Float64(3))}}}},
			}},
		}).Do(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range res.Hits.Hits {
			got = append(got, *h.Id_)
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"p05", "p10"}) || res.Hits.Total.Value != 2 {
			t.Errorf("got %v (total %d), want [p05 p10]", got, res.Hits.Total.Value)
		}
	})

	t.Run("source filtering", func(t *testing.T) {
		resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"query": {"ids": {"values": ["p01"]}}, "_source": ["name", "pri*"]}`)
		if got := show(path(resp, "hits.hits.0._source")); got != `{"name":"Red apple","price":1.5}` {
			t.Errorf("_source includes: got %s", got)
		}
		resp = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"query": {"ids": {"values": ["p01"]}}, "_source": {"excludes": ["tags", "created", "active"]}}`)
		if got := show(path(resp, "hits.hits.0._source")); got != `{"category":"fruit","id":"p01","name":"Red apple","price":1.5,"qty":10}` {
			t.Errorf("_source excludes: got %s", got)
		}
		resp = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"query": {"ids": {"values": ["p01"]}}, "_source": false}`)
		if h, _ := path(resp, "hits.hits.0").(map[string]any); h == nil || h["_source"] != nil {
			t.Errorf("_source false: got %s", show(h))
		}
	})

	t.Run("track_total_hits", func(t *testing.T) {
		resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 1, "track_total_hits": 3}`)
		if totalHits(resp) != 3 || path(resp, "hits.total.relation") != "gte" {
			t.Errorf("track_total_hits 3: got %s, want {3, gte}", show(path(resp, "hits.total")))
		}
		resp = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 1, "track_total_hits": false}`)
		if path(resp, "hits.total") != nil {
			t.Errorf("track_total_hits false: got hits.total %s, want none", show(path(resp, "hits.total")))
		}
		resp = e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_search?size=2&track_total_hits=true", nil)
		if totalHits(resp) != len(products) || len(hitIDs(resp)) != 2 {
			t.Errorf("GET with size=2: got total %d and %d hits", totalHits(resp), len(hitIDs(resp)))
		}
		// Lucene query syntax (q=) is outside the embedded engine's scope: it must answer a
		// clear 400 that names the parameter, never a silent wrong answer.
		status, body := e.raw(t, http.MethodGet, "/"+idx+"/_search?q=category:fruit", nil)
		switch {
		case status == 200 && totalHits(body) == 2:
		case status == 400 && strings.Contains(show(body), "[q]"):
		default:
			t.Errorf("q=category:fruit: got %d %s, want 2 hits or a 400 naming [q]", status, show(body))
		}
	})
}

func ptr[T any](v T) *T { return &v }

// sortKey orders products like Elasticsearch does for one field: missing values last.
func sortedIDs(field string, desc bool, missingFirst bool) []string {
	type kv struct {
		id      string
		missing bool
		num     float64
		str     string
	}
	var rows []kv
	for _, p := range products {
		r := kv{id: p.ID}
		switch field {
		case "price":
			r.missing = p.Price == nil
			if p.Price != nil {
				r.num = *p.Price
			}
		case "qty":
			r.num = float64(p.Qty)
		case "created":
			r.missing = p.Created == ""
			r.str = p.Created
		case "active":
			r.missing = p.Active == nil
			if p.Active != nil && *p.Active {
				r.num = 1
			}
		case "category":
			r.str = p.Category
		case "name.keyword":
			r.str = p.Name
		}
		rows = append(rows, r)
	}
	slices.SortStableFunc(rows, func(a, b kv) int {
		if a.missing != b.missing {
			if a.missing == missingFirst {
				return -1
			}
			return 1
		}
		c := cmp.Compare(a.num, b.num)
		if c == 0 {
			c = strings.Compare(a.str, b.str)
		}
		if desc {
			c = -c
		}
		if c == 0 {
			c = strings.Compare(a.id, b.id) // tiebreaker: id asc
		}
		return c
	})
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.id
	}
	return out
}

func TestSort(t *testing.T) {
	e := newEnv(t)
	idx := productIndex(t, e)
	for _, field := range []string{"price", "qty", "created", "active", "category", "name.keyword"} {
		for _, order := range []string{"asc", "desc"} {
			t.Run(field+" "+order, func(t *testing.T) {
				body := fmt.Sprintf(`{"size": 100, "sort": [{%q: {"order": %q}}, {"id": "asc"}]}`, field, order)
				resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", body)
				want := sortedIDs(field, order == "desc", false)
				if got := hitIDs(resp); !slices.Equal(got, want) {
					t.Errorf("got %v, want %v", got, want)
				}
				if sv, _ := path(resp, "hits.hits.0.sort").([]any); len(sv) != 2 {
					t.Errorf("hit sort values: got %s, want 2", show(path(resp, "hits.hits.0.sort")))
				}
			})
		}
	}
	t.Run("missing _first", func(t *testing.T) {
		resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 100, "sort": [{"price": {"order": "asc", "missing": "_first"}}, "id"]}`)
		if got, want := hitIDs(resp), sortedIDs("price", false, true); !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("sort values", func(t *testing.T) {
		resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 1, "sort": [{"created": "desc"}]}`)
		if got := show(path(resp, "hits.hits.0.sort")); got != "[1710028800000]" {
			t.Errorf("date sort value: got %s, want [1710028800000] (epoch millis)", got)
		}
		if s := path(resp, "hits.hits.0._score"); s != nil {
			t.Errorf("_score when sorting by a field: got %v, want null", s)
		}
		resp = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 1, "sort": [{"price": "asc"}]}`)
		if got := show(path(resp, "hits.hits.0.sort")); got != "[0.8]" {
			t.Errorf("double sort value: got %s, want [0.8]", got)
		}
	})
	t.Run("_score and _doc", func(t *testing.T) {
		resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"query": {"match": {"name": "red apple"}}, "sort": ["_score"]}`)
		hits, _ := path(resp, "hits.hits").([]any)
		prev := 1e308
		for _, h := range hits {
			s := path(h, "_score")
			f, err := s.(json.Number).Float64()
			if err != nil || f > prev {
				t.Errorf("_score order: got %v after %v", s, prev)
			}
			prev = f
		}
		if len(hits) == 0 || path(resp, "hits.hits.0._id") != "p01" {
			t.Errorf("best match for 'red apple': got %v, want p01 first", hitIDs(resp))
		}
		resp = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 100, "sort": ["_doc"]}`)
		if len(hitIDs(resp)) != len(products) {
			t.Errorf("_doc sort: got %d hits", len(hitIDs(resp)))
		}
	})
	t.Run("unmapped_type", func(t *testing.T) {
		resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 100, "sort": [{"nope": {"order": "asc", "unmapped_type": "long"}}, "id"]}`)
		if got := hitIDs(resp); len(got) != len(products) || got[0] != "p01" {
			t.Errorf("got %v, want every product by id", got)
		}
		status, body := e.raw(t, http.MethodPost, "/"+idx+"/_search", `{"sort": [{"nope": "asc"}]}`)
		checkErrorShape(t, status, body, 400, "search_phase_execution_exception")
	})
	t.Run("_id is refused", func(t *testing.T) {
		// 8.x disables fielddata on _id (indices.id_field_data.enabled: false): code that
		// sorts on _id against the embedded engine would break on Elasticsearch.
		status, body := e.raw(t, http.MethodPost, "/"+idx+"/_search", `{"sort": [{"_id": "asc"}]}`)
		checkErrorShape(t, status, body, 400, "search_phase_execution_exception")
	})
	t.Run("text field is refused", func(t *testing.T) {
		status, body := e.raw(t, http.MethodPost, "/"+idx+"/_search", `{"sort": [{"name": "asc"}]}`)
		checkErrorShape(t, status, body, 400, "search_phase_execution_exception")
		if rc := path(body, "error.root_cause.0.type"); rc != "illegal_argument_exception" {
			t.Errorf("root_cause type: got %v, want illegal_argument_exception", rc)
		}
		if r, _ := path(body, "error.root_cause.0.reason").(string); !strings.Contains(r, "fielddata") {
			t.Errorf("root_cause reason: got %q, want it to mention fielddata", r)
		}
	})
}

func TestSearchAfterVisitsEveryDocOnce(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "sa", `{"mappings": {"properties": {"g": {"type": "keyword"}, "n": {"type": "long"}, "id": {"type": "keyword"}}}}`)
	const total = 137
	var sb strings.Builder
	for i := 0; i < total; i++ {
		fmt.Fprintf(&sb, `{"index": {"_index": %q, "_id": "d%03d"}}`+"\n"+`{"g": "g%d", "n": %d, "id": "d%03d"}`+"\n", idx, i, i%4, (i*37)%50, i)
	}
	if status, data := e.rawBytes(t, http.MethodPost, "/_bulk?refresh=true", sb.String(), "application/x-ndjson"); status != 200 || strings.Contains(string(data), `"errors":true`) {
		t.Fatalf("seed: %d %s", status, truncate(string(data), 300))
	}
	for _, sortSpec := range []string{
		`[{"g": "asc"}, {"n": "desc"}, {"id": "asc"}]`,
		`[{"n": "asc"}, {"id": "desc"}]`,
	} {
		seen := map[string]int{}
		var after string
		for page := 0; page < 100; page++ {
			body := `{"size": 10, "sort": ` + sortSpec
			if after != "" {
				body += `, "search_after": ` + after
			}
			body += `}`
			resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", body)
			hits, _ := path(resp, "hits.hits").([]any)
			if len(hits) == 0 {
				break
			}
			for _, h := range hits {
				seen[path(h, "_id").(string)]++
			}
			after = show(path(hits[len(hits)-1], "sort"))
		}
		if len(seen) != total {
			t.Errorf("sort %s: visited %d distinct docs, want %d", sortSpec, len(seen), total)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("sort %s: %s visited %d times", sortSpec, id, n)
			}
		}
	}
}

func TestResultWindow(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "win", `{"mappings": {"properties": {"n": {"type": "long"}}}}`)
	e.mustRaw(t, 201, http.MethodPut, "/"+idx+"/_doc/1?refresh=true", `{"n": 1}`)
	e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"from": 9990, "size": 10}`)
	status, body := e.raw(t, http.MethodPost, "/"+idx+"/_search", `{"from": 9995, "size": 10}`)
	checkErrorShape(t, status, body, 400, "search_phase_execution_exception")
	if r, _ := path(body, "error.root_cause.0.reason").(string); !strings.Contains(r, "Result window is too large") {
		t.Errorf("reason: got %q, want 'Result window is too large'", r)
	}
	status, _ = e.raw(t, http.MethodGet, "/"+idx+"/_search?size=10001", nil)
	if status != 400 {
		t.Errorf("size 10001: got %d, want 400", status)
	}
	status, _ = e.raw(t, http.MethodPost, "/"+idx+"/_search", `{"from": -1}`)
	if status != 400 {
		t.Errorf("from -1: got %d, want 400", status)
	}
	// max_result_window is per index.
	small := e.createIndex(t, "win2", `{"settings": {"max_result_window": 50}}`)
	e.mustRaw(t, 200, http.MethodPost, "/"+small+"/_search", `{"from": 40, "size": 10}`)
	status, _ = e.raw(t, http.MethodPost, "/"+small+"/_search", `{"from": 45, "size": 10}`)
	if status != 400 {
		t.Errorf("from+size over max_result_window 50: got %d, want 400", status)
	}
}

func TestAggregations(t *testing.T) {
	e := newEnv(t)
	idx := productIndex(t, e)
	resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 0, "aggs": {
		"cats": {"terms": {"field": "category", "size": 3}},
		"lo": {"min": {"field": "price"}},
		"hi": {"max": {"field": "price"}},
		"priced": {"value_count": {"field": "price"}},
		"qtys": {"terms": {"field": "qty", "size": 2, "order": {"_key": "desc"}}},
		"active": {"terms": {"field": "active"}}
	}}`)
	if got := show(path(resp, "aggregations.cats.buckets")); got != `[{"doc_count":3,"key":"vegetable"},{"doc_count":2,"key":"dessert"},{"doc_count":2,"key":"drink"}]` {
		t.Errorf("terms buckets: got %s", got)
	}
	if got := jsonInt(path(resp, "aggregations.cats.sum_other_doc_count")); got != 3 {
		t.Errorf("sum_other_doc_count: got %d, want 3", got)
	}
	if got := show(path(resp, "aggregations.lo.value")); got != "0.8" {
		t.Errorf("min: got %s, want 0.8", got)
	}
	if got := show(path(resp, "aggregations.hi.value")); got != "6.5" {
		t.Errorf("max: got %s, want 6.5", got)
	}
	if got := jsonInt(path(resp, "aggregations.priced.value")); got != 9 {
		t.Errorf("value_count: got %d, want 9", got)
	}
	if got := show(path(resp, "aggregations.qtys.buckets")); got != `[{"doc_count":1,"key":50},{"doc_count":1,"key":20}]` {
		t.Errorf("numeric terms ordered by key desc: got %s", got)
	}
	if got := show(path(resp, "aggregations.active.buckets")); got != `[{"doc_count":7,"key":1,"key_as_string":"true"},{"doc_count":2,"key":0,"key_as_string":"false"}]` {
		t.Errorf("boolean terms: got %s", got)
	}
	// Aggregations respect the query; min over nothing is null.
	resp = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 0, "query": {"term": {"category": "dairy"}}, "aggs": {"lo": {"min": {"field": "price"}}, "cats": {"terms": {"field": "category"}}}}`)
	if path(resp, "aggregations.lo.value") != nil {
		t.Errorf("min over docs without the field: got %v, want null", path(resp, "aggregations.lo.value"))
	}
	if got := show(path(resp, "aggregations.cats.buckets")); got != `[{"doc_count":1,"key":"dairy"}]` {
		t.Errorf("terms with a query: got %s", got)
	}

	// The typed client asks for typed_keys and decodes each aggregate to its type.
	res, err := e.typed.Search().Index(idx).Size(0).TypedKeys(true).Request(&search.Request{
		Aggregations: map[string]types.Aggregations{
			"cats": {Terms: &types.TermsAggregation{Field: ptr("category")}},
			"hi":   {Max: &types.MaxAggregation{Field: ptr("price")}},
			"cnt":  {ValueCount: &types.ValueCountAggregation{Field: ptr("price")}},
		},
	}).Do(ctxT(t))
	if err != nil {
		t.Fatalf("typed aggregations: %v", err)
	}
	terms, ok := res.Aggregations["cats"].(*types.StringTermsAggregate)
	if !ok {
		t.Fatalf("cats: got %T, want *types.StringTermsAggregate", res.Aggregations["cats"])
	}
	if b, ok := terms.Buckets.([]types.StringTermsBucket); !ok || len(b) != 5 || b[0].Key != "vegetable" || b[0].DocCount != 3 {
		t.Errorf("typed terms buckets: got %#v", terms.Buckets)
	}
	if mx, ok := res.Aggregations["hi"].(*types.MaxAggregate); !ok || mx.Value == nil || *mx.Value != 6.5 {
		t.Errorf("typed max: got %#v", res.Aggregations["hi"])
	}
	if vc, ok := res.Aggregations["cnt"].(*types.ValueCountAggregate); !ok || vc.Value == nil || *vc.Value != 9 {
		t.Errorf("typed value_count: got %#v", res.Aggregations["cnt"])
	}
}

func TestErrorShapes(t *testing.T) {
	e := newEnv(t)
	idx := productIndex(t, e)
	tests := []struct {
		name, method, path, body string
		status                   int
		errType                  string
	}{
		{"missing index", http.MethodPost, "/" + uniqueName("none") + "/_search", `{}`, 404, "index_not_found_exception"},
		{"unknown query", http.MethodPost, "/" + idx + "/_search", `{"query": {"nope": {}}}`, 400, "parsing_exception"},
		{"bad number in term", http.MethodPost, "/" + idx + "/_search", `{"query": {"term": {"qty": "abc"}}}`, 400, "search_phase_execution_exception"},
		{"create existing", http.MethodPut, "/" + idx, ``, 400, "resource_already_exists_exception"},
		{"bad index name", http.MethodPut, "/Upper_Case", ``, 400, "invalid_index_name_exception"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.raw(t, tt.method, tt.path, tt.body)
			checkErrorShape(t, status, body, tt.status, tt.errType)
		})
	}
	for _, tt := range []struct{ name, body string }{
		{"terms aggregation on a text field", `{"aggs": {"a": {"terms": {"field": "name"}}}}`},
		{"search_after with from", `{"from": 1, "sort": ["id"], "search_after": ["p01"]}`},
		{"search_after with too many values", `{"sort": ["id"], "search_after": ["p01", 2]}`},
		{"terms size 0", `{"aggs": {"a": {"terms": {"field": "category", "size": 0}}}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.raw(t, http.MethodPost, "/"+idx+"/_search", tt.body)
			if status != 400 {
				t.Errorf("got %d %s, want 400", status, show(body))
			}
		})
	}
	t.Run("malformed JSON", func(t *testing.T) {
		status, _ := e.raw(t, http.MethodPost, "/"+idx+"/_search", `{"query": `)
		if status != 400 {
			t.Errorf("got %d, want 400", status)
		}
	})
	t.Run("missing index with ignore_unavailable", func(t *testing.T) {
		resp := e.mustRaw(t, 200, http.MethodPost, "/"+uniqueName("none")+","+idx+"/_search?ignore_unavailable=true", `{"size": 0}`)
		if totalHits(resp) != len(products) {
			t.Errorf("got %d hits, want %d", totalHits(resp), len(products))
		}
	})
}
