package esembed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
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
		b, err := readRequestBody(w, r, e.cfg.MaxContentLength)
		var tooLong *http.MaxBytesError
		switch {
		case errors.As(err, &tooLong):
			rq.fail(&esError{Status: http.StatusRequestEntityTooLarge, Type: "content_too_long_exception",
				Reason: fmt.Sprintf("request body is larger than http.max_content_length [%d bytes]; send smaller requests (fewer documents per bulk)", tooLong.Limit)})
			return
		case err != nil:
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

// readRequestBody reads a request body of at most limit bytes, in one allocation when its
// length is announced; a longer one is refused before it is read (*http.MaxBytesError).
func readRequestBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		// Sized up front only to a point: the announced length arrives before the body, and a
		// client that announces 100 MiB and sends nothing must not hold 100 MiB.
		buf.Grow(int(min(r.ContentLength, 1<<20)) + bytes.MinRead) // room for the read that sees EOF
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxPooledResponse is the largest response buffer kept for reuse.
const maxPooledResponse = 1 << 20

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
	// Responses are encoded into pooled buffers: a search page is tens of kilobytes.
	buf, _ := rq.e.respBufs.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	var enc jsonEncoder
	out, err := enc.append((*buf)[:0], body)
	if err != nil {
		rq.e.log.Error("esembed: encode response", "err", err)
		status = 500
		out = []byte(`{"error":{"type":"exception","reason":"failed to encode response"},"status":500}`)
	} else {
		out = append(out, '\n')
		encoded := out // filter_path and pretty may replace out; this is the pooled one
		defer func() {
			if cap(encoded) <= maxPooledResponse {
				*buf = encoded[:0]
				rq.e.respBufs.Put(buf)
			}
		}()
	}
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

// expandDateMath resolves date math names in a comma-separated expression.
func expandDateMath(expr string) (string, *esError) {
	if !strings.Contains(expr, "<") {
		return expr, nil
	}
	parts := strings.Split(expr, ",")
	now := time.Now()
	for i, p := range parts {
		r, err := resolveDateMathName(p, now)
		if err != nil {
			return "", &esError{Status: 400, Type: "illegal_argument_exception", Reason: err.Error()}
		}
		parts[i] = r
	}
	return strings.Join(parts, ","), nil
}

func (e *Engine) routeIndex(rq *request) (int, any, *esError) {
	s := rq.segs
	m := rq.r.Method
	name, derr := expandDateMath(s[0])
	if derr != nil {
		return 0, nil, derr
	}
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

// indexHealth is green when every shard copy is assigned: on a single node that means no
// replicas (or auto_expand_replicas starting at 0), yellow otherwise, as in Elasticsearch.
func (ix *index) replicas() int {
	s := ix.settings.Load()
	if ae := s.flat["index.auto_expand_replicas"]; ae != "" && ae != "false" && strings.HasPrefix(ae, "0-") {
		return 0
	}
	n, _ := strconv.Atoi(s.flat["index.number_of_replicas"])
	return n
}

func (ix *index) health() string {
	if ix.replicas() > 0 {
		return "yellow"
	}
	return "green"
}

var healthRank = map[string]int{"green": 0, "yellow": 1, "red": 2}

// handleHealth is GET /_cluster/health[/{index}]: it honours wait_for_status,
// wait_for_active_shards and wait_for_nodes up to timeout, answering 408 (or 200 with
// return_200_for_cluster_health_timeout) with timed_out when they are not met.
func (e *Engine) handleHealth(rq *request, idx string) (int, any, *esError) {
	if err := rq.allow("wait_for_status", "timeout", "level", "local", "master_timeout", "wait_for_active_shards", "wait_for_nodes", "wait_for_events", "wait_for_no_relocating_shards", "wait_for_no_initializing_shards", "expand_wildcards", "return_200_for_cluster_health_timeout"); err != nil {
		return 0, nil, err
	}
	ws := rq.param("wait_for_status")
	if ws != "" && healthRank[ws] == 0 && ws != "green" {
		return 0, nil, errIllegalArgument("unknown cluster health status [%s]", ws)
	}
	timeout := 30 * time.Second
	if t := rq.param("timeout"); t != "" {
		d, err := parseTimeValue(t)
		if err != nil {
			return 0, nil, errIllegalArgument("failed to parse setting [timeout] with value [%s] as a time value", t)
		}
		timeout = d
	}
	level := rq.param("level")
	if level != "" && level != "cluster" && level != "indices" && level != "shards" {
		return 0, nil, errIllegalArgument("level must be one of [cluster, indices, shards] but was [%s]", level)
	}
	wantShards := -1
	if v := rq.param("wait_for_active_shards"); v != "" && v != "0" {
		if v == "all" {
			wantShards = -2
		} else if n, err := strconv.Atoi(v); err == nil {
			wantShards = n
		} else {
			return 0, nil, errIllegalArgument("failed to parse value [%s] for wait_for_active_shards", v)
		}
	}
	nodesOK := true
	if v := rq.param("wait_for_nodes"); v != "" {
		nodesOK = nodesSatisfied(v, 1)
	}
	deadline := time.Now().Add(timeout)
	for {
		body, status, active, missing := e.healthBody(idx, level)
		ok := nodesOK && !missing
		if ws != "" && healthRank[status] > healthRank[ws] {
			ok = false
		}
		if wantShards > active {
			ok = false
		}
		if ok || !time.Now().Before(deadline) {
			if !ok {
				body["timed_out"] = true
				if b, _ := rq.boolParam("return_200_for_cluster_health_timeout", false); !b {
					return http.StatusRequestTimeout, body, nil
				}
			}
			return 200, body, nil
		}
		select {
		case <-rq.r.Context().Done():
			return http.StatusRequestTimeout, body, nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func nodesSatisfied(expr string, n int) bool {
	expr = strings.TrimSpace(expr)
	for _, op := range []string{">=", "<=", ">", "<", "ge(", "le(", "gt(", "lt("} {
		if strings.HasPrefix(expr, op) {
			v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(expr, op), ")"))
			if err != nil {
				return false
			}
			switch op {
			case ">=", "ge(":
				return n >= v
			case "<=", "le(":
				return n <= v
			case ">", "gt(":
				return n > v
			default:
				return n < v
			}
		}
	}
	v, err := strconv.Atoi(expr)
	return err == nil && v == n
}

// healthBody reports the health of the cluster or of the indices matching idx.
func (e *Engine) healthBody(idx, level string) (map[string]any, string, int, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var ixs []*index
	missing := false
	if idx != "" && idx != "_all" {
		var err *esError
		ixs, _, err = e.resolveLocked(idx, resolveOptions{allowNoIndices: true})
		if err != nil {
			missing = true
		}
	} else {
		ixs, _, _ = e.resolveLocked("*", resolveOptions{allowNoIndices: true, expandHidden: true})
	}
	status := "green"
	active, unassigned := 0, 0
	indices := map[string]any{}
	for _, ix := range ixs {
		h := ix.health()
		if healthRank[h] > healthRank[status] {
			status = h
		}
		shards, _ := strconv.Atoi(ix.settings.Load().flat["index.number_of_shards"])
		if shards == 0 {
			shards = 1
		}
		rep := ix.replicas()
		active += shards
		unassigned += shards * rep
		if level == "indices" || level == "shards" {
			info := map[string]any{"status": h, "number_of_shards": shards, "number_of_replicas": rep,
				"active_primary_shards": shards, "active_shards": shards, "relocating_shards": 0, "initializing_shards": 0,
				"unassigned_shards": shards * rep, "unassigned_primary_shards": 0}
			if level == "shards" {
				sh := map[string]any{}
				for i := 0; i < shards; i++ {
					sh[strconv.Itoa(i)] = map[string]any{"status": h, "primary_active": true, "active_shards": 1,
						"relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": rep, "unassigned_primary_shards": 0}
				}
				info["shards"] = sh
			}
			indices[ix.name] = info
		}
	}
	if missing {
		status = "red"
	}
	pct := 100.0
	if active+unassigned > 0 {
		pct = 100 * float64(active) / float64(active+unassigned)
	}
	body := map[string]any{
		"cluster_name": e.cfg.ClusterName, "status": status, "timed_out": false,
		"number_of_nodes": 1, "number_of_data_nodes": 1,
		"active_primary_shards": active, "active_shards": active, "relocating_shards": 0, "initializing_shards": 0,
		"unassigned_shards": unassigned, "unassigned_primary_shards": 0, "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0,
		"number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
		"active_shards_percent_as_number": pct,
	}
	if level == "indices" || level == "shards" {
		body["indices"] = indices
	}
	return body, status, active, missing
}
