package esembed

import (
	"context"
	"sort"
	"strconv"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/numeric"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
)

// aggSpec is one supported aggregation: terms, min, max or value_count.
type aggSpec struct {
	name        string
	kind        string
	field       string
	size        int
	orderKey    string // "_count" or "_key"
	orderDesc   bool
	minDocCount int
}

func parseAggs(m map[string]any) ([]*aggSpec, *esError) {
	var out []*aggSpec
	for _, name := range sortedKeys(m) {
		def, ok := m[name].(map[string]any)
		if !ok {
			return nil, errParsing("Expected [START_OBJECT] under [%s], but got a [VALUE_STRING] in [%s]", name, name)
		}
		var spec *aggSpec
		for kind, body := range def {
			switch kind {
			case "aggs", "aggregations":
				return nil, errUnsupported("sub-aggregations (under [" + name + "])")
			case "meta":
				continue
			}
			if spec != nil {
				return nil, errParsing("Found two aggregation type definitions in [%s]: [%s] and [%s]", name, spec.kind, kind)
			}
			bm, ok := body.(map[string]any)
			if !ok {
				return nil, errParsing("[%s] aggregation must be an object", kind)
			}
			spec = &aggSpec{name: name, kind: kind, size: 10, orderKey: "_count", orderDesc: true, minDocCount: 1}
			switch kind {
			case "terms", "min", "max", "value_count":
			case "avg", "sum", "stats", "cardinality", "histogram", "date_histogram", "range", "filter", "filters",
				"top_hits", "percentiles", "composite", "significant_terms", "extended_stats", "missing", "nested", "global":
				return nil, errUnsupported("aggregation type [" + kind + "]")
			default:
				return nil, &esError{Status: 400, Type: "parsing_exception", Reason: "Unknown aggregation type [" + kind + "] did you mean [terms]?",
					Extra: map[string]any{"line": 1, "col": 1}}
			}
			for k, v := range bm {
				switch k {
				case "field":
					s, ok := v.(string)
					if !ok {
						return nil, errParsing("[field] must be a string")
					}
					spec.field = s
				case "size":
					if kind != "terms" {
						return nil, errParsing("[%s] unknown field [size]", kind)
					}
					n, ok := toInt(v)
					if !ok || n < 1 {
						return nil, errIllegalArgument("[size] must be greater than 0. Found [%s] in [%s]", jsonString(v), name)
					}
					spec.size = n
				case "shard_size", "show_term_doc_count_error", "execution_hint", "collect_mode", "format":
				case "min_doc_count":
					n, ok := toInt(v)
					if !ok || n < 0 {
						return nil, errIllegalArgument("[min_doc_count] must be greater than or equal to 0")
					}
					if n == 0 {
						return nil, errUnsupported("terms [min_doc_count] 0")
					}
					spec.minDocCount = n
				case "order":
					om, ok := v.(map[string]any)
					if !ok || len(om) != 1 || kind != "terms" {
						return nil, errUnsupported("terms [order] other than a single {\"_count\"|\"_key\": \"asc\"|\"desc\"}")
					}
					for ok2, ov := range om {
						if ok2 != "_count" && ok2 != "_key" {
							return nil, errUnsupported("terms order by [" + ok2 + "]")
						}
						desc, err := parseOrder(jsonString(ov))
						if err != nil {
							return nil, err
						}
						spec.orderKey, spec.orderDesc = ok2, desc
					}
				case "missing", "script", "include", "exclude", "value_type":
					return nil, errUnsupported("[" + k + "] in [" + kind + "] aggregation")
				default:
					return nil, errParsing("[%s] unknown field [%s]", kind, k)
				}
			}
			if spec.field == "" {
				return nil, errIllegalArgument("Required one of fields [field, script], but none were specified.")
			}
		}
		if spec == nil {
			return nil, errParsing("Missing definition for aggregation [%s]", name)
		}
		out = append(out, spec)
	}
	return out, nil
}

// aggPartial is one index's result for one aggregation.
type aggPartial struct {
	counts  map[string]int // terms: key -> docs (key is the rendered term)
	other   int
	numeric bool
	ftype   string
	value   *float64
	strVal  *string
	count   uint64
}

