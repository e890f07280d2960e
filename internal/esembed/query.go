package esembed

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2/numeric"
	"github.com/blevesearch/bleve/v2/search/query"
)

// qnode is a parsed query DSL clause, independent of any index; compile turns it into a
// bleve query for one index's mapping.
type qnode struct {
	kind     string
	field    string
	value    any
	values   []any
	params   map[string]any
	must     []*qnode
	filter   []*qnode
	should   []*qnode
	mustNot  []*qnode
	boost    float64
	fields   []string
	text     string
	operator string
	msm      string
}

// parseQuery parses the query DSL. Errors are parsing_exception (HTTP 400), as
// Elasticsearch reports them before touching any shard.
func parseQuery(v any) (*qnode, *esError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errParsing("[_na] query malformed, must start with start_object")
	}
	if len(m) == 0 {
		return nil, errParsing("query malformed, empty clause found")
	}
	if len(m) > 1 {
		keys := sortedKeys(m)
		return nil, errParsing("[%s] malformed query, expected [END_OBJECT] but found [FIELD_NAME]", keys[0])
	}
	for kind, body := range m {
		return parseClause(kind, body)
	}
	return nil, nil
}

func boostOf(m map[string]any) (float64, *esError) {
	if v, ok := m["boost"]; ok {
		f, ok := toFloat(v)
		if !ok {
			return 0, errParsing("[boost] must be a number")
		}
		return f, nil
	}
	return 1, nil
}

// singleField unpacks {"field": value-or-object} clauses (term, match, prefix, range, ...).
func singleField(kind string, body any) (string, any, *esError) {
	m, ok := body.(map[string]any)
	if !ok {
		return "", nil, errParsing("[%s] query malformed, no start_object after query name", kind)
	}
	var field string
	var val any
	n := 0
	for k, v := range m {
		if k == "boost" || k == "_name" {
			continue
		}
		n++
		if n > 1 {
			keys := []string{field, k}
			if keys[0] > keys[1] {
				keys[0], keys[1] = keys[1], keys[0]
			}
			return "", nil, errParsing("[%s] query doesn't support multiple fields, found [%s] and [%s]", kind, keys[0], keys[1])
		}
		field, val = k, v
	}
	if n == 0 {
		return "", nil, errIllegalArgument("[%s] query requires a field name", kind)
	}
	return field, val, nil
}

var knownLeafParams = map[string]map[string]bool{
	"term":         {"value": true, "boost": true, "_name": true, "case_insensitive": true},
	"prefix":       {"value": true, "boost": true, "_name": true, "case_insensitive": true, "rewrite": true},
	"wildcard":     {"value": true, "wildcard": true, "boost": true, "_name": true, "case_insensitive": true, "rewrite": true},
	"regexp":       {"value": true, "flags": true, "flags_value": true, "boost": true, "_name": true, "case_insensitive": true, "rewrite": true, "max_determinized_states": true},
	"match":        {"query": true, "operator": true, "minimum_should_match": true, "boost": true, "_name": true, "analyzer": true, "zero_terms_query": true, "lenient": true, "fuzziness": true, "prefix_length": true, "max_expansions": true, "fuzzy_transpositions": true, "auto_generate_synonyms_phrase_query": true},
	"match_phrase": {"query": true, "slop": true, "boost": true, "_name": true, "analyzer": true, "zero_terms_query": true},
	"range":        {"gt": true, "gte": true, "lt": true, "lte": true, "from": true, "to": true, "include_lower": true, "include_upper": true, "format": true, "time_zone": true, "boost": true, "_name": true, "relation": true},
}

