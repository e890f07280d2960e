package esembed

import (
	"sort"
	"strings"
)

// aliasAction is one action of POST /_aliases.
type aliasAction struct {
	kind      string // add, remove, remove_index
	indices   []string
	aliases   []string
	props     *aliasProps
	mustExist *bool
}

func stringOrList(m map[string]any, one, many string) ([]string, *esError) {
	var out []string
	if v, ok := m[one]; ok {
		s, ok := v.(string)
		if !ok {
			return nil, errParsing("[%s] must be a string", one)
		}
		out = append(out, s)
	}
	if v, ok := m[many]; ok {
		switch t := v.(type) {
		case []any:
			for _, e := range t {
				s, ok := e.(string)
				if !ok {
					return nil, errParsing("[%s] must be an array of strings", many)
				}
				out = append(out, s)
			}
		case string:
			out = append(out, t)
		default:
			return nil, errParsing("[%s] must be an array of strings", many)
		}
	}
	return out, nil
}

func parseAliasActions(body map[string]any) ([]aliasAction, *esError) {
	raw, ok := body["actions"].([]any)
	if !ok {
		return nil, errActionValidation("Must specify at least one alias action")
	}
	if len(raw) == 0 {
		return nil, errActionValidation("Must specify at least one alias action")
	}
	var out []aliasAction
	for _, r := range raw {
		am, ok := r.(map[string]any)
		if !ok || len(am) != 1 {
			return nil, errParsing("[alias_action] expected a single action")
		}
		for kind, v := range am {
			def, ok := v.(map[string]any)
			if !ok {
				return nil, errParsing("[%s] must be an object", kind)
			}
			a := aliasAction{kind: kind}
			var err *esError
			if a.indices, err = stringOrList(def, "index", "indices"); err != nil {
				return nil, err
			}
			for i, n := range a.indices {
				if a.indices[i], err = expandDateMath(n); err != nil {
					return nil, err
				}
			}
			switch kind {
			case "add", "remove":
				if a.aliases, err = stringOrList(def, "alias", "aliases"); err != nil {
					return nil, err
				}
				if len(a.aliases) == 0 {
					return nil, errActionValidation("[" + kind + "] requires an [alias] to be set")
				}
				for i, n := range a.aliases {
					if a.aliases[i], err = expandDateMath(n); err != nil {
						return nil, err
					}
				}
			case "remove_index":
			default:
				return nil, errParsing("Unknown alias action [%s]", kind)
			}
			if len(a.indices) == 0 {
				return nil, errActionValidation("One of [index] or [indices] is required")
			}
			props := &aliasProps{}
			for k, pv := range def {
				switch k {
				case "index", "indices", "alias", "aliases":
				case "must_exist":
					if kind != "remove" {
						return nil, errParsing("[%s] unknown field [must_exist]", kind)
					}
					b, ok := toBool(pv)
					if !ok {
						return nil, errParsing("[must_exist] must be a boolean")
					}
					a.mustExist = &b
				case "is_write_index", "is_hidden", "filter", "routing", "index_routing", "search_routing":
					if kind != "add" {
						return nil, errParsing("[%s] is unsupported for [%s]", k, kind)
					}
					p, perr := parseAliasProps(map[string]any{k: pv})
					if perr != nil {
						return nil, perr
					}
					mergeAliasProps(props, p)
				default:
					return nil, errParsing("[%s] unknown field [%s]", kind, k)
				}
			}
			a.props = props
			out = append(out, a)
		}
	}
	return out, nil
}

func mergeAliasProps(dst, src *aliasProps) {
	if src.IsWriteIndex != nil {
		dst.IsWriteIndex = src.IsWriteIndex
	}
	if src.IsHidden != nil {
		dst.IsHidden = src.IsHidden
	}
	if src.Filter != nil {
		dst.Filter = src.Filter
	}
	if src.IndexRouting != "" {
		dst.IndexRouting = src.IndexRouting
	}
	if src.SearchRouting != "" {
		dst.SearchRouting = src.SearchRouting
	}
}

// expandIndicesLocked expands index names/patterns of an alias action.
func (e *Engine) expandIndicesLocked(names []string, removed map[string]bool) ([]string, *esError) {
	var out []string
	for _, n := range names {
		if n == "_all" {
			n = "*"
		}
		if strings.Contains(n, "*") {
			for name := range e.indices {
				if wildcardMatch(n, name) && !removed[name] {
					out = append(out, name)
				}
			}
			continue
		}
		if _, ok := e.indices[n]; ok && !removed[n] {
			out = append(out, n)
			continue
		}
		if _, ok := e.aliases[n]; ok {
			return nil, errIllegalArgument("The provided expression [%s] matches an alias, specify the corresponding concrete indices instead.", n)
		}
		return nil, errIndexNotFound(n)
	}
	return out, nil
}

