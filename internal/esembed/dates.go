package esembed

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dateFormat parses one Elasticsearch date format into epoch milliseconds.
type dateFormat struct {
	name   string
	parse  func(s string) (int64, error)
	isTime bool // the format can also take a JSON number (epoch formats)
}

var defaultDateFormats = []string{"strict_date_optional_time", "epoch_millis"}

const defaultDateFormatRaw = "strict_date_optional_time||epoch_millis"

var errBadDate = errors.New("unparseable date")

func parseDateFormats(raw string) ([]string, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("empty format")
	}
	parts := strings.Split(raw, "||")
	for _, p := range parts {
		if _, err := lookupDateFormat(p); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

func lookupDateFormat(name string) (func(string) (int64, error), error) {
	switch strings.TrimPrefix(name, "8") {
	case "strict_date_optional_time", "date_optional_time", "strict_date_optional_time_nanos", "iso8601":
		return parseISODate, nil
	case "epoch_millis":
		return func(s string) (int64, error) { return parseEpoch(s, 1) }, nil
	case "epoch_second":
		return func(s string) (int64, error) { return parseEpoch(s, 1000) }, nil
	case "strict_date", "date", "year_month_day":
		return goLayout("2006-01-02"), nil
	case "strict_date_time", "date_time":
		return parseISODate, nil
	case "strict_date_time_no_millis", "date_time_no_millis":
		return goLayout("2006-01-02T15:04:05Z07:00"), nil
	case "basic_date":
		return goLayout("20060102"), nil
	case "year", "strict_year":
		return goLayout("2006"), nil
	case "year_month", "strict_year_month":
		return goLayout("2006-01"), nil
	case "hour_minute", "strict_hour_minute":
		return goLayout("15:04"), nil
	}
	layout, err := javaToGoLayout(name)
	if err != nil {
		return nil, err
	}
	return goLayout(layout), nil
}

func goLayout(layout string) func(string) (int64, error) {
	return func(s string) (int64, error) {
		t, err := time.Parse(layout, s)
		if err != nil {
			return 0, errBadDate
		}
		return t.UnixMilli(), nil
	}
}

// javaToGoLayout converts the common java.time pattern letters to a Go layout.
func javaToGoLayout(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		n := 1
		for i+n < len(p) && p[i+n] == c {
			n++
		}
		switch {
		case c == '\'':
			j := strings.IndexByte(p[i+1:], '\'')
			if j < 0 {
				return "", fmt.Errorf("unterminated quote in [%s]", p)
			}
			b.WriteString(p[i+1 : i+1+j])
			i += j + 2
			continue
		case c == 'y' || c == 'u':
			if n == 2 {
				b.WriteString("06")
			} else {
				b.WriteString("2006")
			}
		case c == 'M':
			switch n {
			case 1:
				b.WriteString("1")
			case 2:
				b.WriteString("01")
			case 3:
				b.WriteString("Jan")
			default:
				b.WriteString("January")
			}
		case c == 'd':
			if n == 1 {
				b.WriteString("2")
			} else {
				b.WriteString("02")
			}
		case c == 'H':
			b.WriteString("15")
		case c == 'h':
			b.WriteString("03")
		case c == 'm':
			b.WriteString("04")
		case c == 's':
			b.WriteString("05")
		case c == 'S':
			b.WriteString(strings.Repeat("0", n))
		case c == 'a':
			b.WriteString("PM")
		case c == 'Z':
			b.WriteString("-0700")
		case c == 'X' || c == 'x':
			b.WriteString("Z07:00")
		case c == 'E':
			b.WriteString("Mon")
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			return "", fmt.Errorf("Unknown pattern letter: %c", c)
		default:
			b.WriteString(p[i : i+n])
		}
		i += n
	}
	return b.String(), nil
}

func parseEpoch(s string, mult int64) (int64, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i * mult, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errBadDate
	}
	return int64(f * float64(mult)), nil
}

