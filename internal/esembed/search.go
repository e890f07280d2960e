package esembed

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
)

// sortSpec is one sort criterion.
type sortSpec struct {
	field        string // "_score", "_doc" or a field
	desc         bool
	missing      string // "_last", "_first"
	unmappedType string
	format       string // dates: print sort values in this format
	mode         string // multi-valued fields: "min" or "max" (default: min asc, max desc)
}

// searchRequest is a parsed _search / _count body plus URL parameters.
type searchRequest struct {
	query          *qnode
	postFilter     *qnode
	from, size     int
	sort           []sortSpec
	searchAfter    []any
	source         sourceFilter
	trackTotal     int // -1: exact, 0: disabled, N: count up to N
	totalAsInt     bool
	aggs           []*aggSpec
	version        bool
	seqNoPT        bool
	trackScores    bool
	minScore       *float64
	terminateAfter int
	typedKeys      bool
	docValueFields []docValueField
}

var searchParams = []string{"from", "size", "sort", "_source", "_source_includes", "_source_excludes", "track_total_hits",
	"rest_total_hits_as_int", "ignore_unavailable", "allow_no_indices", "expand_wildcards", "search_type", "request_cache",
	"preference", "routing", "timeout", "typed_keys", "seq_no_primary_term", "version", "allow_partial_search_results",
	"batched_reduce_size", "ccs_minimize_roundtrips", "pre_filter_shard_size", "max_concurrent_shard_requests",
	"track_scores", "terminate_after", "stored_fields", "q", "scroll", "explain", "docvalue_fields", "stats",
	"ignore_throttled", "min_score", "analyzer", "default_operator", "df", "lenient", "analyze_wildcard", "include_named_queries_score", "force_synthetic_source"}

func intParam(v any, name string) (int, *esError) {
	n, ok := toInt(v)
	if !ok {
		return 0, errParsing("[%s] must be an integer, got [%s]", name, jsonString(v))
	}
	return n, nil
}

func parseSortValue(v any) ([]sortSpec, *esError) {
	var list []any
	switch t := v.(type) {
	case []any:
		list = t
	default:
		list = []any{t}
	}
	var out []sortSpec
	for _, e := range list {
		switch t := e.(type) {
		case string:
			out = append(out, defaultSort(t))
		case map[string]any:
			if len(t) != 1 {
				return nil, errParsing("[sort] each sort object must have a single field")
			}
			for field, def := range t {
				s := defaultSort(field)
				switch d := def.(type) {
				case string:
					o, err := parseOrder(d)
					if err != nil {
						return nil, err
					}
					s.desc = o
				case map[string]any:
					for k, pv := range d {
						switch k {
						case "order":
							ostr, _ := pv.(string)
							o, err := parseOrder(ostr)
							if err != nil {
								return nil, err
							}
							s.desc = o
						case "missing":
							ms := jsonString(pv)
							if ms != "_last" && ms != "_first" {
								return nil, errUnsupported("sort [missing] value [" + ms + "] (only _first and _last)")
							}
							s.missing = ms
						case "unmapped_type":
							s.unmappedType = jsonString(pv)
						case "mode":
							ms := jsonString(pv)
							if ms != "min" && ms != "max" {
								return nil, errUnsupported("sort mode [" + ms + "]")
							}
							s.mode = ms
						case "format":
							s.format = jsonString(pv)
						case "numeric_type":
						case "nested", "script", "_geo_distance":
							return nil, errUnsupported("sort [" + k + "]")
						default:
							return nil, errParsing("[%s] unknown field [%s]", "field_sort", k)
						}
					}
				default:
					return nil, errParsing("[sort] malformed sort for field [%s]", field)
				}
				out = append(out, s)
			}
		default:
			return nil, errParsing("[sort] malformed sort specification")
		}
	}
	return out, nil
}

func defaultSort(field string) sortSpec {
	s := sortSpec{field: field, missing: "_last"}
	if field == "_score" {
		s.desc = true
	}
	return s
}

func parseOrder(s string) (bool, *esError) {
	switch strings.ToLower(s) {
	case "asc":
		return false, nil
	case "desc":
		return true, nil
	}
	return false, errIllegalArgument("Unknown SortOrder [%s]", s)
}