func parseClause(kind string, body any) (*qnode, *esError) {
	n := &qnode{kind: kind, boost: 1}
	switch kind {
	case "match_all", "match_none":
		m, ok := body.(map[string]any)
		if !ok {
			return nil, errParsing("[%s] query malformed, no start_object after query name", kind)
		}
		for k := range m {
			if k != "boost" && k != "_name" {
				return nil, errParsing("[%s] query does not support [%s]", kind, k)
			}
		}
		b, err := boostOf(m)
		if err != nil {
			return nil, err
		}
		n.boost = b
		return n, nil
	case "term", "prefix", "wildcard", "regexp", "match", "match_phrase", "range":
		field, val, err := singleField(kind, body)
		if err != nil {
			return nil, err
		}
		n.field = field
		if obj, ok := val.(map[string]any); ok {
			n.params = obj
			for k := range obj {
				if !knownLeafParams[kind][k] {
					return nil, errParsing("[%s] query does not support [%s]", kind, k)
				}
			}
			if b, err := boostOf(obj); err != nil {
				return nil, err
			} else {
				n.boost = b
			}
			switch kind {
			case "term", "prefix", "regexp":
				v, ok := obj["value"]
				if !ok {
					return nil, errParsing("[%s] query does not support [%s]", kind, field)
				}
				n.value = v
			case "wildcard":
				v, ok := obj["value"]
				if !ok {
					v, ok = obj["wildcard"]
				}
				if !ok {
					return nil, errParsing("[wildcard] query requires a [value]")
				}
				n.value = v
			case "match", "match_phrase":
				v, ok := obj["query"]
				if !ok {
					return nil, errParsing("[%s] query requires [query]", kind)
				}
				n.value = v
				if op, ok := obj["operator"].(string); ok {
					n.operator = strings.ToLower(op)
					if n.operator != "or" && n.operator != "and" {
						return nil, errIllegalArgument("No enum constant org.elasticsearch.index.query.Operator.%s", strings.ToUpper(op))
					}
				}
				if v, ok := obj["minimum_should_match"]; ok {
					n.msm = jsonString(v)
				}
				if fz, ok := obj["fuzziness"]; ok && jsonString(fz) != "0" {
					return nil, errUnsupported("[fuzziness] in [match] query")
				}
				if sl, ok := obj["slop"]; ok {
					if s, _ := toInt(sl); s != 0 {
						return nil, errUnsupported("[slop] in [match_phrase] query")
					}
				}
				if a, ok := obj["analyzer"].(string); ok && !builtinAnalyzers[a] {
					return nil, errUnsupported("analyzer [" + a + "] in [" + kind + "] query")
				}
			}
		} else {
			if kind == "range" {
				return nil, errParsing("[range] query malformed, no start_object after query name")
			}
			if _, isArr := val.([]any); isArr {
				return nil, errParsing("[%s] query does not support array of values", kind)
			}
			n.value = val
		}
		if kind != "range" && n.value == nil {
			return nil, errIllegalArgument("[%s] query value cannot be null", kind)
		}
		return n, nil
	case "terms":
		m, ok := body.(map[string]any)
		if !ok {
			return nil, errParsing("[terms] query malformed, no start_object after query name")
		}
		found := false
		for k, v := range m {
			switch k {
			case "boost":
				b, err := boostOf(m)
				if err != nil {
					return nil, err
				}
				n.boost = b
			case "_name":
			default:
				if found {
					return nil, errParsing("[terms] query does not support multiple fields")
				}
				arr, ok := v.([]any)
				if !ok {
					if lk, isObj := v.(map[string]any); isObj {
						idx, _ := lk["index"].(string)
						path, _ := lk["path"].(string)
						if idx == "" || path == "" || lk["id"] == nil {
							return nil, errParsing("[terms] query lookup element requires specifying the index, the id and the path.")
						}
						n.field, found = k, true
						n.params = map[string]any{"lookup_index": idx, "lookup_id": jsonString(lk["id"]), "lookup_path": path}
						continue
					}
					return nil, errParsing("[terms] query does not support [%s]", k)
				}
				n.field, n.values, found = k, arr, true
			}
		}
		if !found {
			return nil, errParsing("[terms] query requires a field")
		}
		return n, nil
	case "ids":
		m, ok := body.(map[string]any)
		if !ok {
			return nil, errParsing("[ids] query malformed, no start_object after query name")
		}
		for k, v := range m {
			switch k {
			case "values":
				arr, ok := v.([]any)
				if !ok {
					return nil, errParsing("[ids] query values must be an array")
				}
				n.values = arr
			case "boost", "_name":
			default:
				return nil, errParsing("[ids] query does not support [%s]", k)
			}
		}
		return n, nil
	case "exists":
		m, ok := body.(map[string]any)
		if !ok {
			return nil, errParsing("[exists] query malformed, no start_object after query name")
		}
		for k, v := range m {
			switch k {
			case "field":
				s, ok := v.(string)
				if !ok {
					return nil, errParsing("[exists] field must be a string")
				}
				n.field = s
			case "boost", "_name":
			default:
				return nil, errParsing("[exists] query does not support [%s]", k)
			}
		}
		if n.field == "" {
			return nil, errParsing("[exists] must be provided with a [field]")
		}
		return n, nil
	case "bool":
		m, ok := body.(map[string]any)
		if !ok {
			return nil, errParsing("[bool] query malformed, no start_object after query name")
		}
		for k, v := range m {
			var dst *[]*qnode
			switch k {
			case "must":
				dst = &n.must
			case "filter":
				dst = &n.filter
			case "should":
				dst = &n.should
			case "must_not", "mustNot":
				dst = &n.mustNot
			case "minimum_should_match":
				n.msm = jsonString(v)
				continue
			case "boost":
				b, err := boostOf(m)
				if err != nil {
					return nil, err
				}
				n.boost = b
				continue
			case "_name", "adjust_pure_negative":
				continue
			default:
				return nil, errParsing("[bool] query does not support [%s]", k)
			}
			var list []any
			switch t := v.(type) {
			case []any:
				list = t
			case map[string]any:
				list = []any{t}
			default:
				return nil, errParsing("[bool] query does not support [%s]", k)
			}
			for _, c := range list {
				q, err := parseQuery(c)
				if err != nil {
					return nil, err
				}
				*dst = append(*dst, q)
			}
		}
		return n, nil
	case "constant_score":
		m, ok := body.(map[string]any)
		if !ok {
			return nil, errParsing("[constant_score] query malformed")
		}
		f, ok := m["filter"]
		if !ok {
			return nil, errParsing("[constant_score] requires a 'filter' element")
		}
		q, err := parseQuery(f)
		if err != nil {
			return nil, err
		}
		n.filter = []*qnode{q}
		b, err := boostOf(m)
		if err != nil {
			return nil, err
		}
		n.boost = b
		return n, nil
	case "multi_match", "simple_query_string":
		m, ok := body.(map[string]any)
		if !ok {
			return nil, errParsing("[%s] query malformed", kind)
		}
		for k, v := range m {
			switch k {
			case "query":
				n.text = jsonString(v)
				n.value = v
			case "fields":
				arr, ok := v.([]any)
				if !ok {
					if s, isStr := v.(string); isStr {
						arr = []any{s}
					} else {
						return nil, errParsing("[%s] fields must be an array", kind)
					}
				}
				for _, f := range arr {
					s, ok := f.(string)
					if !ok {
						return nil, errParsing("[%s] fields must be strings", kind)
					}
					n.fields = append(n.fields, s)
				}
			case "operator", "default_operator":
				s, _ := v.(string)
				n.operator = strings.ToLower(s)
				if n.operator != "or" && n.operator != "and" {
					return nil, errIllegalArgument("No enum constant org.elasticsearch.index.query.Operator.%s", strings.ToUpper(s))
				}
			case "minimum_should_match":
				n.msm = jsonString(v)
			case "type":
				s, _ := v.(string)
				switch s {
				case "best_fields", "most_fields", "cross_fields", "phrase":
					n.params = map[string]any{"type": s}
				case "phrase_prefix", "bool_prefix":
					return nil, errUnsupported("[multi_match] type [" + s + "]")
				default:
					return nil, errIllegalArgument("[multi_match] query does not support type %s", s)
				}
			case "boost":
				b, err := boostOf(m)
				if err != nil {
					return nil, err
				}
				n.boost = b
			case "_name", "tie_breaker", "lenient", "analyze_wildcard", "auto_generate_synonyms_phrase_query", "flags", "quote_field_suffix", "zero_terms_query":
			case "analyzer":
				if a, _ := v.(string); a != "standard" && a != "default" {
					return nil, errUnsupported("analyzer [" + a + "]")
				}
			case "fuzziness", "fuzzy_max_expansions", "fuzzy_prefix_length", "fuzzy_transpositions", "slop", "prefix_length", "max_expansions":
				if jsonString(v) != "0" && k != "fuzzy_transpositions" {
					return nil, errUnsupported("[" + k + "] in [" + kind + "] query")
				}
			default:
				return nil, errParsing("[%s] query does not support [%s]", kind, k)
			}
		}
		if n.value == nil {
			return nil, errParsing("[%s] requires 'query' field", kind)
		}
		return n, nil
	case "query_string", "fuzzy", "nested", "has_child", "has_parent", "script", "script_score",
		"function_score", "geo_distance", "geo_bounding_box", "more_like_this", "dis_max", "boosting",
		"span_term", "span_near", "intervals", "distance_feature", "percolate", "knn", "pinned", "rank_feature",
		"terms_set", "wrapper", "combined_fields", "match_bool_prefix", "match_phrase_prefix", "geo_shape", "shape", "semantic", "sparse_vector", "text_expansion":
		return nil, errUnsupported("query [" + kind + "]")
	}
	return nil, &esError{Status: 400, Type: "parsing_exception", Reason: "unknown query [" + kind + "]",
		Extra: map[string]any{"line": 1, "col": 1}, CausedBy: &esError{Type: "named_object_not_found_exception", Reason: "[1:1] unknown field [" + kind + "]"}}
}

