package esembed

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// docValueField is one entry of docvalue_fields.
type docValueField struct {
	field  string
	format string
}

func parseDocValueFields(v any) ([]docValueField, *esError) {
	arr, ok := v.([]any)
	if !ok {
		arr = []any{v}
	}
	var out []docValueField
	for _, e := range arr {
		switch t := e.(type) {
		case string:
			out = append(out, docValueField{field: t})
		case map[string]any:
			f, _ := t["field"].(string)
			if f == "" {
				return nil, errParsing("[docvalue_fields] requires a [field]")
			}
			fm, _ := t["format"].(string)
			out = append(out, docValueField{field: f, format: fm})
		default:
			return nil, errParsing("[docvalue_fields] must be strings or objects")
		}
	}
	return out, nil
}

// sourceValues collects the values at a dotted path of a source document.
func sourceValues(v any, path []string, out []any) []any {
	if len(path) == 0 {
		switch t := v.(type) {
		case []any:
			for _, e := range t {
				out = sourceValues(e, nil, out)
			}
		case nil:
		default:
			out = append(out, t)
		}
		return out
	}
	switch t := v.(type) {
	case map[string]any:
		// Keys may themselves contain dots ("a.b": 1).
		for i := len(path); i >= 1; i-- {
			if sub, ok := t[strings.Join(path[:i], ".")]; ok {
				out = sourceValues(sub, path[i:], out)
			}
		}
	case []any:
		for _, e := range t {
			out = sourceValues(e, path, out)
		}
	}
	return out
}

// docValues renders a field's values as docvalue_fields returns them: converted by the
// field's type and sorted like doc values.
func docValues(m *mapping, src map[string]any, d docValueField) []any {
	f := m.flat[d.field]
	if f == nil || f.Type == typeObject || f.Type == typeText {
		return nil
	}
	path := strings.Split(d.field, ".")
	// Multi-fields read their parent's value.
	if parent := strings.Join(path[:len(path)-1], "."); len(path) > 1 {
		if pf := m.flat[parent]; pf != nil && pf.Fields != nil && pf.Fields[path[len(path)-1]] == f {
			path = path[:len(path)-1]
		}
	}
	raw := sourceValues(src, path, nil)
	var nums []float64
	var ints []int64
	var strs []string
	for _, v := range raw {
		switch {
		case f.Type == typeKeyword:
			if s, ok := scalarString(v); ok && (f.IgnoreAbove == 0 || len(s) <= f.IgnoreAbove) {
				strs = append(strs, s)
			}
		case f.Type == typeDate:
			if ms, err := dateValue(v, f.Formats); err == nil {
				ints = append(ints, ms)
			}
		case f.Type == typeBoolean:
			if b, ok := toBool(v); ok {
				if b {
					ints = append(ints, 1)
				} else {
					ints = append(ints, 0)
				}
			}
		case f.isInteger():
			if k, err := numericValue(v, f); err == nil {
				ints = append(ints, fromLongKey(k))
			}
		default:
			if x, err := numericValue(v, f); err == nil {
				nums = append(nums, x)
			}
		}
	}
	var out []any
	switch {
	case strs != nil:
		sort.Strings(strs)
		for i, s := range strs {
			if i > 0 && strs[i-1] == s {
				continue
			}
			out = append(out, s)
		}
	case ints != nil:
		sort.Slice(ints, func(i, j int) bool { return ints[i] < ints[j] })
		for _, i := range ints {
			switch {
			case f.Type == typeDate:
				out = append(out, formatDate(i, d.format, f))
			case f.Type == typeBoolean:
				out = append(out, i == 1)
			case d.format != "":
				out = append(out, decimalFormat(float64(i), d.format))
			default:
				out = append(out, i)
			}
		}
	default:
		sort.Float64s(nums)
		for _, x := range nums {
			if d.format != "" {
				out = append(out, decimalFormat(x, d.format))
			} else {
				out = append(out, x)
			}
		}
	}
	return out
}

// formatDate prints epoch millis in a date format (the field's first format by default).
func formatDate(ms int64, format string, f *field) string {
	if format == "" && f != nil && len(f.Formats) > 0 {
		format = f.Formats[0]
	}
	t := time.UnixMilli(ms).UTC()
	switch strings.TrimPrefix(format, "8") {
	case "", "strict_date_optional_time", "date_optional_time", "strict_date_optional_time_nanos", "strict_date_time", "date_time", "iso8601":
		return t.Format("2006-01-02T15:04:05.000Z")
	case "epoch_millis":
		return strconv.FormatInt(ms, 10)
	case "epoch_second":
		return strconv.FormatInt(ms/1000, 10)
	case "strict_date", "date", "year_month_day":
		return t.Format("2006-01-02")
	case "strict_date_time_no_millis", "date_time_no_millis":
		return t.Format("2006-01-02T15:04:05Z")
	}
	layout, err := javaToGoLayout(format)
	if err != nil {
		return t.Format("2006-01-02T15:04:05.000Z")
	}
	return t.Format(layout)
}

// decimalFormat applies a java.text.DecimalFormat pattern's fraction digits ("#.0", "0.00").
func decimalFormat(x float64, pattern string) string {
	decimals := 0
	if i := strings.IndexByte(pattern, '.'); i >= 0 {
		decimals = len(pattern) - i - 1
	}
	s := strconv.FormatFloat(x, 'f', decimals, 64)
	if strings.HasPrefix(pattern, "#") && strings.HasPrefix(s, "0.") && math.Abs(x) < 1 {
		s = s[1:]
	}
	return s
}

var _ = json.Number("")
