package contract

import (
	"net/http"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/healthstatus"
)

func TestInfoAndHealth(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)

	info, err := e.typed.Info().Do(ctx)
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	if !strings.HasPrefix(info.Version.Int, "8.") {
		t.Errorf("version.number: got %q, want 8.x", info.Version.Int)
	}
	if info.ClusterName == "" || info.Name == "" || info.Tagline == "" {
		t.Errorf("info: got name %q cluster_name %q tagline %q, want all set", info.Name, info.ClusterName, info.Tagline)
	}
	if ok, err := e.typed.Ping().IsSuccess(ctx); err != nil || !ok {
		t.Errorf("ping: got %v, %v; want true", ok, err)
	}

	// The product header is what the official clients check before anything else.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	resp, err := e.plain.Perform(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Elastic-Product"); got != "Elasticsearch" {
		t.Errorf("X-Elastic-Product: got %q, want Elasticsearch", got)
	}

	h, err := e.typed.Cluster.Health().WaitForStatus(healthstatus.Yellow).Timeout("10s").Do(ctx)
	if err != nil {
		t.Fatalf("cluster health: %v", err)
	}
	if h.Status != healthstatus.Green && h.Status != healthstatus.Yellow {
		t.Errorf("health status: got %s, want green or yellow", h.Status)
	}
	if h.TimedOut {
		t.Error("health wait_for_status=yellow: timed_out true")
	}
	if h.NumberOfNodes < 1 {
		t.Errorf("number_of_nodes: got %d, want ≥ 1", h.NumberOfNodes)
	}
}

func TestIndexLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	name := uniqueName("life")

	created, err := e.typed.Indices.Create(name).Raw(strings.NewReader(`{
		"settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "5s", "max_result_window": 500},
		"mappings": {"properties": {"sku": {"type": "keyword"}}},
		"aliases": {"` + name + `-alias": {}}
	}`)).Do(ctx)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	e.cleanupIndex(t, name)
	if !created.Acknowledged || created.Index != name {
		t.Errorf("create: got acknowledged %v index %q, want true %q", created.Acknowledged, created.Index, name)
	}

	if ok, err := e.typed.Indices.Exists(name).IsSuccess(ctx); err != nil || !ok {
		t.Errorf("exists after create: got %v, %v; want true", ok, err)
	}
	got, err := e.typed.Indices.Get(name).Do(ctx)
	if err != nil {
		t.Fatalf("get index: %v", err)
	}
	st, ok := got[name]
	if !ok {
		t.Fatalf("get index: no %s in %v", name, got)
	}
	if _, ok := st.Aliases[name+"-alias"]; !ok {
		t.Errorf("get index aliases: got %v, want %s-alias", st.Aliases, name)
	}
	if st.Mappings == nil || st.Mappings.Properties["sku"] == nil {
		t.Errorf("get index mappings: got %+v, want sku", st.Mappings)
	}

	settings := e.mustRaw(t, 200, http.MethodGet, "/"+name+"/_settings", nil)
	for p, want := range map[string]string{
		"index.refresh_interval":   "5s",
		"index.max_result_window":  "500",
		"index.number_of_shards":   "1",
		"index.number_of_replicas": "0",
	} {
		if got := path(settings, name+".settings."+p); got != want {
			t.Errorf("settings %s: got %v, want %q", p, got, want)
		}
	}
	e.mustRaw(t, 200, http.MethodPut, "/"+name+"/_settings", `{"index": {"refresh_interval": "-1"}}`)
	settings = e.mustRaw(t, 200, http.MethodGet, "/"+name+"/_settings", nil)
	if got := path(settings, name+".settings.index.refresh_interval"); got != "-1" {
		t.Errorf("refresh_interval after PUT _settings: got %v, want -1", got)
	}

	// Static settings can't change on an open index; unknown settings are refused.
	status, body := e.raw(t, http.MethodPut, "/"+name+"/_settings", `{"index": {"number_of_shards": 2}}`)
	checkErrorShape(t, status, body, 400, "illegal_argument_exception")
	status, body = e.raw(t, http.MethodPut, "/"+name+"/_settings", `{"index": {"no_such_setting": 1}}`)
	checkErrorShape(t, status, body, 400, "illegal_argument_exception")

	// Creating it again is a 400 resource_already_exists_exception.
	_, err = e.typed.Indices.Create(name).Do(ctx)
	esErr(t, err, 400, "resource_already_exists_exception")
	status, body = e.raw(t, http.MethodPut, "/"+name, "")
	checkErrorShape(t, status, body, 400, "resource_already_exists_exception")

	// _cat/indices knows it, as text and JSON.
	status, text := e.rawBytes(t, http.MethodGet, "/_cat/indices/"+name+"?h=index,docs.count", nil, "")
	if status != 200 || !strings.Contains(string(text), name) {
		t.Errorf("_cat/indices: got %d %q, want a line for %s", status, text, name)
	}
	status, js := e.rawBytes(t, http.MethodGet, "/_cat/indices/"+name+"?format=json", nil, "")
	if status != 200 || !strings.Contains(string(js), `"index":"`+name+`"`) {
		t.Errorf("_cat/indices?format=json: got %d %s, want an object for %s", status, truncate(string(js), 300), name)
	}

	del, err := e.typed.Indices.Delete(name).Do(ctx)
	if err != nil || !del.Acknowledged {
		t.Fatalf("delete: got %+v, %v; want acknowledged", del, err)
	}
	if ok, err := e.typed.Indices.Exists(name).IsSuccess(ctx); err != nil || ok {
		t.Errorf("exists after delete: got %v, %v; want false", ok, err)
	}
	if ok, err := e.typed.Indices.ExistsAlias(name + "-alias").IsSuccess(ctx); err != nil || ok {
		t.Errorf("alias exists after its index was deleted: got %v, %v; want false", ok, err)
	}
	status, body = e.raw(t, http.MethodDelete, "/"+name, nil)
	checkErrorShape(t, status, body, 404, "index_not_found_exception")
	status, body = e.raw(t, http.MethodGet, "/"+name, nil)
	checkErrorShape(t, status, body, 404, "index_not_found_exception")
	status, body = e.raw(t, http.MethodGet, "/"+name+"/_search", nil)
	checkErrorShape(t, status, body, 404, "index_not_found_exception")
}

