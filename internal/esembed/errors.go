package esembed

import (
	"fmt"
	"net/http"
)

// esError is an Elasticsearch error: it renders as {"error":{...},"status":N} with the same
// types, reasons and status codes as Elasticsearch 8, so clients branch on them unchanged.
type esError struct {
	Status    int
	Type      string
	Reason    string
	Index     string         // adds "index" and "index_uuid" when set
	IndexUUID string         // defaults to "_na_" when Index is set
	Shard     bool           // adds "shard":"0"
	Extra     map[string]any // further fields (resource.type, resource.id, ...)
	CausedBy  *esError
	// RootCause overrides the root cause list (search_phase_execution_exception wraps the
	// shard failure as its root cause).
	RootCause []*esError
}

func (e *esError) Error() string { return e.Type + ": " + e.Reason }

// body renders the inner error object.
func (e *esError) body(withRoot bool) map[string]any {
	m := make(map[string]any, 8)
	if withRoot {
		roots := e.RootCause
		if len(roots) == 0 {
			roots = []*esError{e.rootLeaf()}
		}
		rc := make([]any, 0, len(roots))
		for _, r := range roots {
			rc = append(rc, r.body(false))
		}
		m["root_cause"] = rc
	}
	m["type"] = e.Type
	m["reason"] = e.Reason
	if e.Index != "" {
		m["index"] = e.Index
		uuid := e.IndexUUID
		if uuid == "" {
			uuid = "_na_"
		}
		m["index_uuid"] = uuid
	}
	if e.Shard {
		m["shard"] = "0"
	}
	for k, v := range e.Extra {
		m[k] = v
	}
	if e.CausedBy != nil {
		m["caused_by"] = e.CausedBy.body(false)
	}
	return m
}

// rootLeaf is the error reported as root cause: Elasticsearch reports the outermost
// exception unless it wraps another one for the REST layer only.
func (e *esError) rootLeaf() *esError {
	c := *e
	c.CausedBy = nil
	c.RootCause = nil
	return &c
}

func (e *esError) response() map[string]any {
	return map[string]any{"error": e.body(true), "status": e.Status}
}

func errIndexNotFound(name string) *esError {
	return &esError{Status: http.StatusNotFound, Type: "index_not_found_exception",
		Reason: "no such index [" + name + "]", Index: name,
		Extra: map[string]any{"resource.type": "index_or_alias", "resource.id": name}}
}

func errAlreadyExists(name, uuid string) *esError {
	return &esError{Status: http.StatusBadRequest, Type: "resource_already_exists_exception",
		Reason: "index [" + name + "/" + uuid + "] already exists", Index: name, IndexUUID: uuid}
}

func errIllegalArgument(format string, args ...any) *esError {
	return &esError{Status: http.StatusBadRequest, Type: "illegal_argument_exception", Reason: fmt.Sprintf(format, args...)}
}

func errParsing(format string, args ...any) *esError {
	return &esError{Status: http.StatusBadRequest, Type: "parsing_exception", Reason: fmt.Sprintf(format, args...)}
}

func errMapperParsing(format string, args ...any) *esError {
	return &esError{Status: http.StatusBadRequest, Type: "mapper_parsing_exception", Reason: fmt.Sprintf(format, args...)}
}

// errDocParsing is a document that doesn't fit its mapping (Elasticsearch 8.8+ reports
// document_parsing_exception where older versions said mapper_parsing_exception).
func errDocParsing(format string, args ...any) *esError {
	return &esError{Status: http.StatusBadRequest, Type: "document_parsing_exception", Reason: fmt.Sprintf(format, args...)}
}

func errActionValidation(reasons ...string) *esError {
	r := "Validation Failed: "
	for i, s := range reasons {
		r += fmt.Sprintf("%d: %s;", i+1, s)
	}
	return &esError{Status: http.StatusBadRequest, Type: "action_request_validation_exception", Reason: r}
}

func errVersionConflict(ix *index, id, reason string) *esError {
	return &esError{Status: http.StatusConflict, Type: "version_conflict_engine_exception",
		Reason: "[" + id + "]: version conflict, " + reason, Index: ix.name, IndexUUID: ix.uuid, Shard: true}
}

// errSearchPhase wraps a shard-level failure the way a failed search reports it.
func errSearchPhase(cause *esError) *esError {
	return &esError{Status: http.StatusBadRequest, Type: "search_phase_execution_exception",
		Reason: "all shards failed", RootCause: []*esError{cause},
		Extra: map[string]any{"phase": "query", "grouped": true, "failed_shards": []any{
			map[string]any{"shard": 0, "index": cause.Index, "node": nodeID, "reason": cause.body(false)},
		}}, CausedBy: cause}
}

func errUnsupported(what string) *esError {
	return errIllegalArgument("%s is not supported by the embedded engine", what)
}

func formatf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
