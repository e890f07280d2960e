package esembed

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzQueryDSL: any search body parses to a query or a well-formed 4xx error, and compiling
// the parsed query against a mapping never panics.
func FuzzQueryDSL(f *testing.F) {
	for _, s := range []string{
		`{"query":{"match_all":{}}}`,
		`{"query":{"bool":{"must":[{"term":{"k":"a"}}],"filter":{"range":{"n":{"gte":1,"lt":"5"}}},"should":[{"match":{"t":{"query":"a b","operator":"and"}}}],"minimum_should_match":"50%"}}}`,
		`{"query":{"terms":{"k":["a","b"]}},"sort":[{"n":{"order":"desc","missing":"_first"}},"_doc"],"search_after":[1,2]}`,
		`{"query":{"range":{"d":{"gte":"now-1d/d","format":"yyyy-MM-dd"}}}}`,
		`{"query":{"simple_query_string":{"query":"\"a b\" -c d*","fields":["t^2"]}}}`,
		`{"query":{"multi_match":{"query":"x","fields":["t","k"],"type":"phrase"}}}`,
		`{"query":{"exists":{"field":"k"}},"aggs":{"a":{"terms":{"field":"k","size":3}},"m":{"min":{"field":"n"}}}}`,
		`{"query":{"ids":{"values":["1"]}},"_source":{"includes":["a.*"]},"track_total_hits":5}`,
		`{"query":{"wildcard":{"k":{"value":"a*b?"}}}}`, `{"query":{"prefix":{"k":"a"}}}`,
		`{"query":{"match_phrase":{"t":"hello world"}}}`, `{"query":{"bool":{}}}`, `{"from":-1}`, `[]`, `{"query":1}`,
	} {
		f.Add(s)
	}
	m, err := parseMapping(map[string]any{"properties": map[string]any{
		"k": map[string]any{"type": "keyword"}, "n": map[string]any{"type": "long"},
		"t": map[string]any{"type": "text", "fields": map[string]any{"raw": map[string]any{"type": "keyword"}}},
		"d": map[string]any{"type": "date"}, "b": map[string]any{"type": "boolean"}, "f": map[string]any{"type": "double"},
	}})
	if err != nil {
		f.Fatal(err)
	}
	s, _ := buildSettings(map[string]string{})
	ix := newIndexState("fuzz", "uuid", 0, newAnalyzers(), m, s, nil)
	f.Fuzz(func(t *testing.T, body string) {
		var v any
		if json.Unmarshal([]byte(body), &v) != nil {
			return
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return
		}
		q, perr := parseQuery(map[string]any{"match_all": map[string]any{}})
		if raw, has := obj["query"]; has {
			q, perr = parseQuery(numberify(map[string]any{"q": raw})["q"])
		}
		if perr != nil {
			checkErr(t, perr)
			return
		}
		c := &compiler{ix: ix, m: m, now: time.Now()}
		if _, cerr := c.compile(q); cerr != nil {
			checkErr(t, cerr)
		}
		if sv, has := obj["sort"]; has {
			specs, serr := parseSortValue(sv)
			if serr != nil {
				checkErr(t, serr)
				return
			}
			if _, _, cerr := c.compileSort(specs); cerr != nil {
				checkErr(t, cerr)
			}
		}
		if av, has := obj["aggs"].(map[string]any); has {
			if _, aerr := parseAggs(av); aerr != nil {
				checkErr(t, aerr)
			}
		}
	})
}

// FuzzBulk: any NDJSON body splits into items or fails with a well-formed 4xx error.
func FuzzBulk(f *testing.F) {
	for _, s := range []string{
		"{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"x\":1}\n",
		"{\"delete\":{\"_index\":\"a\",\"_id\":\"1\"}}\n",
		"{\"update\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"doc\":{\"x\":2},\"doc_as_upsert\":true}\n",
		"{\"create\":{\"_index\":\"a\",\"version\":3,\"version_type\":\"external\"}}\n{}\n",
		"{}\n", "{\"index\":{}}\n", "\n\n", "{\"index\":{\"_index\":\"a\"}}", "[1]\n", "{\"foo\":{}}\n{}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		items, err := parseBulk([]byte(body), "def")
		if err != nil {
			checkErr(t, err)
			return
		}
		for _, it := range items {
			if it.err != nil {
				checkErr(t, it.err)
			}
			switch it.action {
			case "index", "create", "update", "delete":
			default:
				t.Fatalf("item with action %q", it.action)
			}
		}
	})
}

// FuzzDocument: any JSON source either becomes a bleve document under a strict-ish mapping
// or fails with a 4xx error.
func FuzzDocument(f *testing.F) {
	for _, s := range []string{`{"k":"a","n":1,"t":"hello","d":"2024-01-01","b":true,"o":{"x":1}}`, `{"n":"x"}`, `{"d":[1,"2024"]}`, `{"":1}`, `{"a.b":{"c":null}}`} {
		f.Add(s)
	}
	m, err := parseMapping(map[string]any{"properties": map[string]any{
		"k": map[string]any{"type": "keyword", "ignore_above": json.Number("5")}, "n": map[string]any{"type": "integer"},
		"t": map[string]any{"type": "text"}, "d": map[string]any{"type": "date"}, "b": map[string]any{"type": "boolean"},
	}})
	if err != nil {
		f.Fatal(err)
	}
	an := newAnalyzers()
	f.Fuzz(func(t *testing.T, src string) {
		parsed, perr := parseSource([]byte(src))
		if perr != nil {
			checkErr(t, asESError(perr))
			return
		}
		_, added, berr := buildDoc(m, an, "id", parsed, []byte(src), 0, 0)
		if berr != nil {
			checkErr(t, asESError(berr))
			return
		}
		if len(added) > 0 {
			m2 := addDynamicFields(m, added)
			if _, again, err := buildDoc(m2, an, "id", parsed, []byte(src), 0, 0); err == nil && len(again) > 0 {
				t.Fatalf("dynamic mapping did not converge: %v", again)
			}
		}
	})
}

func checkErr(t *testing.T, e *esError) {
	t.Helper()
	if e.Status < 400 || e.Status >= 500 || e.Type == "" || e.Reason == "" {
		t.Fatalf("malformed error: %+v", e)
	}
	b, err := json.Marshal(e.response())
	if err != nil || !strings.Contains(string(b), `"root_cause"`) {
		t.Fatalf("error does not render: %s %v", b, err)
	}
}
