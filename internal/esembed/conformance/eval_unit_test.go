package conformance

// Tests of the YAML runner itself, without a server (or with a scripted httptest one).

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func num(s string) json.Number { return json.Number(s) }

func TestStashResolve(t *testing.T) {
	s := stash{"id": "abc", "n": num("5"), "obj": map[string]any{"a": num("1")}}
	tests := []struct {
		in   any
		want any
	}{
		{"$id", "abc"},
		{"$n", num("5")},
		{"$obj", map[string]any{"a": num("1")}},
		{"x-${id}-y", "x-abc-y"},
		{"${n}", "5"},
		{"plain", "plain"},
		{"$", "$"},
		{"a $id b", "a $id b"}, // only whole-string $name or ${name} are substituted
		{map[string]any{"$id": "$n"}, map[string]any{"abc": num("5")}},
		{[]any{"$id", num("2")}, []any{"abc", num("2")}},
	}
	for _, tt := range tests {
		got, err := s.resolve(tt.in)
		if err != nil {
			t.Errorf("resolve(%v): %v", tt.in, err)
			continue
		}
		if !valuesEqual(got, tt.want) {
			t.Errorf("resolve(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if _, err := s.resolve("$missing"); err == nil {
		t.Error("resolve($missing): got no error, want one")
	}
}

func TestLookup(t *testing.T) {
	resp := map[string]any{
		"hits": map[string]any{"hits": []any{
			map[string]any{"_id": "1", "_source": map[string]any{"a.b": "dotted"}},
		}},
		"index.number_of_shards": "1",
		"test_1":                 map[string]any{"settings": map[string]any{"index": map[string]any{"refresh_interval": "-1"}}},
	}
	s := stash{"idx": "test_1", "i": num("0")}
	tests := []struct {
		path string
		want any
		ok   bool
	}{
		{"hits.hits.0._id", "1", true},
		{"hits.hits.$i._id", "1", true},
		{`hits.hits.0._source.a\.b`, "dotted", true},
		{`index\.number_of_shards`, "1", true},
		{"$idx.settings.index.refresh_interval", "-1", false}, // $idx is a stashed value, not a key
		{"${idx}.settings.index.refresh_interval", "-1", true},
		{"hits.hits.1._id", nil, false},
		{"hits.total", nil, false},
		{"hits.hits.x", nil, false},
	}
	for _, tt := range tests {
		got, ok, err := lookup(resp, tt.path, s)
		if tt.path == "$idx.settings.index.refresh_interval" {
			// A leading $name selects the stashed value itself, here a string: no such key.
			if ok {
				t.Errorf("lookup(%q) = %v, want missing", tt.path, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("lookup(%q): %v", tt.path, err)
			continue
		}
		if ok != tt.ok || (ok && !valuesEqual(got, tt.want)) {
			t.Errorf("lookup(%q) = %v, %v; want %v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
	whole, ok, _ := lookup(resp, "", s)
	if !ok || !valuesEqual(whole, resp) {
		t.Errorf(`lookup("") = %v, want the whole response`, whole)
	}
}

func TestSplitPath(t *testing.T) {
	tests := map[string][]string{
		"":            nil,
		"a":           {"a"},
		"a.b.0":       {"a", "b", "0"},
		`a\.b.c`:      {"a.b", "c"},
		`x.index\.ab`: {"x", "index.ab"},
	}
	for in, want := range tests {
		got := splitPath(in)
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("splitPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMatchValue(t *testing.T) {
	tests := []struct {
		name             string
		actual, expected any
		ok               bool
	}{
		{"int equals float", num("1"), num("1.0"), true},
		{"int differs", num("1"), num("2"), false},
		{"long precision", num("9223372036854775807"), num("9223372036854775806"), false},
		{"string vs number", "1", num("1"), false},
		{"null expected", nil, nil, true},
		{"null expected, value present", "x", nil, false},
		{"missing actual", nil, "x", false},
		{"map equal", map[string]any{"a": num("1"), "b": []any{"x"}}, map[string]any{"a": num("1.0"), "b": []any{"x"}}, true},
		{"map extra key", map[string]any{"a": num("1"), "b": "x"}, map[string]any{"a": num("1")}, false},
		{"list order", []any{"a", "b"}, []any{"b", "a"}, false},
		{"regex", "version_conflict_engine_exception", "/version_conflict/", true},
		{"regex anchored", "abc", "/^b/", false},
		{"regex does not trim actual", "test_1  \n", "/^test_1$/", false},
		{"regex $ before final newline", "a b\nc d\n", "/^a \\s+ b \\n c \\s+ d $/", true},
		{"regex $ not before two newlines", "ab\n\n", "/^ab$/", false},
		{"regex escaped $ and class", "a$]", `/^a\$[]]$/`, true},
		{"regex trailing whitespace", "test_1  \n", "/^test_1 \\s+ $/", true},
		{"regex trims expected", "ab", "  /^ab$/\n", true},
		{"regex comments mode", "green  open test_1", "/^ green \\s+ open \\s+ test_1 $/", true},
		{"regex escaped space", "a b", `/^a\ b$/`, true},
		{"regex comment", "ab", "/^a # letter a\n b$/", true},
		{"regex on number", num("1"), "/1/", false},
		{"bool", true, true, true},
		{"bool vs string", true, "true", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := matchValue(tt.actual, tt.expected)
			if (err == nil) != tt.ok {
				t.Errorf("matchValue(%v, %v) = %v, want ok=%v", tt.actual, tt.expected, err, tt.ok)
			}
		})
	}
}

func TestTruthyAndCompare(t *testing.T) {
	for _, tt := range []struct {
		v       any
		present bool
		want    bool
	}{
		{true, true, true}, {false, true, false}, {"", true, false}, {"false", true, false},
		{"0", true, false}, {num("0"), true, false}, {num("3"), true, true}, {nil, true, false},
		{"x", false, false}, {map[string]any{}, true, true}, {[]any{}, true, true},
	} {
		if got := truthy(tt.v, tt.present); got != tt.want {
			t.Errorf("truthy(%v, %v) = %v, want %v", tt.v, tt.present, got, tt.want)
		}
	}
	for _, tt := range []struct {
		op       string
		a, e     any
		wantPass bool
	}{
		{"gt", num("2"), num("1"), true}, {"gt", num("1"), num("1"), false},
		{"gte", num("1.0"), num("1"), true}, {"lt", num("0.5"), num("1"), true},
		{"lte", num("2"), num("1"), false}, {"gt", "10", num("2"), true}, {"gt", "x", num("2"), false},
	} {
		if err := compareNumbers(tt.op, tt.a, tt.e); (err == nil) != tt.wantPass {
			t.Errorf("%s(%v, %v) = %v, want pass=%v", tt.op, tt.a, tt.e, err, tt.wantPass)
		}
	}
}

func TestLengthAndContains(t *testing.T) {
	if n, ok := lengthOf([]any{1, 2}); !ok || n != 2 {
		t.Errorf("lengthOf(list) = %d, %v", n, ok)
	}
	if n, ok := lengthOf(map[string]any{"a": 1}); !ok || n != 1 {
		t.Errorf("lengthOf(map) = %d, %v", n, ok)
	}
	if n, ok := lengthOf("héllo"); !ok || n != 5 {
		t.Errorf("lengthOf(string) = %d, %v, want 5 runes", n, ok)
	}
	list := []any{map[string]any{"name": "a", "x": num("1")}, "b"}
	if err := containsValue(list, map[string]any{"name": "a"}); err != nil {
		t.Errorf("contains subset map: %v", err)
	}
	if err := containsValue(list, "b"); err != nil {
		t.Errorf("contains scalar: %v", err)
	}
	if err := containsValue(list, "c"); err == nil {
		t.Error("contains c: got nil, want an error")
	}
	if err := containsValue("must be mapped", "be mapped"); err != nil {
		t.Errorf("contains substring: %v", err)
	}
}

func TestVersionRanges(t *testing.T) {
	v8 := version{8, 19, 0}
	for _, tt := range []struct {
		ranges string
		want   bool
	}{
		{" - 6.99.99", false}, {"7.4.0 - ", true}, {" - 8.13.99", false}, {"- 8.11.99", false},
		{"all", true}, {"8.0.0 - 8.5.99, 8.8.0 - ", true}, {"8.0.0 - 8.5.99", false},
		{"8.19.0 - 8.19.0", true}, {"9.0.0 - ", false}, {"1.0.0.Beta1 - ", true},
	} {
		got, err := inVersionRanges(tt.ranges, v8)
		if err != nil || got != tt.want {
			t.Errorf("inVersionRanges(%q, 8.19.0) = %v, %v; want %v", tt.ranges, got, err, tt.want)
		}
	}
}

func TestPrerequisites(t *testing.T) {
	tg := &target{version: version{8, 19, 0}, features: map[string]bool{"bulk_auto_id": true}}
	steps := func(kind string, arg map[string]any) []step { return []step{{kind: kind, arg: arg}, {kind: "do"}} }
	for _, tt := range []struct {
		name  string
		steps []step
		skip  bool
	}{
		{"old versions only", steps("skip", map[string]any{"version": " - 6.99.99", "reason": "x"}), false},
		{"new versions skipped", steps("skip", map[string]any{"version": "8.0.0 - ", "reason": "x"}), true},
		{"synthetic feature present", steps("requires", map[string]any{"cluster_features": []any{"gte_v8.4.0"}}), false},
		{"synthetic feature absent", steps("requires", map[string]any{"cluster_features": "gte_v9.1.0"}), true},
		{"named feature claimed", steps("requires", map[string]any{"cluster_features": []any{"bulk_auto_id"}}), false},
		{"named feature not claimed", steps("requires", map[string]any{"cluster_features": []any{"x.y"}}), true},
		{"skip named feature absent", steps("skip", map[string]any{"cluster_features": []any{"x.y"}}), false},
		{"runner feature ok", steps("requires", map[string]any{"test_runner_features": []any{"headers", "allowed_warnings"}}), false},
		{"runner feature missing", steps("skip", map[string]any{"features": "yaml"}), true},
		{"capabilities", steps("requires", map[string]any{"test_runner_features": "capabilities", "capabilities": []any{map[string]any{"method": "GET", "path": "/", "capabilities": []any{"x"}}}}), true},
		{"awaits fix", steps("skip", map[string]any{"awaits_fix": "#1"}), true},
		{"not leading", []step{{kind: "do"}, {kind: "skip", arg: map[string]any{"version": "all"}}}, false},
	} {
		if got := tg.checkPrerequisites(tt.steps); (got != "") != tt.skip {
			t.Errorf("%s: checkPrerequisites = %q, want skip=%v", tt.name, got, tt.skip)
		}
	}
}

func TestOutOfScope(t *testing.T) {
	do := func(api string, params map[string]any) []step {
		return []step{{kind: "do", arg: map[string]any{api: params}}}
	}
	for _, tt := range []struct {
		name  string
		steps []step
		want  string
	}{
		{"plain index", do("index", map[string]any{"index": "i", "body": map[string]any{"a": "b"}}), ""},
		{"routing param", do("index", map[string]any{"index": "i", "routing": "5"}), "out of scope: routing"},
		{"close", do("indices.close", map[string]any{"index": "i"}), "out of scope: close/open"},
		{"script", do("update", map[string]any{"body": map[string]any{"script": "x"}}), "out of scope: scripts"},
		{"shards", do("indices.create", map[string]any{"body": map[string]any{"settings": map[string]any{"number_of_shards": num("5")}}}), "out of scope: shards"},
		{"one shard", do("indices.create", map[string]any{"body": map[string]any{"settings": map[string]any{"number_of_shards": "1"}}}), ""},
		{"bulk text", do("bulk", map[string]any{"body": `{"index": {"_index": "i", "pipeline": "p"}}`}), "out of scope: pipelines"},
		{"stored fields", do("get", map[string]any{"stored_fields": "f"}), "out of scope: stored fields"},
	} {
		if got := outOfScope(tt.steps); got != tt.want {
			t.Errorf("%s: outOfScope = %q, want %q", tt.name, got, tt.want)
		}
	}
}

const newShapeSpec = `{"index": {"url": {"paths": [
  {"path": "/{index}/_doc/{id}", "methods": ["PUT", "POST"], "parts": {"index": {}, "id": {}}},
  {"path": "/{index}/_doc", "methods": ["POST"], "parts": {"index": {}}}]},
 "params": {"version": {}, "refresh": {}}, "body": {"required": true}}}`

const oldShapeSpec = `{"count": {"methods": ["POST", "GET"], "url": {"path": "/_count",
  "paths": ["/_count", "/{index}/_count"], "parts": {"index": {}},
  "params": {"q": {}}}, "body": {}}}`

const bulkSpec = `{"bulk": {"url": {"paths": [{"path": "/_bulk", "methods": ["POST", "PUT"]},
  {"path": "/{index}/_bulk", "methods": ["POST", "PUT"], "parts": {"index": {}}}]},
  "params": {"refresh": {}}, "headers": {"content_type": ["application/x-ndjson"]},
  "body": {"required": true, "serialize": "bulk"}}}`

func testSpec(t *testing.T) *restSpec {
	t.Helper()
	rs := &restSpec{apis: map[string]*apiSpec{}, global: map[string]bool{"filter_path": true}}
	for _, src := range []string{newShapeSpec, oldShapeSpec, bulkSpec} {
		s, err := parseAPISpec([]byte(src))
		if err != nil {
			t.Fatalf("parseAPISpec: %v", err)
		}
		rs.apis[s.name] = s
	}
	return rs
}

func TestBuildCall(t *testing.T) {
	rs := testSpec(t)
	for _, tt := range []struct {
		api    string
		params map[string]string
		body   bool
		want   string // "METHOD path?query" or "error"
	}{
		{"index", map[string]string{"index": "test_1", "id": "1", "version": "5"}, true, "PUT /test_1/_doc/1?version=5"},
		{"index", map[string]string{"index": "test_1"}, true, "POST /test_1/_doc"},
		{"index", map[string]string{"index": "weird/ä", "id": "a b"}, true, "PUT /weird%2F%C3%A4/_doc/a%20b"},
		{"index", map[string]string{"index": "i", "id": "1", "nope": "x"}, true, "PUT /i/_doc/1?nope=x"},
		{"index", map[string]string{"index": "i", "id": "1", "filter_path": "_id"}, true, "PUT /i/_doc/1?filter_path=_id"},
		{"index", map[string]string{"index": "i", "id": "1"}, false, "error"},
		{"count", map[string]string{}, false, "POST /_count"},
		{"count", map[string]string{"index": "a,b", "q": "x"}, false, "POST /a,b/_count?q=x"},
		{"bulk", map[string]string{"refresh": "true"}, true, "POST /_bulk?refresh=true"},
		{"nosuch", map[string]string{}, false, "error"},
	} {
		_, c, err := rs.buildCall(tt.api, tt.params, tt.body)
		got := "error"
		if err == nil {
			got = c.method + " " + c.path
			if q := c.query.Encode(); q != "" {
				got += "?" + q
			}
		}
		if got != tt.want {
			t.Errorf("buildCall(%s, %v) = %q (%v), want %q", tt.api, tt.params, got, err, tt.want)
		}
	}
	if m := chooseMethod([]string{"GET", "POST"}, true); m != "POST" {
		t.Errorf("chooseMethod(GET,POST, body) = %s, want POST", m)
	}
	if m := chooseMethod([]string{"GET", "POST"}, false); m != "GET" {
		t.Errorf("chooseMethod(GET,POST) = %s, want GET", m)
	}
}

func TestRealSpecsLoad(t *testing.T) {
	dir := testsDir(t)
	rs, err := loadRestSpec(filepath.Join(dir, "api"))
	if err != nil {
		t.Fatal(err)
	}
	for _, api := range []string{"index", "count", "bulk", "search", "indices.create", "update", "cat.indices"} {
		if rs.apis[api] == nil {
			t.Errorf("spec %s not loaded", api)
		}
	}
	if !rs.global["filter_path"] {
		t.Error("_common.json params not loaded")
	}
	if !rs.apis["bulk"].ndjson {
		t.Error("bulk: want an NDJSON body")
	}
}

func TestEncodeBody(t *testing.T) {
	got, err := encodeBody([]any{map[string]any{"index": map[string]any{"_id": "1"}}, `{"a": 1}`}, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"index\":{\"_id\":\"1\"}}\n{\"a\": 1}\n"; string(got) != want {
		t.Errorf("encodeBody(bulk list) = %q, want %q", got, want)
	}
	got, _ = encodeBody("{\"index\":{}}\n{}", true)
	if !strings.HasSuffix(string(got), "\n") {
		t.Errorf("encodeBody(bulk text) = %q, want a trailing newline", got)
	}
	got, _ = encodeBody(map[string]any{"n": num("12345678901234567890")}, false)
	if string(got) != `{"n":12345678901234567890}` {
		t.Errorf("encodeBody(map) = %s, want the number's digits kept", got)
	}
}

func TestParseTestYAML(t *testing.T) {
	src := `---
setup:
  - do:
      indices.create: { index: test }
---
teardown:
  - do:
      indices.delete: { index: test }
---
"First":
  - skip:
      version: " - 6.99.99"
      reason: old
  - do:
      index: { index: test, id: "1", body: { n: 1, f: 1.5, big: 9223372036854775807, neg: -3, d: 2016-01-01 } }
  - match: { _version: 1 }
---
"Second":
  - is_true: ''
`
	tf, err := parseTestYAML([]byte(src), "x/1.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(tf.setup) != 1 || len(tf.teardown) != 1 || len(tf.tests) != 2 {
		t.Fatalf("got %d setup, %d teardown, %d tests; want 1, 1, 2", len(tf.setup), len(tf.teardown), len(tf.tests))
	}
	if tf.tests[0].name != "First" || tf.tests[1].name != "Second" {
		t.Errorf("test order = %q, %q; want First, Second", tf.tests[0].name, tf.tests[1].name)
	}
	body := tf.tests[0].steps[1].arg.(map[string]any)["index"].(map[string]any)["body"].(map[string]any)
	want := map[string]any{"n": num("1"), "f": num("1.5"), "big": num("9223372036854775807"), "neg": num("-3"), "d": "2016-01-01"}
	if !valuesEqual(body, want) {
		t.Errorf("body = %#v, want %#v", body, want)
	}
}

// scripted is a fake server answering fixed responses by "METHOD path".
func scripted(t *testing.T, routes map[string]func(w http.ResponseWriter, r *http.Request)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := routes[r.Method+" "+r.URL.Path]; ok {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [x]"}],"type":"index_not_found_exception","reason":"no such index [x]"},"status":404}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func jsonReply(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func TestRunnerAgainstScriptedServer(t *testing.T) {
	dir := testsDir(t)
	spec, err := loadRestSpec(filepath.Join(dir, "api"))
	if err != nil {
		t.Fatal(err)
	}
	base := scripted(t, map[string]func(http.ResponseWriter, *http.Request){
		"PUT /test_1/_doc/1": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("version") == "5" {
				jsonReply(409, `{"error":{"type":"version_conflict_engine_exception","reason":"[1]: version conflict, current version [5] is higher or equal to the one provided [5]"},"status":409}`)(w, r)
				return
			}
			jsonReply(201, `{"_index":"test_1","_id":"1","_version":1,"result":"created","_seq_no":0}`)(w, r)
		},
		"HEAD /test_1/_doc/1": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) },
		"GET /_cat/aliases": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			_, _ = w.Write([]byte("test_alias test_1 - - - -\n"))
		},
	})
	tg := &target{version: version{8, 19, 0}}
	src := `---
"pass":
  - do:
      index: { index: test_1, id: "1", body: { foo: bar } }
  - match: { _version: 1.0 }
  - set: { _seq_no: seq }
  - match: { _seq_no: $seq }
  - do:
      catch: conflict
      index: { index: test_1, id: "1", version: 5, body: { foo: bar } }
  - match: { error.type: version_conflict_engine_exception }
  - do:
      catch: /version.conflict,.current.version.\[5\]/
      index: { index: test_1, id: "1", version: 5, body: { foo: bar } }
  - do:
      exists: { index: test_1, id: "1" }
  - is_true: ''
  - do:
      exists: { index: test_2, id: "1" }
  - is_false: ''
  - do:
      catch: param
      get: { index: test_1, id: "1", nonsense: 1 }
  - do:
      cat.aliases: {}
  - match: { $body: "/^test_alias \\s+ test_1/" }
---
"fail: unexpected error":
  - do:
      get: { index: nope, id: "1" }
---
"fail: missing catch":
  - do:
      catch: missing
      index: { index: test_1, id: "1", body: {} }
---
"fail: match":
  - do:
      index: { index: test_1, id: "1", body: {} }
  - match: { result: updated }
---
"skip: routing":
  - do:
      index: { index: test_1, id: "1", routing: "x", body: {} }
`
	tf, err := parseTestYAML([]byte(src), "unit/1.yml")
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(base, spec, tg)
	want := map[string]outcome{"pass": passed, "fail: unexpected error": failed, "fail: missing catch": failed, "fail: match": failed, "skip: routing": skipped}
	wantCause := map[string]string{
		"fail: unexpected error": "unexpected error: get -> 404 index_not_found_exception: no such index [x]",
		"fail: missing catch":    "wrong status: index expected missing, got 201 ",
		"fail: match":            "match result",
	}
	for _, tc := range tf.tests {
		res := r.runTest(context.Background(), tf, tc)
		if res.outcome != want[tc.name] {
			t.Errorf("%s: outcome %d (%s), want %d", tc.name, res.outcome, res.reason, want[tc.name])
		}
		if c, ok := wantCause[tc.name]; ok && res.cause != c {
			t.Errorf("%s: cause %q, want %q", tc.name, res.cause, c)
		}
	}
}

func TestAssertions(t *testing.T) {
	r := &runner{stash: stash{"v": num("2")}, last: &response{body: map[string]any{
		"at": "2024-05-01T10:00:00Z", "n": num("2"), "list": []any{"a", "b"}, "f": num("0.1234"),
	}}}
	for _, tt := range []struct {
		kind, path string
		expected   any
		ok         bool
	}{
		{"is_after", "at", "2024-05-01T09:59:59.999Z", true},
		{"is_after", "at", "2024-05-01T10:00:00Z", false},
		{"match", "n", "$v", true},
		{"gte", "n", num("2.0"), true},
		{"lt", "n", num("2"), false},
		{"length", "list", num("2"), true},
		{"length", "missing", num("0"), false},
		{"contains", "list", "b", true},
		{"close_to", "f", map[string]any{"value": num("0.123"), "error": num("0.001")}, true},
		{"close_to", "f", map[string]any{"value": num("0.2"), "error": num("0.001")}, false},
	} {
		if err := r.assert(tt.kind, tt.path, tt.expected); (err == nil) != tt.ok {
			t.Errorf("%s %s %v: got %v, want ok=%v", tt.kind, tt.path, tt.expected, err, tt.ok)
		}
	}
}

func TestWriteFailuresKeepsHandWrittenPart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "FAILURES.md")
	s := summarize([]result{
		{file: "a/1.yml", name: "t1", outcome: failed, cause: "match x", reason: "expected 1, got 2"},
		{file: "a/1.yml", name: "t2", outcome: passed},
		{file: "a/2.yml", name: "t3", outcome: skipped, reason: "out of scope: routing"},
	})
	if err := writeFailures(path, s, ""); err != nil {
		t.Fatal(err)
	}
	b, _ := readFile(path)
	b += "\n## Contract bugs\n\n- hand-written\n"
	if err := writeFile(path, b); err != nil {
		t.Fatal(err)
	}
	s2 := summarize([]result{{file: "a/1.yml", name: "t1", outcome: passed}})
	if err := writeFailures(path, s2, ""); err != nil {
		t.Fatal(err)
	}
	got, _ := readFile(path)
	if !strings.Contains(got, "- hand-written") {
		t.Errorf("hand-written section lost:\n%s", got)
	}
	if strings.Contains(got, "expected 1, got 2") {
		t.Errorf("old generated section kept:\n%s", got)
	}
	if !strings.Contains(got, "1 passed, 0 failed, 0 skipped") {
		t.Errorf("new counts missing:\n%s", got)
	}
}

func readFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }
