package esembed

import (
	"net/http"
	"strconv"
	"strings"
)

var createIndexParams = []string{"wait_for_active_shards", "timeout", "master_timeout", "include_type_name"}

// handleCreateIndex is PUT /{index}.
func (e *Engine) handleCreateIndex(rq *request, name string) (int, any, *esError) {
	if err := rq.allow(createIndexParams...); err != nil {
		return 0, nil, err
	}
	body, err := rq.decodeBody()
	if err != nil {
		return 0, nil, err
	}
	req, err := parseCreateIndexBody(body)
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ix, err := e.createIndexLocked(name, req, "", 0)
	if err != nil {
		return 0, nil, err
	}
	if e.store != nil {
		ix.wal.Store(e.store.wal)
		if serr := e.store.logCreate(ix); serr != nil {
			return 0, nil, asESError(serr)
		}
		if len(req.aliases) > 0 {
			if serr := e.store.logAliases(e); serr != nil {
				return 0, nil, asESError(serr)
			}
		}
	}
	return 200, map[string]any{"acknowledged": true, "shards_acknowledged": true, "index": name}, nil
}

func (rq *request) resolveOpts(defAllowNo bool) (resolveOptions, *esError) {
	o := resolveOptions{allowNoIndices: defAllowNo}
	var err *esError
	if o.ignoreUnavailable, err = rq.boolParam("ignore_unavailable", false); err != nil {
		return o, err
	}
	if o.allowNoIndices, err = rq.boolParam("allow_no_indices", defAllowNo); err != nil {
		return o, err
	}
	if ew := rq.param("expand_wildcards"); ew != "" {
		for _, w := range strings.Split(ew, ",") {
			switch w {
			case "all", "hidden":
				o.expandHidden = true
			case "open", "closed", "none":
			default:
				return o, errIllegalArgument("No enum constant org.elasticsearch.action.support.IndicesOptions.WildcardStates.%s", strings.ToUpper(w))
			}
		}
	}
	return o, nil
}

var resolveParams = []string{"ignore_unavailable", "allow_no_indices", "expand_wildcards"}

func (e *Engine) indexInfo(ix *index, features string) map[string]any {
	out := map[string]any{}
	if features == "" || strings.Contains(features, "aliases") {
		out["aliases"] = e.aliasesOfLocked(ix.name)
	}
	if features == "" || strings.Contains(features, "mappings") {
		out["mappings"] = ix.mapping.Load().render()
	}
	if features == "" || strings.Contains(features, "settings") {
		out["settings"] = ix.settings.Load().render()
	}
	return out
}

func (e *Engine) aliasesOfLocked(name string) map[string]any {
	out := map[string]any{}
	for alias, m := range e.aliases {
		if p, ok := m[name]; ok {
			out[alias] = renderAliasProps(p)
		}
	}
	return out
}

func renderAliasProps(p *aliasProps) map[string]any {
	out := map[string]any{}
	if p.IsWriteIndex != nil {
		out["is_write_index"] = *p.IsWriteIndex
	}
	if p.IsHidden != nil {
		out["is_hidden"] = *p.IsHidden
	}
	if p.Filter != nil {
		out["filter"] = p.Filter
	}
	if p.IndexRouting != "" {
		out["index_routing"] = p.IndexRouting
	}
	if p.SearchRouting != "" {
		out["search_routing"] = p.SearchRouting
	}
	return out
}