// compiler turns qnodes into bleve queries for one index.
type compiler struct {
	e   *Engine
	ix  *index
	m   *mapping
	now time.Time
}

// lookupTerms fetches the values of a terms lookup from a document (real-time, as
// Elasticsearch's terms lookup reads with a GET).
func (c *compiler) lookupTerms(index, id, path string) ([]any, *esError) {
	if c.e == nil {
		return nil, errUnsupported("terms lookup here")
	}
	ix, err := c.e.readIndex(index)
	if err != nil {
		return nil, err
	}
	g, gerr := ix.get(id)
	if gerr != nil {
		return nil, asESError(gerr)
	}
	if !g.found || g.src == nil {
		return nil, nil
	}
	src, perr := parseSource(g.src)
	if perr != nil {
		return nil, asESError(perr)
	}
	return sourceValues(src, strings.Split(path, "."), nil), nil
}

func (c *compiler) shardErr(reason string, cause *esError) *esError {
	e := &esError{Status: 400, Type: "query_shard_exception", Reason: reason, Index: c.ix.name, IndexUUID: c.ix.uuid, CausedBy: cause}
	return e
}

type boostable interface{ SetBoost(float64) }

func withBoost(q query.Query, b float64) query.Query {
	if b != 1 {
		if bq, ok := q.(boostable); ok {
			bq.SetBoost(b)
		}
	}
	return q
}

