package esembed

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
)

var indexDocParams = []string{"version", "version_type", "if_seq_no", "if_primary_term", "op_type", "refresh",
	"routing", "timeout", "wait_for_active_shards", "require_alias", "require_data_stream", "list_executed_pipelines", "include_source_on_error"}

// writeParams are the concurrency-control parameters shared by the document APIs and bulk.
type writeParams struct {
	version       string
	versionType   string
	ifSeqNo       string
	ifPrimaryTerm string
	opType        string
}

func (rq *request) writeParams() writeParams {
	return writeParams{version: rq.param("version"), versionType: rq.param("version_type"),
		ifSeqNo: rq.param("if_seq_no"), ifPrimaryTerm: rq.param("if_primary_term"), opType: rq.param("op_type")}
}

// toOp validates the parameters the way Elasticsearch's request validation does.
func (p writeParams) toOp(kind opKind, id string) (*writeOp, *esError) {
	op := &writeOp{kind: kind, id: id}
	switch p.opType {
	case "", "index":
	case "create":
		if kind == opIndex {
			op.kind = opCreate
		}
	default:
		return nil, errIllegalArgument("opType must be 'create' or 'index', found: [%s]", p.opType)
	}
	switch p.versionType {
	case "", "internal":
		op.vtype = versionInternal
	case "external":
		op.vtype = versionExternal
	case "external_gte":
		op.vtype = versionExternalGTE
	case "force":
		return nil, errActionValidation("version type [force] may no longer be used")
	default:
		return nil, errIllegalArgument("No version type match [%s]", p.versionType)
	}
	if p.version != "" {
		v, err := strconv.ParseInt(p.version, 10, 64)
		if err != nil {
			return nil, errIllegalArgument("Failed to parse long parameter [version] with value [%s]", p.version)
		}
		op.version, op.hasVersion = v, true
	}
	var reasons []string
	if p.ifSeqNo != "" {
		s, err := strconv.ParseInt(p.ifSeqNo, 10, 64)
		if err != nil {
			return nil, errIllegalArgument("Failed to parse long parameter [if_seq_no] with value [%s]", p.ifSeqNo)
		}
		op.ifSeqNo, op.hasIfSeqNo = s, true
		if s < 0 {
			reasons = append(reasons, "ifSeqNo must be non negative")
		}
		if p.ifPrimaryTerm == "" {
			reasons = append(reasons, "ifSeqNo is set, but primary term is [0]")
		}
	}
	if p.ifPrimaryTerm != "" {
		t, err := strconv.ParseInt(p.ifPrimaryTerm, 10, 64)
		if err != nil {
			return nil, errIllegalArgument("Failed to parse long parameter [if_primary_term] with value [%s]", p.ifPrimaryTerm)
		}
		op.ifPrimaryTerm = t
		if p.ifSeqNo == "" {
			reasons = append(reasons, "ifSeqNo is unassigned, but primary term is ["+p.ifPrimaryTerm+"]")
		}
	}
	if op.vtype != versionInternal {
		if !op.hasVersion {
			reasons = append(reasons, "illegal version value [-3] for version type ["+strings.ToUpper(p.versionType)+"]")
		} else if op.version < 0 {
			reasons = append(reasons, "illegal version value ["+p.version+"] for version type ["+strings.ToUpper(p.versionType)+"]")
		}
		if op.hasIfSeqNo {
			reasons = append(reasons, "compare and write operations can not use versioning")
		}
		if op.kind == opCreate {
			reasons = append(reasons, "create operations only support internal versioning. use index instead")
		}
	} else if op.hasVersion {
		reasons = append(reasons, "internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead")
	}
	if op.kind == opCreate && op.hasIfSeqNo {
		reasons = append(reasons, "create operations do not support compare and set. use index instead")
	}
	if len(id) > 512 {
		reasons = append(reasons, "id ["+id+"] is too long, must be no longer than 512 bytes but was: "+strconv.Itoa(len(id)))
	}
	if len(reasons) > 0 {
		return nil, errActionValidation(reasons...)
	}
	return op, nil
}

