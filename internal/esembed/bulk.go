package esembed

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// bulkItem is one parsed action of a bulk request.
type bulkItem struct {
	action       string // index, create, update, delete
	index        string
	id           string
	params       writeParams
	retries      int
	src          []byte
	update       *updateRequest
	err          *esError // item-level validation error
	requireAlias *bool
	wantSource   bool
	sourceFilter sourceFilter
}

// bulkMeta is an action/metadata line.
type bulkMeta struct {
	Index                 *string          `json:"_index"`
	ID                    *json.RawMessage `json:"_id"`
	Version               *json.Number     `json:"version"`
	VersionType           string           `json:"version_type"`
	IfSeqNo               *json.Number     `json:"if_seq_no"`
	IfPrimaryTerm         *json.Number     `json:"if_primary_term"`
	Routing               *string          `json:"routing"`
	RetryOnConflict       *int             `json:"retry_on_conflict"`
	RequireAlias          *bool            `json:"require_alias"`
	Pipeline              *string          `json:"pipeline"`
	Source                json.RawMessage  `json:"_source"`
	DynamicTemplates      json.RawMessage  `json:"dynamic_templates"`
	OpType                string           `json:"op_type"`
	ListExecutedPipelines *bool            `json:"list_executed_pipelines"`
}

var bulkMetaFields = map[string]bool{"_index": true, "_id": true, "version": true, "version_type": true,
	"if_seq_no": true, "if_primary_term": true, "routing": true, "retry_on_conflict": true, "require_alias": true,
	"pipeline": true, "_source": true, "dynamic_templates": true, "op_type": true, "list_executed_pipelines": true}

// parseBulk splits an NDJSON bulk body into items. Malformed action lines fail the whole
// request as in Elasticsearch; per-item problems are reported on the item.
func parseBulk(body []byte, defIndex string) ([]bulkItem, *esError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errActionValidation("no requests added")
	}
	if body[len(body)-1] != '\n' {
		return nil, errIllegalArgument("The bulk request must be terminated by a newline [\\n]")
	}
	var items []bulkItem
	line := 0
	for len(body) > 0 {
		nl := bytes.IndexByte(body, '\n')
		cur := body[:nl]
		body = body[nl+1:]
		line++
		if len(bytes.TrimSpace(cur)) == 0 {
			continue
		}
		var action map[string]json.RawMessage
		if err := json.Unmarshal(cur, &action); err != nil || action == nil {
			return nil, errIllegalArgument("Malformed action/metadata line [%d], expected START_OBJECT or END_OBJECT but found [%s]", line, tokenName(cur))
		}
		if len(action) == 0 {
			return nil, errIllegalArgument("Malformed action/metadata line [%d], expected FIELD_NAME but found [END_OBJECT]", line)
		}
		if len(action) != 1 {
			return nil, errIllegalArgument("Malformed action/metadata line [%d], expected a simple value for field [%s] but found [START_OBJECT]", line, firstKey(action))
		}
		var it bulkItem
		var rawMeta json.RawMessage
		for k, v := range action {
			it.action, rawMeta = k, v
		}
		switch it.action {
		case "index", "create", "update", "delete":
		default:
			return nil, errIllegalArgument("Malformed action/metadata line [%d], expected field [create], [delete], [index] or [update] but found [%s]", line, it.action)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(rawMeta, &fields); err != nil {
			return nil, errIllegalArgument("Malformed action/metadata line [%d], expected START_OBJECT but found [%s]", line, tokenName(rawMeta))
		}
		for k := range fields {
			if !bulkMetaFields[k] {
				return nil, errIllegalArgument("Action/metadata line [%d] contains an unknown parameter [%s]", line, k)
			}
		}
		var meta bulkMeta
		dec := json.NewDecoder(bytes.NewReader(rawMeta))
		dec.UseNumber()
		if err := dec.Decode(&meta); err != nil {
			return nil, errIllegalArgument("Malformed action/metadata line [%d]: %v", line, err)
		}
		if meta.OpType != "" {
			switch {
			case meta.OpType == "create" && it.action == "index":
				it.action = "create"
			case meta.OpType == "index" || meta.OpType == it.action:
			default:
				return nil, errIllegalArgument("Malformed action/metadata line [%d], op_type [%s] is not valid for action [%s]", line, meta.OpType, it.action)
			}
		}
		it.index = defIndex
		if meta.Index != nil {
			it.index = *meta.Index
		}
		if meta.ID != nil {
			var id any
			d := json.NewDecoder(bytes.NewReader(*meta.ID))
			d.UseNumber()
			if err := d.Decode(&id); err == nil && id != nil {
				it.id = jsonString(id)
				if it.id == "" {
					it.err = errIllegalArgument("if _id is specified it must not be empty")
				}
			}
		}
		if meta.Version != nil {
			it.params.version = meta.Version.String()
		}
		it.params.versionType = meta.VersionType
		if meta.IfSeqNo != nil {
			it.params.ifSeqNo = meta.IfSeqNo.String()
		}
		if meta.IfPrimaryTerm != nil {
			it.params.ifPrimaryTerm = meta.IfPrimaryTerm.String()
		}
		if meta.RetryOnConflict != nil {
			it.retries = *meta.RetryOnConflict
		}
		it.requireAlias = meta.RequireAlias
		if len(meta.Source) > 0 {
			var sv any
			if err := json.Unmarshal(meta.Source, &sv); err == nil {
				if sf, serr := parseSourceFilterJSON(sv); serr == nil {
					it.wantSource, it.sourceFilter = !sf.disabled, sf
				}
			}
		}
		if meta.Pipeline != nil && *meta.Pipeline != "" && *meta.Pipeline != "_none" {
			it.err = errUnsupported("ingest pipelines ([pipeline] in bulk)")
		}
		if it.action != "delete" {
			if len(body) == 0 {
				return nil, errIllegalArgument("The bulk request must be terminated by a newline [\\n]")
			}
			nl := bytes.IndexByte(body, '\n')
			src := bytes.TrimSpace(body[:nl])
			body = body[nl+1:]
			line++
			if it.action == "update" {
				m, err := decodeObject(src)
				if err != nil {
					it.err = err
				} else if u, uerr := parseUpdateBody(m); uerr != nil {
					it.err = uerr
				} else {
					it.update = u
				}
			} else {
				it.src = src
			}
		}
		if it.index == "" {
			return nil, errActionValidation("index is missing")
		}
		items = append(items, it)
	}
	return items, nil
}