func matchNone() query.Query { return query.NewMatchNoneQuery() }

func (c *compiler) compile(n *qnode) (query.Query, *esError) {
	switch n.kind {
	case "match_all":
		return withBoost(query.NewMatchAllQuery(), n.boost), nil
	case "match_none":
		return matchNone(), nil
	case "term":
		q, err := c.termQuery(n.field, n.value)
		if err != nil {
			return nil, err
		}
		return withBoost(q, n.boost), nil
	case "terms":
		if lookupIdx, ok := n.params["lookup_index"].(string); ok {
			vals, err := c.lookupTerms(lookupIdx, n.params["lookup_id"].(string), n.params["lookup_path"].(string))
			if err != nil {
				return nil, err
			}
			cp := *n
			cp.values, cp.params = vals, nil
			return c.compile(&cp)
		}
		if max := c.ix.settings.Load().maxTermsCount; len(n.values) > max {
			return nil, c.shardErr("failed to create query: The number of terms ["+strconv.Itoa(len(n.values))+"] used in the Terms Query request has exceeded the allowed maximum of ["+strconv.Itoa(max)+"]. This maximum can be set by changing the [index.max_terms_count] index level setting.", nil)
		}
		if len(n.values) == 0 {
			return matchNone(), nil
		}
		if n.field == "_id" {
			return query.NewDocIDQuery(stringsOf(n.values)), nil
		}
		qs := make([]query.Query, 0, len(n.values))
		for _, v := range n.values {
			q, err := c.termQuery(n.field, v)
			if err != nil {
				return nil, err
			}
			qs = append(qs, q)
		}
		return withBoost(query.NewDisjunctionQuery(qs), n.boost), nil
	case "ids":
		if mrw := c.ix.settings.Load().maxResultWindow; len(n.values) > mrw {
			return nil, c.shardErr("failed to create query: Too many ids specified, allowed max result window is ["+strconv.Itoa(mrw)+"]", nil)
		}
		return query.NewDocIDQuery(stringsOf(n.values)), nil
	case "exists":
		return c.existsQuery(n.field), nil
	case "range":
		return c.rangeQuery(n)
	case "prefix", "wildcard", "regexp":
		s, ok := scalarString(n.value)
		if !ok {
			return nil, errParsing("[%s] query value must be a string", n.kind)
		}
		f := c.m.flat[n.field]
		if f == nil {
			return matchNone(), nil
		}
		if f.Type != typeKeyword && f.Type != typeText {
			return nil, c.shardErr("failed to create query: Can only use "+n.kind+" queries on keyword and text fields - not on ["+n.field+"] which is of type ["+f.Type+"]", nil)
		}
		if ci, _ := n.params["case_insensitive"].(bool); ci {
			return nil, errUnsupported("[case_insensitive] in [" + n.kind + "] query")
		}
		if nt, _ := n.params["normalize_text"].(bool); nt && f.Type == typeText {
			s = strings.ToLower(s)
		}
		if n.kind == "regexp" {
			max := 1000
			if v, err := strconv.Atoi(c.ix.settings.Load().flat["index.max_regex_length"]); err == nil {
				max = v
			}
			if len(s) > max {
				return nil, c.shardErr("failed to create query: The length of regex ["+strconv.Itoa(len(s))+"] used in the Regexp Query request has exceeded the allowed maximum of ["+strconv.Itoa(max)+"]. This maximum can be set by changing the [index.max_regex_length] index level setting.", nil)
			}
			q := query.NewRegexpQuery(s)
			q.SetField(n.field)
			return withBoost(q, n.boost), nil
		}
		if n.kind == "prefix" {
			q := query.NewPrefixQuery(s)
			q.SetField(n.field)
			return withBoost(q, n.boost), nil
		}
		q := query.NewWildcardQuery(s)
		q.SetField(n.field)
		return withBoost(q, n.boost), nil
	case "match":
		return c.matchQuery(n.field, n.value, n.operator, n.msm, n.boost, n.params)
	case "match_phrase":
		return c.phraseQuery(n.field, n.value, n.boost)
	case "multi_match":
		return c.multiMatch(n)
	case "simple_query_string":
		return c.simpleQueryString(n)
	case "constant_score":
		q, err := c.compile(n.filter[0])
		if err != nil {
			return nil, err
		}
		bq := query.NewBooleanQuery(nil, nil, nil)
		bq.AddMust(query.NewMatchAllQuery())
		bq.AddFilter(q)
		return withBoost(bq, n.boost), nil
	case "bool":
		return c.boolQuery(n)
	}
	return nil, errParsing("unknown query [%s]", n.kind)
}

