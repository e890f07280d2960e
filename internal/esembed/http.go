package esembed

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// request is one REST call being served.
type request struct {
	e     *Engine
	w     http.ResponseWriter
	r     *http.Request
	q     url.Values
	segs  []string
	body  []byte
	start time.Time
}

// Parameters every API accepts.
var globalParams = map[string]bool{"pretty": true, "human": true, "error_trace": true, "filter_path": true, "format": false, "source": true, "source_content_type": true}

// allow rejects query parameters the API does not know, as Elasticsearch does.
func (rq *request) allow(names ...string) *esError {
	var bad []string
	for k := range rq.q {
		if globalParams[k] {
			continue
		}
		ok := false
		for _, n := range names {
			if n == k {
				ok = true
				break
			}
		}
		if !ok {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	if len(bad) == 1 {
		return errIllegalArgument("request [%s] contains unrecognized parameter: [%s]", rq.r.URL.Path, bad[0])
	}
	return errIllegalArgument("request [%s] contains unrecognized parameters: [%s]", rq.r.URL.Path, strings.Join(bad, "], ["))
}

func (rq *request) param(name string) string { return rq.q.Get(name) }

func (rq *request) has(name string) bool { _, ok := rq.q[name]; return ok }

// boolParam parses a boolean parameter; a present, empty value means true.
func (rq *request) boolParam(name string, def bool) (bool, *esError) {
	v, ok := rq.q[name]
	if !ok {
		return def, nil
	}
	switch v[0] {
	case "", "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errIllegalArgument("Failed to parse value [%s] as only [true] or [false] are allowed.", v[0])
}

func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	rq := &request{e: e, w: w, r: r, q: r.URL.Query(), start: time.Now()}
	raw := strings.Trim(r.URL.EscapedPath(), "/")
	if raw != "" {
		for _, s := range strings.Split(raw, "/") {
			u, err := url.PathUnescape(s)
			if err != nil {
				u = s
			}
			rq.segs = append(rq.segs, u)
		}
	}
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			rq.fail(&esError{Status: 400, Type: "parse_exception", Reason: "failed to read request body: " + err.Error()})
			return
		}
		rq.body = b
	}
	if src := rq.param("source"); src != "" && len(rq.body) == 0 {
		rq.body = []byte(src)
	}
	if len(rq.body) > 0 {
		if ct := r.Header.Get("Content-Type"); ct != "" && !acceptedContentType(ct) {
			rq.replyStatus(http.StatusNotAcceptable, map[string]any{"error": "Content-Type header [" + ct + "] is not supported", "status": 406})
			return
		}
	}
	if e.store != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		e.writeBarrier.RLock()
		defer e.writeBarrier.RUnlock()
	}
	status, body, err := e.route(rq)
	if err != nil {
		rq.fail(err)
		return
	}
	if status == 0 {
		return // the handler wrote the response itself
	}
	rq.replyStatus(status, body)
}

func acceptedContentType(ct string) bool {
	ct = strings.ToLower(ct)
	for _, ok := range []string{"application/json", "application/x-ndjson", "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson", "text/plain"} {
		if strings.HasPrefix(ct, ok) {
			return true
		}
	}
	return false
}

func (rq *request) contentType() string {
	if strings.Contains(rq.r.Header.Get("Accept"), "vnd.elasticsearch") || strings.Contains(rq.r.Header.Get("Content-Type"), "vnd.elasticsearch") {
		return "application/vnd.elasticsearch+json;compatible-with=8"
	}
	return "application/json"
}

func (rq *request) fail(err *esError) {
	if rq.r.Method == http.MethodHead {
		rq.w.Header().Set("Content-Type", rq.contentType())
		rq.w.WriteHeader(err.Status)
		return
	}
	rq.replyStatus(err.Status, err.response())
}

// replyStatus writes body as JSON (honouring pretty and filter_path).
func (rq *request) replyStatus(status int, body any) {
	h := rq.w.Header()
	if s, ok := body.(textBody); ok {
		h.Set("Content-Type", "text/plain; charset=UTF-8")
		rq.w.WriteHeader(status)
		if rq.r.Method != http.MethodHead {
			_, _ = io.WriteString(rq.w, string(s))
		}
		return
	}
	h.Set("Content-Type", rq.contentType())
	if rq.r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		rq.w.WriteHeader(status)
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		rq.e.log.Error("esembed: encode response", "err", err)
		status = 500
		buf.Reset()
		buf.WriteString(`{"error":{"type":"exception","reason":"failed to encode response"},"status":500}`)
	}
	out := buf.Bytes()
	if fp := rq.param("filter_path"); fp != "" {
		out = applyFilterPath(out, fp)
	}
	if p, _ := rq.boolParam("pretty", false); p {
		var ind bytes.Buffer
		if json.Indent(&ind, out, "", "  ") == nil {
			out = append(ind.Bytes(), '\n')
		}
	}
	h.Set("Content-Length", itoa(len(out)))
	rq.w.WriteHeader(status)
	_, _ = rq.w.Write(out)
}

