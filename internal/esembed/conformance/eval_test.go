package conformance

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// stash holds the values saved by `set` during one test, and the last response as "body".
type stash map[string]any

// resolveString replaces "$name" (the whole string: the stashed value, any type) and
// "${name}" (embedded: its text) with stashed values.
func (s stash) resolveString(str string) (any, error) {
	if strings.HasPrefix(str, "$") && !strings.HasPrefix(str, "${") && isIdent(str[1:]) {
		v, ok := s[str[1:]]
		if !ok {
			return nil, fmt.Errorf("stashed value %s not found", str)
		}
		return v, nil
	}
	if !strings.Contains(str, "${") {
		return str, nil
	}
	var b strings.Builder
	rest := str
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			b.WriteString(rest)
			break
		}
		name := rest[i+2 : i+j]
		v, ok := s[name]
		if !ok {
			return nil, fmt.Errorf("stashed value ${%s} not found", name)
		}
		b.WriteString(rest[:i])
		b.WriteString(scalarString(v))
		rest = rest[i+j+1:]
	}
	return b.String(), nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// resolve substitutes stashed values everywhere in v, keys included.
func (s stash) resolve(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return s.resolveString(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			rk, err := s.resolveString(k)
			if err != nil {
				return nil, err
			}
			re, err := s.resolve(e)
			if err != nil {
				return nil, err
			}
			out[scalarString(rk)] = re
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			re, err := s.resolve(e)
			if err != nil {
				return nil, err
			}
			out[i] = re
		}
		return out, nil
	default:
		return v, nil
	}
}

// scalarString renders a parameter or a stashed value as text.
func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = scalarString(e)
		}
		return strings.Join(parts, ",")
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

// splitPath splits a dotted path; `\.` is a literal dot inside a key.
func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p) && p[i+1] == '.':
			cur.WriteByte('.')
			i++
		case p[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(p[i])
		}
	}
	return append(parts, cur.String())
}

// lookup evaluates a path against the response. "" and "$body" are the whole response; a
// "$name" path is a stashed value; segments may be stashed values themselves.
func lookup(resp any, path string, s stash) (any, bool, error) {
	if path == "" || path == "$body" {
		return resp, resp != nil, nil
	}
	cur := resp
	segs := splitPath(path)
	if strings.HasPrefix(segs[0], "$") && isIdent(segs[0][1:]) {
		v, ok := s[segs[0][1:]]
		if !ok {
			return nil, false, fmt.Errorf("stashed value %s not found", segs[0])
		}
		cur, segs = v, segs[1:]
	}
	for _, seg := range segs {
		r, err := s.resolveString(seg)
		if err != nil {
			return nil, false, err
		}
		seg = scalarString(r)
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[seg]
			if !ok {
				return nil, false, nil
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false, nil
			}
			cur = x[i]
		default:
			return nil, false, nil
		}
	}
	return cur, true, nil
}

// isRegexLiteral reports whether an expected value is a /regex/.
func isRegexLiteral(s string) (string, bool) {
	t := strings.TrimSpace(s)
	if len(t) > 2 && strings.HasPrefix(t, "/") && strings.HasSuffix(t, "/") {
		return t[1 : len(t)-1], true
	}
	return "", false
}

// compileCommentsRegex compiles a Java regex written for Pattern.COMMENTS: unescaped
// whitespace is ignored and '#' starts a comment to the end of the line.
func compileCommentsRegex(re string) (*regexp.Regexp, error) {
	var b strings.Builder
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\' && i+1 < len(re):
			if re[i+1] == ' ' || re[i+1] == '#' {
				b.WriteByte(re[i+1]) // escaped space or hash: a literal
			} else {
				b.WriteByte(c)
				b.WriteByte(re[i+1])
			}
			i++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
		case c == '#':
			for i < len(re) && re[i] != '\n' {
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return compileJavaRegex(b.String())
}

// compileJavaRegex compiles a Java regex with Go's engine; the tests use the common subset.
// One difference matters: Java's `$` also matches before a final line terminator, Go's only
// at the very end, so an unescaped `$` outside a character class becomes `\n?\z`.
func compileJavaRegex(re string) (*regexp.Regexp, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\' && i+1 < len(re):
			b.WriteByte(c)
			b.WriteByte(re[i+1])
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			if i+1 < len(re) && re[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(re) && re[i+1] == ']' { // a leading ] is a literal
				b.WriteByte(']')
				i++
			}
		case c == '$':
			b.WriteString(`(?:\n?\z)`)
		default:
			b.WriteByte(c)
		}
	}
	return regexp.Compile(b.String())
}

