package search

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// A page's rendering, without reflection.
//
// A page of 50 orders was decoded three times and encoded once by encoding/json in this
// service: the engine's answer, each hit's _source into a map, and the response, whose
// json.RawMessage values encoding/json scans and compacts once more. That made the API's own
// CPU about four times the engine's for a first page (BenchmarkPaging, api/engine_p50).
// Now the engine's answer is decoded (and so validated) once; the columns are picked out of
// each validated _source by a scanner, and the response is written directly, byte for byte
// what json.Marshal wrote (TestRenderMatchesEncodingJSON).

// itemLayout is a table's item keys in the order encoding/json writes a map's keys.
type itemLayout struct {
	names []string       // column names, sorted
	keys  [][]byte       // each name as a JSON string, followed by ':'
	pos   map[string]int // name -> index in names
}

func newItemLayout(cols []Column) *itemLayout {
	l := &itemLayout{pos: make(map[string]int, len(cols))}
	for _, c := range cols {
		l.names = append(l.names, c.Name)
	}
	slices.Sort(l.names)
	l.names = slices.Compact(l.names)
	for i, n := range l.names {
		k, _ := json.Marshal(n) // a string always encodes
		l.keys = append(l.keys, append(k, ':'))
		l.pos[n] = i
	}
	return l
}

// pageItems are a page's rows: for each hit, the raw JSON value of each column of the
// layout (nil where the document has no such field).
type pageItems struct {
	layout *itemLayout
	rows   [][]json.RawMessage
}

// add picks the layout's columns out of src, a JSON object already validated by the decoder
// that produced it (metadata and unknown fields stay behind).
func (p *pageItems) add(src []byte) error {
	row := make([]json.RawMessage, len(p.layout.names))
	if len(src) == 0 {
		return errors.New("empty _source")
	}
	if string(bytes.TrimSpace(src)) == "null" { // an empty item, as a map decoded from null
		p.rows = append(p.rows, row)
		return nil
	}
	if err := visitObject(src, func(key string, val []byte) {
		if i, ok := p.layout.pos[key]; ok {
			row[i] = val // the last of duplicate keys wins, as with encoding/json
		}
	}); err != nil {
		return err
	}
	p.rows = append(p.rows, row)
	return nil
}

// MarshalJSON writes the rows as objects: for encoding/json users of ordersResponse.
func (p pageItems) MarshalJSON() ([]byte, error) {
	return p.appendJSON(nil), nil
}

func (p pageItems) appendJSON(dst []byte) []byte {
	dst = append(dst, '[')
	for r, row := range p.rows {
		if r > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		first := true
		for i, v := range row {
			if v == nil {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, p.layout.keys[i]...)
			dst = appendCompactHTML(dst, v)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendJSON writes the response as json.Marshal (gin's c.JSON) writes it: the fields in
// struct order, the items directly, the rest through encoding/json (they are small).
func (r *ordersResponse) appendJSON(dst []byte) ([]byte, error) {
	fields := []struct {
		name string
		v    any
	}{{"index", r.Index}, {"mapping_version", r.MappingVersion}, {"columns", r.Columns}, {"sort", r.Sort},
		{"items", r.Items}, {"total", r.Total}, {"next_cursor", r.NextCursor}, {"fresh_as_of", r.FreshAsOf}}
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, f.name...)
		dst = append(dst, '"', ':')
		if items, ok := f.v.(pageItems); ok {
			dst = items.appendJSON(dst)
			continue
		}
		b, err := json.Marshal(f.v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", f.name, err)
		}
		dst = append(dst, b...)
	}
	return append(dst, '}'), nil
}

const hexDigits = "0123456789abcdef"

// appendCompactHTML appends valid JSON as encoding/json writes a json.RawMessage: without
// insignificant whitespace, with <, >, & and U+2028/U+2029 escaped.
func appendCompactHTML(dst, src []byte) []byte {
	inStr, esc := false, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			continue
		case c == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8:
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[src[i+2]&0xF])
			i += 2
			continue
		}
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		} else {
			switch c {
			case ' ', '\t', '\n', '\r':
				continue
			case '"':
				inStr = true
			}
		}
		dst = append(dst, c)
	}
	return dst
}

var errNotObject = errors.New("_source is not a JSON object")

// visitObject calls fn with each member of the JSON object b, which must be valid JSON (a
// value encoding/json decoded into a json.RawMessage); val is the member's raw value.
func visitObject(b []byte, fn func(key string, val []byte)) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errNotObject
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return errNotObject
		}
		end := skipString(b, i)
		raw := b[i:end]
		var key string
		if slices.Contains(raw, '\\') || !utf8.Valid(raw) { // as encoding/json unquotes it
			if err := json.Unmarshal(raw, &key); err != nil {
				return fmt.Errorf("_source key: %w", err)
			}
		} else {
			key = string(raw[1 : len(raw)-1])
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return errNotObject
		}
		i = skipSpace(b, i+1)
		vend := skipValue(b, i)
		fn(key, b[i:vend])
		i = skipSpace(b, vend)
		if i >= len(b) {
			break
		}
		if b[i] == '}' {
			return nil
		}
		if b[i] != ',' {
			return errNotObject
		}
		i = skipSpace(b, i+1)
	}
	return errNotObject
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i] ('"').
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value that starts at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
