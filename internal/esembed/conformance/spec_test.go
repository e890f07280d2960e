package conformance

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// apiPath is one URL template of an API with the methods it accepts.
type apiPath struct {
	path    string   // "/{index}/_doc/{id}"
	methods []string // in spec order
	parts   []string // placeholders in path
}

// apiSpec is one api/*.json file, read in either spec shape.
type apiSpec struct {
	name         string
	paths        []apiPath
	params       map[string]bool // query parameters the API accepts
	bodyAllowed  bool
	bodyRequired bool
	ndjson       bool // body is newline-delimited (bulk)
	contentType  string
	accept       string
}

// restSpec holds every API spec and the parameters all APIs accept.
type restSpec struct {
	apis   map[string]*apiSpec
	global map[string]bool
}

// clientParams are handled by the client and never sent.
var clientParams = map[string]bool{"ignore": true}

func loadRestSpec(dir string) (*restSpec, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	rs := &restSpec{apis: map[string]*apiSpec{}, global: map[string]bool{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if filepath.Base(f) == "_common.json" {
			var common struct {
				Params map[string]json.RawMessage `json:"params"`
			}
			if err := json.Unmarshal(data, &common); err != nil {
				return nil, fmt.Errorf("spec %s: %w", f, err)
			}
			for p := range common.Params {
				rs.global[p] = true
			}
			continue
		}
		spec, err := parseAPISpec(data)
		if err != nil {
			return nil, fmt.Errorf("spec %s: %w", f, err)
		}
		rs.apis[spec.name] = spec
	}
	return rs, nil
}

// parseAPISpec reads both spec shapes: the current one, where url.paths is a list of
// {path, methods, parts}, and the older one, with top-level "methods" and url.paths a list of
// strings (url.parts and url.params inside "url").
func parseAPISpec(data []byte) (*apiSpec, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	if len(top) != 1 {
		return nil, fmt.Errorf("want one API per file, got %d keys", len(top))
	}
	var name string
	var raw json.RawMessage
	for k, v := range top {
		name, raw = k, v
	}
	var def struct {
		Methods []string `json:"methods"`
		URL     struct {
			Paths  []json.RawMessage          `json:"paths"`
			Params map[string]json.RawMessage `json:"params"`
		} `json:"url"`
		Params map[string]json.RawMessage `json:"params"`
		Body   *struct {
			Required  bool   `json:"required"`
			Serialize string `json:"serialize"`
		} `json:"body"`
		Headers struct {
			Accept      []string `json:"accept"`
			ContentType []string `json:"content_type"`
		} `json:"headers"`
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		return nil, err
	}
	spec := &apiSpec{name: name, params: map[string]bool{}}
	for p := range def.Params {
		spec.params[p] = true
	}
	for p := range def.URL.Params {
		spec.params[p] = true
	}
	for _, rp := range def.URL.Paths {
		var p apiPath
		var s string
		if err := json.Unmarshal(rp, &s); err == nil {
			p = apiPath{path: s, methods: def.Methods}
		} else {
			var obj struct {
				Path    string   `json:"path"`
				Methods []string `json:"methods"`
			}
			if err := json.Unmarshal(rp, &obj); err != nil {
				return nil, fmt.Errorf("url.paths: %w", err)
			}
			p = apiPath{path: obj.Path, methods: obj.Methods}
		}
		p.parts = pathParts(p.path)
		spec.paths = append(spec.paths, p)
	}
	if len(spec.paths) == 0 {
		return nil, fmt.Errorf("api %s has no paths", name)
	}
	if def.Body != nil {
		spec.bodyAllowed = true
		spec.bodyRequired = def.Body.Required
		spec.ndjson = def.Body.Serialize == "bulk"
	}
	if len(def.Headers.ContentType) > 0 {
		spec.contentType = def.Headers.ContentType[0]
	}
	if spec.ndjson && spec.contentType == "" {
		spec.contentType = "application/x-ndjson"
	}
	if len(def.Headers.Accept) > 0 {
		spec.accept = def.Headers.Accept[0]
	}
	return spec, nil
}

func pathParts(p string) []string {
	var parts []string
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			return parts
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			return parts
		}
		parts = append(parts, p[i+1:i+j])
		p = p[i+j+1:]
	}
}

// httpCall is a request built from an API call.
type httpCall struct {
	method string
	path   string // escaped path
	query  url.Values
}

// buildCall maps an API name and its parameters (already stringified) to a request, as the
// Java runner does: among the paths whose parts are all given, take the one with the most
// parts; every other parameter goes to the query string and must be known to the API.
func (rs *restSpec) buildCall(api string, params map[string]string, hasBody bool) (*apiSpec, *httpCall, error) {
	spec, ok := rs.apis[api]
	if !ok {
		return nil, nil, fmt.Errorf("api %s: no spec in api/", api)
	}
	var best *apiPath
	for i := range spec.paths {
		p := &spec.paths[i]
		all := true
		for _, part := range p.parts {
			if _, ok := params[part]; !ok {
				all = false
				break
			}
		}
		if all && (best == nil || len(p.parts) > len(best.parts)) {
			best = p
		}
	}
	if best == nil {
		return nil, nil, fmt.Errorf("api %s: no path matches parameters %v", api, sortedKeys(params))
	}
	c := &httpCall{path: best.path, query: url.Values{}}
	inPath := map[string]bool{}
	for _, part := range best.parts {
		inPath[part] = true
		c.path = strings.Replace(c.path, "{"+part+"}", escapePathPart(params[part]), 1)
	}
	for _, k := range sortedKeys(params) {
		if inPath[k] || clientParams[k] {
			continue
		}
		// The Java runner rejects parameters its spec doesn't list; some specs here are older
		// than the tests (require_alias, wait_for_active_shards), so the parameter is sent
		// and the server decides.
		c.query.Set(k, params[k])
	}
	if hasBody && !spec.bodyAllowed {
		return nil, nil, fmt.Errorf("body is not supported by [%s] api", api)
	}
	if !hasBody && spec.bodyRequired {
		return nil, nil, fmt.Errorf("body is required by [%s] api", api)
	}
	c.method = chooseMethod(best.methods, hasBody)
	return spec, c, nil
}

// chooseMethod is deterministic where the Java runner picks at random: the first method the
// spec lists, except that a body is not sent with GET when POST is allowed (clients do so).
func chooseMethod(methods []string, hasBody bool) string {
	if len(methods) == 0 {
		return "GET"
	}
	if hasBody && methods[0] == "GET" {
		for _, m := range methods {
			if m == "POST" {
				return m
			}
		}
	}
	return methods[0]
}

// pathKeep are the characters Java's URI leaves as they are in a path, unlike Go's
// url.PathEscape ("a,b" stays a list of indices).
var pathKeep = strings.NewReplacer("%2C", ",", "%3A", ":", "%2B", "+", "%24", "$", "%26", "&", "%3D", "=", "%3B", ";", "%40", "@")

// escapePathPart percent-encodes a path value; a slash inside it is data, not a separator.
func escapePathPart(s string) string {
	return pathKeep.Replace(strings.ReplaceAll(url.PathEscape(s), "/", "%2F"))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