// parseISODate parses strict_date_optional_time: yyyy[-MM[-dd['T'HH[:mm[:ss[.S+]]][zone]]]].
func parseISODate(s string) (int64, error) {
	num := func(from, n int) (int, bool) {
		if from+n > len(s) {
			return 0, false
		}
		v := 0
		for _, c := range []byte(s[from : from+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	pos := 0
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		pos = 1
	}
	year, ok := num(pos, 4)
	if !ok {
		return 0, errBadDate
	}
	if neg {
		year = -year
	}
	pos += 4
	month, day, hour, minute, sec, nanos := 1, 1, 0, 0, 0, 0
	loc := time.UTC
	if pos < len(s) && s[pos] == '-' {
		if month, ok = num(pos+1, 2); !ok {
			return 0, errBadDate
		}
		pos += 3
		if pos < len(s) && s[pos] == '-' {
			if day, ok = num(pos+1, 2); !ok {
				return 0, errBadDate
			}
			pos += 3
			if pos < len(s) && (s[pos] == 'T' || s[pos] == 't') {
				if hour, ok = num(pos+1, 2); !ok {
					return 0, errBadDate
				}
				pos += 3
				if pos < len(s) && s[pos] == ':' {
					if minute, ok = num(pos+1, 2); !ok {
						return 0, errBadDate
					}
					pos += 3
					if pos < len(s) && s[pos] == ':' {
						if sec, ok = num(pos+1, 2); !ok {
							return 0, errBadDate
						}
						pos += 3
						if pos < len(s) && (s[pos] == '.' || s[pos] == ',') {
							pos++
							start := pos
							for pos < len(s) && s[pos] >= '0' && s[pos] <= '9' {
								pos++
							}
							digits := s[start:pos]
							if len(digits) == 0 || len(digits) > 9 {
								return 0, errBadDate
							}
							n, _ := strconv.Atoi(digits + strings.Repeat("0", 9-len(digits)))
							nanos = n
						}
					}
				}
				if pos < len(s) {
					switch s[pos] {
					case 'Z', 'z':
						pos++
					case '+', '-':
						sign := 1
						if s[pos] == '-' {
							sign = -1
						}
						hh, ok1 := num(pos+1, 2)
						if !ok1 {
							return 0, errBadDate
						}
						pos += 3
						mm := 0
						if pos < len(s) && s[pos] == ':' {
							pos++
						}
						if pos < len(s) {
							if mm, ok1 = num(pos, 2); !ok1 {
								return 0, errBadDate
							}
							pos += 2
						}
						loc = time.FixedZone("", sign*(hh*3600+mm*60))
					}
				}
			}
		}
	}
	if pos != len(s) {
		return 0, errBadDate
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return 0, errBadDate
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	if t.Day() != day {
		return 0, errBadDate
	}
	return t.UnixMilli(), nil
}

// parseDateWith parses s with the first matching format of formats.
func parseDateWith(s string, formats []string) (int64, error) {
	for _, f := range formats {
		p, err := lookupDateFormat(f)
		if err != nil {
			continue
		}
		if ms, err := p(s); err == nil {
			return ms, nil
		}
	}
	return 0, errBadDate
}

// parseDateMath evaluates Elasticsearch date math ("now-1d/d", "2024-01-01||+1M"). roundUp
// selects the end of a rounded unit (for lte/gt bounds), as Elasticsearch does.
func parseDateMath(s string, formats []string, now time.Time, roundUp bool) (int64, error) {
	var base time.Time
	var rest string
	switch {
	case strings.HasPrefix(s, "now"):
		base, rest = now.UTC(), s[3:]
	default:
		anchor := s
		if i := strings.Index(s, "||"); i >= 0 {
			anchor, rest = s[:i], s[i+2:]
		}
		ms, err := parseDateWith(anchor, formats)
		if err != nil {
			return 0, err
		}
		if rest == "" {
			return ms, nil
		}
		base = time.UnixMilli(ms).UTC()
	}
	t := base
	for len(rest) > 0 {
		op := rest[0]
		rest = rest[1:]
		switch op {
		case '+', '-':
			i := 0
			for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
				i++
			}
			n := 1
			if i > 0 {
				n, _ = strconv.Atoi(rest[:i])
			}
			if i >= len(rest) {
				return 0, errBadDate
			}
			unit := rest[i]
			rest = rest[i+1:]
			if op == '-' {
				n = -n
			}
			switch unit {
			case 'y':
				t = t.AddDate(n, 0, 0)
			case 'M':
				t = t.AddDate(0, n, 0)
			case 'w':
				t = t.AddDate(0, 0, 7*n)
			case 'd':
				t = t.AddDate(0, 0, n)
			case 'h', 'H':
				t = t.Add(time.Duration(n) * time.Hour)
			case 'm':
				t = t.Add(time.Duration(n) * time.Minute)
			case 's':
				t = t.Add(time.Duration(n) * time.Second)
			default:
				return 0, errBadDate
			}
		case '/':
			if len(rest) == 0 {
				return 0, errBadDate
			}
			unit := rest[0]
			rest = rest[1:]
			var start, next time.Time
			switch unit {
			case 'y':
				start = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
				next = start.AddDate(1, 0, 0)
			case 'M':
				start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
				next = start.AddDate(0, 1, 0)
			case 'w':
				wd := (int(t.Weekday()) + 6) % 7
				start = time.Date(t.Year(), t.Month(), t.Day()-wd, 0, 0, 0, 0, time.UTC)
				next = start.AddDate(0, 0, 7)
			case 'd':
				start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
				next = start.AddDate(0, 0, 1)
			case 'h', 'H':
				start = t.Truncate(time.Hour)
				next = start.Add(time.Hour)
			case 'm':
				start = t.Truncate(time.Minute)
				next = start.Add(time.Minute)
			case 's':
				start = t.Truncate(time.Second)
				next = start.Add(time.Second)
			default:
				return 0, errBadDate
			}
			if roundUp {
				t = next.Add(-time.Millisecond)
			} else {
				t = start
			}
		default:
			return 0, errBadDate
		}
	}
	return t.UnixMilli(), nil
}

// formatDateMillis renders epoch millis as strict_date_optional_time, as Elasticsearch prints
// dates in aggregations.
func formatDateMillis(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

func strconvItoa(n int) string { return strconv.Itoa(n) }

func pathMatch(pat, s string) (bool, error) { return wildcardMatch(pat, s), nil }

// wildcardMatch matches Elasticsearch index/field wildcards: only '*' is special.
func wildcardMatch(pat, s string) bool {
	if !strings.Contains(pat, "*") {
		return pat == s
	}
	parts := strings.Split(pat, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i := 1; i < len(parts)-1; i++ {
		j := strings.Index(s, parts[i])
		if j < 0 {
			return false
		}
		s = s[j+len(parts[i]):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// resolveDateMathName expands Elasticsearch's date math index names:
// "<logs-{now/d}>" or "<logs-{2022-12-31||/d{yyyy-MM-dd}}>" (default format yyyy.MM.dd).
// Other names are returned unchanged.
func resolveDateMathName(name string, now time.Time) (string, error) {
	if len(name) < 2 || name[0] != '<' || name[len(name)-1] != '>' {
		return name, nil
	}
	s := name[1 : len(name)-1]
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			b.WriteByte(s[i+1])
			i += 2
			continue
		}
		if c != '{' {
			b.WriteByte(c)
			i++
			continue
		}
		// {expr} or {expr{format}}
		depth, j := 0, i
		for ; j < len(s); j++ {
			if s[j] == '{' {
				depth++
			} else if s[j] == '}' {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		if j >= len(s) {
			return "", fmt.Errorf("invalid date math expression [%s]: missing closing }", name)
		}
		inner := s[i+1 : j]
		format := "yyyy.MM.dd"
		if k := strings.IndexByte(inner, '{'); k >= 0 && strings.HasSuffix(inner, "}") {
			format = inner[k+1 : len(inner)-1]
			if comma := strings.IndexByte(format, ','); comma >= 0 {
				format = format[:comma] // a time zone follows; only UTC is supported
			}
			inner = inner[:k]
		}
		ms, err := parseDateMath(inner, defaultDateFormats, now, false)
		if err != nil {
			return "", fmt.Errorf("invalid date math expression [%s]", inner)
		}
		layout, err := javaToGoLayout(format)
		if err != nil {
			return "", err
		}
		b.WriteString(time.UnixMilli(ms).UTC().Format(layout))
		i = j + 1
	}
	return b.String(), nil
}
