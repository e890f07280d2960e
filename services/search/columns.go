package search

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Column is one column of the live table, derived from the index mapping: its type from
// mappings.properties, its presentation from mappings._meta.columns.
type Column struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	// Type is the Elasticsearch field type (keyword, text, date, long, scaled_float, boolean, ...).
	Type string `json:"type"`
	// Kind is the type family the API reasons with: string, text, number, date or boolean.
	Kind       string `json:"kind"`
	Sortable   bool   `json:"sortable"`
	Filterable bool   `json:"filterable"`
	// Facet marks a low-cardinality column whose values the web page offers as filter chips.
	Facet   bool `json:"facet"`
	Visible bool `json:"visible"`
	// Searchable columns take part in the free-text q parameter.
	Searchable bool `json:"searchable"`
	// Format is a presentation hint: "money" (with CurrencyField) or "datetime".
	Format        string `json:"format,omitempty"`
	CurrencyField string `json:"currency_field,omitempty"`

	// sortField is the field Elasticsearch sorts and filters exactly on: the column itself,
	// or its keyword subfield for a text column.
	sortField string
	metadata  bool
}

// Table is the parsed mapping of one concrete index.
type Table struct {
	Index          string
	MappingVersion int
	// Columns are the user-facing columns in _meta order (metadata fields excluded).
	Columns []Column
	// FreshnessField is the metadata date field holding each document's indexing time, "" if
	// the mapping has none.
	FreshnessField string
	byName         map[string]int
	items          *itemLayout // set by the constructor; computed per page for other tables
}

func (t *Table) itemLayout() *itemLayout {
	if t.items != nil {
		return t.items
	}
	return newItemLayout(t.Columns)
}

// Column returns the named user column.
func (t *Table) Column(name string) (Column, bool) {
	i, ok := t.byName[name]
	if !ok {
		return Column{}, false
	}
	return t.Columns[i], true
}

// tiebreaker is the unique keyword every sort ends with so that search_after paging never skips
// or repeats a document among equal sort values. The document id equals the order id.
const tiebreaker = "order_id"

// freshnessField is the metadata field the indexer stamps on every write.
const freshnessField = "indexed_at"

// ErrMapping marks an index mapping the search API cannot serve.
var ErrMapping = errors.New("unusable index mapping")

type metaColumn struct {
	Label         string `json:"label"`
	Visible       bool   `json:"visible"`
	Format        string `json:"format"`
	CurrencyField string `json:"currency_field"`
	Facet         bool   `json:"facet"`
	Metadata      bool   `json:"metadata"`
	// Position orders the columns when given; otherwise _meta key order is used (which an
	// engine may not preserve: the embedded one returns keys sorted).
	Position *int `json:"position"`
}

type property struct {
	Type   string              `json:"type"`
	Fields map[string]property `json:"fields"`
}

// parseMapping turns one index's "mappings" object into a Table. Column order follows the
// key order of _meta.columns, which is why that object is read token by token.
func parseMapping(index string, mappings []byte) (*Table, error) {
	var m struct {
		Meta struct {
			MappingVersion int             `json:"mapping_version"`
			Columns        json.RawMessage `json:"columns"`
		} `json:"_meta"`
		Properties map[string]property `json:"properties"`
	}
	if err := json.Unmarshal(mappings, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMapping, index, err)
	}
	names, metas, err := orderedColumns(m.Meta.Columns)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: _meta.columns: %v", ErrMapping, index, err)
	}
	sortByPosition(names, metas)
	t := &Table{Index: index, MappingVersion: m.Meta.MappingVersion, byName: map[string]int{}}
	for i, name := range names {
		meta := metas[i]
		prop, ok := m.Properties[name]
		if !ok {
			// A column announced in _meta but absent from properties cannot be queried.
			continue
		}
		if name == freshnessField && prop.Type == "date" {
			t.FreshnessField = name
		}
		if meta.Metadata {
			continue
		}
		c := Column{
			Name: name, Label: meta.Label, Type: prop.Type, Visible: meta.Visible, Facet: meta.Facet,
			Format: meta.Format, CurrencyField: meta.CurrencyField, sortField: name,
		}
		if c.Label == "" {
			c.Label = name
		}
		switch prop.Type {
		case "keyword", "constant_keyword", "wildcard":
			c.Kind, c.Sortable, c.Filterable, c.Searchable = "string", true, true, true
		case "text", "match_only_text":
			c.Kind, c.Searchable = "text", true
			if kw, ok := prop.Fields["keyword"]; ok && kw.Type == "keyword" {
				c.sortField, c.Sortable, c.Filterable = name+".keyword", true, true
			}
		case "long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long":
			c.Kind, c.Sortable, c.Filterable = "number", true, true
		case "date", "date_nanos":
			c.Kind, c.Sortable, c.Filterable = "date", true, true
		case "boolean":
			c.Kind, c.Sortable, c.Filterable = "boolean", true, true
		default:
			c.Kind = "other"
		}
		t.byName[name] = len(t.Columns)
		t.Columns = append(t.Columns, c)
	}
	tb, ok := t.Column(tiebreaker)
	if !ok || tb.Type != "keyword" {
		return nil, fmt.Errorf("%w: %s: no keyword column %q to break sort ties", ErrMapping, index, tiebreaker)
	}
	t.items = newItemLayout(t.Columns)
	return t, nil
}

// orderedColumns decodes the _meta.columns object keeping its key order.
func orderedColumns(raw json.RawMessage) ([]string, []metaColumn, error) {
	if len(raw) == 0 {
		return nil, nil, errors.New("missing")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("not an object")
	}
	var names []string
	var metas []metaColumn
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		name, _ := tok.(string)
		var mc metaColumn
		if err := dec.Decode(&mc); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		if slices.Contains(names, name) {
			continue
		}
		names = append(names, name)
		metas = append(metas, mc)
	}
	return names, metas, nil
}

// sortByPosition orders columns by their position; columns without one keep their relative
// order after those with one.
func sortByPosition(names []string, metas []metaColumn) {
	idx := make([]int, len(names))
	for i := range idx {
		idx[i] = i
	}
	pos := func(i int) int {
		if p := metas[i].Position; p != nil {
			return *p
		}
		return math.MaxInt
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(pos(a), pos(b)) })
	n2, m2 := slices.Clone(names), slices.Clone(metas)
	for i, j := range idx {
		names[i], metas[i] = n2[j], m2[j]
	}
}