func newDocID() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// writeDoc validates, versions and records one write; the caller handles refresh and logging.
func (e *Engine) writeDoc(ix *index, op *writeOp, now time.Time) (writeResult, *esError) {
	if err := ix.waitCapacity(); err != nil {
		return writeResult{}, asESError(err)
	}
	if op.kind == opDelete {
		return ix.apply(op, nil, now)
	}
	if op.parsed == nil {
		p, err := parseSource(op.src)
		if err != nil {
			return writeResult{}, asESError(err)
		}
		op.parsed = p
	}
	doc, changed, err := ix.prepare(op)
	_ = changed
	if err != nil {
		return writeResult{}, asESError(err)
	}
	res, aerr := ix.apply(op, doc, now)
	if aerr != nil {
		return res, aerr
	}
	return res, nil
}

// refreshPolicy is a write's ?refresh.
type refreshPolicy int

const (
	refreshNone refreshPolicy = iota
	refreshImmediate
	refreshWaitFor
)

func (rq *request) refreshPolicy() (refreshPolicy, *esError) {
	v, ok := rq.q["refresh"]
	if !ok {
		return refreshNone, nil
	}
	switch v[0] {
	case "", "true":
		return refreshImmediate, nil
	case "false":
		return refreshNone, nil
	case "wait_for":
		return refreshWaitFor, nil
	}
	return refreshNone, errIllegalArgument("Unknown value for refresh: [%s].", v[0])
}

// afterWrite applies the refresh policy for writes that reached generation gen of ix.
func (rq *request) afterWrite(ix *index, pol refreshPolicy, gen uint64) *esError {
	switch pol {
	case refreshImmediate:
		if err := ix.refresh(); err != nil {
			return asESError(err)
		}
	case refreshWaitFor:
		if ix.settings.Load().refreshInterval <= 0 {
			// Periodic refresh is off: Elasticsearch would wait until a refresh comes; refreshing
			// now keeps the request from hanging and is indistinguishable to the caller.
			if err := ix.refresh(); err != nil {
				return asESError(err)
			}
			return nil
		}
		ix.waitRefreshed(rq.r.Context().Done(), gen)
	}
	return nil
}

func writeResponse(ix *index, id string, res writeResult, forced bool) map[string]any {
	out := map[string]any{"_index": ix.name, "_id": id, "_version": res.version, "result": res.result,
		"_shards": writeShards(ix), "_seq_no": res.seqNo, "_primary_term": primaryTerm}
	if forced {
		out["forced_refresh"] = true
	}
	return out
}

func (e *Engine) checkRequireAlias(rq *request, name string) *esError {
	if ra, _ := rq.boolParam("require_alias", false); ra {
		e.mu.RLock()
		_, ok := e.aliases[name]
		e.mu.RUnlock()
		if !ok {
			return &esError{Status: 404, Type: "index_not_found_exception", Reason: "no such index [" + name + "] and [require_alias] request flag is [true] and [" + name + "] is not an alias", Index: name}
		}
	}
	return nil
}