func stringsOf(vals []any) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		out = append(out, jsonString(v))
	}
	return out
}

func (c *compiler) boolQuery(n *qnode) (query.Query, *esError) {
	compileAll := func(list []*qnode) ([]query.Query, *esError) {
		out := make([]query.Query, 0, len(list))
		for _, q := range list {
			bq, err := c.compile(q)
			if err != nil {
				return nil, err
			}
			out = append(out, bq)
		}
		return out, nil
	}
	must, err := compileAll(n.must)
	if err != nil {
		return nil, err
	}
	filter, err := compileAll(n.filter)
	if err != nil {
		return nil, err
	}
	should, err := compileAll(n.should)
	if err != nil {
		return nil, err
	}
	mustNot, err := compileAll(n.mustNot)
	if err != nil {
		return nil, err
	}
	if len(must)+len(filter)+len(should)+len(mustNot) == 0 {
		return withBoost(query.NewMatchAllQuery(), n.boost), nil
	}
	msm := 0
	if len(should) > 0 {
		if n.msm != "" {
			v, perr := minimumShouldMatch(n.msm, len(should))
			if perr != nil {
				return nil, perr
			}
			msm = v
		} else if len(must) == 0 && len(filter) == 0 {
			msm = 1
		}
	}
	if msm > len(should) {
		return matchNone(), nil
	}
	bq := query.NewBooleanQuery(nil, nil, nil)
	if len(must) > 0 {
		bq.AddMust(must...)
	}
	switch {
	case len(should) > 0 && msm > 0 && len(must)+len(filter)+len(mustNot) > 0:
		// Required shoulds become one must clause. bleve's boolean searcher reads the minimum
		// from its should searcher, and an unscored one (inside a filter) is optimised into a
		// plain union that reports none, so the shoulds became optional there.
		d := query.NewDisjunctionQuery(should)
		d.SetMin(float64(msm))
		bq.AddMust(d)
	case len(should) > 0:
		bq.AddShould(should...)
		bq.SetMinShould(float64(msm))
	}
	if len(mustNot) > 0 {
		bq.AddMustNot(mustNot...)
	}
	if len(filter) == 1 {
		bq.AddFilter(filter[0])
	} else if len(filter) > 1 {
		bq.AddFilter(query.NewConjunctionQuery(filter))
	}
	if len(must) == 0 && (len(should) == 0 || msm == 0) {
		// Only filters/must_not (or optional shoulds): every document is a candidate.
		bq.AddMust(query.NewMatchAllQuery())
	}
	return withBoost(bq, n.boost), nil
}

// minimumShouldMatch evaluates "2", "-1", "75%", "-25%" against n optional clauses.
func minimumShouldMatch(spec string, n int) (int, *esError) {
	spec = strings.TrimSpace(spec)
	if strings.Contains(spec, "<") {
		return 0, errUnsupported("conditional minimum_should_match [" + spec + "]")
	}
	if strings.HasSuffix(spec, "%") {
		p, err := strconv.Atoi(strings.TrimSuffix(spec, "%"))
		if err != nil {
			return 0, errIllegalArgument("cannot parse minimum_should_match [%s]", spec)
		}
		var v int
		if p < 0 {
			v = n - int(math.Floor(float64(n)*float64(-p)/100))
		} else {
			v = int(math.Floor(float64(n) * float64(p) / 100))
		}
		return clampMSM(v, n), nil
	}
	i, err := strconv.Atoi(spec)
	if err != nil {
		return 0, errIllegalArgument("cannot parse minimum_should_match [%s]", spec)
	}
	if i < 0 {
		i = n + i
	}
	return clampMSM(i, n), nil
}

func clampMSM(v, n int) int {
	if v < 0 {
		return 0
	}
	return v
}