func TestMappings(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)

	t.Run("get and add fields", func(t *testing.T) {
		name := e.createIndex(t, "map", `{"mappings": {"properties": {"a": {"type": "keyword"}}}}`)
		if _, err := e.typed.Indices.PutMapping(name).Raw(strings.NewReader(`{"properties": {"b": {"type": "long"}}}`)).Do(ctx); err != nil {
			t.Fatalf("put mapping: %v", err)
		}
		m, err := e.typed.Indices.GetMapping().Index(name).Do(ctx)
		if err != nil {
			t.Fatalf("get mapping: %v", err)
		}
		props := m[name].Mappings.Properties
		if props["a"] == nil || props["b"] == nil {
			t.Errorf("mapping: got %v, want a and b", props)
		}
		// Changing a field's type is refused.
		status, body := e.raw(t, http.MethodPut, "/"+name+"/_mapping", `{"properties": {"a": {"type": "long"}}}`)
		checkErrorShape(t, status, body, 400, "illegal_argument_exception")
	})

	t.Run("strict rejects unknown fields", func(t *testing.T) {
		name := e.createIndex(t, "strict", `{"mappings": {"dynamic": "strict", "properties": {"a": {"type": "keyword"}}}}`)
		e.mustRaw(t, 201, http.MethodPut, "/"+name+"/_doc/1", `{"a": "x"}`)
		status, body := e.raw(t, http.MethodPut, "/"+name+"/_doc/2", `{"a": "x", "unknown": 1}`)
		checkErrorShape(t, status, body, 400, "strict_dynamic_mapping_exception")
		if r, _ := path(body, "error.reason").(string); !strings.Contains(r, "unknown") {
			t.Errorf("reason: got %q, want it to name the field", r)
		}
		_, err := e.typed.Index(name).Id("3").Raw(strings.NewReader(`{"nested": {"x": 1}}`)).Do(ctx)
		esErr(t, err, 400, "strict_dynamic_mapping_exception")
		status, _ = e.raw(t, http.MethodGet, "/"+name+"/_doc/2", nil)
		if status != 404 {
			t.Errorf("rejected document: GET got %d, want 404", status)
		}
	})

	t.Run("default dynamic mapping", func(t *testing.T) {
		name := e.createIndex(t, "dyn", "")
		e.mustRaw(t, 201, http.MethodPut, "/"+name+"/_doc/1?refresh=true", `{"s": "Hello World", "n": 5, "f": 1.5, "b": true, "d": "2024-05-01T10:00:00Z", "o": {"x": "y"}}`)
		m := e.mustRaw(t, 200, http.MethodGet, "/"+name+"/_mapping", nil)
		props := name + ".mappings.properties."
		for field, want := range map[string]string{"s": "text", "s.fields.keyword": "keyword", "n": "long", "f": "float", "b": "boolean", "d": "date", "o.properties.x": "text"} {
			if got := path(m, props+field+".type"); got != want {
				t.Errorf("dynamic type of %s: got %v, want %s", field, got, want)
			}
		}
		if got := path(m, props+"s.fields.keyword.ignore_above"); jsonInt(got) != 256 {
			t.Errorf("s.keyword ignore_above: got %v, want 256", got)
		}
		// The keyword subfield is searchable as an exact value.
		resp := e.mustRaw(t, 200, http.MethodPost, "/"+name+"/_search", `{"query": {"term": {"s.keyword": "Hello World"}}}`)
		if totalHits(resp) != 1 {
			t.Errorf("term on s.keyword: got %d hits, want 1", totalHits(resp))
		}
	})

	t.Run("dynamic false keeps but does not index", func(t *testing.T) {
		name := e.createIndex(t, "dynf", `{"mappings": {"dynamic": false, "properties": {"a": {"type": "keyword"}}}}`)
		e.mustRaw(t, 201, http.MethodPut, "/"+name+"/_doc/1?refresh=true", `{"a": "x", "extra": "kept"}`)
		doc := e.mustRaw(t, 200, http.MethodGet, "/"+name+"/_doc/1", nil)
		if got := path(doc, "_source.extra"); got != "kept" {
			t.Errorf("_source.extra: got %v, want kept", got)
		}
		resp := e.mustRaw(t, 200, http.MethodPost, "/"+name+"/_search", `{"query": {"match": {"extra": "kept"}}}`)
		if totalHits(resp) != 0 {
			t.Errorf("search on an unmapped field: got %d hits, want 0", totalHits(resp))
		}
		m := e.mustRaw(t, 200, http.MethodGet, "/"+name+"/_mapping", nil)
		if path(m, name+".mappings.properties.extra") != nil {
			t.Errorf("mapping: extra was added with dynamic false")
		}
	})

	t.Run("bad mapping", func(t *testing.T) {
		status, body := e.raw(t, http.MethodPut, "/"+uniqueName("bad"), `{"mappings": {"properties": {"a": {"type": "no_such_type"}}}}`)
		checkErrorShape(t, status, body, 400, "mapper_parsing_exception")
		name := e.createIndex(t, "badval", `{"mappings": {"properties": {"n": {"type": "long"}}}}`)
		status, body = e.raw(t, http.MethodPut, "/"+name+"/_doc/1", `{"n": "not a number"}`)
		checkErrorShape(t, status, body, 400, "document_parsing_exception")
	})
}
