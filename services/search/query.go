package search

import "encoding/json"

// searchBody builds the _search request for one page. User input appears only as values of
// term/terms/range/multi_match clauses, never as query syntax, field names it chose freely or
// scripts: columns were checked against the mapping by bind.
func searchBody(t *Table, q *query, after []json.RawMessage, trackTotal int) map[string]any {
	var filters []any
	for _, f := range q.filters {
		filters = append(filters, filterClause(f))
	}
	var must []any
	if q.q != "" {
		var fields []string
		for _, c := range t.Columns {
			if c.Searchable {
				fields = append(fields, c.Name)
			}
		}
		must = append(must, map[string]any{"multi_match": map[string]any{
			"query":    q.q,
			"fields":   fields,
			"type":     "best_fields",
			"operator": "and",
			// Keyword columns compare the whole input; lenient keeps a mismatch from failing
			// the request.
			"lenient": true,
		}})
	}
	var query any = map[string]any{"match_all": map[string]any{}}
	if len(filters) > 0 || len(must) > 0 {
		b := map[string]any{}
		if len(filters) > 0 {
			b["filter"] = filters
		}
		if len(must) > 0 {
			b["must"] = must
		}
		query = map[string]any{"bool": b}
	}
	sorts := make([]any, 0, len(q.sort))
	for _, k := range q.sort {
		order := "asc"
		if k.Desc {
			order = "desc"
		}
		sorts = append(sorts, map[string]any{k.field: map[string]any{"order": order, "missing": "_last"}})
	}
	body := map[string]any{
		"query": query,
		"sort":  sorts,
		// One more than asked tells whether a next page exists without an empty last page.
		"size":             q.size + 1,
		"track_total_hits": trackTotal,
	}
	if after != nil {
		body["search_after"] = after
	}
	return body
}

func filterClause(f filter) any {
	if len(f.ranges) == 0 {
		if len(f.values) == 1 {
			return map[string]any{"term": map[string]any{f.field: f.values[0]}}
		}
		return map[string]any{"terms": map[string]any{f.field: f.values}}
	}
	clauses := make([]any, 0, len(f.ranges))
	for _, r := range f.ranges {
		b := map[string]any{}
		for k, v := range map[string]any{"gte": r.gte, "gt": r.gt, "lte": r.lte, "lt": r.lt} {
			if v != nil {
				b[k] = v
			}
		}
		clauses = append(clauses, map[string]any{"range": map[string]any{f.field: b}})
	}
	if len(clauses) == 1 {
		return clauses[0]
	}
	return map[string]any{"bool": map[string]any{"should": clauses, "minimum_should_match": 1}}
}