func (c *compiler) existsQuery(field string) query.Query {
	if field == "_id" || field == "_index" {
		return query.NewMatchAllQuery()
	}
	if strings.Contains(field, "*") {
		var qs []query.Query
		for p := range c.m.flat {
			if wildcardMatch(field, p) {
				qs = append(qs, c.existsQuery(p))
			}
		}
		if len(qs) == 0 {
			return matchNone()
		}
		return query.NewDisjunctionQuery(qs)
	}
	q := query.NewTermQuery(field)
	q.SetField(fieldFieldNames)
	return q
}

// termQuery matches an exact value of a field, converted per the field's type.
func (c *compiler) termQuery(fieldName string, v any) (query.Query, *esError) {
	switch fieldName {
	case "_id":
		return query.NewDocIDQuery([]string{jsonString(v)}), nil
	case "_index":
		if jsonString(v) == c.ix.name {
			return query.NewMatchAllQuery(), nil
		}
		return matchNone(), nil
	}
	f := c.m.flat[fieldName]
	if f == nil || f.Type == typeObject {
		return matchNone(), nil
	}
	if !f.Index {
		return nil, c.shardErr("failed to create query: Cannot search on field ["+fieldName+"] since it is not indexed.", nil)
	}
	switch f.Type {
	case typeKeyword, typeText:
		s, ok := scalarString(v)
		if !ok {
			return nil, errParsing("[term] query does not support [%s]", fieldName)
		}
		q := query.NewTermQuery(s)
		q.SetField(fieldName)
		return q, nil
	}
	nv, err := c.numericTerm(f, fieldName, v, false)
	if err != nil {
		return nil, err
	}
	x, ok := nv.key(f)
	if !ok {
		return matchNone(), nil
	}
	t := true
	q := query.NewNumericRangeInclusiveQuery(&x, &x, &t, &t)
	q.SetField(fieldName)
	return q, nil
}

// numVal is a query value for a numeric, date or boolean field.
type numVal struct {
	isInt bool // an integer (always for long-encoded fields unless fractional)
	i     int64
	f     float64
}

// numericTerm converts a query value for a numeric, date or boolean field.
func (c *compiler) numericTerm(f *field, fieldName string, v any, roundUp bool) (numVal, *esError) {
	switch f.Type {
	case typeBoolean:
		switch t := v.(type) {
		case bool:
			if t {
				return numVal{isInt: true, i: 1}, nil
			}
			return numVal{isInt: true}, nil
		case string:
			switch t {
			case "true":
				return numVal{isInt: true, i: 1}, nil
			case "false", "":
				return numVal{isInt: true}, nil
			}
		}
		return numVal{}, c.shardErr("failed to create query: Can't parse boolean value ["+jsonString(v)+"], expected [true] or [false]", errIllegalArgument("Can't parse boolean value [%s], expected [true] or [false]", jsonString(v)))
	case typeDate:
		s, _ := scalarString(v)
		ms, err := parseDateMath(s, f.Formats, c.now, roundUp)
		if err != nil {
			if n, ok := v.(json.Number); ok {
				if i, perr := n.Int64(); perr == nil {
					return numVal{isInt: true, i: i}, nil
				}
			}
			return numVal{}, c.shardErr("failed to create query: failed to parse date field ["+s+"] with format ["+dateFormatName(f)+"]", errIllegalArgument("failed to parse date field [%s] with format [%s]", s, dateFormatName(f)))
		}
		return numVal{isInt: true, i: ms}, nil
	}
	s, ok := scalarString(v)
	if !ok {
		return numVal{}, c.shardErr("failed to create query: not a number", nil)
	}
	s = strings.TrimSpace(s)
	if f.isInteger() {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return numVal{isInt: true, i: i}, nil
		}
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return numVal{}, c.shardErr("failed to create query: For input string: \""+s+"\"", &esError{Type: "number_format_exception", Reason: "For input string: \"" + s + "\""})
	}
	switch f.Type {
	case typeScaledFloat:
		x = math.Round(x*f.ScalingFactor) / f.ScalingFactor
	case typeFloat, typeHalfFloat:
		x = float64(float32(x))
	}
	if f.isInteger() && x == math.Trunc(x) && math.Abs(x) < 9.2e18 {
		return numVal{isInt: true, i: int64(x)}, nil
	}
	return numVal{f: x}, nil
}

// key is the bleve number of an exact value (ok false: no document can hold it, such as a
// fraction in an integer field).
func (v numVal) key(f *field) (float64, bool) {
	if longEncoded(f.Type) {
		if !v.isInt {
			return 0, false
		}
		return longKey(v.i), true
	}
	if v.isInt {
		return float64(v.i), true
	}
	return v.f, true
}