// parseSearchRequest reads the body and URL parameters of a search.
func parseSearchRequest(rq *request, count bool) (*searchRequest, *esError) {
	sr := &searchRequest{size: 10, trackTotal: 10000}
	if count {
		sr.size = 0
	}
	body, err := rq.decodeBody()
	if err != nil {
		return nil, err
	}
	if q := rq.param("q"); q != "" {
		if _, has := body["query"]; has {
			return nil, errIllegalArgument("cannot use [q] parameter together with a query in the request body")
		}
		lenient, _ := rq.boolParam("lenient", false)
		n, err := parseURIQuery(q, rq.param("df"), rq.param("default_operator"), lenient)
		if err != nil {
			return nil, err
		}
		sr.query = n
	}
	scroll := rq.param("scroll") != ""
	for _, k := range sortedKeys(body) {
		v := body[k]
		switch k {
		case "query":
			q, err := parseQuery(v)
			if err != nil {
				return nil, err
			}
			sr.query = q
		case "post_filter":
			if count {
				return nil, errParsing("request does not support [post_filter]")
			}
			q, err := parseQuery(v)
			if err != nil {
				return nil, err
			}
			sr.postFilter = q
		case "from":
			if sr.from, err = intParam(v, "from"); err != nil {
				return nil, err
			}
		case "size":
			if sr.size, err = intParam(v, "size"); err != nil {
				return nil, err
			}
		case "sort":
			if sr.sort, err = parseSortValue(v); err != nil {
				return nil, err
			}
		case "search_after":
			arr, ok := v.([]any)
			if !ok {
				return nil, errParsing("[search_after] must be an array")
			}
			sr.searchAfter = arr
		case "_source":
			if sr.source, err = parseSourceFilterJSON(v); err != nil {
				return nil, err
			}
		case "track_total_hits":
			switch t := v.(type) {
			case bool:
				if t {
					sr.trackTotal = -1
				} else {
					sr.trackTotal = 0
				}
			default:
				n, ok := toInt(v)
				if !ok || n < -1 {
					return nil, errIllegalArgument("[track_total_hits] parameter must be positive or equals to -1, got %s", jsonString(v))
				}
				sr.trackTotal = n
				if n == -1 {
					sr.trackTotal = -1
				}
			}
		case "aggs", "aggregations":
			if count {
				return nil, errParsing("request does not support [%s]", k)
			}
			am, ok := v.(map[string]any)
			if !ok {
				return nil, errParsing("[%s] must be an object", k)
			}
			aggs, err := parseAggs(am)
			if err != nil {
				return nil, err
			}
			sr.aggs = aggs
		case "version":
			sr.version, _ = v.(bool)
		case "seq_no_primary_term":
			sr.seqNoPT, _ = v.(bool)
		case "track_scores":
			sr.trackScores, _ = v.(bool)
		case "min_score":
			f, ok := toFloat(v)
			if !ok {
				return nil, errParsing("[min_score] must be a number")
			}
			sr.minScore = &f
		case "terminate_after":
			if sr.terminateAfter, err = intParam(v, "terminate_after"); err != nil {
				return nil, err
			}
		case "timeout", "stats", "profile", "explain", "indices_boost", "stored_fields", "_name":
			if k == "explain" || k == "profile" {
				if b, _ := v.(bool); b {
					return nil, errUnsupported("[" + k + "]")
				}
			}
		case "docvalue_fields":
			dv, err := parseDocValueFields(v)
			if err != nil {
				return nil, err
			}
			sr.docValueFields = dv
		case "rescore":
			resc, isList := v.([]any)
			if !isList {
				resc = []any{v}
			}
			for _, r := range resc {
				rm, _ := r.(map[string]any)
				if ws, ok := toInt(rm["window_size"]); ok && ws > 10000 {
					return nil, (errIllegalArgument("Rescore window [%d] is too large. It must be less than [10000]. This prevents allocating massive heaps for storing the results to be rescored. This limit can be set by changing the [index.max_rescore_window] index level setting.", ws))
				}
			}
			return nil, errUnsupported("search option [rescore]")
		case "highlight", "collapse", "script_fields", "suggest", "pit", "runtime_mappings", "knn", "slice", "fields", "retriever", "rank", "ext":
			return nil, errUnsupported("search option [" + k + "]")
		default:
			return nil, &esError{Status: 400, Type: "parsing_exception", Reason: "Unknown key for a " + keyToken(v) + " in [" + k + "].",
				Extra: map[string]any{"line": 1, "col": 1}}
		}
	}
	// URL parameters override the body, as in Elasticsearch.
	if v := rq.param("from"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil {
			return nil, errIllegalArgument("Failed to parse int parameter [from] with value [%s]", v)
		}
		sr.from = n
	}
	if v := rq.param("size"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil {
			return nil, errIllegalArgument("Failed to parse int parameter [size] with value [%s]", v)
		}
		sr.size = n
	}
	if v := rq.param("sort"); v != "" {
		sr.sort = nil
		for _, part := range splitList(v) {
			s := defaultSort(part)
			if i := strings.LastIndexByte(part, ':'); i > 0 {
				s = defaultSort(part[:i])
				o, oerr := parseOrder(part[i+1:])
				if oerr != nil {
					return nil, oerr
				}
				s.desc = o
			}
			sr.sort = append(sr.sort, s)
		}
	}
	if rq.has("_source") || rq.has("_source_includes") || rq.has("_source_excludes") {
		f, ferr := rq.sourceFilter()
		if ferr != nil {
			return nil, ferr
		}
		sr.source = f
	}
	if v := rq.param("track_total_hits"); v != "" {
		switch v {
		case "true":
			sr.trackTotal = -1
		case "false":
			sr.trackTotal = 0
		default:
			n, perr := strconv.Atoi(v)
			if perr != nil {
				return nil, errIllegalArgument("Failed to parse int parameter [track_total_hits] with value [%s]", v)
			}
			if n < -1 {
				return nil, errIllegalArgument("[track_total_hits] parameter must be positive or equals to -1, got %d", n)
			}
			sr.trackTotal = n
		}
	}
	if b, _ := rq.boolParam("rest_total_hits_as_int", false); b {
		sr.totalAsInt = true
		if sr.trackTotal > 0 && sr.trackTotal != 10000 {
			return nil, errIllegalArgument("[rest_total_hits_as_int] cannot be used if the tracking of total hits is not accurate, got %d", sr.trackTotal)
		}
		if sr.trackTotal != 0 {
			sr.trackTotal = -1
		}
	}
	if b, _ := rq.boolParam("seq_no_primary_term", false); b {
		sr.seqNoPT = true
	}
	if b, _ := rq.boolParam("version", false); b {
		sr.version = true
	}
	if b, _ := rq.boolParam("track_scores", false); b {
		sr.trackScores = true
	}
	if b, _ := rq.boolParam("typed_keys", false); b {
		sr.typedKeys = true
	}
	if v := rq.param("docvalue_fields"); v != "" {
		for _, f := range splitList(v) {
			sr.docValueFields = append(sr.docValueFields, docValueField{field: f})
		}
	}
	if v := rq.param("terminate_after"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil {
			return nil, errIllegalArgument("Failed to parse int parameter [terminate_after] with value [%s]", v)
		}
		sr.terminateAfter = n
	}
	if scroll {
		if sr.size > 10000 {
			return nil, (errIllegalArgument("Batch size is too large, size must be less than or equal to: [10000] but was [%d]. Scroll batch sizes cost as much memory as result windows so they are controlled by the [index.max_result_window] index level setting.", sr.size))
		}
		return nil, errUnsupported("scroll searches; use search_after")
	}
	if sr.terminateAfter < 0 {
		return nil, errIllegalArgument("terminateAfter must be > 0")
	}
	if sr.from < 0 {
		return nil, errIllegalArgument("[from] parameter cannot be negative, found [%d]", sr.from)
	}
	if sr.size < 0 {
		return nil, errIllegalArgument("[size] parameter cannot be negative, found [%d]", sr.size)
	}
	if sr.searchAfter != nil {
		if sr.from > 0 {
			return nil, errSearchPhase(errIllegalArgument("`from` parameter must be set to 0 when `search_after` is used."))
		}
		if len(sr.sort) == 0 {
			return nil, errSearchPhase(errIllegalArgument("Sort must contain at least one field."))
		}
		if len(sr.searchAfter) != len(sr.sort) {
			return nil, errSearchPhase(errIllegalArgument("search_after has %d value(s) but sort has %d.", len(sr.searchAfter), len(sr.sort)))
		}
	}
	if sr.query == nil {
		sr.query = &qnode{kind: "match_all", boost: 1}
	}
	return sr, nil
}