func cloneAliases(a map[string]map[string]*aliasProps) map[string]map[string]*aliasProps {
	out := make(map[string]map[string]*aliasProps, len(a))
	for k, m := range a {
		c := make(map[string]*aliasProps, len(m))
		for i, p := range m {
			c[i] = p
		}
		out[k] = c
	}
	return out
}

// handleAliasActions is POST /_aliases: every action applies or none does.
func (e *Engine) handleAliasActions(rq *request) (int, any, *esError) {
	if err := rq.allow("timeout", "master_timeout"); err != nil {
		return 0, nil, err
	}
	body, err := rq.decodeBody()
	if err != nil {
		return 0, nil, err
	}
	actions, err := parseAliasActions(body)
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	next := cloneAliases(e.aliases)
	removed := map[string]bool{}
	results := make([]map[string]any, len(actions))
	partial := false
	for ai, a := range actions {
		results[ai] = map[string]any{"action": map[string]any{"type": a.kind, "indices": a.indices, "aliases": a.aliases}, "status": 200}
		if a.kind == "remove_index" {
			results[ai]["action"] = map[string]any{"type": a.kind, "indices": a.indices}
		}
		indices, ierr := e.expandIndicesLocked(a.indices, removed)
		if ierr != nil {
			return 0, nil, ierr
		}
		switch a.kind {
		case "add":
			for _, alias := range a.aliases {
				if strings.Contains(alias, "*") {
					return 0, nil, &esError{Status: 400, Type: "invalid_alias_name_exception", Reason: "Invalid alias name [" + alias + "]: must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]", Index: alias}
				}
				for _, idx := range indices {
					m := next[alias]
					if m == nil {
						m = map[string]*aliasProps{}
						next[alias] = m
					}
					p := *a.props
					if p.IsWriteIndex != nil && *p.IsWriteIndex {
						for other, op := range m {
							if other != idx && op.IsWriteIndex != nil && *op.IsWriteIndex {
								f := false
								c := *op
								c.IsWriteIndex = &f
								m[other] = &c
							}
						}
					}
					m[idx] = &p
				}
			}
		case "remove":
			for _, alias := range a.aliases {
				found := false
				for name, m := range next {
					if !wildcardMatch(alias, name) && alias != "_all" {
						continue
					}
					for _, idx := range indices {
						if _, ok := m[idx]; ok {
							delete(m, idx)
							found = true
						}
					}
					if len(m) == 0 {
						delete(next, name)
					}
				}
				if !found {
					nf := &esError{Status: 404, Type: "aliases_not_found_exception", Reason: "aliases [" + alias + "] missing",
						Extra: map[string]any{"resource.type": "aliases", "resource.id": alias}}
					if a.mustExist != nil && *a.mustExist {
						return 0, nil, nf
					}
					// Without must_exist a missing alias fails only its action (8.14+).
					partial = true
					results[ai]["status"] = 404
					results[ai]["error"] = nf.body(false)
				}
			}
		case "remove_index":
			for _, idx := range indices {
				removed[idx] = true
				for name, m := range next {
					delete(m, idx)
					if len(m) == 0 {
						delete(next, name)
					}
				}
			}
		}
	}
	for alias, m := range next {
		// Name clashes are checked on the final state, so one request can drop an index and
		// give its name to an alias (the reindex cut-over).
		for idx := range m {
			if removed[idx] {
				continue
			}
			if _, clash := e.indices[alias]; clash && !removed[alias] || alias == idx {
				return 0, nil, e.checkAliasName(alias, idx)
			}
			if err := e.checkAliasName(alias, ""); err != nil {
				return 0, nil, err
			}
		}
		writers := 0
		for _, p := range m {
			if p.IsWriteIndex != nil && *p.IsWriteIndex {
				writers++
			}
		}
		if writers > 1 {
			return 0, nil, errIllegalArgument("alias [%s] has more than one write index", alias)
		}
	}
	for idx := range removed {
		if e.store != nil {
			if serr := e.store.logDelete(e.indices[idx]); serr != nil {
				return 0, nil, asESError(serr)
			}
		}
		e.deleteIndexLocked(idx)
	}
	e.aliases = next
	for alias, m := range e.aliases {
		for idx := range m {
			if removed[idx] {
				delete(m, idx)
			}
		}
		if len(m) == 0 {
			delete(e.aliases, alias)
		}
	}
	if e.store != nil {
		if serr := e.store.logAliases(e); serr != nil {
			return 0, nil, asESError(serr)
		}
	}
	if partial {
		return 200, map[string]any{"acknowledged": true, "errors": true, "action_results": results}, nil
	}
	return 200, map[string]any{"acknowledged": true, "errors": false}, nil
}

