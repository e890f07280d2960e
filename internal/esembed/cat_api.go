package esembed

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// handleCat serves _cat/indices, _cat/aliases, _cat/health and _cat/count, as text tables or
// JSON with ?format=json.
func (e *Engine) handleCat(rq *request) (int, any, *esError) {
	if rq.r.Method != http.MethodGet && rq.r.Method != http.MethodHead {
		return 0, nil, methodNotAllowed(rq, "GET")
	}
	if err := rq.allow("format", "h", "v", "help", "s", "bytes", "expand_wildcards", "health", "pri", "local", "master_timeout", "time", "include_unloaded_segments", "ts"); err != nil {
		return 0, nil, err
	}
	healthFilter := rq.param("health")
	if healthFilter != "" && healthFilter != "green" && healthFilter != "yellow" && healthFilter != "red" {
		return 0, nil, errIllegalArgument("unknown health status [%s]", healthFilter)
	}
	if len(rq.segs) < 2 {
		return 200, textBody("=^.^=\n/_cat/indices\n/_cat/indices/{index}\n/_cat/aliases\n/_cat/aliases/{alias}\n/_cat/health\n/_cat/count\n/_cat/count/{index}\n"), nil
	}
	target := ""
	if len(rq.segs) > 2 {
		target = rq.segs[2]
	}
	var cols []string
	var rows []map[string]any
	switch rq.segs[1] {
	case "indices":
		cols = []string{"health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted", "store.size", "pri.store.size", "dataset.size"}
		e.mu.RLock()
		ixs, _, err := e.resolveLocked(target, resolveOptions{allowNoIndices: true})
		e.mu.RUnlock()
		if err != nil {
			return 0, nil, err
		}
		for _, ix := range ixs {
			s := ix.settings.Load()
			if healthFilter != "" && ix.health() != healthFilter {
				continue
			}
			rows = append(rows, map[string]any{"health": ix.health(), "status": "open", "index": ix.name, "uuid": ix.uuid,
				"pri": s.flat["index.number_of_shards"], "rep": s.flat["index.number_of_replicas"],
				"docs.count": fmt.Sprint(ix.docCount()), "docs.deleted": "0", "store.size": "0b", "pri.store.size": "0b", "dataset.size": "0b"})
		}
	case "aliases":
		cols = []string{"alias", "index", "filter", "routing.index", "routing.search", "is_write_index"}
		e.mu.RLock()
		for alias, m := range e.aliases {
			if target != "" && !matchesList(target, alias) {
				continue
			}
			for idx, p := range m {
				if ix := e.indices[idx]; ix != nil && ix.settings.Load().flat["index.hidden"] == "true" && rq.has("expand_wildcards") && !strings.Contains(rq.param("expand_wildcards"), "all") && !strings.Contains(rq.param("expand_wildcards"), "hidden") {
					continue
				}
				w := "-"
				if p.IsWriteIndex != nil {
					w = fmt.Sprint(*p.IsWriteIndex)
				}
				f := "-"
				if p.Filter != nil {
					f = "*"
				}
				ri, rs := dash(p.IndexRouting), dash(p.SearchRouting)
				rows = append(rows, map[string]any{"alias": alias, "index": idx, "filter": f, "routing.index": ri, "routing.search": rs, "is_write_index": w})
			}
		}
		e.mu.RUnlock()
		sort.Slice(rows, func(i, j int) bool {
			if rows[i]["alias"] != rows[j]["alias"] {
				return rows[i]["alias"].(string) < rows[j]["alias"].(string)
			}
			return rows[i]["index"].(string) < rows[j]["index"].(string)
		})
	case "health":
		cols = []string{"epoch", "timestamp", "cluster", "status", "node.total", "node.data", "shards", "pri", "relo", "init", "unassign", "pending_tasks", "max_task_wait_time", "active_shards_percent"}
		e.mu.RLock()
		n := len(e.indices)
		e.mu.RUnlock()
		rows = append(rows, map[string]any{"epoch": fmt.Sprint(rq.start.Unix()), "timestamp": rq.start.UTC().Format("15:04:05"), "cluster": e.cfg.ClusterName,
			"status": "green", "node.total": "1", "node.data": "1", "shards": fmt.Sprint(n), "pri": fmt.Sprint(n), "relo": "0", "init": "0",
			"unassign": "0", "pending_tasks": "0", "max_task_wait_time": "-", "active_shards_percent": "100.0%"})
	case "count":
		cols = []string{"epoch", "timestamp", "count"}
		e.mu.RLock()
		ixs, _, err := e.resolveLocked(target, resolveOptions{allowNoIndices: true})
		e.mu.RUnlock()
		if err != nil {
			return 0, nil, err
		}
		var total int64
		for _, ix := range ixs {
			total += ix.docCount()
		}
		rows = append(rows, map[string]any{"epoch": fmt.Sprint(rq.start.Unix()), "timestamp": rq.start.UTC().Format("15:04:05"), "count": fmt.Sprint(total)})
	default:
		return 0, nil, errUnsupported("API [_cat/" + rq.segs[1] + "]")
	}
	if help, _ := rq.boolParam("help", false); help {
		var b strings.Builder
		for _, c := range cols {
			fmt.Fprintf(&b, "%s | %s | %s\n", c, strings.Join(catAliases[c], ","), c)
		}
		return 200, textBody(b.String()), nil
	}
	allCols := cols
	if h := rq.param("h"); h != "" {
		cols = nil
		for _, c := range splitList(h) {
			cols = append(cols, catColumn(c, allCols))
		}
	}
	if s := rq.param("s"); s != "" {
		keys := splitList(s)
		sort.SliceStable(rows, func(i, j int) bool {
			for _, k := range keys {
				desc := strings.HasSuffix(k, ":desc")
				k = catColumn(strings.TrimSuffix(strings.TrimSuffix(k, ":desc"), ":asc"), allCols)
				a, b := fmt.Sprint(rows[i][k]), fmt.Sprint(rows[j][k])
				if a != b {
					return (a < b) != desc
				}
			}
			return false
		})
	}
	if rq.param("format") == "json" {
		out := make([]any, 0, len(rows))
		for _, r := range rows {
			m := map[string]any{}
			for _, c := range cols {
				m[c] = r[c]
			}
			out = append(out, m)
		}
		return 200, out, nil
	}
	if rq.param("format") != "" && rq.param("format") != "text" && rq.param("format") != "txt" {
		return 0, nil, errUnsupported("_cat format [" + rq.param("format") + "]")
	}
	widths := make([]int, len(cols))
	verbose, _ := rq.boolParam("v", false)
	if verbose {
		for i, c := range cols {
			widths[i] = len(c)
		}
	}
	for _, r := range rows {
		for i, c := range cols {
			if l := len(fmt.Sprint(r[c])); l > widths[i] {
				widths[i] = l
			}
		}
	}
	var b strings.Builder
	line := func(vals []string) {
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(' ')
			}
			if i == len(vals)-1 {
				b.WriteString(v)
			} else {
				b.WriteString(v + strings.Repeat(" ", widths[i]-len(v)))
			}
		}
		b.WriteByte('\n')
	}
	if verbose {
		line(cols)
	}
	for _, r := range rows {
		vals := make([]string, len(cols))
		for i, c := range cols {
			vals[i] = fmt.Sprint(r[c])
		}
		line(vals)
	}
	return 200, textBody(b.String()), nil
}

