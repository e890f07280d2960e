// Package mappings embeds the versioned index bodies of the orders table (orders_v1.json,
// orders_v2.json, ...) and parses them: the fields each version declares with their types, and
// the column metadata under mappings._meta.columns that the search page renders.
//
// The JSON files are the single source of truth for the table's columns: the indexer writes
// exactly the fields a target index declares, the search API offers exactly the columns the live
// index declares, and adding a column that the indexer's field catalog already knows needs only
// a new file here.
package mappings

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

//go:embed orders_v*.json
var files embed.FS

// Table is the logical name of the orders table: index names are Table + "_v" + version.
const Table = "orders"

var fileName = regexp.MustCompile(`^orders_v([0-9]+)\.json$`)

// Field is one mapped field of an index.
type Field struct {
	// Name is the field's full dotted path, e.g. "customer_name" or "customer_name.keyword".
	Name string `json:"-"`
	// Type is the Elasticsearch field type: keyword, text, long, scaled_float, date, boolean, ...
	Type string `json:"type"`
	// ScalingFactor is set for scaled_float fields.
	ScalingFactor float64 `json:"scaling_factor,omitempty"`
	// Fields are multi-fields (e.g. a keyword sub-field of a text field), keyed by sub-name.
	Fields map[string]Field `json:"fields,omitempty"`
}

// Sortable reports whether the field itself can be sorted on (keyword, numeric, date, boolean).
func (f Field) Sortable() bool {
	switch f.Type {
	case "keyword", "long", "integer", "short", "byte", "double", "float", "half_float",
		"scaled_float", "unsigned_long", "date", "date_nanos", "boolean":
		return true
	}
	return false
}

// SortField returns the name to sort this field by: itself, or its first sortable multi-field
// (e.g. "customer_name.keyword"), or "" when it can't be sorted.
func (f Field) SortField() string {
	if f.Sortable() {
		return f.Name
	}
	names := make([]string, 0, len(f.Fields))
	for n := range f.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if f.Fields[n].Sortable() {
			return f.Name + "." + n
		}
	}
	return ""
}

// FieldSet is the set of top-level fields a concrete index declares, by name.
type FieldSet map[string]Field

// Has reports whether the index declares the top-level field name.
func (s FieldSet) Has(name string) bool {
	_, ok := s[name]
	return ok
}

