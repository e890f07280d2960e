package esembed

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

// Response encoding.
//
// encoding/json reaches every value of a response through reflection and, for a
// json.RawMessage, scans and compacts the bytes again. A search page's hits are mostly their
// _source, JSON the engine parsed when the document was written: re-validating it was about
// as much CPU as the search itself (BenchmarkSortedPage). appendJSON writes the values
// responses are built from (maps, slices, strings, numbers, stored sources) directly, in
// encoding/json's exact output, and hands anything else to encoding/json.

// storedSource is a document's _source as the engine stored it: JSON it parsed when the
// document was written, written into responses as it is (Elasticsearch also returns the
// source verbatim).
type storedSource []byte

// MarshalJSON makes a storedSource encode like a json.RawMessage where encoding/json meets
// it (inside a value appendJSON hands over).
func (s storedSource) MarshalJSON() ([]byte, error) {
	if len(s) == 0 {
		return []byte("null"), nil
	}
	return s, nil
}

// jsonEncoder appends values as JSON; its scratch buffer serves the values it hands to
// encoding/json.
type jsonEncoder struct {
	scratch bytes.Buffer
	enc     *json.Encoder
	keys    []string
}

// encodeJSON returns v as encoding/json encodes it with SetEscapeHTML(false), without the
// trailing newline.
func encodeJSON(v any) ([]byte, error) {
	var e jsonEncoder
	return e.append(nil, v)
}

func (e *jsonEncoder) append(dst []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, t), nil
	case string:
		return e.appendString(dst, t)
	case int:
		return strconv.AppendInt(dst, int64(t), 10), nil
	case int64:
		return strconv.AppendInt(dst, t, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(t), 10), nil
	case uint64:
		return strconv.AppendUint(dst, t, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(t), 10), nil
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return e.fallback(dst, t) // encoding/json's error
		}
		return appendFloat(dst, t), nil
	case *searchHit:
		return e.appendHit(dst, t)
	case storedSource:
		if len(t) == 0 {
			return append(dst, "null"...), nil
		}
		return append(dst, t...), nil
	case map[string]any:
		if t == nil {
			return append(dst, "null"...), nil
		}
		start := len(e.keys)
		for k := range t {
			e.keys = append(e.keys, k)
		}
		keys := e.keys[start:]
		slices.Sort(keys)
		dst = append(dst, '{')
		var err error
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = e.appendString(dst, k); err != nil {
				return nil, err
			}
			dst = append(dst, ':')
			if dst, err = e.append(dst, t[k]); err != nil {
				return nil, err
			}
		}
		e.keys = e.keys[:start]
		return append(dst, '}'), nil
	case []any:
		if t == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		var err error
		for i, x := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = e.append(dst, x); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	}
	return e.fallback(dst, v)
}

// appendString writes strings of printable ASCII without escapes itself; encoding/json
// writes the others (escapes, invalid UTF-8, U+2028).
func (e *jsonEncoder) appendString(dst []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return e.fallback(dst, s)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"'), nil
}

func (e *jsonEncoder) fallback(dst []byte, v any) ([]byte, error) {
	if e.enc == nil {
		e.enc = json.NewEncoder(&e.scratch)
		e.enc.SetEscapeHTML(false)
	}
	e.scratch.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return append(dst, bytes.TrimSuffix(e.scratch.Bytes(), []byte{'\n'})...), nil
}

// appendFloat formats a finite float64 as encoding/json does (ES 6 number formatting).
func appendFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json does.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// searchHit is one hit of a search response. It replaces a map per hit; appendHit writes it as
// encoding/json wrote that map (keys sorted, absent keys left out).
type searchHit struct {
	index, id  string
	score      any // float64, or nil when not scored
	version    int64
	hasVersion bool
	seqNo      int64 // with _primary_term
	hasSeqNo   bool
	source     storedSource
	hasSource  bool
	fields     map[string]any // docvalue_fields; nil for none
	sort       []any
	hasSort    bool
}

// MarshalJSON is for encoding/json users (a value appendJSON hands over).
func (h *searchHit) MarshalJSON() ([]byte, error) {
	return encodeJSON(h)
}

func (e *jsonEncoder) appendHit(dst []byte, h *searchHit) ([]byte, error) {
	var err error
	dst = append(dst, `{"_id":`...)
	if dst, err = e.appendString(dst, h.id); err != nil {
		return nil, err
	}
	dst = append(dst, `,"_index":`...)
	if dst, err = e.appendString(dst, h.index); err != nil {
		return nil, err
	}
	if h.hasSeqNo {
		dst = append(dst, `,"_primary_term":`...)
		dst = strconv.AppendInt(dst, primaryTerm, 10)
	}
	dst = append(dst, `,"_score":`...)
	if dst, err = e.append(dst, h.score); err != nil {
		return nil, err
	}
	if h.hasSeqNo {
		dst = append(dst, `,"_seq_no":`...)
		dst = strconv.AppendInt(dst, h.seqNo, 10)
	}
	if h.hasSource {
		dst = append(dst, `,"_source":`...)
		if dst, err = e.append(dst, h.source); err != nil {
			return nil, err
		}
	}
	if h.hasVersion {
		dst = append(dst, `,"_version":`...)
		dst = strconv.AppendInt(dst, h.version, 10)
	}
	if h.fields != nil {
		dst = append(dst, `,"fields":`...)
		if dst, err = e.append(dst, h.fields); err != nil {
			return nil, err
		}
	}
	if h.hasSort {
		dst = append(dst, `,"sort":`...)
		if dst, err = e.append(dst, h.sort); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}