// boundKey is the inclusive bleve bound of a range edge: fractions in integer fields round
// inwards, as Elasticsearch does.
func (v numVal) boundKey(f *field, lower, inclusive bool) (float64, bool) {
	if !longEncoded(f.Type) {
		k, _ := v.key(f)
		return k, inclusive
	}
	if v.isInt {
		return longKey(v.i), inclusive
	}
	if lower {
		c := math.Ceil(v.f)
		if c >= 9.223372036854775807e18 {
			return longKey(math.MaxInt64), false
		}
		if c < -9.223372036854775808e18 {
			return longKey(math.MinInt64), true
		}
		return longKey(int64(c)), true
	}
	fl := math.Floor(v.f)
	if fl < -9.223372036854775808e18 {
		return longKey(math.MinInt64), false
	}
	if fl >= 9.223372036854775807e18 {
		return longKey(math.MaxInt64), true
	}
	return longKey(int64(fl)), true
}

func (c *compiler) rangeQuery(n *qnode) (query.Query, *esError) {
	f := c.m.flat[n.field]
	if f == nil || f.Type == typeObject {
		return matchNone(), nil
	}
	p := n.params
	var lo, hi any
	loInc, hiInc := true, true
	if v, ok := p["from"]; ok {
		lo = v
	}
	if v, ok := p["to"]; ok {
		hi = v
	}
	if v, ok := p["include_lower"].(bool); ok {
		loInc = v
	}
	if v, ok := p["include_upper"].(bool); ok {
		hiInc = v
	}
	if v, ok := p["gt"]; ok {
		lo, loInc = v, false
	}
	if v, ok := p["gte"]; ok {
		lo, loInc = v, true
	}
	if v, ok := p["lt"]; ok {
		hi, hiInc = v, false
	}
	if v, ok := p["lte"]; ok {
		hi, hiInc = v, true
	}
	if tz, ok := p["time_zone"].(string); ok && tz != "UTC" && tz != "Z" && tz != "+00:00" {
		return nil, errUnsupported("[time_zone] in [range] query")
	}
	switch f.Type {
	case typeKeyword, typeText:
		var los, his string
		if lo != nil {
			los = jsonString(lo)
		}
		if hi != nil {
			his = jsonString(hi)
		}
		q := query.NewTermRangeInclusiveQuery(los, his, &loInc, &hiInc)
		q.SetField(n.field)
		return withBoost(q, n.boost), nil
	}
	fc := f
	if format, ok := p["format"].(string); ok && f.Type == typeDate {
		formats, err := parseDateFormats(format)
		if err != nil {
			return nil, errParsing("[range] failed to parse [format]: %v", err)
		}
		cp := *f
		cp.Formats, cp.FormatRaw = formats, format
		fc = &cp
	}
	if lo == nil && hi == nil {
		return c.existsQuery(n.field), nil
	}
	var minp, maxp *float64
	if lo != nil {
		nv, err := c.numericTerm(fc, n.field, lo, !loInc)
		if err != nil {
			return nil, err
		}
		x, inc := nv.boundKey(fc, true, loInc)
		minp, loInc = &x, inc
	} else if longEncoded(f.Type) {
		x := longKey(math.MinInt64)
		minp, loInc = &x, true
	}
	if hi != nil {
		nv, err := c.numericTerm(fc, n.field, hi, hiInc)
		if err != nil {
			return nil, err
		}
		x, inc := nv.boundKey(fc, false, hiInc)
		maxp, hiInc = &x, inc
	} else if longEncoded(f.Type) {
		x := longKey(math.MaxInt64)
		maxp, hiInc = &x, true
	}
	return withBoost(numericRange(n.field, minp, maxp, loInc, hiInc), n.boost), nil
}

// numericRange builds a bleve numeric range query that never spans the sign boundary of the
// sortable int64 keys. Bleve enumerates the terms of its lowest-precision sub-range byte by byte,
// and a sub-range from a negative to a positive key wraps through the whole key space (the query
// never returns); split at zero, each half is enumerated normally.
func numericRange(field string, minp, maxp *float64, loInc, hiInc bool) query.Query {
	one := func(lo, hi *float64, li, hi2 bool) query.Query {
		q := query.NewNumericRangeInclusiveQuery(lo, hi, &li, &hi2)
		q.SetField(field)
		return q
	}
	if minp == nil || maxp == nil {
		return one(minp, maxp, loInc, hiInc)
	}
	lo, hi := numeric.Float64ToInt64(*minp), numeric.Float64ToInt64(*maxp)
	if !loInc && lo != math.MaxInt64 {
		lo++
	}
	if !hiInc && hi != math.MinInt64 {
		hi--
	}
	if lo >= 0 || hi < 0 || lo > hi {
		return one(minp, maxp, loInc, hiInc)
	}
	negLo, negHi := numeric.Int64ToFloat64(lo), numeric.Int64ToFloat64(-1)
	posLo, posHi := numeric.Int64ToFloat64(0), numeric.Int64ToFloat64(hi)
	return query.NewDisjunctionQuery([]query.Query{
		one(&negLo, &negHi, true, true),
		one(&posLo, &posHi, true, true),
	})
}

