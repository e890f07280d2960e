package esembed

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	stdunicode "unicode"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/character"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/single"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/document"
	bindex "github.com/blevesearch/bleve_index_api"
)

// Internal bleve fields.
const (
	fieldSource     = "_source"
	fieldFieldNames = "_field_names"
	fieldSeqNo      = "_seq_no"
	fieldVersion    = "_version"
)

// analyzers holds the stateless analyzers shared by every index.
type analyzers struct {
	keyword analysis.Analyzer
	text    analysis.Analyzer // Elasticsearch's "standard"
	byName  map[string]analysis.Analyzer
}

// builtinAnalyzers are the Elasticsearch built-in analyzers the engine reproduces.
var builtinAnalyzers = map[string]bool{"standard": true, "default": true, "simple": true, "whitespace": true, "keyword": true}

// newAnalyzers builds Elasticsearch's built-in analyzers: "standard" (Unicode word
// segmentation and lower-casing, no stop words), "simple" (letters, lower-cased),
// "whitespace" and "keyword" (the whole value as one term).
func newAnalyzers() *analyzers {
	std := &analysis.DefaultAnalyzer{Tokenizer: unicode.NewUnicodeTokenizer(),
		TokenFilters: []analysis.TokenFilter{lowercase.NewLowerCaseFilter()}}
	kw := &analysis.DefaultAnalyzer{Tokenizer: single.NewSingleTokenTokenizer()}
	return &analyzers{keyword: kw, text: std, byName: map[string]analysis.Analyzer{
		"standard": std, "default": std, "keyword": kw,
		"simple": &analysis.DefaultAnalyzer{Tokenizer: character.NewCharacterTokenizer(stdunicode.IsLetter),
			TokenFilters: []analysis.TokenFilter{lowercase.NewLowerCaseFilter()}},
		"whitespace": &analysis.DefaultAnalyzer{Tokenizer: character.NewCharacterTokenizer(func(r rune) bool { return !stdunicode.IsSpace(r) })},
	}}
}

// forField returns a text field's index (or search) analyzer.
func (a *analyzers) forField(f *field, search bool) analysis.Analyzer {
	name := f.Analyzer
	if search && f.SearchAnalyzer != "" {
		name = f.SearchAnalyzer
	}
	if an, ok := a.byName[name]; ok {
		return an
	}
	return a.text
}

// analyzeText returns the terms of s as the standard analyzer produces them.
func (a *analyzers) analyzeText(s string) []string { return analyzeWith(a.text, s) }

func analyzeWith(an analysis.Analyzer, s string) []string {
	ts := an.Analyze([]byte(s))
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, string(t.Term))
	}
	return out
}

// newField is a field introduced by dynamic mapping while parsing a document.
type newField struct {
	path []string
	f    *field
}

// docBuilder turns a JSON source into a bleve document following a mapping.
type docBuilder struct {
	arrayObjects, arrayObjectsLimit int // index.mapping.array_objects.limit (0: none)
	m                               *mapping
	an                              *analyzers
	id                              string
	doc                             *document.Document
	added                           []newField
	addedAt                         map[string]*field
	seen                            map[string]struct{}
}