// handleIndexDoc is PUT/POST /{index}/_doc/{id} and /{index}/_create/{id}.
func (e *Engine) handleIndexDoc(rq *request, name, id string, create bool) (int, any, *esError) {
	if err := rq.allow(append(indexDocParams, "pipeline")...); err != nil {
		return 0, nil, err
	}
	if rq.param("pipeline") != "" {
		return 0, nil, errUnsupported("ingest pipelines ([pipeline] parameter)")
	}
	pol, err := rq.refreshPolicy()
	if err != nil {
		return 0, nil, err
	}
	p := rq.writeParams()
	kind := opIndex
	if create {
		kind = opCreate
	}
	if id == "" {
		id = newDocID()
		if p.opType == "" {
			p.opType = "create"
		}
	}
	op, err := p.toOp(kind, id)
	if err != nil {
		return 0, nil, err
	}
	if len(bytes.TrimSpace(rq.body)) == 0 {
		return 0, nil, errActionValidation("source is missing", "content type is missing")
	}
	if err := e.checkRequireAlias(rq, name); err != nil {
		return 0, nil, err
	}
	ix, err := e.writeTarget(name)
	if err != nil {
		return 0, nil, err
	}
	op.src = compactJSON(rq.body)
	res, err := e.writeDoc(ix, op, time.Now())
	if err != nil {
		return 0, nil, err
	}
	if e.store != nil {
		if serr := e.store.syncTo(res.walOff); serr != nil {
			return 0, nil, asESError(serr)
		}
	}
	if err := rq.afterWrite(ix, pol, res.gen); err != nil {
		return 0, nil, err
	}
	return res.status, writeResponse(ix, id, res, pol == refreshImmediate), nil
}

// compactJSON keeps the source as sent, minus surrounding whitespace.
func compactJSON(b []byte) []byte {
	return append([]byte(nil), bytes.TrimSpace(b)...)
}

// handleDeleteDoc is DELETE /{index}/_doc/{id}.
func (e *Engine) handleDeleteDoc(rq *request, name, id string) (int, any, *esError) {
	if err := rq.allow("version", "version_type", "if_seq_no", "if_primary_term", "refresh", "routing", "timeout", "wait_for_active_shards"); err != nil {
		return 0, nil, err
	}
	pol, err := rq.refreshPolicy()
	if err != nil {
		return 0, nil, err
	}
	op, err := rq.writeParams().toOp(opDelete, id)
	if err != nil {
		return 0, nil, err
	}
	e.mu.RLock()
	ix, err := e.writeIndexLocked(name)
	e.mu.RUnlock()
	if err != nil {
		return 0, nil, err
	}
	if ix == nil {
		return 0, nil, errIndexNotFound(name)
	}
	res, err := e.writeDoc(ix, op, time.Now())
	if err != nil {
		return 0, nil, err
	}
	if e.store != nil {
		if serr := e.store.syncTo(res.walOff); serr != nil {
			return 0, nil, asESError(serr)
		}
	}
	if err := rq.afterWrite(ix, pol, res.gen); err != nil {
		return 0, nil, err
	}
	return res.status, writeResponse(ix, id, res, pol == refreshImmediate), nil
}

// readIndex resolves a single-index read target (an index or an alias of exactly one index).
func (e *Engine) readIndex(name string) (*index, *esError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if ix, ok := e.indices[name]; ok {
		return ix, nil
	}
	if m, ok := e.aliases[name]; ok {
		if len(m) == 1 {
			for n := range m {
				return e.indices[n], nil
			}
		}
		names := sortedKeys(m)
		return nil, errIllegalArgument("alias [%s] has more than one index associated with it [%s], can't execute a single index op", name, strings.Join(names, ", "))
	}
	return nil, errIndexNotFound(name)
}

// sourceFilter is _source / _source_includes / _source_excludes.
type sourceFilter struct {
	disabled bool
	includes []string
	excludes []string
}

func (f sourceFilter) active() bool { return len(f.includes) > 0 || len(f.excludes) > 0 }