// numberOf returns v as an exact rational when it is a number.
func numberOf(v any) (*big.Rat, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	default:
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// valuesEqual is deep equality with numbers compared by value (1 == 1.0).
func valuesEqual(actual, expected any) bool {
	if an, ok := numberOf(actual); ok {
		en, ok := numberOf(expected)
		return ok && an.Cmp(en) == 0
	}
	switch e := expected.(type) {
	case map[string]any:
		a, ok := actual.(map[string]any)
		if !ok || len(a) != len(e) {
			return false
		}
		for k, ev := range e {
			av, ok := a[k]
			if !ok || !valuesEqual(av, ev) {
				return false
			}
		}
		return true
	case []any:
		a, ok := actual.([]any)
		if !ok || len(a) != len(e) {
			return false
		}
		for i := range e {
			if !valuesEqual(a[i], e[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(actual, expected)
	}
}

// matchValue implements `match`: a /regex/ (comments mode, found anywhere in the string),
// null, or deep equality.
func matchValue(actual, expected any) error {
	if es, ok := expected.(string); ok {
		if re, ok := isRegexLiteral(es); ok {
			as, ok := actual.(string)
			if !ok {
				return fmt.Errorf("expected a string matching /%s/, got %s", re, show(actual))
			}
			rx, err := compileCommentsRegex(re)
			if err != nil {
				return fmt.Errorf("runner: regex /%s/ not supported by Go: %v", re, err)
			}
			if !rx.MatchString(as) { // the Java runner trims the pattern, not the value
				return fmt.Errorf("expected to match /%s/, got %s", strings.TrimSpace(re), show(actual))
			}
			return nil
		}
	}
	if expected == nil {
		if actual != nil {
			return fmt.Errorf("expected null, got %s", show(actual))
		}
		return nil
	}
	if actual == nil {
		return fmt.Errorf("expected %s, got null/missing", show(expected))
	}
	if !valuesEqual(actual, expected) {
		return fmt.Errorf("expected %s, got %s%s", show(expected), show(actual), diffHint(actual, expected))
	}
	return nil
}

// diffHint names the first differing key of two maps to make long values readable.
func diffHint(actual, expected any) string {
	e, ok1 := expected.(map[string]any)
	a, ok2 := actual.(map[string]any)
	if !ok1 || !ok2 {
		return ""
	}
	for _, k := range sortedKeys(e) {
		av, ok := a[k]
		if !ok {
			return fmt.Sprintf(" (missing key %q)", k)
		}
		if !valuesEqual(av, e[k]) {
			return fmt.Sprintf(" (key %q: expected %s, got %s)", k, show(e[k]), show(av))
		}
	}
	for _, k := range sortedKeys(a) {
		if _, ok := e[k]; !ok {
			return fmt.Sprintf(" (unexpected key %q)", k)
		}
	}
	return ""
}

// truthy is is_true: present and not false, 0, "", "false" or null.
func truthy(v any, present bool) bool {
	if !present || v == nil {
		return false
	}
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x != "" && x != "false" && x != "0"
	case json.Number:
		if r, ok := numberOf(x); ok {
			return r.Sign() != 0
		}
	}
	return true
}

// compareNumbers implements gt/gte/lt/lte.
func compareNumbers(op string, actual, expected any) error {
	a, ok := numberOf(actual)
	if !ok {
		if s, isStr := actual.(string); isStr {
			if r, ok2 := new(big.Rat).SetString(s); ok2 {
				a, ok = r, true
			}
		}
	}
	e, ok2 := numberOf(expected)
	if !ok || !ok2 {
		return fmt.Errorf("%s: expected numbers, got %s and %s", op, show(actual), show(expected))
	}
	c := a.Cmp(e)
	var pass bool
	switch op {
	case "gt":
		pass = c > 0
	case "gte":
		pass = c >= 0
	case "lt":
		pass = c < 0
	case "lte":
		pass = c <= 0
	}
	if !pass {
		return fmt.Errorf("expected %s %s, got %s", op, show(expected), show(actual))
	}
	return nil
}

// lengthOf implements `length` for lists, maps and strings.
func lengthOf(v any) (int, bool) {
	switch x := v.(type) {
	case []any:
		return len(x), true
	case map[string]any:
		return len(x), true
	case string:
		return len([]rune(x)), true
	}
	return 0, false
}

// containsValue implements `contains`: a list holding an element equal to (or, for maps,
// containing every key of) the expected value, or a string holding a substring.
func containsValue(actual, expected any) error {
	switch a := actual.(type) {
	case []any:
		for _, e := range a {
			if valuesEqual(e, expected) {
				return nil
			}
			if em, ok := expected.(map[string]any); ok {
				if am, ok := e.(map[string]any); ok && subsetMap(am, em) {
					return nil
				}
			}
		}
		return fmt.Errorf("expected list to contain %s, got %s", show(expected), show(actual))
	case string:
		es, ok := expected.(string)
		if ok && strings.Contains(a, es) {
			return nil
		}
		return fmt.Errorf("expected string to contain %s, got %s", show(expected), show(actual))
	}
	return fmt.Errorf("contains: expected a list or string, got %s", show(actual))
}

func subsetMap(actual, expected map[string]any) bool {
	for k, ev := range expected {
		av, ok := actual[k]
		if !ok || !valuesEqual(av, ev) {
			return false
		}
	}
	return true
}

// show renders a value compactly for failure messages.
func show(v any) string {
	if v == nil {
		return "null"
	}
	if s, ok := v.(string); ok {
		return strconv.Quote(truncate(s, 300))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return truncate(string(b), 400)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