// parseSource decodes a document source; the top level must be an object.
func parseSource(src []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errDocParsing("failed to parse")
	}
	// Nothing but whitespace may follow the object: responses carry a stored source as it
	// was written (jsonenc.go), so bytes after it would end up in other readers' answers.
	// (dec.More is false before a stray '}' or ']'.)
	if len(bytes.TrimLeft(src[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, errDocParsing("failed to parse, document is malformed")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errDocParsing("failed to parse, document is empty")
	}
	return m, nil
}

// buildDoc converts a parsed source into a bleve document. It returns the fields that dynamic
// mapping must add before the document can be indexed (the caller updates the mapping and
// calls again).
func buildDoc(m *mapping, an *analyzers, id string, src map[string]any, raw []byte, seqNo, version int64) (*document.Document, []newField, error) {
	return buildDocLimited(m, an, id, src, raw, 0)
}

// buildDocLimited is buildDoc with index.mapping.array_objects.limit applied.
func buildDocLimited(m *mapping, an *analyzers, id string, src map[string]any, raw []byte, arrayObjectsLimit int) (*document.Document, []newField, error) {
	b := &docBuilder{m: m, an: an, id: id, doc: document.NewDocument(id), seen: map[string]struct{}{}, arrayObjectsLimit: arrayObjectsLimit}
	if err := b.object(nil, "", src, m.Properties, m.Dynamic); err != nil {
		return nil, nil, err
	}
	if len(b.added) > 0 {
		return nil, b.added, nil
	}
	if m.sourceEnabled() {
		b.doc.AddField(document.NewTextFieldWithIndexingOptions(fieldSource, nil, raw, bindex.StoreField))
	}
	return b.doc, nil, nil
}

func (b *docBuilder) markSeen(path string) {
	if _, ok := b.seen[path]; ok {
		return
	}
	b.seen[path] = struct{}{}
	b.doc.AddField(document.NewTextFieldCustom(fieldFieldNames, nil, []byte(path), bindex.IndexField, b.an.keyword))
}

func (b *docBuilder) object(segs []string, prefix string, obj map[string]any, props map[string]*field, dynamic string) error {
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		if k == "" || strings.Trim(k, ".") == "" || strings.Contains(k, "..") {
			return errDocParsing("field name cannot be an empty string")
		}
		if strings.HasPrefix(k, "_") && prefix == "" && isMetadataField(k) {
			return errDocParsing("Field [%s] is a metadata field and cannot be added inside a document. Use the index API request parameters.", k)
		}
		if i := strings.IndexByte(k, '.'); i > 0 {
			// "a.b": v is the object {"a": {"b": v}}.
			head, rest := k[:i], k[i+1:]
			if err := b.value(segs, prefix, head, map[string]any{rest: v}, props, dynamic); err != nil {
				return err
			}
			continue
		}
		if err := b.value(segs, prefix, k, v, props, dynamic); err != nil {
			return err
		}
	}
	return nil
}

func isMetadataField(k string) bool {
	switch k {
	case "_id", "_index", "_source", "_routing", "_seq_no", "_version", "_primary_term", "_field_names", "_ignored", "_doc_count", "_tier", "_data_stream_timestamp":
		return true
	}
	return false
}

func (b *docBuilder) value(segs []string, prefix, name string, v any, props map[string]*field, dynamic string) error {
	path := prefix + name
	f := props[name]
	if f == nil {
		f = b.addedAt[path]
	}
	if arr, ok := v.([]any); ok {
		if b.arrayObjectsLimit > 0 {
			for _, e := range arr {
				if _, isObj := e.(map[string]any); isObj {
					b.arrayObjects++
				}
			}
			if b.arrayObjects > b.arrayObjectsLimit {
				return errDocParsing("The total number of objects across all arrays [%d] has exceeded the allowed limit of [%d]. This limit can be set by changing the [index.mapping.array_objects.limit] index setting.", b.arrayObjects, b.arrayObjectsLimit)
			}
		}
		for _, e := range arr {
			if err := b.value(segs, prefix, name, e, props, dynamic); err != nil {
				return err
			}
			if f == nil {
				f = b.addedAt[path]
			}
		}
		return nil
	}
	if v == nil {
		if f != nil && f.NullValue != nil {
			return b.leaf(path, f, f.NullValue)
		}
		return nil
	}
	if f == nil {
		switch dynamic {
		case "strict":
			return &esError{Status: 400, Type: "strict_dynamic_mapping_exception",
				Reason: "mapping set to strict, dynamic introduction of [" + name + "] within [" + objName(segs) + "] is not allowed"}
		case "false":
			return nil
		}
		nf := b.infer(v)
		if nf == nil {
			return nil
		}
		if b.addedAt == nil {
			b.addedAt = map[string]*field{}
		}
		b.addedAt[path] = nf
		p := append(append([]string(nil), segs...), name)
		b.added = append(b.added, newField{path: p, f: nf})
		f = nf
	}
	if f.Type == typeObject {
		obj, ok := v.(map[string]any)
		if !ok {
			return errDocParsing("object mapping for [%s] tried to parse field [%s] as object, but found a concrete value", path, name)
		}
		b.markSeen(path)
		d := dynamic
		if f.Dynamic != "" {
			d = f.Dynamic
		}
		return b.object(append(segs, name), path+".", obj, f.Properties, d)
	}
	if _, ok := v.(map[string]any); ok {
		return b.parseErr(path, f, v, nil)
	}
	if err := b.leaf(path, f, v); err != nil {
		return err
	}
	for sub, sf := range f.Fields {
		if err := b.leaf(path+"."+sub, sf, v); err != nil {
			return err
		}
	}
	return nil
}