func (rq *request) sourceFilter() (sourceFilter, *esError) {
	var f sourceFilter
	if v, ok := rq.q["_source"]; ok {
		switch v[0] {
		case "true", "":
		case "false":
			f.disabled = true
		default:
			f.includes = splitList(v[0])
		}
	}
	if v := rq.param("_source_includes"); v != "" {
		f.includes = splitList(v)
	}
	if v := rq.param("_source_excludes"); v != "" {
		f.excludes = splitList(v)
	}
	return f, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseSourceFilterJSON parses a search body's _source.
func parseSourceFilterJSON(v any) (sourceFilter, *esError) {
	var f sourceFilter
	switch t := v.(type) {
	case bool:
		f.disabled = !t
	case string:
		f.includes = []string{t}
	case []any:
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return f, errParsing("[_source] must be a boolean, string, array or object")
			}
			f.includes = append(f.includes, s)
		}
	case map[string]any:
		for k, val := range t {
			var list []string
			switch lv := val.(type) {
			case string:
				list = []string{lv}
			case []any:
				for _, e := range lv {
					if s, ok := e.(string); ok {
						list = append(list, s)
					}
				}
			}
			switch k {
			case "includes", "include":
				f.includes = list
			case "excludes", "exclude":
				f.excludes = list
			default:
				return f, errParsing("Unknown key for a START_ARRAY in [_source]: [%s].", k)
			}
		}
	case nil:
	default:
		return f, errParsing("[_source] must be a boolean, string, array or object")
	}
	return f, nil
}

// apply filters a source document.
func (f sourceFilter) apply(src []byte) storedSource {
	if !f.active() {
		return src
	}
	m, err := parseSource(src)
	if err != nil {
		return src
	}
	out := filterObject(m, "", f)
	b, err := json.Marshal(out)
	if err != nil {
		return src
	}
	return b
}

func filterObject(m map[string]any, prefix string, f sourceFilter) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		p := prefix + k
		if matchesAny(f.excludes, p) {
			continue
		}
		inc := len(f.includes) == 0 || matchesAny(f.includes, p)
		switch t := v.(type) {
		case map[string]any:
			if inc && len(f.excludes) == 0 {
				out[k] = t
				continue
			}
			if inc || prefixOfAny(f.includes, p) {
				sub := f
				if inc {
					sub.includes = nil
				}
				if r := filterObject(t, p+".", sub); len(r) > 0 || inc {
					out[k] = r
				}
			}
		case []any:
			if inc {
				out[k] = filterArray(t, p, f, true)
			} else if prefixOfAny(f.includes, p) {
				if r := filterArray(t, p, f, false); len(r) > 0 {
					out[k] = r
				}
			}
		default:
			if inc {
				out[k] = v
			}
		}
	}
	return out
}

func filterArray(arr []any, p string, f sourceFilter, included bool) []any {
	var out []any
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok {
			sub := f
			if included {
				sub.includes = nil
			}
			if r := filterObject(m, p+".", sub); len(r) > 0 || included {
				out = append(out, r)
			}
		} else if included {
			out = append(out, e)
		}
	}
	if out == nil {
		out = []any{}
	}
	return out
}

func matchesAny(pats []string, p string) bool {
	for _, pat := range pats {
		if wildcardMatch(pat, p) || strings.HasPrefix(p, pat+".") {
			return true
		}
	}
	return false
}

func prefixOfAny(pats []string, p string) bool {
	for _, pat := range pats {
		if strings.HasPrefix(pat, p+".") || (strings.Contains(pat, "*") && wildcardMatch(pat, p+".x")) {
			return true
		}
	}
	return false
}

// getDocResponse renders a GET result.
func getDocResponse(ix *index, id string, g getResult, f sourceFilter) map[string]any {
	if !g.found {
		return map[string]any{"_index": ix.name, "_id": id, "found": false}
	}
	out := map[string]any{"_index": ix.name, "_id": id, "_version": g.version, "_seq_no": g.seqNo,
		"_primary_term": primaryTerm, "found": true}
	if !f.disabled && g.src != nil {
		out["_source"] = f.apply(g.src)
	}
	return out
}