func keyToken(v any) string {
	switch v.(type) {
	case map[string]any:
		return "START_OBJECT"
	case []any:
		return "START_ARRAY"
	}
	return "VALUE_STRING"
}

// indexHits is one index's share of a search.
type indexHits struct {
	ix    *index
	res   *bleve.SearchResult
	specs []compiledSort
}

// compiledSort is a sortSpec resolved against one index's mapping.
type compiledSort struct {
	spec  sortSpec
	kind  string // "score", "doc", "string", "long", "double"
	field *field
	bsort search.SearchSort
}

func (c *compiler) compileSort(specs []sortSpec) ([]compiledSort, search.SortOrder, *esError) {
	var out []compiledSort
	var order search.SortOrder
	for _, s := range specs {
		cs := compiledSort{spec: s}
		missing := search.SortFieldMissingLast
		if s.missing == "_first" {
			missing = search.SortFieldMissingFirst
		}
		mode := search.SortFieldMin
		if s.mode == "max" || (s.mode == "" && s.desc) {
			mode = search.SortFieldMax
		}
		switch s.field {
		case "_score":
			cs.kind = "score"
			cs.bsort = &search.SortScore{Desc: s.desc}
		case "_doc":
			cs.kind = "long"
			cs.bsort = &search.SortField{Field: fieldSeqNo, Desc: s.desc, Missing: missing}
		case "_id":
			// Elasticsearch 8 refuses fielddata on _id (indices.id_field_data.enabled=false).
			return nil, nil, &esError{Status: 400, Type: "illegal_argument_exception", Index: c.ix.name, IndexUUID: c.ix.uuid,
				Reason: "Fielddata access on the _id field is disallowed, you can re-enable it by updating the dynamic cluster setting: indices.id_field_data.enabled"}
		case "_seq_no":
			cs.kind = "long"
			cs.bsort = &search.SortField{Field: fieldSeqNo, Desc: s.desc, Missing: missing}
		default:
			f := c.m.flat[s.field]
			if f == nil || f.Type == typeObject {
				if s.unmappedType == "" {
					return nil, nil, c.shardErr("No mapping found for ["+s.field+"] in order to sort on", nil)
				}
				cs.kind = kindOfType(s.unmappedType)
				cs.bsort = &search.SortField{Field: "\x00unmapped." + s.field, Desc: s.desc, Missing: missing}
				break
			}
			if f.Type == typeText {
				return nil, nil, &esError{Status: 400, Type: "illegal_argument_exception", Index: c.ix.name, IndexUUID: c.ix.uuid,
					Reason: "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [" + s.field + "] in order to load field data by uninverting the inverted index. Note that this can use significant memory."}
			}
			if !f.DocValues {
				return nil, nil, &esError{Status: 400, Type: "illegal_argument_exception", Index: c.ix.name, IndexUUID: c.ix.uuid,
					Reason: "Can't load fielddata on [" + s.field + "] because fielddata is unsupported on fields of type [" + f.Type + "]. Use doc values instead."}
			}
			cs.field = f
			cs.kind = kindOfType(f.Type)
			// Numbers sort on their full-precision terms in "auto" mode: bleve keeps only
			// shift-0 terms, and search_after takes the same encoded terms (numeric.go).
			typ := search.SortFieldAsString
			if cs.kind != "string" {
				typ = search.SortFieldAuto
			}
			cs.bsort = &search.SortField{Field: s.field, Desc: s.desc, Type: typ, Missing: missing, Mode: mode}
		}
		out = append(out, cs)
		order = append(order, cs.bsort)
	}
	return out, order, nil
}

