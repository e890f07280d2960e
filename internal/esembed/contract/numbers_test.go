package contract

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestNumericTypes: integer, short, float, scaled_float and long fields index, coerce, range
// and sort as Elasticsearch does.
func TestNumericTypes(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "num", `{"mappings": {"properties": {
		"i": {"type": "integer"}, "s": {"type": "short"}, "f": {"type": "float"},
		"sf": {"type": "scaled_float", "scaling_factor": 100}, "l": {"type": "long"}, "d": {"type": "double"}}}}`)
	docs := map[string]string{
		"a": `{"i": 1, "s": 10, "f": 0.5, "sf": 19.99, "l": 100, "d": -1.5}`,
		"b": `{"i": 2, "s": -10, "f": 2.25, "sf": 5, "l": -100, "d": 1e10}`,
		"c": `{"i": "3", "s": 300, "f": 1.75, "sf": 100.5, "l": 0, "d": 0}`, // numeric string, coerced
		"x": `{"i": 4.9}`,                                                   // decimals truncated for integer
	}
	for id, body := range docs {
		e.mustRaw(t, 201, http.MethodPut, "/"+idx+"/_doc/"+id, body)
	}
	e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_refresh", nil)
	search := func(body string) []string {
		t.Helper()
		return hitIDs(e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", body))
	}
	for _, tt := range []struct {
		name, body string
		want       []string
	}{
		{"coerced string term", `{"query": {"term": {"i": 3}}}`, []string{"c"}},
		{"truncated decimal", `{"query": {"term": {"i": 4}}}`, []string{"x"}},
		{"short range", `{"query": {"range": {"s": {"gte": -10, "lt": 300}}}, "sort": ["s"]}`, []string{"b", "a"}},
		{"float range", `{"query": {"range": {"f": {"gt": 0.5, "lte": 2.25}}}, "sort": [{"f": "desc"}]}`, []string{"b", "c"}},
		{"scaled_float range", `{"query": {"range": {"sf": {"gte": 19.99}}}, "sort": [{"sf": "asc"}]}`, []string{"a", "c"}},
		{"scaled_float sort", `{"query": {"exists": {"field": "sf"}}, "sort": [{"sf": "desc"}]}`, []string{"c", "a", "b"}},
		{"long sort", `{"query": {"exists": {"field": "l"}}, "sort": [{"l": "asc"}]}`, []string{"b", "c", "a"}},
		{"double sort", `{"query": {"exists": {"field": "d"}}, "sort": [{"d": "desc"}]}`, []string{"b", "c", "a"}},
		{"integer sort with missing last", `{"sort": [{"s": "desc"}, {"i": "asc"}]}`, []string{"c", "a", "b", "x"}},
	} {
		if got := search(tt.body); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	// Values out of a type's range, or not numbers, are refused.
	for _, body := range []string{`{"s": 40000}`, `{"i": 3000000000}`, `{"l": "x"}`} {
		status, resp := e.raw(t, http.MethodPut, "/"+idx+"/_doc/bad", body)
		checkErrorShape(t, status, resp, 400, "document_parsing_exception")
	}
	// The source keeps what was sent; sort values are the indexed numbers.
	if doc := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_doc/c", nil); path(doc, "_source.i") != "3" {
		t.Errorf("_source.i of c: got %v, want the string \"3\" as sent", path(doc, "_source.i"))
	}
	resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"query": {"ids": {"values": ["c"]}}, "sort": ["i", "sf"]}`)
	if got := show(path(resp, "hits.hits.0.sort")); got != "[3,100.5]" {
		t.Errorf("sort values of c: got %s, want [3,100.5]", got)
	}
	// min/max over a date field also give the value as a string.
	dates := e.createIndex(t, "dates", `{"mappings": {"properties": {"at": {"type": "date"}}}}`)
	e.mustRaw(t, 201, http.MethodPut, "/"+dates+"/_doc/1", `{"at": "2024-01-02T03:04:05Z"}`)
	e.mustRaw(t, 201, http.MethodPut, "/"+dates+"/_doc/2?refresh=true", `{"at": 1704067200000}`)
	resp = e.mustRaw(t, 200, http.MethodPost, "/"+dates+"/_search", `{"size": 0, "aggs": {"first": {"min": {"field": "at"}}, "last": {"max": {"field": "at"}}}}`)
	if got := path(resp, "aggregations.first.value_as_string"); got != "2024-01-01T00:00:00.000Z" {
		t.Errorf("min date value_as_string: got %v, want 2024-01-01T00:00:00.000Z", got)
	}
	if got := show(path(resp, "aggregations.last.value")); got != "1704164645000" && got != "1.704164645E12" && got != "1704164645000.0" {
		t.Errorf("max date value: got %s, want 1704164645000", got)
	}
}

// TestRangeAcrossZero: range queries on long, integer and date fields whose bounds straddle
// zero (negative to positive) answer promptly and correctly.
func TestRangeAcrossZero(t *testing.T) {
	e := newDetachedEnv(t)
	idx := e.seed(t, "zero", `{"mappings": {"properties": {"l": {"type": "long"}, "i": {"type": "integer"}, "d": {"type": "date"}}}}`, map[string]string{
		"neg":  `{"l": -3, "i": -3, "d": "1969-12-31T23:59:59Z"}`,
		"zero": `{"l": 0, "i": 0, "d": 0}`,
		"pos":  `{"l": 2, "i": 2, "d": "1970-01-01T00:00:02Z"}`,
		"far":  `{"l": 100, "i": 100, "d": "2024-01-01T00:00:00Z"}`,
	})
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{`{"range": {"l": {"gt": -5, "lt": 1}}}`, []string{"neg", "zero"}},
		{`{"range": {"l": {"gte": -3, "lte": 2}}}`, []string{"neg", "pos", "zero"}},
		{`{"range": {"l": {"lt": 0}}}`, []string{"neg"}},
		{`{"range": {"i": {"gt": -5, "lt": 3}}}`, []string{"neg", "pos", "zero"}},
		{`{"range": {"d": {"gte": "1969-12-31T00:00:00Z", "lt": "1970-01-02T00:00:00Z"}}}`, []string{"neg", "pos", "zero"}},
		{`{"bool": {"must": [{"range": {"l": {"gt": -5, "lt": 1}}}], "must_not": [{"range": {"l": {"gt": 4, "lte": 2}}}]}}`, []string{"neg", "zero"}},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		start := time.Now()
		status, body, err := e.tryRaw(ctx, http.MethodPost, "/"+idx+"/_search", `{"query": `+tt.query+`}`)
		cancel()
		if err != nil || status != 200 {
			t.Errorf("%s: got %d %v after %s, want an answer within 10s", tt.query, status, err, time.Since(start).Round(time.Millisecond))
			continue
		}
		got := hitIDs(body)
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.query, got, tt.want)
		}
	}
}