func firstKey(m map[string]json.RawMessage) string {
	for k := range m {
		return k
	}
	return ""
}

func tokenName(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "null"
	}
	switch b[0] {
	case '[':
		return "START_ARRAY"
	case '"':
		return "VALUE_STRING"
	case '{':
		return "START_OBJECT"
	case 't', 'f':
		return "VALUE_BOOLEAN"
	case 'n':
		return "VALUE_NULL"
	}
	return "VALUE_NUMBER"
}

func decodeObject(b []byte) (map[string]any, *esError) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errParsing("failed to parse object")
	}
	return m, nil
}

// handleBulk is POST /_bulk and /{index}/_bulk.
func (e *Engine) handleBulk(rq *request, defIndex string) (int, any, *esError) {
	if err := rq.allow("refresh", "routing", "timeout", "wait_for_active_shards", "require_alias", "require_data_stream", "pipeline", "_source", "_source_includes", "_source_excludes", "list_executed_pipelines", "include_source_on_error"); err != nil {
		return 0, nil, err
	}
	if rq.param("pipeline") != "" {
		return 0, nil, errUnsupported("ingest pipelines ([pipeline] parameter)")
	}
	pol, err := rq.refreshPolicy()
	if err != nil {
		return 0, nil, err
	}
	items, err := parseBulk(rq.body, defIndex)
	if err != nil {
		return 0, nil, err
	}
	requireAlias, _ := rq.boolParam("require_alias", false)
	if rq.has("_source") || rq.has("_source_includes") || rq.has("_source_excludes") {
		sf, _ := rq.sourceFilter()
		for i := range items {
			if items[i].action == "update" && !items[i].wantSource {
				items[i].wantSource, items[i].sourceFilter = !sf.disabled, sf
			}
		}
	}
	now := time.Now()
	results := make([]any, len(items))
	hasErrors := false
	touched := map[*index]uint64{}
	var walOff uint64
	var order []*index
	for i := range items {
		it := &items[i]
		ra := requireAlias
		if it.requireAlias != nil {
			ra = *it.requireAlias
		}
		res, ix, ierr := e.bulkOne(it, ra, now)
		entry := map[string]any{"_index": it.index, "_id": it.id}
		if ix != nil {
			entry["_index"] = ix.name
		}
		if ierr != nil {
			hasErrors = true
			entry["status"] = ierr.Status
			entry["error"] = ierr.body(false)
			results[i] = map[string]any{it.action: entry}
			continue
		}
		entry["_version"] = res.version
		entry["result"] = res.result
		entry["_shards"] = writeShards(ix)
		entry["_seq_no"] = res.seqNo
		entry["_primary_term"] = primaryTerm
		entry["status"] = res.status
		if pol == refreshImmediate {
			entry["forced_refresh"] = true
		}
		if res.result == "noop" {
			entry["_shards"] = map[string]any{"total": 0, "successful": 0, "failed": 0}
		}
		if it.action == "update" {
			sf, want := it.sourceFilter, it.wantSource
			if it.update != nil && it.update.source != nil {
				sf, want = *it.update.source, !it.update.source.disabled
			}
			if want && it.src != nil {
				entry["get"] = map[string]any{"_seq_no": res.seqNo, "_primary_term": primaryTerm, "found": true, "_source": sf.apply(it.src)}
			}
		}
		results[i] = map[string]any{it.action: entry}
		if res.result != "noop" {
			if _, ok := touched[ix]; !ok {
				order = append(order, ix)
			}
			if res.gen > touched[ix] {
				touched[ix] = res.gen
			}
			if res.walOff > walOff {
				walOff = res.walOff
			}
		}
	}
	if e.store != nil {
		if serr := e.store.syncTo(walOff); serr != nil {
			return 0, nil, asESError(serr)
		}
	}
	for _, ix := range order {
		if err := rq.afterWrite(ix, pol, touched[ix]); err != nil {
			return 0, nil, err
		}
	}
	return 200, map[string]any{"took": rq.took(), "errors": hasErrors, "items": results}, nil
}