func kindOfType(t string) string {
	switch t {
	case typeKeyword, "string":
		return "string"
	case typeDouble, typeFloat, typeHalfFloat, typeScaledFloat:
		return "double"
	case typeDate, typeLong, typeInteger, typeShort, typeByte, typeBoolean:
		return "long"
	}
	return "string"
}

// searchAfterValue converts a search_after value to bleve's representation.
func (c *compiler) searchAfterValue(cs compiledSort, v any) (string, *esError) {
	switch cs.kind {
	case "score":
		f, ok := toFloat(v)
		if !ok {
			return "", errIllegalArgument("Failed to parse search_after value for field [_score].")
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case "string":
		if v == nil {
			if (cs.spec.missing == "_last") != cs.spec.desc {
				return search.HighTerm, nil
			}
			return search.LowTerm, nil
		}
		return jsonString(v), nil
	}
	if v == nil {
		if (cs.spec.missing == "_last") != cs.spec.desc {
			return search.HighTerm, nil
		}
		return search.LowTerm, nil
	}
	bad := func() *esError {
		return errIllegalArgument("Failed to parse search_after value [%s] for field [%s]", jsonString(v), cs.spec.field)
	}
	// The substituted sort value of a missing field (sortValue) maps back to bleve's marker,
	// so paging continues through the documents without a value.
	marker := func(high bool) string {
		if high {
			return search.HighTerm
		}
		return search.LowTerm
	}
	if n, ok := v.(json.Number); ok {
		s := n.String()
		intType := cs.field != nil && (cs.field.Type == typeInteger || cs.field.Type == typeShort || cs.field.Type == typeByte)
		switch {
		case cs.kind == "long" && !intType && s == "9223372036854775807", intType && s == "2147483647":
			return marker(true), nil
		case cs.kind == "long" && !intType && s == "-9223372036854775808", intType && s == "-2147483648":
			return marker(false), nil
		case cs.kind == "double":
			if f, err := n.Float64(); err == nil && f == math.MaxFloat64 {
				return marker(true), nil
			} else if err == nil && f == -math.MaxFloat64 {
				return marker(false), nil
			}
		}
	}
	if cs.kind == "long" {
		var i int64
		switch t := v.(type) {
		case bool:
			if t {
				i = 1
			}
		case string:
			if cs.field != nil && cs.field.Type == typeDate {
				ms, err := parseDateWith(t, cs.field.Formats)
				if err != nil {
					return "", bad()
				}
				i = ms
			} else if n, err := parseIntegerValue(t, typeLong); err == nil {
				i = n
			} else {
				return "", bad()
			}
		default:
			n, err := parseIntegerValue(jsonString(v), typeLong)
			if err != nil {
				return "", bad()
			}
			i = n
		}
		return prefixCoded(i), nil
	}
	f, ok := toFloat(v)
	if !ok {
		return "", bad()
	}
	return prefixCoded(fromLongKey(f)), nil
}

// sortValue renders a hit's sort value the way Elasticsearch prints it.
func sortValue(cs compiledSort, hit *search.DocumentMatch, i int) any {
	raw := hit.Sort[i]
	if cs.kind == "score" {
		return hit.Score
	}
	dateFormat := cs.field != nil && cs.field.Type == typeDate && cs.spec.format != ""
	if raw == search.HighTerm || raw == search.LowTerm {
		// Bleve marks a missing value high exactly when Elasticsearch substitutes the
		// largest value (_last ascending, _first descending).
		high := raw == search.HighTerm
		if dateFormat {
			return nil
		}
		if cs.field != nil && (cs.field.Type == typeInteger || cs.field.Type == typeShort || cs.field.Type == typeByte) {
			if high {
				return int64(math.MaxInt32)
			}
			return int64(math.MinInt32)
		}
		switch cs.kind {
		case "long":
			if high {
				return int64(math.MaxInt64)
			}
			return int64(math.MinInt64)
		case "double":
			if high {
				return math.MaxFloat64
			}
			return -math.MaxFloat64
		}
		return nil
	}
	if cs.kind == "string" {
		return raw
	}
	if v, ok := decodeTerm(raw, cs.kind == "long"); ok {
		if dateFormat {
			return formatDate(v.(int64), cs.spec.format, cs.field)
		}
		return v
	}
	return raw
}

// handleSearch is GET/POST /{target}/_search and _count.
func (e *Engine) handleSearch(rq *request, expr string, count bool) (int, any, *esError) {
	if count {
		if err := rq.allow("ignore_unavailable", "allow_no_indices", "expand_wildcards", "min_score", "preference", "routing", "q", "analyzer", "analyze_wildcard", "default_operator", "df", "lenient", "terminate_after", "ignore_throttled"); err != nil {
			return 0, nil, err
		}
	} else if err := rq.allow(searchParams...); err != nil {
		return 0, nil, err
	}
	sr, err := parseSearchRequest(rq, count)
	if err != nil {
		return 0, nil, err
	}
	opt, err := rq.resolveOpts(true)
	if err != nil {
		return 0, nil, err
	}
	e.mu.RLock()
	ixs, filters, err := e.resolveLocked(expr, opt)
	e.mu.RUnlock()
	if err != nil {
		return 0, nil, err
	}
	res, err := e.runSearch(rq.r.Context(), ixs, filters, sr)
	if err != nil {
		return 0, nil, err
	}
	shards := map[string]any{"total": len(ixs), "successful": len(ixs), "skipped": 0, "failed": 0}
	if count {
		return 200, map[string]any{"count": res.total, "_shards": shards}, nil
	}
	out := map[string]any{"took": rq.took(), "timed_out": false, "_shards": shards}
	hitsObj := map[string]any{"max_score": res.maxScore, "hits": res.hits}
	if sr.trackTotal == 0 && sr.totalAsInt {
		hitsObj["total"] = -1
	} else if sr.trackTotal != 0 {
		if sr.totalAsInt {
			hitsObj["total"] = res.total
		} else {
			v, rel := res.total, "eq"
			if sr.trackTotal > 0 && res.total > uint64(sr.trackTotal) {
				v, rel = uint64(sr.trackTotal), "gte"
			}
			hitsObj["total"] = map[string]any{"value": v, "relation": rel}
		}
	}
	out["hits"] = hitsObj
	if sr.terminateAfter > 0 {
		out["terminated_early"] = res.total >= uint64(sr.terminateAfter)
	}
	if len(sr.aggs) > 0 {
		out["aggregations"] = res.aggs
	}
	return 200, out, nil
}

type searchOutcome struct {
	total    uint64
	maxScore any
	hits     []any
	aggs     map[string]any
}

// runSearch searches every index and merges hits in sort order.
func (e *Engine) runSearch(ctx context.Context, ixs []*index, filters map[string][]map[string]any, sr *searchRequest) (*searchOutcome, *esError) {
	now := time.Now()
	window := sr.from + sr.size
	sortByScore := len(sr.sort) == 0
	for _, s := range sr.sort {
		if s.field == "_score" {
			sortByScore = true
		}
	}
	var parts []indexHits
	var total uint64
	aggParts := make([]map[string]*aggPartial, 0, len(ixs))
	for _, ix := range ixs {
		c := &compiler{e: e, ix: ix, m: ix.mapping.Load(), now: now}
		q, err := c.compile(sr.query)
		if err != nil {
			return nil, searchPhaseOf(err)
		}
		if mrw := ix.settings.Load().maxResultWindow; window > mrw {
			return nil, errSearchPhase(&esError{Status: 400, Type: "illegal_argument_exception", Index: ix.name, IndexUUID: ix.uuid,
				Reason: "Result window is too large, from + size must be less than or equal to: [" + strconv.Itoa(mrw) + "] but was [" + strconv.Itoa(window) + "]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting."})
		}
		if max := maxDocValueFields(ix); len(sr.docValueFields) > max {
			return nil, errSearchPhase(&esError{Status: 400, Type: "illegal_argument_exception", Index: ix.name, IndexUUID: ix.uuid,
				Reason: "Trying to retrieve too many docvalue_fields. Must be less than or equal to: [" + strconv.Itoa(max) + "] but was [" + strconv.Itoa(len(sr.docValueFields)) + "]. This limit can be set by changing the [index.max_docvalue_fields_search] index level setting."})
		}
		if fl := filters[ix.name]; len(fl) > 0 {
			var fqs []query.Query
			for _, f := range fl {
				fn, perr := parseQuery(f)
				if perr != nil {
					return nil, perr
				}
				fq, cerr := c.compile(fn)
				if cerr != nil {
					return nil, searchPhaseOf(cerr)
				}
				fqs = append(fqs, fq)
			}
			bq := query.NewBooleanQuery(nil, nil, nil)
			bq.AddMust(q)
			bq.AddFilter(query.NewDisjunctionQuery(fqs))
			q = bq
		}
		if len(sr.aggs) > 0 {
			ap, aerr := c.runAggs(ctx, q, sr.aggs)
			if aerr != nil {
				return nil, searchPhaseOf(aerr)
			}
			aggParts = append(aggParts, ap)
		}
		hq := q
		if sr.postFilter != nil {
			pf, cerr := c.compile(sr.postFilter)
			if cerr != nil {
				return nil, searchPhaseOf(cerr)
			}
			bq := query.NewBooleanQuery(nil, nil, nil)
			bq.AddMust(q)
			bq.AddFilter(pf)
			hq = bq
		}
		specs, order, serr := c.compileSort(sr.sort)
		if serr != nil {
			return nil, searchPhaseOf(serr)
		}
		size, from := window, 0
		if len(ixs) == 1 {
			size, from = sr.size, sr.from
		}
		if sr.minScore != nil {
			// Scores are only known per hit: collect enough hits to filter and count them.
			size, from = 10000+window, 0
		}
		req := bleve.NewSearchRequestOptions(hq, size, from, false)
		if len(order) > 0 {
			req.Sort = order
		}
		if !sortByScore && !sr.trackScores && sr.minScore == nil {
			req.Score = "none"
		}
		req.Fields = nil
		if !sr.source.disabled || len(sr.docValueFields) > 0 {
			req.Fields = []string{fieldSource}
		}
		if sr.version || sr.seqNoPT {
			req.Fields = append(req.Fields, fieldVersion, fieldSeqNo)
		}
		if sr.searchAfter != nil {
			after := make([]string, len(specs))
			for i, cs := range specs {
				v, aerr := c.searchAfterValue(cs, sr.searchAfter[i])
				if aerr != nil {
					return nil, searchPhaseOf(aerr)
				}
				after[i] = v
			}
			req.SearchAfter = after
		}
		if size == 0 {
			req.Fields = nil
		}
		sctx := ctx
		var sc *sortedCollector
		if sfs, cache := sortedFields(order), e.sortCache.Load(); sfs != nil && cache != nil && ix.pinned != nil && !sr.trackScores && sr.minScore == nil {
			// Sorted on fields only: bleve still runs the query and counts, but the page is
			// collected from cached sort columns (sortcache.go).
			sc = &sortedCollector{cache: cache, index: ix.uuid, sorts: sfs, after: req.SearchAfter,
				keep: size + from, skip: from, fields: req.Fields}
			sctx = sc.withCollector(ctx)
			req = bleve.NewSearchRequestOptions(hq, 0, 0, false)
			req.Score = "none"
		}
		_, all := hq.(*query.MatchAllQuery)
		if sc != nil {
			sc.cache.noteUse(ix.uuid, sc.sorts, all)
		}
		ix.searchers.Add(1)
		var res *bleve.SearchResult
		var berr error
		done := false
		if all && sc != nil {
			// Every document matches: walk the segments in sort order instead.
			res, done, berr = sc.searchMatchAll(ix.pinned)
		}
		if !done && berr == nil {
			res, berr = ix.bidx.SearchInContext(sctx, req)
			if berr == nil && sc != nil {
				res.Hits = sc.hits
			}
		}
		ix.searchers.Add(-1)
		if berr != nil {
			return nil, &esError{Status: 500, Type: "search_phase_execution_exception", Reason: berr.Error()}
		}
		total += res.Total
		parts = append(parts, indexHits{ix: ix, res: res, specs: specs})
	}
	out := &searchOutcome{total: total, hits: []any{}}
	// Merge.
	type cand struct {
		p    *indexHits
		hit  *search.DocumentMatch
		vals []any // rendered sort values
	}
	var all []cand
	for i := range parts {
		for _, h := range parts[i].res.Hits {
			if sr.minScore != nil && h.Score < *sr.minScore {
				continue
			}
			var vals []any
			if len(sr.sort) > 0 {
				vals = make([]any, len(parts[i].specs))
				for k, cs := range parts[i].specs {
					vals[k] = sortValue(cs, h, k)
				}
			}
			all = append(all, cand{&parts[i], h, vals})
		}
	}
	if sr.minScore != nil {
		out.total = uint64(len(all))
		if len(parts) == 1 {
			if sr.from >= len(all) {
				all = nil
			} else {
				all = all[sr.from:]
			}
			if len(all) > sr.size {
				all = all[:sr.size]
			}
		}
	}
	if len(parts) > 1 {
		// Across indices, hits merge on their sort values as Elasticsearch prints them
		// (an integer field's missing value is Integer.MAX_VALUE, a long's Long.MAX_VALUE).
		sort.SliceStable(all, func(a, b int) bool {
			if len(sr.sort) == 0 {
				return all[a].hit.Score > all[b].hit.Score
			}
			return compareSortValues(all[a].p.specs, all[a].vals, all[b].vals) < 0
		})
		if sr.from >= len(all) {
			all = nil
		} else {
			all = all[sr.from:]
		}
		if len(all) > sr.size {
			all = all[:sr.size]
		}
	}
	var maxScore float64 = math.Inf(-1)
	for _, c := range all {
		h := c.hit
		hit := &searchHit{index: c.p.ix.name, id: h.ID}
		if sortByScore || sr.trackScores {
			hit.score = h.Score
			if h.Score > maxScore {
				maxScore = h.Score
			}
		}
		if sr.version {
			hit.version = fromLongKey(numField(h, fieldVersion))
			hit.hasVersion = true
		}
		if sr.seqNoPT {
			hit.seqNo = fromLongKey(numField(h, fieldSeqNo))
			hit.hasSeqNo = true
		}
		var src []byte
		switch v := h.Fields[fieldSource].(type) {
		case storedSource: // the sorted collector's storedLoader
			src = v
		case string: // bleve's collector
			src = []byte(v)
		}
		if !sr.source.disabled && len(src) > 0 {
			hit.source, hit.hasSource = sr.source.apply(src), true
		}
		if len(sr.docValueFields) > 0 && len(src) > 0 {
			if parsed, err := parseSource(src); err == nil {
				m := c.p.ix.mapping.Load()
				fields := map[string]any{}
				for _, d := range sr.docValueFields {
					pats := []string{d.field}
					if strings.Contains(d.field, "*") {
						pats = nil
						for name := range m.flat {
							if wildcardMatch(d.field, name) {
								pats = append(pats, name)
							}
						}
					}
					for _, p := range pats {
						if vals := docValues(m, parsed, docValueField{field: p, format: d.format}); len(vals) > 0 {
							fields[p] = vals
						}
					}
				}
				if len(fields) > 0 {
					hit.fields = fields
				}
			}
		}
		if len(sr.sort) > 0 {
			hit.sort, hit.hasSort = c.vals, true
		}
		out.hits = append(out.hits, hit)
	}
	if (sortByScore || sr.trackScores) && !math.IsInf(maxScore, -1) {
		out.maxScore = maxScore
	} else if sortByScore && total > 0 && len(all) == 0 {
		out.maxScore = nil
	}
	if len(sr.aggs) > 0 {
		out.aggs = renderAggs(sr.aggs, aggParts, sr.typedKeys)
	}
	return out, nil
}

func numField(h *search.DocumentMatch, name string) float64 {
	if v, ok := h.Fields[name].(float64); ok {
		return v
	}
	return 0
}

// compareSortValues orders two hits by their rendered sort values.
func compareSortValues(specs []compiledSort, a, b []any) int {
	for i, cs := range specs {
		x, y := a[i], b[i]
		if x == nil || y == nil {
			switch {
			case x == nil && y == nil:
				continue
			case (x == nil) == (cs.spec.missing != "_first"):
				return 1
			default:
				return -1
			}
		}
		c := compareValues(x, y)
		if cs.spec.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func compareValues(x, y any) int {
	if xi, ok := x.(int64); ok {
		if yi, ok := y.(int64); ok {
			switch {
			case xi < yi:
				return -1
			case xi > yi:
				return 1
			}
			return 0
		}
	}
	xf, xok := toFloatAny(x)
	yf, yok := toFloatAny(y)
	if xok && yok {
		switch {
		case xf < yf:
			return -1
		case xf > yf:
			return 1
		}
		return 0
	}
	return strings.Compare(jsonString(x), jsonString(y))
}

func toFloatAny(v any) (float64, bool) {
	switch t := v.(type) {
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

// searchPhaseOf wraps shard-level errors; request-level ones pass through.
func searchPhaseOf(err *esError) *esError {
	switch err.Type {
	case "query_shard_exception", "illegal_argument_exception", "number_format_exception":
		if err.Index != "" || err.Type == "query_shard_exception" {
			return errSearchPhase(err)
		}
	}
	return err
}

var _ = json.Marshal

func maxDocValueFields(ix *index) int {
	if v, err := strconv.Atoi(ix.settings.Load().flat["index.max_docvalue_fields_search"]); err == nil {
		return v
	}
	return 100
}