func (c *compiler) runAggs(ctx context.Context, q query.Query, aggs []*aggSpec) (map[string]*aggPartial, *esError) {
	out := map[string]*aggPartial{}
	for _, a := range aggs {
		f := c.m.flat[a.field]
		p := &aggPartial{counts: map[string]int{}}
		out[a.name] = p
		if a.field == "_index" && a.kind == "terms" {
			p.ftype = typeKeyword
			req := bleve.NewSearchRequestOptions(q, 0, 0, false)
			req.Score = "none"
			res, err := c.ix.bidx.SearchInContext(ctx, req)
			if err != nil {
				return nil, &esError{Status: 500, Type: "exception", Reason: err.Error()}
			}
			if res.Total > 0 {
				p.counts[c.ix.name] = int(res.Total)
			}
			continue
		}
		if f == nil || f.Type == typeObject {
			continue // unmapped: empty result, as Elasticsearch
		}
		p.ftype = f.Type
		if f.Type == typeText {
			return nil, &esError{Status: 400, Type: "illegal_argument_exception", Index: c.ix.name, IndexUUID: c.ix.uuid,
				Reason: "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [" + a.field + "] in order to load field data by uninverting the inverted index. Note that this can use significant memory."}
		}
		if !f.DocValues {
			return nil, &esError{Status: 400, Type: "illegal_argument_exception", Index: c.ix.name, IndexUUID: c.ix.uuid,
				Reason: "Can't load fielddata on [" + a.field + "] because fielddata is unsupported on fields of type [" + f.Type + "]. Use doc values instead."}
		}
		p.numeric = f.Type != typeKeyword
		if !p.numeric && a.kind != "terms" && a.kind != "value_count" {
			return nil, &esError{Status: 400, Type: "illegal_argument_exception", Index: c.ix.name, IndexUUID: c.ix.uuid,
				Reason: "Field [" + a.field + "] of type [keyword] is not supported for aggregation [" + a.kind + "]"}
		}
		switch a.kind {
		case "terms":
			req := bleve.NewSearchRequestOptions(q, 0, 0, false)
			req.Score = "none"
			fr := bleve.NewFacetRequest(a.field, 1<<30)
			if p.numeric {
				// Numeric doc values hold every precision step; full-precision terms start
				// with shift 0.
				fr.SetPrefixFilter(string([]byte{numeric.ShiftStartInt64}))
			}
			req.AddFacet("t", fr)
			res, err := c.ix.bidx.SearchInContext(ctx, req)
			if err != nil {
				return nil, &esError{Status: 500, Type: "exception", Reason: err.Error()}
			}
			if fres := res.Facets["t"]; fres != nil && fres.Terms != nil {
				for _, t := range fres.Terms.Terms() {
					key := t.Term
					if p.numeric {
						v, ok := decodeTerm(t.Term, longEncoded(f.Type))
						if !ok {
							continue
						}
						key = jsonString(v)
						if fv, isF := v.(float64); isF {
							key = strconv.FormatFloat(fv, 'g', -1, 64)
						}
					}
					p.counts[key] += t.Count
				}
			}
		case "min", "max":
			bq := query.NewBooleanQuery(nil, nil, nil)
			bq.AddMust(q)
			bq.AddFilter(c.existsQuery(a.field))
			req := bleve.NewSearchRequestOptions(bq, 1, 0, false)
			req.Score = "none"
			typ := search.SortFieldAsString
			if p.numeric {
				typ = search.SortFieldAuto
			}
			mode := search.SortFieldMin
			if a.kind == "max" {
				mode = search.SortFieldMax
			}
			req.Sort = search.SortOrder{&search.SortField{Field: a.field, Desc: a.kind == "max", Type: typ, Mode: mode, Missing: search.SortFieldMissingLast}}
			res, err := c.ix.bidx.SearchInContext(ctx, req)
			if err != nil {
				return nil, &esError{Status: 500, Type: "exception", Reason: err.Error()}
			}
			if len(res.Hits) > 0 {
				if p.numeric {
					if v, ok := decodeTerm(res.Hits[0].Sort[0], longEncoded(f.Type)); ok {
						var x float64
						switch t := v.(type) {
						case int64:
							x = float64(t)
						case float64:
							x = t
						}
						p.value = &x
					}
				} else {
					s := res.Hits[0].Sort[0]
					p.strVal = &s
				}
			}
		case "value_count":
			// Count values, not documents: the sum of the per-document doc-value terms.
			req := bleve.NewSearchRequestOptions(q, 0, 0, false)
			req.Score = "none"
			fr := bleve.NewFacetRequest(a.field, 1<<30)
			if p.numeric {
				fr.SetPrefixFilter(string([]byte{numeric.ShiftStartInt64}))
			}
			req.AddFacet("v", fr)
			res, err := c.ix.bidx.SearchInContext(ctx, req)
			if err != nil {
				return nil, &esError{Status: 500, Type: "exception", Reason: err.Error()}
			}
			if fres := res.Facets["v"]; fres != nil && fres.Terms != nil {
				for _, t := range fres.Terms.Terms() {
					p.count += uint64(t.Count)
				}
			}
		}
	}
	return out, nil
}