// handleGetDoc is GET/HEAD /{index}/_doc/{id} and /{index}/_source/{id}.
func (e *Engine) handleGetDoc(rq *request, name, id string, sourceOnly bool) (int, any, *esError) {
	if err := rq.allow("_source", "_source_includes", "_source_excludes", "realtime", "refresh", "routing", "preference", "stored_fields", "version", "version_type"); err != nil {
		return 0, nil, err
	}
	f, err := rq.sourceFilter()
	if err != nil {
		return 0, nil, err
	}
	ix, err := e.readIndex(name)
	if err != nil {
		return 0, nil, err
	}
	if r, _ := rq.boolParam("refresh", false); r {
		if rerr := ix.refresh(); rerr != nil {
			return 0, nil, asESError(rerr)
		}
	}
	get := ix.get
	if rt, _ := rq.boolParam("realtime", true); !rt {
		get = ix.getSearchable
	}
	g, gerr := get(id)
	if gerr != nil {
		return 0, nil, asESError(gerr)
	}
	if !ix.mapping.Load().sourceEnabled() {
		g.src = nil
	}
	if v := rq.param("version"); v != "" && g.found {
		want, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil {
			return 0, nil, errIllegalArgument("Failed to parse long parameter [version] with value [%s]", v)
		}
		if want != g.version {
			return 0, nil, errVersionConflict(ix, id, formatf("current version [%d] is different than the one provided [%d]", g.version, want))
		}
	}
	if sourceOnly {
		if !g.found {
			return 0, nil, &esError{Status: 404, Type: "resource_not_found_exception", Reason: "Document not found [" + ix.name + "]/[" + id + "]"}
		}
		if g.src == nil {
			return 0, nil, &esError{Status: 404, Type: "resource_not_found_exception", Reason: "Source not found [" + ix.name + "]/[" + id + "]"}
		}
		if rq.r.Method == http.MethodHead {
			return 200, nil, nil
		}
		rq.w.Header().Set("Content-Type", rq.contentType())
		rq.w.WriteHeader(200)
		_, _ = rq.w.Write(f.apply(g.src))
		return 0, nil, nil
	}
	status := 200
	if !g.found {
		status = 404
	}
	return status, getDocResponse(ix, id, g, f), nil
}

// handleMget is GET/POST /_mget and /{index}/_mget.
func (e *Engine) handleMget(rq *request, defIndex string) (int, any, *esError) {
	if err := rq.allow("_source", "_source_includes", "_source_excludes", "realtime", "refresh", "routing", "preference", "stored_fields"); err != nil {
		return 0, nil, err
	}
	body, err := rq.decodeBody()
	if err != nil {
		return 0, nil, err
	}
	defFilter, err := rq.sourceFilter()
	if err != nil {
		return 0, nil, err
	}
	type item struct {
		index, id string
		filter    sourceFilter
	}
	var items []item
	if docs, ok := body["docs"].([]any); ok {
		for _, d := range docs {
			dm, ok := d.(map[string]any)
			if !ok {
				return 0, nil, errParsing("docs array element should include an object")
			}
			it := item{index: defIndex, filter: defFilter}
			if v, ok := dm["_index"].(string); ok {
				it.index = v
			}
			it.id = jsonString(dm["_id"])
			if dm["_id"] == nil {
				return 0, nil, errActionValidation("id is missing for doc 0")
			}
			if sv, ok := dm["_source"]; ok {
				sf, serr := parseSourceFilterJSON(sv)
				if serr != nil {
					return 0, nil, serr
				}
				it.filter = sf
			}
			if it.index == "" {
				return 0, nil, errActionValidation("index is missing for doc 0")
			}
			items = append(items, it)
		}
	} else if ids, ok := body["ids"].([]any); ok {
		if defIndex == "" {
			return 0, nil, errActionValidation("index is missing for doc 0")
		}
		for _, id := range ids {
			items = append(items, item{index: defIndex, id: jsonString(id), filter: defFilter})
		}
	} else {
		return 0, nil, errActionValidation("no documents to get")
	}
	refresh, _ := rq.boolParam("refresh", false)
	out := make([]any, 0, len(items))
	for _, it := range items {
		ix, ierr := e.readIndex(it.index)
		if ierr != nil {
			out = append(out, map[string]any{"_index": it.index, "_id": it.id, "error": ierr.body(true)})
			continue
		}
		if refresh {
			if rerr := ix.refresh(); rerr != nil {
				return 0, nil, asESError(rerr)
			}
		}
		g, gerr := ix.get(it.id)
		if gerr != nil {
			return 0, nil, asESError(gerr)
		}
		out = append(out, getDocResponse(ix, it.id, g, it.filter))
	}
	return 200, map[string]any{"docs": out}, nil
}

