package contract

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// seed indexes docs (id -> JSON) into a new index with mapping and refreshes it.
func (e *env) seed(t *testing.T, prefix, mapping string, docs map[string]string) string {
	t.Helper()
	idx := e.createIndex(t, prefix, mapping)
	var sb strings.Builder
	for _, id := range sortedKeysOf(docs) {
		fmt.Fprintf(&sb, `{"index": {"_index": %q, "_id": %q}}`+"\n%s\n", idx, id, docs[id])
	}
	status, data := e.rawBytes(t, http.MethodPost, "/_bulk?refresh=true", sb.String(), "application/x-ndjson")
	if status != 200 || strings.Contains(string(data), `"errors":true`) {
		t.Fatalf("seed %s: %d %s", prefix, status, truncate(string(data), 400))
	}
	return idx
}

func sortedKeysOf(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (e *env) searchIDs(t *testing.T, idx, body string, sorted bool) []string {
	t.Helper()
	got := hitIDs(e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", body))
	if sorted {
		slices.Sort(got)
	}
	return got
}

// TestTextAnalysis: the standard analyzer as Elasticsearch configures it: lowercase, Unicode
// word boundaries, no stop words, no stemming; keyword fields are exact and case-sensitive.
func TestTextAnalysis(t *testing.T) {
	e := newEnv(t)
	idx := e.seed(t, "text", `{"mappings": {"properties": {"t": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 10}}}}}}`, map[string]string{
		"1": `{"t": "The quick brown fox"}`,
		"2": `{"t": "Foxes are QUICK"}`,
		"3": `{"t": "mail user@example.com about wi-fi"}`,
		"4": `{"t": "Ünïcode Straße café"}`,
		"5": `{"t": "a very long value beyond ignore_above"}`,
	})
	for _, tt := range []struct {
		name, query string
		want        []string
	}{
		{"stop words are kept", `{"match": {"t": "the"}}`, []string{"1"}},
		{"no stemming", `{"match": {"t": "fox"}}`, []string{"1"}},
		{"lowercased", `{"match": {"t": "QuIcK"}}`, []string{"1", "2"}},
		{"email split at @", `{"match": {"t": "example.com"}}`, []string{"3"}},
		{"hyphen splits", `{"match": {"t": "fi"}}`, []string{"3"}},
		{"unicode lowercase", `{"match": {"t": "ünïcode"}}`, []string{"4"}},
		{"term on text is not analyzed", `{"term": {"t": "Quick"}}`, nil},
		{"term on text token", `{"term": {"t": "quick"}}`, []string{"1", "2"}},
		{"prefix on tokens", `{"prefix": {"t": "fox"}}`, []string{"1", "2"}},
		{"keyword is case-sensitive", `{"term": {"t.raw": "foxes are quick"}}`, nil},
		{"wildcard on keyword is case-sensitive", `{"wildcard": {"t.raw": "Ü*"}}`, nil},
		{"ignore_above leaves long values out of the keyword", `{"exists": {"field": "t.raw"}}`, nil},
		{"ignore_above: no exact match either", `{"term": {"t.raw": "Foxes are QUICK"}}`, nil},
		{"match_phrase with stop word", `{"match_phrase": {"t": "the quick"}}`, []string{"1"}},
		{"multi_match with boost", `{"multi_match": {"query": "brown", "fields": ["t^2", "t.raw"]}}`, []string{"1"}},
		{"simple_query_string phrase and prefix", `{"simple_query_string": {"query": "\"quick brown\" | caf*", "fields": ["t"]}}`, []string{"1", "4"}},
		{"minimum_should_match percent rounds down", `{"match": {"t": {"query": "quick brown zebra", "minimum_should_match": "60%"}}}`, []string{"1", "2"}},
		{"minimum_should_match percent", `{"match": {"t": {"query": "quick brown zebra", "minimum_should_match": "67%"}}}`, []string{"1"}},
	} {
		if got := e.searchIDs(t, idx, `{"size": 20, "query": `+tt.query+`}`, true); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestMultiValuedFields: arrays sort by their min (asc) or max (desc), count once per value
// in terms aggregations, and empty arrays or nulls are missing values.
func TestMultiValuedFields(t *testing.T) {
	e := newEnv(t)
	// Sorting on _id is refused in 8.x (no fielddata): the tiebreaker is a keyword copy.
	idx := e.seed(t, "multi", `{"mappings": {"properties": {"id": {"type": "keyword"}, "k": {"type": "keyword"}, "n": {"type": "long"}}}}`, map[string]string{
		"a": `{"id": "a", "k": ["m", "z"], "n": [5, 1]}`,
		"b": `{"id": "b", "k": ["b", "y"], "n": [3, 9]}`,
		"c": `{"id": "c", "k": "n", "n": 4}`,
		"d": `{"id": "d", "k": [], "n": null}`,
		"e": `{"id": "e", "k": null}`,
	})
	for _, tt := range []struct {
		name, sort string
		want       []string
	}{
		{"keyword asc uses the min", `[{"k": "asc"}]`, []string{"b", "a", "c", "d", "e"}},
		{"keyword desc uses the max", `[{"k": "desc"}]`, []string{"a", "b", "c", "d", "e"}},
		{"long asc uses the min", `[{"n": "asc"}]`, []string{"a", "b", "c", "d", "e"}},
		{"long desc uses the max", `[{"n": "desc"}]`, []string{"b", "a", "c", "d", "e"}},
		{"explicit mode max asc", `[{"n": {"order": "asc", "mode": "max"}}]`, []string{"c", "a", "b", "d", "e"}},
	} {
		if got := e.searchIDs(t, idx, `{"sort": `+strings.TrimSuffix(tt.sort, "]")+`, {"id": "asc"}]}`, false); !slices.Equal(got, tt.want) {
			// The id tiebreak only orders the documents without values, at the end.
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := e.searchIDs(t, idx, `{"query": {"exists": {"field": "k"}}}`, true); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("exists k: got %v, want [a b c] (empty array and null are missing)", got)
	}
	// An empty string and an array with a null among values do exist.
	idx2 := e.seed(t, "exists", `{"mappings": {"properties": {"k": {"type": "keyword"}}}}`, map[string]string{
		"empty": `{"k": ""}`, "mixed": `{"k": ["one", null]}`, "null": `{"k": null}`, "none": `{}`,
	})
	if got := e.searchIDs(t, idx2, `{"query": {"exists": {"field": "k"}}}`, true); !slices.Equal(got, []string{"empty", "mixed"}) {
		t.Errorf("exists k: got %v, want [empty mixed]", got)
	}
	if got := e.searchIDs(t, idx, `{"query": {"term": {"k": "z"}}}`, true); !slices.Equal(got, []string{"a"}) {
		t.Errorf("term on an array value: got %v, want [a]", got)
	}
	if got := e.searchIDs(t, idx, `{"query": {"range": {"n": {"gte": 8}}}}`, true); !slices.Equal(got, []string{"b"}) {
		t.Errorf("range on an array: got %v, want [b]", got)
	}
	resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 0, "aggs": {"k": {"terms": {"field": "k", "order": {"_key": "asc"}}}, "cnt": {"value_count": {"field": "n"}}, "mn": {"min": {"field": "n"}}}}`)
	if got := show(path(resp, "aggregations.k.buckets")); got != `[{"doc_count":1,"key":"b"},{"doc_count":1,"key":"m"},{"doc_count":1,"key":"n"},{"doc_count":1,"key":"y"},{"doc_count":1,"key":"z"}]` {
		t.Errorf("terms on arrays: got %s", got)
	}
	if got := jsonInt(path(resp, "aggregations.cnt.value")); got != 5 {
		t.Errorf("value_count counts values: got %d, want 5", got)
	}
	if got := show(path(resp, "aggregations.mn.value")); got != "1" && got != "1.0" {
		t.Errorf("min over arrays: got %s, want 1", got)
	}
}

// TestUpdateMergesObjects: a partial update merges objects recursively and replaces arrays
// and scalars, as Elasticsearch does; a change of nothing is a noop.
func TestUpdateMergesObjects(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "merge", "")
	e.mustRaw(t, 201, http.MethodPut, "/"+idx+"/_doc/1", `{"o": {"x": 1, "in": {"a": 1}}, "arr": [1, 2], "s": "v"}`)
	r := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_update/1", `{"doc": {"o": {"y": 2, "in": {"b": 2}}, "arr": [3]}}`)
	if r["result"] != "updated" {
		t.Errorf("update: got %s", show(r))
	}
	doc := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_doc/1", nil)
	if got := show(doc["_source"]); got != `{"arr":[3],"o":{"in":{"a":1,"b":2},"x":1,"y":2},"s":"v"}` {
		t.Errorf("merged source: got %s", got)
	}
	r = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_update/1", `{"doc": {"o": {"in": {"a": 1}}}}`)
	if r["result"] != "noop" {
		t.Errorf("update with nothing new: got %s, want noop", show(r))
	}
	r = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_update/1", `{"doc": {"s": "w"}, "detect_noop": false}`)
	if r["result"] != "updated" || jsonInt(r["_version"]) != 3 {
		t.Errorf("update: got %s, want updated v3", show(r))
	}
	r = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_update/1", `{"doc": {"s": "w"}, "detect_noop": false}`)
	if r["result"] != "updated" || jsonInt(r["_version"]) != 4 {
		t.Errorf("update with detect_noop false: got %s, want updated v4", show(r))
	}
	// _source filtering of the updated document in the response.
	r = e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_update/1?_source=s", `{"doc": {"s": "x"}}`)
	if got := show(path(r, "get._source")); got != `{"s":"x"}` {
		t.Errorf("update ?_source=s: get._source %s, want {\"s\":\"x\"}", got)
	}
}

// TestDateFormatsAndMath: dates as ISO 8601 with offsets, epoch millis, date math and
// rounding in range queries.
func TestDateFormatsAndMath(t *testing.T) {
	e := newEnv(t)
	idx := e.seed(t, "dates", `{"mappings": {"properties": {"at": {"type": "date"}}}}`, map[string]string{
		"jan":   `{"at": "2024-01-31T23:30:00-01:00"}`, // 2024-02-01T00:30Z
		"feb":   `{"at": "2024-02-15"}`,
		"mar":   `{"at": 1709251200000}`, // 2024-03-01T00:00Z
		"mar2":  `{"at": "2024-03-01T10:00:00.123456Z"}`,
		"older": `{"at": "1999-12-31T23:59:59Z"}`,
	})
	for _, tt := range []struct {
		name, rng string
		want      []string
	}{
		{"offset normalized to UTC", `{"gte": "2024-02-01T00:00:00Z", "lt": "2024-02-01T01:00:00Z"}`, []string{"jan"}},
		{"month rounding", `{"gte": "2024-02-01||/M", "lte": "2024-02-10||/M"}`, []string{"feb", "jan"}},
		{"date math", `{"gt": "2024-02-15||+1d", "lt": "2024-03-01||+1d"}`, []string{"mar", "mar2"}},
		{"now", `{"lt": "now-20y"}`, []string{"older"}},
		{"explicit format", `{"gte": "01/03/2024", "format": "dd/MM/yyyy"}`, []string{"mar", "mar2"}},
	} {
		if got := e.searchIDs(t, idx, `{"query": {"range": {"at": `+tt.rng+`}}}`, true); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"query": {"ids": {"values": ["mar2"]}}, "sort": ["at"]}`)
	if got := show(path(resp, "hits.hits.0.sort")); got != "[1709287200123]" {
		t.Errorf("sort value of a date with microseconds: got %s, want [1709287200123]", got)
	}
	status, body := e.raw(t, http.MethodPut, "/"+idx+"/_doc/bad", `{"at": "not a date"}`)
	checkErrorShape(t, status, body, 400, "document_parsing_exception")
}
