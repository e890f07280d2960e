package esembed

import (
	"math"
	"strconv"

	"github.com/blevesearch/bleve/v2/numeric"
)

// Numeric encoding. Bleve indexes a number as the prefix-coded sortable int64 of its float64
// bits. Integer-valued fields (long, integer, short, byte, date millis, boolean) instead hand
// bleve the float64 whose sortable int64 IS the value, so every int64 is exact (no rounding
// above 2^53) and term order is integer order. Ranges and search_after use the same keys.

// longEncoded tells whether a field type uses the exact integer encoding.
func longEncoded(t string) bool {
	switch t {
	case typeLong, typeInteger, typeShort, typeByte, typeDate, typeBoolean:
		return true
	}
	return false
}

// longKey is the bleve number for integer v.
func longKey(v int64) float64 { return numeric.Int64ToFloat64(v) }

// fromLongKey inverts longKey.
func fromLongKey(f float64) int64 { return numeric.Float64ToInt64(f) }

// termKey is the sortable int64 behind a bleve numeric term.
func termKey(term string) (int64, bool) {
	v, err := numeric.PrefixCoded(term).Int64()
	return v, err == nil
}

// prefixCoded is the full-precision term of a sortable int64.
func prefixCoded(v int64) string { return string(numeric.MustNewPrefixCodedInt64(v, 0)) }

// decodeTerm renders a numeric doc-value term of a field kind as a JSON number.
func decodeTerm(term string, long bool) (any, bool) {
	k, ok := termKey(term)
	if !ok {
		return nil, false
	}
	if long {
		return k, true
	}
	return numeric.Int64ToFloat64(k), true
}

// parseIntegerValue parses an integer for a long-encoded field: exact when the text is an
// integer, truncated when it has a fraction (Elasticsearch's coerce), range-checked.
func parseIntegerValue(s string, typ string) (int64, *esError) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, checkIntRange(float64(i), i, s, typ)
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, &esError{Status: 400, Type: "number_format_exception", Reason: "For input string: \"" + s + "\""}
	}
	if x >= 9.223372036854775807e18 || x < -9.223372036854775808e18 {
		return 0, errIllegalArgument("Value [%s] is out of range for a long", s)
	}
	i := int64(math.Trunc(x))
	return i, checkIntRange(x, i, s, typ)
}

func checkIntRange(x float64, i int64, s, typ string) *esError {
	switch typ {
	case typeInteger:
		if i > math.MaxInt32 || i < math.MinInt32 {
			return errIllegalArgument("Value [%s] is out of range for an integer", s)
		}
	case typeShort:
		if i > math.MaxInt16 || i < math.MinInt16 {
			return errIllegalArgument("Value [%s] is out of range for a short", s)
		}
	case typeByte:
		if i > math.MaxInt8 || i < math.MinInt8 {
			return errIllegalArgument("Value [%s] is out of range for a byte", s)
		}
	}
	return nil
}