// handleGetAliases is GET/HEAD /_alias[/{name}], /{index}/_alias[/{name}] and GET /_aliases.
func (e *Engine) handleGetAliases(rq *request, expr, names string, all bool) (int, any, *esError) {
	if err := rq.allow(append(resolveParams, "local", "master_timeout")...); err != nil {
		return 0, nil, err
	}
	opt, err := rq.resolveOpts(true)
	if err != nil {
		return 0, nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	var ixs []*index
	if expr != "" {
		ixs, _, err = e.resolveLocked(expr, opt)
		if err != nil {
			return 0, nil, err
		}
	} else {
		ixs, _, _ = e.resolveLocked("*", resolveOptions{allowNoIndices: true, expandHidden: true})
	}
	var patterns []string
	if names != "" && names != "_all" && names != "*" {
		patterns = splitList(names)
	}
	// The aliases the expression selects, applying "-x" exclusions the way Elasticsearch
	// does: a leading "-" excludes when it is not first and a wildcard came before (or it
	// is one); otherwise it is a literal name.
	var selected map[string]bool
	var missing []string
	if patterns != nil {
		selected = map[string]bool{}
		known := map[string]bool{}
		for _, ix := range ixs {
			for alias, m := range e.aliases {
				if _, ok := m[ix.name]; ok {
					known[alias] = true
				}
			}
		}
		wildcardSeen := false
		for i, p := range patterns {
			if strings.HasPrefix(p, "-") && i > 0 && (wildcardSeen || strings.Contains(p, "*")) {
				wildcardSeen = wildcardSeen || strings.Contains(p, "*")
				for a := range selected {
					if wildcardMatch(p[1:], a) {
						delete(selected, a)
					}
				}
				continue
			}
			if strings.Contains(p, "*") {
				wildcardSeen = true
				for a := range known {
					if wildcardMatch(p, a) {
						selected[a] = true
					}
				}
				continue
			}
			if known[p] {
				selected[p] = true
			} else {
				missing = append(missing, p)
			}
		}
	}
	out := map[string]any{}
	for _, ix := range ixs {
		aliases := map[string]any{}
		for alias, m := range e.aliases {
			p, ok := m[ix.name]
			if !ok || (selected != nil && !selected[alias]) {
				continue
			}
			aliases[alias] = renderAliasProps(p)
		}
		if len(aliases) > 0 || (patterns == nil && (expr != "" || names == "")) {
			out[ix.name] = map[string]any{"aliases": aliases}
		}
	}
	if len(missing) > 0 {
		if rq.r.Method == "HEAD" {
			return 404, nil, nil
		}
		sort.Strings(missing)
		reason := "alias [" + missing[0] + "] missing"
		if len(missing) > 1 {
			reason = "aliases [" + strings.Join(missing, ",") + "] missing"
		}
		out["error"] = reason
		out["status"] = 404
		return 404, out, nil
	}
	if rq.r.Method == "HEAD" && patterns != nil && len(out) == 0 {
		return 404, nil, nil
	}
	return 200, out, nil
}

// handlePutAlias is PUT /{index}/_alias/{name}.
func (e *Engine) handlePutAlias(rq *request, expr, alias string) (int, any, *esError) {
	if err := rq.allow("timeout", "master_timeout"); err != nil {
		return 0, nil, err
	}
	body, err := rq.decodeBody()
	if err != nil {
		return 0, nil, err
	}
	p, err := parseAliasProps(body)
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	indices, err := e.expandIndicesLocked(splitList(expr), nil)
	if err != nil {
		return 0, nil, err
	}
	for _, idx := range indices {
		if err := e.checkAliasName(alias, idx); err != nil {
			return 0, nil, err
		}
	}
	for _, idx := range indices {
		c := *p
		e.putAliasLocked(alias, idx, &c)
	}
	if e.store != nil {
		if serr := e.store.logAliases(e); serr != nil {
			return 0, nil, asESError(serr)
		}
	}
	return 200, map[string]any{"acknowledged": true}, nil
}

// handleDeleteAlias is DELETE /{index}/_alias/{name}.
func (e *Engine) handleDeleteAlias(rq *request, expr, names string) (int, any, *esError) {
	if err := rq.allow("timeout", "master_timeout"); err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	indices, err := e.expandIndicesLocked(splitList(expr), nil)
	if err != nil {
		return 0, nil, err
	}
	found := false
	for _, pat := range splitList(names) {
		for alias, m := range e.aliases {
			if !wildcardMatch(pat, alias) && pat != "_all" {
				continue
			}
			for _, idx := range indices {
				if _, ok := m[idx]; ok {
					delete(m, idx)
					found = true
				}
			}
			if len(m) == 0 {
				delete(e.aliases, alias)
			}
		}
	}
	if !found {
		return 0, nil, &esError{Status: 404, Type: "aliases_not_found_exception", Reason: "aliases [" + names + "] missing",
			Extra: map[string]any{"resource.type": "aliases", "resource.id": names}}
	}
	if e.store != nil {
		if serr := e.store.logAliases(e); serr != nil {
			return 0, nil, asESError(serr)
		}
	}
	return 200, map[string]any{"acknowledged": true}, nil
}