// catAliases are the short names _cat accepts for its columns.
var catAliases = map[string][]string{
	"health": {"h"}, "status": {"s"}, "index": {"i", "idx"}, "uuid": {"id", "uuid"}, "pri": {"p", "shards.primary", "shardsPrimary"},
	"rep": {"r", "shards.replica", "shardsReplica"}, "docs.count": {"dc", "docsCount"}, "docs.deleted": {"dd", "docsDeleted"},
	"store.size": {"ss", "storeSize"}, "pri.store.size": {}, "dataset.size": {}, "alias": {"a"}, "filter": {"f", "fi"},
	"routing.index": {"ri", "routingIndex"}, "routing.search": {"rs", "routingSearch"}, "is_write_index": {"w", "isWriteIndex"},
	"epoch": {"t", "time"}, "timestamp": {"ts", "hms", "hhmmss"}, "count": {"dc", "docs.count", "docsCount"}, "cluster": {"cl"},
	"node.total": {"nt", "nodeTotal"}, "node.data": {"nd", "nodeData"}, "shards": {"t", "sh", "shards.total", "shardsTotal"},
}

// catColumn resolves a column name or alias among an API's columns.
func catColumn(name string, cols []string) string {
	for _, full := range cols {
		if full == name {
			return name
		}
	}
	for _, full := range cols {
		for _, a := range catAliases[full] {
			if a == name {
				return full
			}
		}
	}
	return name
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func matchesList(list, name string) bool {
	for _, p := range splitList(list) {
		if wildcardMatch(p, name) {
			return true
		}
	}
	return false
}
