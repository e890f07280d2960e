package esembed

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Field types the engine understands.
const (
	typeKeyword     = "keyword"
	typeText        = "text"
	typeLong        = "long"
	typeInteger     = "integer"
	typeShort       = "short"
	typeByte        = "byte"
	typeDouble      = "double"
	typeFloat       = "float"
	typeHalfFloat   = "half_float"
	typeScaledFloat = "scaled_float"
	typeDate        = "date"
	typeBoolean     = "boolean"
	typeObject      = "object"
)

// field is one mapped field (leaf, object or multi-field).
type field struct {
	Type           string
	Params         map[string]any // parameters as given, returned by GET _mapping
	Properties     map[string]*field
	Fields         map[string]*field
	Dynamic        string // objects only; "" inherits
	IgnoreAbove    int
	ScalingFactor  float64
	Index          bool
	DocValues      bool
	Formats        []string // date formats
	FormatRaw      string
	NullValue      any
	Analyzer       string // text: index analyzer (empty: standard)
	SearchAnalyzer string
}

func (f *field) isNumeric() bool {
	switch f.Type {
	case typeLong, typeInteger, typeShort, typeByte, typeDouble, typeFloat, typeHalfFloat, typeScaledFloat:
		return true
	}
	return false
}

func (f *field) isInteger() bool {
	switch f.Type {
	case typeLong, typeInteger, typeShort, typeByte:
		return true
	}
	return false
}

// sortable tells whether the bleve field carries doc values.
func (f *field) sortable() bool {
	return f.Type != typeText && f.Type != typeObject && f.DocValues
}

// numericIndexed is true for types stored as bleve numeric fields.
func (f *field) numericIndexed() bool {
	return f.isNumeric() || f.Type == typeDate || f.Type == typeBoolean
}

// mapping is an index mapping. It is immutable once built: changes make a copy, so writers and
// searchers read it without locks.
type mapping struct {
	Dynamic    string // "true", "false", "strict"
	Meta       map[string]any
	Properties map[string]*field
	Extra      map[string]any // date_detection, numeric_detection, _source, ...
	flat       map[string]*field
}

func newMapping() *mapping {
	m := &mapping{Dynamic: "true", Properties: map[string]*field{}}
	m.reflatten()
	return m
}

func (m *mapping) reflatten() {
	m.flat = map[string]*field{}
	var walk func(prefix string, props map[string]*field)
	walk = func(prefix string, props map[string]*field) {
		for name, f := range props {
			p := prefix + name
			m.flat[p] = f
			for sub, sf := range f.Fields {
				m.flat[p+"."+sub] = sf
			}
			if f.Properties != nil {
				walk(p+".", f.Properties)
			}
		}
	}
	walk("", m.Properties)
}

func (m *mapping) dateDetection() bool {
	if v, ok := m.Extra["date_detection"]; ok {
		if b, ok := v.(bool); ok {
			return b
		}
	}
	return true
}

// sourceEnabled is false with "_source": {"enabled": false}: documents keep no source.
func (m *mapping) sourceEnabled() bool {
	if sm, ok := m.Extra["_source"].(map[string]any); ok {
		if b, ok := sm["enabled"].(bool); ok {
			return b
		}
	}
	return true
}

func (m *mapping) numericDetection() bool {
	if v, ok := m.Extra["numeric_detection"]; ok {
		if b, ok := v.(bool); ok {
			return b
		}
	}
	return false
}

// clone deep-copies the mapping for a copy-on-write update.
func (m *mapping) clone() *mapping {
	c := &mapping{Dynamic: m.Dynamic, Meta: m.Meta, Extra: maps.Clone(m.Extra), Properties: cloneProps(m.Properties)}
	c.reflatten()
	return c
}

func cloneProps(p map[string]*field) map[string]*field {
	if p == nil {
		return nil
	}
	out := make(map[string]*field, len(p))
	for k, f := range p {
		out[k] = f.clone()
	}
	return out
}

func (f *field) clone() *field {
	c := *f
	c.Params = maps.Clone(f.Params)
	c.Properties = cloneProps(f.Properties)
	c.Fields = cloneProps(f.Fields)
	return &c
}