// updateRequest is the body of the update API.
type updateRequest struct {
	doc         map[string]any
	upsert      map[string]any
	docAsUpsert bool
	detectNoop  bool
	source      *sourceFilter
}

func parseUpdateBody(body map[string]any) (*updateRequest, *esError) {
	u := &updateRequest{detectNoop: true}
	for k, v := range body {
		switch k {
		case "doc":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, errParsing("[update] failed to parse field [doc]")
			}
			u.doc = m
		case "upsert":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, errParsing("[update] failed to parse field [upsert]")
			}
			u.upsert = m
		case "doc_as_upsert":
			b, ok := toBool(v)
			if !ok {
				return nil, errParsing("[update] failed to parse field [doc_as_upsert]")
			}
			u.docAsUpsert = b
		case "detect_noop":
			b, ok := toBool(v)
			if !ok {
				return nil, errParsing("[update] failed to parse field [detect_noop]")
			}
			u.detectNoop = b
		case "_source":
			f, err := parseSourceFilterJSON(v)
			if err != nil {
				return nil, err
			}
			u.source = &f
		case "script", "scripted_upsert":
			return nil, errUnsupported("scripted updates ([" + k + "])")
		default:
			return nil, errParsing("[UpdateRequest] unknown field [%s]%s", k, didYouMean(k, []string{"doc", "upsert", "doc_as_upsert", "detect_noop", "_source", "script", "scripted_upsert"}))
		}
	}
	if u.doc == nil && u.upsert == nil {
		return nil, errActionValidation("script or doc is missing")
	}
	if u.doc == nil && u.docAsUpsert {
		return nil, errActionValidation("doc must be specified if doc_as_upsert is enabled")
	}
	return u, nil
}