func (c *compiler) matchQuery(fieldName string, v any, operator, msm string, boost float64, params map[string]any) (query.Query, *esError) {
	f := c.m.flat[fieldName]
	if f == nil || f.Type == typeObject {
		return matchNone(), nil
	}
	if f.Type != typeText {
		if lenient, _ := params["lenient"].(bool); lenient {
			q, err := c.termQuery(fieldName, v)
			if err != nil {
				return matchNone(), nil
			}
			return withBoost(q, boost), nil
		}
		q, err := c.termQuery(fieldName, v)
		if err != nil {
			return nil, err
		}
		return withBoost(q, boost), nil
	}
	s, ok := scalarString(v)
	if !ok {
		return nil, errParsing("[match] unknown token [START_OBJECT] after [query]")
	}
	an := c.ix.an.forField(f, true)
	if a, ok := params["analyzer"].(string); ok {
		if named, ok := c.ix.an.byName[a]; ok {
			an = named
		}
	}
	terms := analyzeWith(an, s)
	if len(terms) == 0 {
		if z, _ := params["zero_terms_query"].(string); strings.EqualFold(z, "all") {
			return query.NewMatchAllQuery(), nil
		}
		return matchNone(), nil
	}
	qs := make([]query.Query, 0, len(terms))
	for _, t := range terms {
		q := query.NewTermQuery(t)
		q.SetField(fieldName)
		qs = append(qs, q)
	}
	if len(qs) == 1 {
		return withBoost(qs[0], boost), nil
	}
	if operator == "and" {
		return withBoost(query.NewConjunctionQuery(qs), boost), nil
	}
	d := query.NewDisjunctionQuery(qs)
	if msm != "" {
		v, err := minimumShouldMatch(msm, len(qs))
		if err != nil {
			return nil, err
		}
		if v > len(qs) {
			return matchNone(), nil
		}
		d.SetMin(float64(v))
	}
	return withBoost(d, boost), nil
}

func (c *compiler) phraseQuery(fieldName string, v any, boost float64) (query.Query, *esError) {
	f := c.m.flat[fieldName]
	if f == nil || f.Type == typeObject {
		return matchNone(), nil
	}
	if f.Type != typeText {
		q, err := c.termQuery(fieldName, v)
		if err != nil {
			return nil, err
		}
		return withBoost(q, boost), nil
	}
	s, _ := scalarString(v)
	terms := analyzeWith(c.ix.an.forField(f, true), s)
	switch len(terms) {
	case 0:
		return matchNone(), nil
	case 1:
		q := query.NewTermQuery(terms[0])
		q.SetField(fieldName)
		return withBoost(q, boost), nil
	}
	q := query.NewPhraseQuery(terms, fieldName)
	return withBoost(q, boost), nil
}

// searchableFields expands field patterns (with ^boost suffixes) against the mapping;
// no pattern means every text and keyword field, as index.query.default_field "*" does.
func (c *compiler) searchableFields(patterns []string) []fieldBoost {
	if len(patterns) == 0 {
		patterns = []string{"*"}
	}
	var out []fieldBoost
	seen := map[string]bool{}
	for _, p := range patterns {
		boost := 1.0
		if i := strings.LastIndexByte(p, '^'); i > 0 {
			if b, err := strconv.ParseFloat(p[i+1:], 64); err == nil {
				boost = b
			}
			p = p[:i]
		}
		if !strings.Contains(p, "*") {
			if !seen[p] {
				seen[p] = true
				out = append(out, fieldBoost{p, boost})
			}
			continue
		}
		for _, name := range sortedKeys(c.m.flat) {
			f := c.m.flat[name]
			if seen[name] || !wildcardMatch(p, name) {
				continue
			}
			if p == "*" && f.Type != typeText && f.Type != typeKeyword {
				continue
			}
			if f.Type == typeObject {
				continue
			}
			seen[name] = true
			out = append(out, fieldBoost{name, boost})
		}
	}
	return out
}

type fieldBoost struct {
	name  string
	boost float64
}

func (c *compiler) multiMatch(n *qnode) (query.Query, *esError) {
	typ, _ := n.params["type"].(string)
	var qs []query.Query
	for _, fb := range c.searchableFields(n.fields) {
		var q query.Query
		var err *esError
		if typ == "phrase" {
			q, err = c.phraseQuery(fb.name, n.value, fb.boost)
		} else {
			q, err = c.matchQuery(fb.name, n.value, n.operator, n.msm, fb.boost, map[string]any{"lenient": true})
		}
		if err != nil {
			return nil, err
		}
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		return matchNone(), nil
	}
	return withBoost(query.NewDisjunctionQuery(qs), n.boost), nil
}