// handleGetIndex is GET /{index}.
func (e *Engine) handleGetIndex(rq *request, expr string) (int, any, *esError) {
	if err := rq.allow(append(resolveParams, "include_defaults", "flat_settings", "local", "master_timeout", "features", "include_type_name")...); err != nil {
		return 0, nil, err
	}
	opt, err := rq.resolveOpts(true)
	if err != nil {
		return 0, nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	ixs, _, err := e.resolveLocked(expr, opt)
	if err != nil {
		return 0, nil, err
	}
	out := map[string]any{}
	for _, ix := range ixs {
		info := e.indexInfo(ix, rq.param("features"))
		if flat, _ := rq.boolParam("flat_settings", false); flat {
			if _, ok := info["settings"]; ok {
				info["settings"] = ix.settings.Load().renderFlat()
			}
		}
		out[ix.name] = info
	}
	return 200, out, nil
}

// handleHeadIndex is HEAD /{index}.
func (e *Engine) handleHeadIndex(rq *request, expr string) (int, any, *esError) {
	if err := rq.allow(append(resolveParams, "include_defaults", "flat_settings", "local", "master_timeout", "features")...); err != nil {
		return 0, nil, err
	}
	opt, err := rq.resolveOpts(false)
	if err != nil {
		return 0, nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if _, _, err := e.resolveLocked(expr, opt); err != nil {
		return 404, nil, nil
	}
	return 200, nil, nil
}

// handleDeleteIndex is DELETE /{index}.
func (e *Engine) handleDeleteIndex(rq *request, expr string) (int, any, *esError) {
	if err := rq.allow(append(resolveParams, "timeout", "master_timeout")...); err != nil {
		return 0, nil, err
	}
	opt, err := rq.resolveOpts(true)
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, part := range strings.Split(expr, ",") {
		if _, isAlias := e.aliases[part]; isAlias && e.indices[part] == nil {
			return 0, nil, errIllegalArgument("The provided expression [%s] matches an alias, specify the corresponding concrete indices instead.", part)
		}
	}
	ixs, _, err := e.resolveLocked(expr, opt)
	if err != nil {
		return 0, nil, err
	}
	for _, ix := range ixs {
		if e.store != nil {
			if serr := e.store.logDelete(ix); serr != nil {
				return 0, nil, asESError(serr)
			}
		}
		e.deleteIndexLocked(ix.name)
	}
	return 200, map[string]any{"acknowledged": true}, nil
}

// handleGetMapping is GET /{index}/_mapping and GET /_mapping.
func (e *Engine) handleGetMapping(rq *request, expr string) (int, any, *esError) {
	if err := rq.allow(append(resolveParams, "local", "master_timeout", "include_type_name")...); err != nil {
		return 0, nil, err
	}
	opt, err := rq.resolveOpts(true)
	if err != nil {
		return 0, nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	ixs, _, err := e.resolveLocked(expr, opt)
	if err != nil {
		return 0, nil, err
	}
	out := map[string]any{}
	for _, ix := range ixs {
		out[ix.name] = map[string]any{"mappings": ix.mapping.Load().render()}
	}
	return 200, out, nil
}

// handlePutMapping is PUT /{index}/_mapping: it adds fields and updates _meta and dynamic.
func (e *Engine) handlePutMapping(rq *request, expr string) (int, any, *esError) {
	if err := rq.allow(append(resolveParams, "timeout", "master_timeout", "write_index_only", "include_type_name")...); err != nil {
		return 0, nil, err
	}
	body, err := rq.decodeBody()
	if err != nil {
		return 0, nil, err
	}
	if body == nil {
		return 0, nil, errActionValidation("mapping source is missing")
	}
	if _, typed := body["_doc"]; typed && len(body) == 1 {
		return 0, nil, errIllegalArgument("Types cannot be provided in put mapping requests")
	}
	opt, err := rq.resolveOpts(true)
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ixs, _, err := e.resolveLocked(expr, opt)
	if err != nil {
		return 0, nil, err
	}
	// Validate against every index first so the update is all or nothing.
	updated := make([]*mapping, len(ixs))
	for i, ix := range ixs {
		ix.mu.Lock()
		m := ix.mapping.Load().clone()
		merr := m.merge(body)
		ix.mu.Unlock()
		if merr != nil {
			return 0, nil, asESError(merr)
		}
		updated[i] = m
	}
	for i, ix := range ixs {
		ix.mu.Lock()
		// Dynamic updates may have happened since: merge again onto the latest mapping.
		m := ix.mapping.Load().clone()
		if merr := m.merge(body); merr != nil {
			m = updated[i]
		}
		ix.mapping.Store(m)
		ix.mu.Unlock()
		if e.store != nil {
			if serr := e.store.logMapping(ix); serr != nil {
				return 0, nil, asESError(serr)
			}
		}
	}
	return 200, map[string]any{"acknowledged": true}, nil
}

// handleGetSettings is GET /{index}/_settings[/{name}].
func (e *Engine) handleGetSettings(rq *request, expr, names string) (int, any, *esError) {
	if err := rq.allow(append(resolveParams, "flat_settings", "include_defaults", "local", "master_timeout")...); err != nil {
		return 0, nil, err
	}
	opt, err := rq.resolveOpts(true)
	if err != nil {
		return 0, nil, err
	}
	flat, err := rq.boolParam("flat_settings", false)
	if err != nil {
		return 0, nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	ixs, _, err := e.resolveLocked(expr, opt)
	if err != nil {
		return 0, nil, err
	}
	out := map[string]any{}
	for _, ix := range ixs {
		s := ix.settings.Load()
		if names != "" && names != "_all" {
			filtered := map[string]string{}
			for k, v := range s.flat {
				for _, n := range strings.Split(names, ",") {
					if wildcardMatch(n, k) || wildcardMatch("index."+n, k) {
						filtered[k] = v
					}
				}
			}
			s = &indexSettings{flat: filtered}
		}
		if flat {
			out[ix.name] = map[string]any{"settings": s.renderFlat()}
		} else {
			out[ix.name] = map[string]any{"settings": s.render()}
		}
	}
	return 200, out, nil
}

// handlePutSettings is PUT /{index}/_settings with dynamic settings.
func (e *Engine) handlePutSettings(rq *request, expr string) (int, any, *esError) {
	if err := rq.allow(append(resolveParams, "flat_settings", "preserve_existing", "timeout", "master_timeout", "reopen")...); err != nil {
		return 0, nil, err
	}
	body, err := rq.decodeBody()
	if err != nil {
		return 0, nil, err
	}
	if body == nil {
		return 0, nil, errActionValidation("no settings to update")
	}
	if inner, ok := body["settings"].(map[string]any); ok && len(body) == 1 {
		body = inner
	}
	upd, ferr := flattenSettings(body)
	if ferr != nil {
		return 0, nil, errIllegalArgument("%v", ferr)
	}
	if verr := validateSettingNames(upd, true); verr != nil {
		return 0, nil, verr
	}
	preserve, _ := rq.boolParam("preserve_existing", false)
	opt, err := rq.resolveOpts(true)
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ixs, _, err := e.resolveLocked(expr, opt)
	if err != nil {
		return 0, nil, err
	}
	next := make([]*indexSettings, len(ixs))
	for i, ix := range ixs {
		cur := ix.settings.Load()
		flat := make(map[string]string, len(cur.flat)+len(upd))
		for k, v := range cur.flat {
			flat[k] = v
		}
		for k, v := range upd {
			if preserve {
				if _, ok := flat[k]; ok {
					continue
				}
			}
			if v == "" {
				delete(flat, k) // null resets to the default
				continue
			}
			flat[k] = v
		}
		s, serr := buildSettings(flat)
		if serr != nil {
			return 0, nil, serr
		}
		next[i] = s
	}
	for i, ix := range ixs {
		ix.settings.Store(next[i])
		if e.store != nil {
			if serr := e.store.logSettings(ix); serr != nil {
				return 0, nil, asESError(serr)
			}
		}
	}
	return 200, map[string]any{"acknowledged": true}, nil
}

// handleRefresh is POST /{index}/_refresh.
func (e *Engine) handleRefresh(rq *request, expr string) (int, any, *esError) {
	if err := rq.allow(resolveParams...); err != nil {
		return 0, nil, err
	}
	opt, err := rq.resolveOpts(true)
	if err != nil {
		return 0, nil, err
	}
	e.mu.RLock()
	ixs, _, err := e.resolveLocked(expr, opt)
	e.mu.RUnlock()
	if err != nil {
		return 0, nil, err
	}
	for _, ix := range ixs {
		if rerr := ix.refresh(); rerr != nil {
			return 0, nil, asESError(rerr)
		}
	}
	return 200, map[string]any{"_shards": shardsHeader(len(ixs), len(ixs))}, nil
}

func shardsHeader(total, ok int) map[string]any {
	return map[string]any{"total": total, "successful": ok, "failed": 0}
}

// writeShards is the _shards header of a write: a primary plus unassigned replicas.
func writeShards(ix *index) map[string]any {
	rep, _ := strconv.Atoi(ix.settings.Load().flat["index.number_of_replicas"])
	return map[string]any{"total": 1 + rep, "successful": 1, "failed": 0}
}

// handleStats is a minimal GET /_stats: document counts per index.
func (e *Engine) handleStats(rq *request, expr string) (int, any, *esError) {
	if rq.r.Method != http.MethodGet {
		return 0, nil, methodNotAllowed(rq, "GET")
	}
	e.mu.RLock()
	ixs, _, err := e.resolveLocked(expr, resolveOptions{allowNoIndices: true})
	e.mu.RUnlock()
	if err != nil {
		return 0, nil, err
	}
	indices := map[string]any{}
	var total int64
	for _, ix := range ixs {
		n := ix.docCount()
		total += n
		indices[ix.name] = map[string]any{"uuid": ix.uuid, "primaries": map[string]any{"docs": map[string]any{"count": n, "deleted": 0}},
			"total": map[string]any{"docs": map[string]any{"count": n, "deleted": 0}}}
	}
	return 200, map[string]any{"_shards": shardsHeader(len(ixs), len(ixs)),
		"_all":    map[string]any{"primaries": map[string]any{"docs": map[string]any{"count": total}}, "total": map[string]any{"docs": map[string]any{"count": total}}},
		"indices": indices}, nil
}