func kindOf(action string) opKind {
	switch action {
	case "delete":
		return opDelete
	case "create":
		return opCreate
	}
	return opIndex
}

func (e *Engine) bulkOne(it *bulkItem, requireAlias bool, now time.Time) (writeResult, *index, *esError) {
	if it.err != nil {
		return writeResult{}, nil, it.err
	}
	if requireAlias {
		e.mu.RLock()
		_, ok := e.aliases[it.index]
		e.mu.RUnlock()
		if !ok {
			return writeResult{}, nil, &esError{Status: 404, Type: "index_not_found_exception", Reason: "no such index [" + it.index + "] and [require_alias] request flag is [true] and [" + it.index + "] is not an alias", Index: it.index}
		}
	}
	var ix *index
	var err *esError
	if it.action == "delete" {
		e.mu.RLock()
		ix, err = e.writeIndexLocked(it.index)
		e.mu.RUnlock()
		if err == nil && ix == nil {
			err = errIndexNotFound(it.index)
		}
	} else {
		ix, err = e.writeTarget(it.index)
	}
	if err != nil {
		return writeResult{}, nil, err
	}
	switch it.action {
	case "update":
		if it.id == "" {
			return writeResult{}, ix, errActionValidation("id is missing")
		}
		res, src, uerr := e.update(ix, it.id, it.update, it.params, it.retries, now)
		it.src = src
		return res, ix, uerr
	case "delete":
		if it.id == "" {
			return writeResult{}, ix, errActionValidation("id is missing")
		}
	default:
		if it.id == "" {
			it.id = newDocID()
			if it.action == "index" {
				it.params.opType = "create"
			}
		}
	}
	op, oerr := it.params.toOp(kindOf(it.action), it.id)
	if oerr != nil {
		return writeResult{}, ix, oerr
	}
	op.src = it.src
	res, werr := e.writeDoc(ix, op, now)
	return res, ix, werr
}

var _ = strconv.Itoa