// mergeDoc deep-merges patch into base (objects merge, everything else replaces).
func mergeDoc(base, patch map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(patch))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range patch {
		if pm, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = mergeDoc(bm, pm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// update runs one update (API or bulk item) with retries on concurrent changes.
func (e *Engine) update(ix *index, id string, u *updateRequest, p writeParams, retries int, now time.Time) (writeResult, []byte, *esError) {
	for attempt := 0; ; attempt++ {
		g, gerr := ix.get(id)
		if gerr != nil {
			return writeResult{}, nil, asESError(gerr)
		}
		var op *writeOp
		var err *esError
		var src map[string]any
		if !g.found {
			switch {
			case u.upsert != nil:
				src = u.upsert
			case u.docAsUpsert:
				src = u.doc
			default:
				return writeResult{}, nil, &esError{Status: 404, Type: "document_missing_exception",
					Reason: "[" + id + "]: document missing", Index: ix.name, IndexUUID: ix.uuid, Shard: true}
			}
			op, err = writeParams{ifSeqNo: p.ifSeqNo, ifPrimaryTerm: p.ifPrimaryTerm}.toOp(opCreate, id)
			if err != nil {
				return writeResult{}, nil, err
			}
			if op.hasIfSeqNo {
				op.kind = opIndex
			}
		} else {
			cur, perr := parseSource(g.src)
			if perr != nil {
				return writeResult{}, nil, asESError(perr)
			}
			src = mergeDoc(cur, u.doc)
			if u.detectNoop && reflect.DeepEqual(src, cur) {
				if p.ifSeqNo != "" && p.ifSeqNo != strconv.FormatInt(g.seqNo, 10) {
					return writeResult{}, nil, errVersionConflict(ix, id, formatf("required seqNo [%s], primary term [%s]. current document has seqNo [%d] and primary term [%d]", p.ifSeqNo, p.ifPrimaryTerm, g.seqNo, primaryTerm))
				}
				return writeResult{version: g.version, seqNo: g.seqNo, result: "noop", status: 200}, g.src, nil
			}
			wp := writeParams{ifSeqNo: strconv.FormatInt(g.seqNo, 10), ifPrimaryTerm: "1"}
			if p.ifSeqNo != "" {
				wp = writeParams{ifSeqNo: p.ifSeqNo, ifPrimaryTerm: p.ifPrimaryTerm}
			}
			op, err = wp.toOp(opIndex, id)
			if err != nil {
				return writeResult{}, nil, err
			}
		}
		raw, merr := json.Marshal(src)
		if merr != nil {
			return writeResult{}, nil, errIllegalArgument("update [%s]: %v", id, merr)
		}
		op.src = raw
		op.parsed = src
		res, werr := e.writeDoc(ix, op, now)
		if werr != nil {
			if werr.Type == "version_conflict_engine_exception" && p.ifSeqNo == "" && attempt < retries {
				continue
			}
			return res, nil, werr
		}
		return res, raw, nil
	}
}

// handleUpdate is POST /{index}/_update/{id}.
func (e *Engine) handleUpdate(rq *request, name, id string) (int, any, *esError) {
	if err := rq.allow("if_seq_no", "if_primary_term", "refresh", "retry_on_conflict", "routing", "timeout", "wait_for_active_shards", "_source", "_source_includes", "_source_excludes", "require_alias", "lang", "include_source_on_error"); err != nil {
		return 0, nil, err
	}
	pol, err := rq.refreshPolicy()
	if err != nil {
		return 0, nil, err
	}
	body, err := rq.decodeBody()
	if err != nil {
		return 0, nil, err
	}
	u, err := parseUpdateBody(body)
	if err != nil {
		return 0, nil, err
	}
	retries := 0
	if v := rq.param("retry_on_conflict"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 {
			return 0, nil, errIllegalArgument("Failed to parse int parameter [retry_on_conflict] with value [%s]", v)
		}
		retries = n
	}
	p := rq.writeParams()
	if _, verr := p.toOp(opIndex, id); verr != nil {
		return 0, nil, verr
	}
	sf, _ := rq.sourceFilter()
	if u.source != nil {
		sf = *u.source
	}
	wantSource := rq.has("_source") || rq.has("_source_includes") || rq.has("_source_excludes") || u.source != nil
	if err := e.checkRequireAlias(rq, name); err != nil {
		return 0, nil, err
	}
	ix, err := e.writeTarget(name)
	if err != nil {
		return 0, nil, err
	}
	res, src, err := e.update(ix, id, u, p, retries, time.Now())
	if err != nil {
		return 0, nil, err
	}
	if res.result != "noop" && e.store != nil {
		if serr := e.store.syncTo(res.walOff); serr != nil {
			return 0, nil, asESError(serr)
		}
	}
	if res.result != "noop" {
		if err := rq.afterWrite(ix, pol, res.gen); err != nil {
			return 0, nil, err
		}
	}
	out := writeResponse(ix, id, res, pol == refreshImmediate && res.result != "noop")
	if res.result == "noop" {
		out["_shards"] = map[string]any{"total": 0, "successful": 0, "failed": 0}
	}
	if wantSource && !sf.disabled {
		out["get"] = map[string]any{"_seq_no": res.seqNo, "_primary_term": primaryTerm, "found": true, "_source": sf.apply(src)}
	}
	return res.status, out, nil
}

// didYouMean suggests the closest known name, as Elasticsearch's parsers do.
func didYouMean(got string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(got, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return " did you mean [" + best + "]?"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
