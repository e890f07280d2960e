package search

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ordertable/ordertable/internal/apierror"
)

// Limits bound what one request may ask for (OWASP API4: unrestricted resource consumption).
type Limits struct {
	// DefaultSize is the page size when size is absent. Default 50.
	DefaultSize int
	// MaxSize is the largest accepted size. Default 200.
	MaxSize int
	// MaxSortColumns bounds the user's sort keys (the tiebreaker is not counted). Default 4.
	MaxSortColumns int
	// MaxFilters bounds the filter.<column> parameters of one request. Default 10.
	MaxFilters int
	// MaxFilterValues bounds the values of one list filter. Default 50.
	MaxFilterValues int
	// MaxValueLength bounds one filter value in bytes. Default 256.
	MaxValueLength int
	// MaxQueryLength bounds q in characters. Default 200.
	MaxQueryLength int
	// MaxCursorLength bounds the cursor in bytes. Default 4096.
	MaxCursorLength int
	// MaxURLLength bounds the request target in bytes; longer ones get 414. Default 8192.
	MaxURLLength int
}

func (l *Limits) setDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.DefaultSize, 50)
	def(&l.MaxSize, 200)
	def(&l.MaxSortColumns, 4)
	def(&l.MaxFilters, 10)
	def(&l.MaxFilterValues, 50)
	def(&l.MaxValueLength, 256)
	def(&l.MaxQueryLength, 200)
	def(&l.MaxCursorLength, 4096)
	def(&l.MaxURLLength, 8192)
}

// params is a syntactically valid request, not yet checked against a mapping.
type params struct {
	sort    []string // raw sort tokens, "-" prefix for descending; nil when absent
	q       string
	filters []rawFilter
	size    int
	cursor  string
}

type rawFilter struct {
	column string
	expr   string
}

const filterPrefix = "filter."