// render returns the mapping as GET _mapping shows it.
func (m *mapping) render() map[string]any {
	out := map[string]any{}
	if m.Dynamic != "true" && m.Dynamic != "" {
		out["dynamic"] = m.Dynamic
	}
	for k, v := range m.Extra {
		out[k] = v
	}
	if m.Meta != nil {
		out["_meta"] = m.Meta
	}
	if len(m.Properties) > 0 {
		out["properties"] = renderProps(m.Properties)
	}
	return out
}

func renderProps(p map[string]*field) map[string]any {
	out := make(map[string]any, len(p))
	for k, f := range p {
		out[k] = f.render()
	}
	return out
}

func (f *field) render() map[string]any {
	out := make(map[string]any, len(f.Params)+2)
	for k, v := range f.Params {
		out[k] = v
	}
	if f.Type != typeObject {
		out["type"] = f.Type
	}
	if f.Type == typeObject && f.Dynamic != "" {
		out["dynamic"] = f.Dynamic
	}
	if len(f.Fields) > 0 {
		out["fields"] = renderProps(f.Fields)
	}
	if f.Properties != nil && (len(f.Properties) > 0 || f.Type == typeObject) {
		if len(f.Properties) > 0 {
			out["properties"] = renderProps(f.Properties)
		}
	}
	return out
}

// parseMapping parses a mappings body ({"dynamic":..,"properties":..}); it accepts the
// pre-7 form wrapped in "_doc" too.
func parseMapping(raw map[string]any) (*mapping, error) {
	m := newMapping()
	if err := m.merge(raw); err != nil {
		return nil, err
	}
	return m, nil
}

var rootMappingParams = map[string]bool{
	"date_detection": true, "numeric_detection": true, "dynamic_date_formats": true,
	"_source": true, "_routing": true, "enabled": true,
}

// merge applies a PUT _mapping body onto m (which must be a private copy).
func (m *mapping) merge(raw map[string]any) error {
	if d, ok := raw["_doc"].(map[string]any); ok && len(raw) == 1 {
		raw = d
	}
	keys := sortedKeys(raw)
	for _, k := range keys {
		v := raw[k]
		switch k {
		case "dynamic":
			d, err := parseDynamic(v)
			if err != nil {
				return err
			}
			m.Dynamic = d
		case "_meta":
			mv, ok := v.(map[string]any)
			if !ok {
				return errMapperParsing("[_meta] must be an object, got [%v]", v)
			}
			m.Meta = mv
		case "properties":
			pv, ok := v.(map[string]any)
			if !ok {
				return errMapperParsing("Expected map for property [fields] on field [properties] but got a class %T", v)
			}
			props, err := mergeProps(m.Properties, pv, "")
			if err != nil {
				return err
			}
			m.Properties = props
		case "dynamic_templates":
			if arr, ok := v.([]any); ok && len(arr) == 0 {
				continue
			}
			return errUnsupported("mapping parameter [dynamic_templates]")
		case "runtime":
			return errUnsupported("mapping parameter [runtime]")
		default:
			if !rootMappingParams[k] {
				return errMapperParsing("Root mapping definition has unsupported parameters:  [%s : %s]", k, jsonString(v))
			}
			if m.Extra == nil {
				m.Extra = map[string]any{}
			}
			m.Extra[k] = v
		}
	}
	m.reflatten()
	return nil
}

func parseDynamic(v any) (string, error) {
	switch d := v.(type) {
	case bool:
		return strconv.FormatBool(d), nil
	case string:
		switch d {
		case "true", "false", "strict":
			return d, nil
		case "runtime":
			return "", errUnsupported("dynamic [runtime]")
		}
	}
	return "", errMapperParsing("Could not convert [dynamic] to boolean")
}

func mergeProps(existing map[string]*field, raw map[string]any, prefix string) (map[string]*field, error) {
	out := make(map[string]*field, len(existing)+len(raw))
	for k, f := range existing {
		out[k] = f
	}
	for _, name := range sortedKeys(raw) {
		def, ok := raw[name].(map[string]any)
		if !ok {
			return nil, errMapperParsing("Expected map for property [fields] on field [%s] but got a class %T", prefix+name, raw[name])
		}
		if name == "" {
			e := errMapperParsing("Failed to parse mapping: field name cannot be an empty string")
			e.CausedBy = errIllegalArgument("field name cannot be an empty string")
			return nil, e
		}
		// Dotted names are shorthand for objects.
		if i := strings.IndexByte(name, '.'); i > 0 {
			head, rest := name[:i], name[i+1:]
			def = map[string]any{"properties": map[string]any{rest: def}}
			name = head
		}
		f, err := parseField(out[name], def, prefix+name)
		if err != nil {
			return nil, err
		}
		out[name] = f
	}
	return out, nil
}