func objName(segs []string) string {
	if len(segs) == 0 {
		return "_doc"
	}
	return strings.Join(segs, ".")
}

// infer is Elasticsearch's default dynamic mapping for a new value.
func (b *docBuilder) infer(v any) *field {
	switch t := v.(type) {
	case string:
		if b.m.dateDetection() && looksLikeDate(t) {
			return &field{Type: typeDate, Index: true, DocValues: true, Params: map[string]any{}, Formats: defaultDateFormats}
		}
		if b.m.numericDetection() {
			if _, err := strconv.ParseInt(t, 10, 64); err == nil {
				return &field{Type: typeLong, Index: true, DocValues: true, Params: map[string]any{}}
			}
			if _, err := strconv.ParseFloat(t, 64); err == nil {
				return &field{Type: typeFloat, Index: true, DocValues: true, Params: map[string]any{}}
			}
		}
		return &field{Type: typeText, Index: true, Params: map[string]any{}, Fields: map[string]*field{
			"keyword": {Type: typeKeyword, Index: true, DocValues: true, IgnoreAbove: 256, Params: map[string]any{"ignore_above": json.Number("256")}},
		}}
	case json.Number:
		if _, err := strconv.ParseInt(t.String(), 10, 64); err == nil {
			return &field{Type: typeLong, Index: true, DocValues: true, Params: map[string]any{}}
		}
		return &field{Type: typeFloat, Index: true, DocValues: true, Params: map[string]any{}}
	case float64:
		return &field{Type: typeFloat, Index: true, DocValues: true, Params: map[string]any{}}
	case bool:
		return &field{Type: typeBoolean, Index: true, DocValues: true, Params: map[string]any{}}
	case map[string]any:
		return &field{Type: typeObject, Index: true, Params: map[string]any{}, Properties: map[string]*field{}}
	}
	return nil
}

func looksLikeDate(s string) bool {
	if len(s) < 8 || s[0] < '0' || s[0] > '9' || !strings.ContainsAny(s, "-/") {
		return false
	}
	if _, err := parseISODate(s); err == nil {
		return true
	}
	_, err := parseDateWith(s, []string{"yyyy/MM/dd HH:mm:ss Z", "yyyy/MM/dd Z", "yyyy/MM/dd"})
	return err == nil
}

func (b *docBuilder) parseErr(path string, f *field, v any, cause *esError) error {
	prev := jsonString(v)
	if m, ok := v.(map[string]any); ok {
		prev = jsonString(m)
	}
	e := errDocParsing("failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's value: '%s'", path, f.Type, b.id, prev)
	e.CausedBy = cause
	return e
}

func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case bool:
		return strconv.FormatBool(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	}
	return "", false
}