// parseParams checks the parameters that do not depend on the mapping. Every problem is
// reported, each naming its parameter.
func parseParams(v url.Values, lim Limits) (*params, error) {
	p := &params{size: lim.DefaultSize}
	var details []apierror.Detail
	bad := func(field, format string, args ...any) {
		details = append(details, apierror.Detail{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vals := v[k]
		if !utf8.ValidString(k) {
			bad("query", "parameter names must be UTF-8")
			continue
		}
		single := func() (string, bool) {
			if len(vals) != 1 {
				bad(k, "give %s at most once", k)
				return "", false
			}
			if !utf8.ValidString(vals[0]) {
				bad(k, "must be UTF-8")
				return "", false
			}
			return vals[0], true
		}
		switch {
		case k == "sort":
			s, ok := single()
			if !ok {
				continue
			}
			p.sort = []string{}
			for tok := range strings.SplitSeq(s, ",") {
				tok = strings.TrimSpace(tok)
				if tok == "" {
					bad("sort", "empty sort column in %q", s)
					continue
				}
				p.sort = append(p.sort, tok)
			}
			if len(p.sort) > lim.MaxSortColumns {
				bad("sort", "at most %d sort columns, got %d", lim.MaxSortColumns, len(p.sort))
			}
		case k == "q":
			s, ok := single()
			if !ok {
				continue
			}
			s = strings.TrimSpace(s)
			if n := utf8.RuneCountInString(s); n > lim.MaxQueryLength {
				bad("q", "at most %d characters, got %d", lim.MaxQueryLength, n)
				continue
			}
			if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				bad("q", "must not contain control characters")
				continue
			}
			p.q = s
		case k == "size":
			s, ok := single()
			if !ok {
				continue
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > lim.MaxSize {
				bad("size", "must be an integer from 1 to %d, got %q", lim.MaxSize, truncate(s, 32))
				continue
			}
			p.size = n
		case k == "cursor":
			s, ok := single()
			if !ok {
				continue
			}
			if len(s) > lim.MaxCursorLength {
				bad("cursor", "longer than %d bytes; pass next_cursor unchanged", lim.MaxCursorLength)
				continue
			}
			p.cursor = s
		case strings.HasPrefix(k, filterPrefix):
			col := strings.TrimPrefix(k, filterPrefix)
			if col == "" {
				bad(k, "name the column: filter.<column>=<expression>")
				continue
			}
			for _, e := range vals {
				if !utf8.ValidString(e) {
					bad(k, "must be UTF-8")
					continue
				}
				p.filters = append(p.filters, rawFilter{column: col, expr: e})
			}
		default:
			bad(truncate(k, 64), "unknown parameter; expected sort, q, size, cursor or filter.<column>")
		}
	}
	if len(p.filters) > lim.MaxFilters {
		bad("filter", "at most %d filters, got %d", lim.MaxFilters, len(p.filters))
	}
	if len(details) > 0 {
		return nil, apierror.BadRequest("invalid query parameters", details...)
	}
	return p, nil
}

// SortKey is one resolved sort column.
type SortKey struct {
	Column string `json:"column"`
	Desc   bool   `json:"desc"`
	field  string
}

func (k SortKey) String() string {
	if k.Desc {
		return "-" + k.Column
	}
	return k.Column
}

// filter is a validated filter: exact values (any of them) or one range, on an exact field.
type filter struct {
	column string
	field  string
	kind   string
	// values for a list; JSON-ready (string, json.Number or bool).
	values []any
	// ranges: any of them matches (dates given as days expand to ranges).
	ranges []valueRange
}

type valueRange struct {
	gte, gt, lte, lt any
}

// query is a request fully validated against one index's columns.
type query struct {
	sort    []SortKey // user keys plus the tiebreaker
	q       string
	filters []filter
	size    int
}

// bind checks p against the table: columns exist, are sortable/filterable, values parse.
func bind(p *params, t *Table, defaultSort []string, lim Limits) (*query, error) {
	q := &query{q: p.q, size: p.size}
	var details []apierror.Detail
	bad := func(field, format string, args ...any) {
		details = append(details, apierror.Detail{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	tokens := p.sort
	userSort := tokens != nil
	if !userSort {
		tokens = defaultSort
	}
	seen := map[string]bool{}
	for _, tok := range tokens {
		desc := false
		switch {
		case strings.HasPrefix(tok, "-"):
			desc, tok = true, tok[1:]
		case strings.HasPrefix(tok, "+"):
			tok = tok[1:]
		}
		c, ok := t.Column(tok)
		switch {
		case !ok && !userSort:
			continue // a default naming a column this index lacks is skipped, not an error
		case !ok:
			bad("sort", "unknown column %q; see /v1/orders/columns", truncate(tok, 64))
		case !c.Sortable:
			bad("sort", "column %q is not sortable", tok)
		case seen[tok]:
			bad("sort", "column %q given twice", tok)
		default:
			seen[tok] = true
			q.sort = append(q.sort, SortKey{Column: tok, Desc: desc, field: c.sortField})
		}
	}
	if !seen[tiebreaker] {
		tb, _ := t.Column(tiebreaker)
		q.sort = append(q.sort, SortKey{Column: tiebreaker, field: tb.sortField})
	}
	for _, rf := range p.filters {
		field := filterPrefix + rf.column
		c, ok := t.Column(rf.column)
		if !ok {
			bad(truncate(field, 64), "unknown column %q; see /v1/orders/columns", truncate(rf.column, 64))
			continue
		}
		if !c.Filterable {
			bad(field, "column %q cannot be filtered", rf.column)
			continue
		}
		f, err := parseFilter(c, rf.expr, lim)
		if err != nil {
			bad(field, "%v", err)
			continue
		}
		q.filters = append(q.filters, f)
	}
	if len(details) > 0 {
		return nil, apierror.BadRequest("invalid query parameters", details...)
	}
	return q, nil
}

// parseFilter reads one filter expression for column c. The syntax (also in openapi.json):
//
//	a,b,c          any of these exact values (\, is a literal comma, \\ a backslash)
//	>=x >x <=x <x  a bound (numbers and dates)
//	x..y           from x to y, both inclusive; either side may be empty (numbers and dates)
//
// A date is RFC 3339 (2026-01-02T15:04:05Z) or a day (2026-01-02, UTC); a day as a value means
// the whole day, as an upper bound it includes that day.
func parseFilter(c Column, expr string, lim Limits) (filter, error) {
	f := filter{column: c.Name, field: c.sortField, kind: c.Kind}
	if strings.TrimSpace(expr) == "" {
		return f, fmt.Errorf("empty filter; give a value, a list a,b or a range")
	}
	if c.Kind == "number" || c.Kind == "date" {
		if r, ok, err := parseRange(c, expr); ok || err != nil {
			if err != nil {
				return f, err
			}
			f.ranges = []valueRange{r}
			return f, nil
		}
	}
	items, err := splitList(expr)
	if err != nil {
		return f, err
	}
	if len(items) > lim.MaxFilterValues {
		return f, fmt.Errorf("at most %d values, got %d", lim.MaxFilterValues, len(items))
	}
	for _, it := range items {
		if it == "" {
			return f, fmt.Errorf("empty value in list %q", truncate(expr, 64))
		}
		if len(it) > lim.MaxValueLength {
			return f, fmt.Errorf("a value is longer than %d bytes", lim.MaxValueLength)
		}
		switch c.Kind {
		case "string", "text":
			f.values = append(f.values, it)
		case "boolean":
			switch it {
			case "true":
				f.values = append(f.values, true)
			case "false":
				f.values = append(f.values, false)
			default:
				return f, fmt.Errorf("%q is not true or false", truncate(it, 64))
			}
		case "number":
			n, err := parseNumber(c, it)
			if err != nil {
				return f, err
			}
			f.values = append(f.values, n)
		case "date":
			from, to, day, err := parseDate(it)
			if err != nil {
				return f, err
			}
			if day {
				f.ranges = append(f.ranges, valueRange{gte: formatTime(from), lt: formatTime(to)})
			} else {
				f.ranges = append(f.ranges, valueRange{gte: formatTime(from), lte: formatTime(from)})
			}
		}
	}
	return f, nil
}

// parseRange reads ">=x", ">x", "<=x", "<x" and "x..y". ok is false when expr is no range.
func parseRange(c Column, expr string) (r valueRange, ok bool, err error) {
	for _, op := range []string{">=", "<=", ">", "<"} {
		if s, found := strings.CutPrefix(expr, op); found {
			err := applyBound(&r, c, op, s, expr)
			return r, true, err
		}
	}
	lo, hi, found := strings.Cut(expr, "..")
	if !found {
		return r, false, nil
	}
	lo, hi = strings.TrimSpace(lo), strings.TrimSpace(hi)
	if lo == "" && hi == "" {
		return r, true, fmt.Errorf("range %q needs at least one end", truncate(expr, 64))
	}
	if lo != "" {
		if err := applyBound(&r, c, ">=", lo, expr); err != nil {
			return r, true, err
		}
	}
	if hi != "" {
		if err := applyBound(&r, c, "<=", hi, expr); err != nil {
			return r, true, err
		}
	}
	return r, true, nil
}

// applyBound sets one bound of r. A day (2026-01-02) stands for the whole UTC day: ">= day"
// starts at its midnight, "> day" at the next one, "<= day" includes it, "< day" excludes it.
func applyBound(r *valueRange, c Column, op, s, expr string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return fmt.Errorf("missing value in range %q", truncate(expr, 64))
	}
	var v any
	if c.Kind == "number" {
		n, err := parseNumber(c, s)
		if err != nil {
			return err
		}
		v = n
	} else {
		from, to, day, err := parseDate(s)
		if err != nil {
			return err
		}
		v = formatTime(from)
		if day {
			switch op {
			case ">":
				r.gte = formatTime(to)
				return nil
			case "<=":
				r.lt = formatTime(to)
				return nil
			}
		}
	}
	switch op {
	case ">=":
		r.gte = v
	case ">":
		r.gt = v
	case "<=":
		r.lte = v
	case "<":
		r.lt = v
	}
	return nil
}

// parseNumber accepts a finite decimal; integer columns take integers only.
func parseNumber(c Column, s string) (any, error) {
	switch c.Type {
	case "long", "integer", "short", "byte", "unsigned_long":
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", truncate(s, 64))
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%q is not a number", truncate(s, 64))
	}
	return f, nil
}

// parseDate reads an RFC 3339 time or a day. For a day, [from, to) is that whole UTC day.
func parseDate(s string) (from, to time.Time, day bool, err error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, t.AddDate(0, 0, 1), true, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		// An unescaped "+02:00" offset arrives as " 02:00" after query decoding.
		t, err = time.Parse(time.RFC3339Nano, strings.Replace(s, " ", "+", 1))
	}
	if err != nil {
		return from, to, false, fmt.Errorf("%q is not a date; use 2026-01-02 or 2026-01-02T15:04:05Z", truncate(s, 64))
	}
	if t.Year() < 1 || t.Year() > 9999 {
		return from, to, false, fmt.Errorf("%q is out of range", truncate(s, 64))
	}
	return t, t, false, nil
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// splitList splits on commas, honouring \, and \\ escapes.
func splitList(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\\':
			if i+1 >= len(s) || (s[i+1] != ',' && s[i+1] != '\\') {
				return nil, fmt.Errorf(`a backslash must escape "," or "\"`)
			}
			i++
			cur.WriteByte(s[i])
		case ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	return append(out, cur.String()), nil
}

// hash identifies the result set a cursor belongs to: sort, q and filters, normalized.
func (q *query) hash() string {
	h := sha256.New()
	for _, k := range q.sort {
		fmt.Fprintf(h, "s%q;", k.String())
	}
	fmt.Fprintf(h, "q%q;", q.q)
	fs := make([]string, 0, len(q.filters))
	for _, f := range q.filters {
		fs = append(fs, fmt.Sprintf("f%q%#v%#v;", f.column, f.values, f.ranges))
	}
	slices.Sort(fs)
	for _, s := range fs {
		h.Write([]byte(s))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

func (q *query) sortTokens() []string {
	out := make([]string, len(q.sort))
	for i, k := range q.sort {
		out[i] = k.String()
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