var knownFieldParams = map[string]map[string]bool{
	typeKeyword:     {"ignore_above": true, "index": true, "doc_values": true, "store": true, "null_value": true, "fields": true, "norms": true, "similarity": true, "eager_global_ordinals": true, "meta": true, "normalizer": true, "split_queries_on_whitespace": true, "index_options": true, "copy_to": false},
	typeText:        {"index": true, "store": true, "fields": true, "analyzer": true, "search_analyzer": true, "norms": true, "similarity": true, "fielddata": true, "meta": true, "index_options": true, "position_increment_gap": true, "term_vector": true},
	typeDate:        {"format": true, "index": true, "doc_values": true, "store": true, "null_value": true, "fields": true, "meta": true, "ignore_malformed": true, "locale": true},
	typeBoolean:     {"index": true, "doc_values": true, "store": true, "null_value": true, "fields": true, "meta": true},
	typeScaledFloat: {"scaling_factor": true, "index": true, "doc_values": true, "store": true, "null_value": true, "fields": true, "meta": true, "coerce": true, "ignore_malformed": true},
}

var numericParams = map[string]bool{"index": true, "doc_values": true, "store": true, "null_value": true, "fields": true, "meta": true, "coerce": true, "ignore_malformed": true}

func parseField(prev *field, def map[string]any, path string) (*field, error) {
	typ, _ := def["type"].(string)
	if _, has := def["type"]; has && typ == "" {
		return nil, errMapperParsing("No type specified for field [%s]", path)
	}
	if typ == "" {
		if _, ok := def["properties"]; ok || prev == nil || prev.Type == typeObject {
			typ = typeObject
		} else {
			typ = prev.Type
		}
	}
	if typ == "nested" {
		return nil, errUnsupported("field type [nested] (field [" + path + "])")
	}
	if prev != nil && prev.Type != typ {
		if prev.Type == typeObject || typ == typeObject {
			return nil, errIllegalArgument("can't merge a non object mapping [%s] with an object mapping", path)
		}
		return nil, errIllegalArgument("mapper [%s] cannot be changed from type [%s] to [%s]", path, prev.Type, typ)
	}
	var f *field
	if prev != nil {
		f = prev.clone()
	} else {
		f = &field{Type: typ, Index: true, DocValues: true, Params: map[string]any{}}
	}
	switch typ {
	case typeKeyword, typeText, typeDate, typeBoolean, typeScaledFloat, typeObject,
		typeLong, typeInteger, typeShort, typeByte, typeDouble, typeFloat, typeHalfFloat:
	case "flattened", "ip", "geo_point", "unsigned_long", "wildcard", "constant_keyword", "match_only_text",
		"binary", "integer_range", "dense_vector", "search_as_you_type", "completion", "alias", "version",
		"token_count", "float_range", "long_range", "date_range", "date_nanos", "histogram", "percolator",
		"join", "rank_feature", "rank_features", "semantic_text", "sparse_vector", "shape", "geo_shape", "point":
		return nil, errUnsupported("field type [" + typ + "] (field [" + path + "])")
	default:
		return nil, errMapperParsing("No handler for type [%s] declared on field [%s]", typ, path)
	}
	if typ == typeText {
		f.DocValues = false
	}
	allowed := knownFieldParams[typ]
	if allowed == nil && typ != typeObject {
		allowed = numericParams
	}
	for _, k := range sortedKeys(def) {
		v := def[k]
		switch k {
		case "type":
			continue
		case "properties":
			if typ != typeObject {
				return nil, errMapperParsing("unknown parameter [properties] on mapper [%s] of type [%s]", path, typ)
			}
			pv, ok := v.(map[string]any)
			if !ok {
				return nil, errMapperParsing("Expected map for property [properties] on field [%s]", path)
			}
			props, err := mergeProps(f.Properties, pv, path+".")
			if err != nil {
				return nil, err
			}
			f.Properties = props
			continue
		case "dynamic":
			if typ != typeObject {
				return nil, errMapperParsing("unknown parameter [dynamic] on mapper [%s] of type [%s]", path, typ)
			}
			d, err := parseDynamic(v)
			if err != nil {
				return nil, err
			}
			f.Dynamic = d
			continue
		case "enabled":
			if typ == typeObject {
				if b, ok := v.(bool); ok && !b {
					return nil, errUnsupported("object parameter [enabled: false] (field [" + path + "])")
				}
				continue
			}
		case "fields":
			fv, ok := v.(map[string]any)
			if !ok {
				return nil, errMapperParsing("Expected map for property [fields] on field [%s]", path)
			}
			if f.Fields == nil {
				f.Fields = map[string]*field{}
			}
			for _, sub := range sortedKeys(fv) {
				sdef, ok := fv[sub].(map[string]any)
				if !ok {
					return nil, errMapperParsing("Expected map for property [fields] on field [%s]", path+"."+sub)
				}
				sf, err := parseField(f.Fields[sub], sdef, path+"."+sub)
				if err != nil {
					return nil, err
				}
				if sf.Type == typeObject {
					return nil, errMapperParsing("Type [object] cannot be used in multi field")
				}
				f.Fields[sub] = sf
			}
			continue
		}
		if typ == typeObject || !allowed[k] {
			if typ == typeObject {
				return nil, errMapperParsing("unknown parameter [%s] on mapper [%s] of type [object]", k, path)
			}
			return nil, errMapperParsing("unknown parameter [%s] on mapper [%s] of type [%s]", k, path, typ)
		}
		switch k {
		case "ignore_above":
			n, ok := toInt(v)
			if !ok || n < 0 {
				return nil, errMapperParsing("Failed to parse mapping: [ignore_above] must be a non-negative integer on field [%s]", path)
			}
			f.IgnoreAbove = n
		case "scaling_factor":
			sf, ok := toFloat(v)
			if !ok || sf <= 0 || math.IsInf(sf, 0) {
				return nil, errIllegalArgument("[scaling_factor] must be a positive number, got [%v]", v)
			}
			f.ScalingFactor = sf
		case "index":
			b, ok := toBool(v)
			if !ok {
				return nil, errMapperParsing("Failed to parse value [%v] as only [true] or [false] are allowed.", v)
			}
			f.Index = b
		case "doc_values":
			b, ok := toBool(v)
			if !ok {
				return nil, errMapperParsing("Failed to parse value [%v] as only [true] or [false] are allowed.", v)
			}
			f.DocValues = b
		case "format":
			s, _ := v.(string)
			formats, err := parseDateFormats(s)
			if err != nil {
				return nil, errMapperParsing("Invalid format: [%s]: %s", s, err.Error())
			}
			f.Formats, f.FormatRaw = formats, s
		case "null_value":
			f.NullValue = v
		case "analyzer", "search_analyzer":
			s, _ := v.(string)
			if !builtinAnalyzers[s] {
				return nil, errUnsupported("analyzer [" + jsonString(v) + "] (field [" + path + "])")
			}
			if k == "analyzer" {
				f.Analyzer = s
			} else {
				f.SearchAnalyzer = s
			}
		case "normalizer":
			return nil, errUnsupported("keyword normalizer (field [" + path + "])")
		case "fielddata":
			if b, _ := v.(bool); b {
				return nil, errUnsupported("fielddata=true (field [" + path + "])")
			}
		}
		f.Params[k] = v
	}
	if typ == typeScaledFloat && f.ScalingFactor == 0 {
		return nil, errIllegalArgument("Field [scaling_factor] is required")
	}
	if typ == typeDate && f.Formats == nil {
		f.Formats = defaultDateFormats
	}
	if typ == typeObject && f.Properties == nil {
		f.Properties = map[string]*field{}
	}
	return f, nil
}

// jsonString renders v as Elasticsearch prints values in messages.
func jsonString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case nil:
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func toInt(v any) (int, bool) {
	switch t := v.(type) {
	case json.Number:
		n, err := strconv.Atoi(t.String())
		return n, err == nil
	case float64:
		return int(t), t == math.Trunc(t)
	case int:
		return t, true
	case int64:
		return int(t), true
	case string:
		n, err := strconv.Atoi(t)
		return n, err == nil
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(t.String(), 64)
		return f, err == nil
	case float64:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		return f, err == nil
	}
	return 0, false
}

func toBool(v any) (bool, bool) {
	switch t := v.(type) {
	case bool:
		return t, true
	case string:
		switch t {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// describeType names a JSON value's class in error messages.
func describeType(v any) string {
	return fmt.Sprintf("%T", v)
}