// Names returns the field names, sorted.
func (s FieldSet) Names() []string {
	out := make([]string, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Column is the display metadata of one column, from mappings._meta.columns.
type Column struct {
	// Name is the field the column shows.
	Name string `json:"-"`
	// Label is the column header.
	Label string `json:"label"`
	// Visible columns are shown by default; the others can be added by the user.
	Visible bool `json:"visible"`
	// Format tells the page how to render values: "" (plain), "money", "datetime".
	Format string `json:"format,omitempty"`
	// CurrencyField names the field holding the currency of a "money" column.
	CurrencyField string `json:"currency_field,omitempty"`
	// Facet columns get a filter with value counts.
	Facet bool `json:"facet,omitempty"`
	// Metadata columns describe the indexing, not the order (versions, indexed_at).
	Metadata bool `json:"metadata,omitempty"`
	// Position orders the columns in the table (1 first). Explicit because a mapping's _meta is
	// a JSON object, whose key order Elasticsearch does not promise to keep.
	Position int `json:"position,omitempty"`
}

// Mapping is one parsed version of the orders index.
type Mapping struct {
	// Index is the concrete index name this version is created as, e.g. "orders_v2".
	Index string
	// Version is mappings._meta.mapping_version.
	Version int
	// Body is the complete index body ({settings, mappings}) to send to PUT /{index}.
	Body json.RawMessage
	// Fields are the declared top-level fields.
	Fields FieldSet
	// Columns are the columns from _meta.columns keyed by field name; ColumnsInOrder gives
	// them in the file's order.
	Columns map[string]Column
	// Dynamic is mappings.dynamic ("strict" for the orders table).
	Dynamic string

	columnOrder []string
}

// ColumnsInOrder returns the columns in declaration order of the file's _meta.columns.
func (m *Mapping) ColumnsInOrder() []Column {
	out := make([]Column, 0, len(m.Columns))
	for _, n := range m.columnOrder {
		out = append(out, m.Columns[n])
	}
	return out
}

// mappingsBody is the shape of the "mappings" object, in a file or in GET /{index}/_mapping.
type mappingsBody struct {
	Dynamic    any              `json:"dynamic"`
	Meta       json.RawMessage  `json:"_meta"`
	Properties map[string]Field `json:"properties"`
}

type metaBody struct {
	Table          string          `json:"table"`
	MappingVersion int             `json:"mapping_version"`
	Columns        json.RawMessage `json:"columns"`
}

// ParseFields returns the fields declared by a "mappings" object (the value of the mappings
// key of an index body, or of GET /{index}/_mapping's per-index "mappings").
func ParseFields(mappingsJSON []byte) (FieldSet, error) {
	var mb mappingsBody
	if err := json.Unmarshal(mappingsJSON, &mb); err != nil {
		return nil, fmt.Errorf("parse mappings: %w", err)
	}
	return fieldSet(mb.Properties), nil
}

func fieldSet(props map[string]Field) FieldSet {
	fs := make(FieldSet, len(props))
	for name, f := range props {
		f.Name = name
		if len(f.Fields) > 0 {
			sub := make(map[string]Field, len(f.Fields))
			for sn, sf := range f.Fields {
				sf.Name = name + "." + sn
				sub[sn] = sf
			}
			f.Fields = sub
		}
		fs[name] = f
	}
	return fs
}

// Parse parses a complete index body of the orders table. index is the concrete index name it
// is meant for; Parse checks it matches the body's mapping_version.
func Parse(index string, body []byte) (*Mapping, error) {
	var doc struct {
		Settings json.RawMessage `json:"settings"`
		Mappings json.RawMessage `json:"mappings"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("mapping %s: %w", index, err)
	}
	if len(doc.Mappings) == 0 {
		return nil, fmt.Errorf("mapping %s: no mappings", index)
	}
	var mb mappingsBody
	if err := json.Unmarshal(doc.Mappings, &mb); err != nil {
		return nil, fmt.Errorf("mapping %s: mappings: %w", index, err)
	}
	var meta metaBody
	if len(mb.Meta) > 0 {
		if err := json.Unmarshal(mb.Meta, &meta); err != nil {
			return nil, fmt.Errorf("mapping %s: _meta: %w", index, err)
		}
	}
	m := &Mapping{
		Index:   index,
		Version: meta.MappingVersion,
		Body:    json.RawMessage(slices.Clone(body)),
		Fields:  fieldSet(mb.Properties),
		Columns: map[string]Column{},
		Dynamic: fmt.Sprint(mb.Dynamic),
	}
	var errs []error
	if want := IndexName(meta.MappingVersion); index != want {
		errs = append(errs, fmt.Errorf("mapping_version %d means index %s", meta.MappingVersion, want))
	}
	if meta.Table != Table {
		errs = append(errs, fmt.Errorf("_meta.table %q, want %q", meta.Table, Table))
	}
	if len(meta.Columns) > 0 {
		order, err := objectKeys(meta.Columns)
		if err != nil {
			errs = append(errs, fmt.Errorf("_meta.columns: %w", err))
		}
		var cols map[string]Column
		if err := json.Unmarshal(meta.Columns, &cols); err != nil {
			errs = append(errs, fmt.Errorf("_meta.columns: %w", err))
		}
		for _, name := range order {
			c := cols[name]
			c.Name = name
			m.Columns[name] = c
			m.columnOrder = append(m.columnOrder, name)
			f, ok := m.Fields[name]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("column %s has no field", name))
			case c.Visible && f.SortField() == "":
				errs = append(errs, fmt.Errorf("visible column %s (%s) is not sortable", name, f.Type))
			}
			if c.CurrencyField != "" && !m.Fields.Has(c.CurrencyField) {
				errs = append(errs, fmt.Errorf("column %s: currency_field %s has no field", name, c.CurrencyField))
			}
		}
	}
	for name := range m.Fields {
		if _, ok := m.Columns[name]; !ok {
			errs = append(errs, fmt.Errorf("field %s has no column in _meta.columns", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mapping %s: %w", index, err)
	}
	return m, nil
}

// objectKeys returns the keys of a JSON object in document order.
func objectKeys(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not an object")
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("unexpected token %v", t)
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// IndexName is the concrete index name of a mapping version: orders_v{version}.
func IndexName(version int) string { return Table + "_v" + strconv.Itoa(version) }

// VersionOf returns the mapping version of a concrete index name like "orders_v2".
func VersionOf(index string) (int, bool) {
	rest, ok := strings.CutPrefix(index, Table+"_v")
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(rest)
	if err != nil || v < 1 || strconv.Itoa(v) != rest {
		return 0, false
	}
	return v, true
}

// Load returns the embedded mapping of a concrete index name, e.g. Load("orders_v2").
func Load(index string) (*Mapping, error) {
	body, err := fs.ReadFile(files, index+".json")
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", index, err)
	}
	return Parse(index, body)
}

// LoadVersion returns the embedded mapping of a version number.
func LoadVersion(version int) (*Mapping, error) { return Load(IndexName(version)) }

// All returns every embedded mapping, by ascending version.
func All() ([]*Mapping, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, fmt.Errorf("mappings: %w", err)
	}
	var out []*Mapping
	for _, e := range entries {
		if !fileName.MatchString(e.Name()) {
			continue
		}
		m, err := Load(strings.TrimSuffix(e.Name(), ".json"))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Latest returns the embedded mapping with the highest version.
func Latest() (*Mapping, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, errors.New("mappings: none embedded")
	}
	return all[len(all)-1], nil
}

// First returns the first mapping version, the one a fresh installation starts with.
func First() (*Mapping, error) { return LoadVersion(1) }