func typedName(a *aggSpec, ftype string, typed bool) string {
	if !typed {
		return a.name
	}
	prefix := a.kind
	if a.kind == "terms" {
		switch kindOfType(ftype) {
		case "long":
			prefix = "lterms"
		case "double":
			prefix = "dterms"
		default:
			prefix = "sterms"
		}
		if ftype == "" {
			prefix = "sterms"
		}
	}
	return prefix + "#" + a.name
}

// renderAggs merges the per-index partials into Elasticsearch's response shape.
func renderAggs(aggs []*aggSpec, parts []map[string]*aggPartial, typed bool) map[string]any {
	out := map[string]any{}
	for _, a := range aggs {
		ftype := ""
		for _, p := range parts {
			if pp := p[a.name]; pp != nil && pp.ftype != "" {
				ftype = pp.ftype
				break
			}
		}
		name := typedName(a, ftype, typed)
		switch a.kind {
		case "terms":
			counts := map[string]int{}
			for _, p := range parts {
				if pp := p[a.name]; pp != nil {
					for k, n := range pp.counts {
						counts[k] += n
					}
				}
			}
			type bucket struct {
				key string
				n   int
				num float64
			}
			var bs []bucket
			numericKeys := ftype != "" && ftype != typeKeyword
			for k, n := range counts {
				if n < a.minDocCount {
					continue
				}
				b := bucket{key: k, n: n}
				if numericKeys {
					b.num, _ = strconv.ParseFloat(k, 64)
				}
				bs = append(bs, b)
			}
			keyLess := func(x, y bucket) bool {
				if numericKeys {
					return x.num < y.num
				}
				return x.key < y.key
			}
			sort.Slice(bs, func(i, j int) bool {
				x, y := bs[i], bs[j]
				if a.orderKey == "_key" {
					if a.orderDesc {
						return keyLess(y, x)
					}
					return keyLess(x, y)
				}
				if x.n != y.n {
					if a.orderDesc {
						return x.n > y.n
					}
					return x.n < y.n
				}
				return keyLess(x, y)
			})
			other := 0
			if len(bs) > a.size {
				for _, b := range bs[a.size:] {
					other += b.n
				}
				bs = bs[:a.size]
			}
			buckets := make([]any, 0, len(bs))
			for _, b := range bs {
				m := map[string]any{"doc_count": b.n}
				switch {
				case !numericKeys:
					m["key"] = b.key
				case ftype == typeBoolean:
					m["key"] = int64(b.num)
					m["key_as_string"] = strconv.FormatBool(b.num == 1)
				case ftype == typeDate:
					m["key"] = int64(b.num)
					m["key_as_string"] = formatDateMillis(int64(b.num))
				case kindOfType(ftype) == "long":
					m["key"] = int64(b.num)
					if iv, err := strconv.ParseInt(b.key, 10, 64); err == nil {
						m["key"] = iv
					}
				default:
					m["key"] = b.num
				}
				buckets = append(buckets, m)
			}
			out[name] = map[string]any{"doc_count_error_upper_bound": 0, "sum_other_doc_count": other, "buckets": buckets}
		case "min", "max":
			var best *float64
			var bestStr *string
			for _, p := range parts {
				pp := p[a.name]
				if pp == nil {
					continue
				}
				if pp.value != nil && (best == nil || (a.kind == "min" && *pp.value < *best) || (a.kind == "max" && *pp.value > *best)) {
					v := *pp.value
					best = &v
				}
				if pp.strVal != nil && (bestStr == nil || (a.kind == "min" && *pp.strVal < *bestStr) || (a.kind == "max" && *pp.strVal > *bestStr)) {
					s := *pp.strVal
					bestStr = &s
				}
			}
			m := map[string]any{"value": nil}
			switch {
			case best != nil:
				m["value"] = *best
				if ftype == typeDate {
					m["value_as_string"] = formatDateMillis(int64(*best))
				}
			}
			out[name] = m
		case "value_count":
			var n uint64
			for _, p := range parts {
				if pp := p[a.name]; pp != nil {
					n += pp.count
				}
			}
			out[name] = map[string]any{"value": n}
		}
	}
	return out
}