func (b *docBuilder) leaf(path string, f *field, v any) error {
	switch f.Type {
	case typeKeyword:
		s, ok := scalarString(v)
		if !ok {
			return b.parseErr(path, f, v, nil)
		}
		if f.IgnoreAbove > 0 && len([]rune(s)) > f.IgnoreAbove {
			return nil // not indexed: neither searchable nor "existing"
		}
		b.markSeen(path)
		var opts bindex.FieldIndexingOptions
		if f.Index {
			opts |= bindex.IndexField
		}
		if f.DocValues {
			opts |= bindex.DocValues
		}
		if opts != 0 {
			b.doc.AddField(document.NewTextFieldCustom(path, nil, []byte(s), opts, b.an.keyword))
		}
	case typeText:
		s, ok := scalarString(v)
		if !ok {
			return b.parseErr(path, f, v, nil)
		}
		b.markSeen(path)
		if f.Index {
			b.doc.AddField(document.NewTextFieldCustom(path, nil, []byte(s), bindex.IndexField|bindex.IncludeTermVectors, b.an.forField(f, false)))
		}
	case typeBoolean:
		var val bool
		switch t := v.(type) {
		case bool:
			val = t
		case string:
			switch t {
			case "true":
				val = true
			case "false", "":
			default:
				return b.parseErr(path, f, v, errIllegalArgument("Failed to parse value [%s] as only [true] or [false] are allowed.", t))
			}
		default:
			return b.parseErr(path, f, v, errIllegalArgument("Failed to parse value [%s] as only [true] or [false] are allowed.", jsonString(v)))
		}
		var n int64
		if val {
			n = 1
		}
		b.addNumeric(path, f, longKey(n))
	case typeDate:
		ms, err := dateValue(v, f.Formats)
		if err != nil {
			return b.parseErr(path, f, v, errIllegalArgument("failed to parse date field [%s] with format [%s]", jsonString(v), dateFormatName(f)))
		}
		b.addNumeric(path, f, longKey(ms))
	default:
		if !f.isNumeric() {
			return b.parseErr(path, f, v, nil)
		}
		n, err := numericValue(v, f)
		if err != nil {
			return b.parseErr(path, f, v, err)
		}
		b.addNumeric(path, f, n)
	}
	return nil
}

func dateFormatName(f *field) string {
	if f.FormatRaw != "" {
		return f.FormatRaw
	}
	return defaultDateFormatRaw
}

func (b *docBuilder) addNumeric(path string, f *field, n float64) {
	b.markSeen(path)
	var opts bindex.FieldIndexingOptions
	if f.Index {
		opts |= bindex.IndexField
	}
	if f.DocValues {
		opts |= bindex.DocValues
	}
	if opts != 0 {
		b.doc.AddField(document.NewNumericFieldWithIndexingOptions(path, nil, n, opts))
	}
}

func dateValue(v any, formats []string) (int64, error) {
	switch t := v.(type) {
	case string:
		return parseDateWith(t, formats)
	case json.Number:
		if ms, err := parseDateWith(t.String(), formats); err == nil {
			return ms, nil
		}
		return parseEpoch(t.String(), 1)
	case float64:
		return int64(t), nil
	}
	return 0, errBadDate
}

// numericValue converts a JSON value for a numeric field to its bleve number (see
// numeric.go), coercing strings and truncating fractions for integer types as Elasticsearch
// does.
func numericValue(v any, f *field) (float64, *esError) {
	var s string
	switch t := v.(type) {
	case json.Number:
		s = t.String()
	case string:
		s = strings.TrimSpace(t)
	case float64:
		s = strconv.FormatFloat(t, 'g', -1, 64)
	case bool:
		return 0, &esError{Type: "illegal_argument_exception", Status: 400, Reason: "Current token (VALUE_" + strings.ToUpper(strconv.FormatBool(t)) + ") not numeric, can not use numeric value accessors"}
	default:
		return 0, errIllegalArgument("not a number")
	}
	if f.isInteger() {
		i, err := parseIntegerValue(s, f.Type)
		if err != nil {
			return 0, err
		}
		return longKey(i), nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, &esError{Status: 400, Type: "number_format_exception", Reason: "For input string: \"" + s + "\""}
	}
	switch f.Type {
	case typeFloat:
		return float64(float32(x)), nil
	case typeHalfFloat:
		return float64(float32(x)), nil
	case typeScaledFloat:
		return math.Round(x*f.ScalingFactor) / f.ScalingFactor, nil
	}
	return x, nil
}

// addDynamicFields returns a copy of m with the fields found by dynamic mapping.
func addDynamicFields(m *mapping, added []newField) *mapping {
	c := m.clone()
	for _, nf := range added {
		props := c.Properties
		for _, seg := range nf.path[:len(nf.path)-1] {
			parent := props[seg]
			if parent == nil || parent.Properties == nil {
				break
			}
			props = parent.Properties
		}
		name := nf.path[len(nf.path)-1]
		if _, exists := props[name]; !exists {
			props[name] = nf.f
		}
	}
	c.reflatten()
	return c
}