// textBody is a plain-text response (_cat without format=json).
type textBody string

func itoa(n int) string {
	return strconvItoa(n)
}

// applyFilterPath keeps only the parts of a JSON response named by filter_path.
func applyFilterPath(in []byte, fp string) []byte {
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return in
	}
	var includes, excludes [][]string
	for _, p := range strings.Split(fp, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.HasPrefix(p, "-") {
			excludes = append(excludes, strings.Split(p[1:], "."))
		} else {
			includes = append(includes, strings.Split(p, "."))
		}
	}
	if len(includes) > 0 {
		v = filterInclude(v, includes)
		if v == nil {
			v = map[string]any{}
		}
	}
	for _, ex := range excludes {
		v = filterExclude(v, ex)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return in
	}
	return out
}

func matchSeg(pat, key string) bool {
	if pat == "*" || pat == "**" {
		return true
	}
	if strings.Contains(pat, "*") {
		ok, _ := pathMatch(pat, key)
		return ok
	}
	return pat == key
}

func filterInclude(v any, paths [][]string) any {
	for _, p := range paths {
		if len(p) == 0 {
			return v
		}
	}
	switch t := v.(type) {
	case []any:
		var out []any
		for _, e := range t {
			if f := filterInclude(e, paths); f != nil {
				out = append(out, f)
			}
		}
		if out == nil {
			return nil
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, val := range t {
			var sub [][]string
			for _, p := range paths {
				if p[0] == "**" {
					sub = append(sub, p) // keep matching deeper
					if len(p) > 1 && matchSeg(p[1], k) {
						sub = append(sub, p[2:])
					}
					continue
				}
				if matchSeg(p[0], k) {
					sub = append(sub, p[1:])
				}
			}
			if len(sub) == 0 {
				continue
			}
			if f := filterInclude(val, sub); f != nil {
				out[k] = f
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return nil
}

func filterExclude(v any, p []string) any {
	switch t := v.(type) {
	case []any:
		for i, e := range t {
			t[i] = filterExclude(e, p)
		}
	case map[string]any:
		for k, val := range t {
			if matchSeg(p[0], k) {
				if len(p) == 1 {
					delete(t, k)
				} else {
					t[k] = filterExclude(val, p[1:])
				}
			}
		}
	}
	return v
}

// decodeBody parses a JSON object body (empty is nil).
func (rq *request) decodeBody() (map[string]any, *esError) {
	b := bytes.TrimSpace(rq.body)
	if len(b) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &esError{Status: 400, Type: "x_content_parse_exception", Reason: "Failed to parse request body: " + err.Error()}
	}
	if dec.More() {
		return nil, &esError{Status: 400, Type: "x_content_parse_exception", Reason: "Failed to parse request body: trailing data"}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errParsing("request body must be an object")
	}
	return m, nil
}

func (rq *request) took() int64 { return time.Since(rq.start).Milliseconds() }

func methodNotAllowed(rq *request, allowed ...string) *esError {
	rq.w.Header().Set("Allow", strings.Join(allowed, ","))
	return &esError{Status: http.StatusMethodNotAllowed, Type: "method_not_allowed",
		Reason: "Incorrect HTTP method for uri [" + rq.r.URL.RequestURI() + "] and method [" + rq.r.Method + "], allowed: [" + strings.Join(allowed, ", ") + "]"}
}

func noHandler(rq *request) *esError {
	return &esError{Status: 400, Type: "illegal_argument_exception",
		Reason: "no handler found for uri [" + rq.r.URL.RequestURI() + "] and method [" + rq.r.Method + "]"}
}

// route dispatches a request to its API.
func (e *Engine) route(rq *request) (int, any, *esError) {
	s := rq.segs
	m := rq.r.Method
	if len(s) == 0 {
		switch m {
		case http.MethodGet, http.MethodHead:
			return e.handleRoot(rq)
		}
		return 0, nil, methodNotAllowed(rq, "GET", "HEAD")
	}
	switch s[0] {
	case "_cluster":
		if len(s) >= 2 && s[1] == "health" {
			idx := ""
			if len(s) == 3 {
				idx = s[2]
			}
			return e.handleHealth(rq, idx)
		}
		if len(s) == 2 && s[1] == "settings" && m == http.MethodGet {
			return 200, map[string]any{"persistent": map[string]any{}, "transient": map[string]any{}}, nil
		}
		return 0, nil, noHandler(rq)
	case "_cat":
		return e.handleCat(rq)
	case "_bulk":
		if len(s) == 1 && (m == http.MethodPost || m == http.MethodPut) {
			return e.handleBulk(rq, "")
		}
	case "_search":
		if len(s) == 1 && (m == http.MethodGet || m == http.MethodPost) {
			return e.handleSearch(rq, "", false)
		}
	case "_count":
		if len(s) == 1 && (m == http.MethodGet || m == http.MethodPost) {
			return e.handleSearch(rq, "", true)
		}
	case "_mget":
		if len(s) == 1 && (m == http.MethodGet || m == http.MethodPost) {
			return e.handleMget(rq, "")
		}
	case "_refresh":
		if len(s) == 1 && (m == http.MethodGet || m == http.MethodPost) {
			return e.handleRefresh(rq, "")
		}
	case "_aliases":
		if len(s) == 1 && m == http.MethodPost {
			return e.handleAliasActions(rq)
		}
		if len(s) == 1 && m == http.MethodGet {
			return e.handleGetAliases(rq, "", "", true)
		}
	case "_alias":
		name := ""
		if len(s) == 2 {
			name = s[1]
		}
		if len(s) <= 2 && (m == http.MethodGet || m == http.MethodHead) {
			return e.handleGetAliases(rq, "", name, false)
		}
	case "_mapping":
		if len(s) == 1 && m == http.MethodGet {
			return e.handleGetMapping(rq, "")
		}
	case "_settings":
		if len(s) == 1 && m == http.MethodGet {
			return e.handleGetSettings(rq, "", "")
		}
		if len(s) == 1 && m == http.MethodPut {
			return e.handlePutSettings(rq, "")
		}
	case "_stats":
		return e.handleStats(rq, "")
	case "_all", "*":
		// Index expressions handled below.
	default:
		if strings.HasPrefix(s[0], "_") {
			return 0, nil, noHandler(rq)
		}
	}
	if strings.HasPrefix(s[0], "_") && s[0] != "_all" {
		return 0, nil, noHandler(rq)
	}
	return e.routeIndex(rq)
}

func (e *Engine) routeIndex(rq *request) (int, any, *esError) {
	s := rq.segs
	m := rq.r.Method
	name := s[0]
	if len(s) == 1 {
		switch m {
		case http.MethodPut:
			return e.handleCreateIndex(rq, name)
		case http.MethodGet:
			return e.handleGetIndex(rq, name)
		case http.MethodHead:
			return e.handleHeadIndex(rq, name)
		case http.MethodDelete:
			return e.handleDeleteIndex(rq, name)
		}
		return 0, nil, methodNotAllowed(rq, "GET", "HEAD", "PUT", "DELETE")
	}
	switch s[1] {
	case "_doc":
		switch {
		case len(s) == 2 && m == http.MethodPost:
			return e.handleIndexDoc(rq, name, "", false)
		case len(s) == 3:
			id := s[2]
			switch m {
			case http.MethodPut, http.MethodPost:
				return e.handleIndexDoc(rq, name, id, false)
			case http.MethodGet, http.MethodHead:
				return e.handleGetDoc(rq, name, id, false)
			case http.MethodDelete:
				return e.handleDeleteDoc(rq, name, id)
			}
			return 0, nil, methodNotAllowed(rq, "GET", "HEAD", "PUT", "POST", "DELETE")
		}
	case "_create":
		if len(s) == 3 && (m == http.MethodPut || m == http.MethodPost) {
			return e.handleIndexDoc(rq, name, s[2], true)
		}
	case "_source":
		if len(s) == 3 && (m == http.MethodGet || m == http.MethodHead) {
			return e.handleGetDoc(rq, name, s[2], true)
		}
	case "_update":
		if len(s) == 3 && m == http.MethodPost {
			return e.handleUpdate(rq, name, s[2])
		}
	case "_bulk":
		if len(s) == 2 && (m == http.MethodPost || m == http.MethodPut) {
			return e.handleBulk(rq, name)
		}
	case "_search":
		if len(s) == 2 && (m == http.MethodGet || m == http.MethodPost) {
			return e.handleSearch(rq, name, false)
		}
	case "_count":
		if len(s) == 2 && (m == http.MethodGet || m == http.MethodPost) {
			return e.handleSearch(rq, name, true)
		}
	case "_mget":
		if len(s) == 2 && (m == http.MethodGet || m == http.MethodPost) {
			return e.handleMget(rq, name)
		}
	case "_refresh":
		if len(s) == 2 && (m == http.MethodGet || m == http.MethodPost) {
			return e.handleRefresh(rq, name)
		}
	case "_mapping", "_mappings":
		if len(s) == 2 && m == http.MethodGet {
			return e.handleGetMapping(rq, name)
		}
		if len(s) == 2 && (m == http.MethodPut || m == http.MethodPost) {
			return e.handlePutMapping(rq, name)
		}
	case "_settings":
		if len(s) <= 3 && m == http.MethodGet {
			setting := ""
			if len(s) == 3 {
				setting = s[2]
			}
			return e.handleGetSettings(rq, name, setting)
		}
		if len(s) == 2 && m == http.MethodPut {
			return e.handlePutSettings(rq, name)
		}
	case "_alias", "_aliases":
		alias := ""
		if len(s) == 3 {
			alias = s[2]
		}
		switch {
		case len(s) <= 3 && (m == http.MethodGet || m == http.MethodHead):
			return e.handleGetAliases(rq, name, alias, false)
		case len(s) == 3 && (m == http.MethodPut || m == http.MethodPost):
			return e.handlePutAlias(rq, name, alias)
		case len(s) == 3 && m == http.MethodDelete:
			return e.handleDeleteAlias(rq, name, alias)
		}
	case "_stats":
		return e.handleStats(rq, name)
	case "_delete_by_query", "_update_by_query", "_close", "_open", "_forcemerge", "_flush", "_explain", "_termvectors", "_rollover", "_shrink", "_split", "_clone", "_field_caps", "_validate", "_msearch", "_search_shards", "_rank_eval", "_pit", "_analyze", "_recovery", "_segments", "_cache", "_block", "_disk_usage", "_resolve":
		return 0, nil, errUnsupported("API [" + s[1] + "]")
	}
	return 0, nil, noHandler(rq)
}

// handleRoot is GET /.
func (e *Engine) handleRoot(rq *request) (int, any, *esError) {
	if err := rq.allow(); err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{
		"name":         e.cfg.NodeName,
		"cluster_name": e.cfg.ClusterName,
		"cluster_uuid": clusterUUID,
		"version": map[string]any{
			"number":                              versionNumber,
			"build_flavor":                        "default",
			"build_type":                          "esembed",
			"build_hash":                          "esembed",
			"build_date":                          "2024-08-05T10:05:34.233336849Z",
			"build_snapshot":                      false,
			"lucene_version":                      "9.11.1",
			"minimum_wire_compatibility_version":  "7.17.0",
			"minimum_index_compatibility_version": "7.0.0",
		},
		"tagline": "You Know, for Search",
	}, nil
}

// handleHealth is GET /_cluster/health[/{index}]. A single node with every shard assigned
// (replicas are never allocated, so "green" only when no index asks for replicas... the
// engine reports green: replicas are virtual and always in sync).
func (e *Engine) handleHealth(rq *request, idx string) (int, any, *esError) {
	if err := rq.allow("wait_for_status", "timeout", "level", "local", "master_timeout", "wait_for_active_shards", "wait_for_nodes", "wait_for_events", "wait_for_no_relocating_shards", "wait_for_no_initializing_shards", "expand_wildcards"); err != nil {
		return 0, nil, err
	}
	if ws := rq.param("wait_for_status"); ws != "" && ws != "green" && ws != "yellow" && ws != "red" {
		return 0, nil, errIllegalArgument("unknown cluster health status [%s]", ws)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	n := len(e.indices)
	if idx != "" {
		ixs, _, err := e.resolveLocked(idx, resolveOptions{allowNoIndices: true})
		if err != nil {
			return 408, map[string]any{"cluster_name": e.cfg.ClusterName, "status": "red", "timed_out": true,
				"number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": 0, "active_shards": 0,
				"relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": 0, "delayed_unassigned_shards": 0,
				"number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
				"active_shards_percent_as_number": 100.0}, nil
		}
		n = len(ixs)
	}
	return 200, map[string]any{
		"cluster_name": e.cfg.ClusterName, "status": "green", "timed_out": false,
		"number_of_nodes": 1, "number_of_data_nodes": 1,
		"active_primary_shards": n, "active_shards": n, "relocating_shards": 0, "initializing_shards": 0,
		"unassigned_shards": 0, "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0,
		"number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
		"active_shards_percent_as_number": 100.0,
	}, nil
}
