package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// outcome of one YAML test.
type outcome int

const (
	passed outcome = iota
	failed
	skipped
)

// result is what one YAML test produced.
type result struct {
	file, name string
	outcome    outcome
	reason     string // skip reason, or the failure message
	cause      string // failure cause used to group failures
	step       string // the step that failed, rendered
	request    string // the last request sent before the failure
	response   string // its response, truncated
}

// failure is an error raised by a step; cause groups similar failures.
type failure struct {
	cause string
	msg   string
}

func (f *failure) Error() string { return f.msg }

func fail(cause, format string, args ...any) error {
	return &failure{cause: cause, msg: fmt.Sprintf(format, args...)}
}

// response is the last response of a `do`.
type response struct {
	status int
	body   any // parsed JSON, text, or nil
	raw    []byte
	head   bool
}

// runner executes YAML tests against one server.
type runner struct {
	base   string
	spec   *restSpec
	target *target
	http   *http.Client

	baseline map[string]bool // indices that existed before the tests: never wiped

	stash    stash
	last     *response
	lastReq  string
	lastResp string
}

func newRunner(base string, spec *restSpec, tg *target) *runner {
	return &runner{
		base:   strings.TrimRight(base, "/"),
		spec:   spec,
		target: tg,
		http:   &http.Client{Timeout: 60 * time.Second},
	}
}

// runTest runs setup, the test and teardown, and returns the result.
func (r *runner) runTest(ctx context.Context, tf *testFile, tc testCase) result {
	res := result{file: tf.path, name: tc.name}
	if reason := r.target.checkPrerequisites(tf.setup); reason != "" {
		res.outcome, res.reason = skipped, reason
		return res
	}
	if reason := r.target.checkPrerequisites(tf.teardown); reason != "" {
		res.outcome, res.reason = skipped, reason
		return res
	}
	if reason := r.target.checkPrerequisites(tc.steps); reason != "" {
		res.outcome, res.reason = skipped, reason
		return res
	}
	if reason := outOfScope(tf.setup, tc.steps, tf.teardown); reason != "" {
		res.outcome, res.reason = skipped, reason
		return res
	}
	r.stash = stash{}
	r.last = nil
	r.lastReq, r.lastResp = "", ""

	err := r.runSteps(ctx, "setup", tf.setup)
	if err == nil {
		err = r.runSteps(ctx, "", tc.steps)
	}
	if terr := r.runSteps(ctx, "teardown", tf.teardown); terr != nil && err == nil {
		err = terr
	}
	if err == nil {
		res.outcome = passed
		return res
	}
	res.outcome = failed
	res.reason = err.Error()
	var f *failure
	if errors.As(err, &f) {
		res.cause = f.cause
	} else {
		res.cause = "runner: " + err.Error()
	}
	res.request, res.response = r.lastReq, r.lastResp
	var se *stepError
	if errors.As(err, &se) {
		res.step = se.step
	}
	return res
}

// stepError wraps a failure with the step it happened in.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func (r *runner) runSteps(ctx context.Context, section string, steps []step) error {
	for i, s := range steps {
		if err := r.runStep(ctx, s); err != nil {
			label := fmt.Sprintf("step %d (%s)", i+1, s.kind)
			if section != "" {
				label = section + " " + label
			}
			if s.kind == "do" {
				label = strings.Replace(label, "(do)", "(do "+doAPI(s.arg)+")", 1)
			} else {
				label += " " + show(s.arg)
			}
			var f *failure
			if section == "setup" && errors.As(err, &f) {
				f.cause = "setup: " + f.cause
			}
			return &stepError{step: label, err: err}
		}
	}
	return nil
}

// doOptions are the keys of a `do` step that aren't the API call.
var doOptions = map[string]bool{
	"catch": true, "headers": true, "warnings": true, "allowed_warnings": true,
	"warnings_regex": true, "allowed_warnings_regex": true, "node_selector": true,
}

// doAPI names the API a `do` step calls.
func doAPI(arg any) string {
	m, _ := arg.(map[string]any)
	for k := range m {
		if !doOptions[k] {
			return k
		}
	}
	return "?"
}

func (r *runner) runStep(ctx context.Context, s step) error {
	switch s.kind {
	case "skip", "requires":
		return nil // evaluated before the test runs
	case "do":
		m, ok := s.arg.(map[string]any)
		if !ok {
			return fmt.Errorf("do: want a map, got %T", s.arg)
		}
		return r.do(ctx, m)
	case "set":
		return r.set(s.arg)
	case "transform_and_set":
		return r.transformAndSet(s.arg)
	case "is_true", "is_false", "exists", "not_exists":
		return r.assertPresence(s.kind, scalarString(s.arg))
	case "match", "length", "gt", "gte", "lt", "lte", "contains", "close_to", "is_after":
		m, ok := s.arg.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want a map, got %T", s.kind, s.arg)
		}
		for _, path := range sortedKeys(m) {
			if err := r.assert(s.kind, path, m[path]); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("unsupported step %q", s.kind)
	}
}

// causePath makes a path generic for grouping: array indices become N.
var digitsRe = regexp.MustCompile(`(^|\.)\d+(\.|$)`)

func causePath(p string) string {
	for {
		n := digitsRe.ReplaceAllString(p, "${1}N${2}")
		if n == p {
			return p
		}
		p = n
	}
}

func (r *runner) current() any {
	if r.last == nil {
		return nil
	}
	return r.last.body
}

// value evaluates a path on the last response, with the HEAD special case: "" is true for
// a 2xx HEAD response and false otherwise.
func (r *runner) value(path string) (any, bool, error) {
	if r.last != nil && r.last.head && path == "" {
		return r.last.status < 400, true, nil
	}
	return lookup(r.current(), path, r.stash)
}

func (r *runner) assertPresence(kind, path string) error {
	v, ok, err := r.value(path)
	if err != nil {
		return err
	}
	cause := kind + " " + causePath(path)
	switch kind {
	case "is_true":
		if !truthy(v, ok) {
			return fail(cause, "is_true %q: got %s", path, showPresent(v, ok))
		}
	case "is_false":
		if truthy(v, ok) {
			return fail(cause, "is_false %q: got %s", path, show(v))
		}
	case "exists":
		if !ok {
			return fail(cause, "exists %q: missing", path)
		}
	case "not_exists":
		if ok {
			return fail(cause, "not_exists %q: got %s", path, show(v))
		}
	}
	return nil
}

func showPresent(v any, ok bool) string {
	if !ok {
		return "missing"
	}
	return show(v)
}

func (r *runner) assert(kind, path string, expected any) error {
	exp, err := r.stash.resolve(expected)
	if err != nil {
		return err
	}
	actual, ok, err := r.value(path)
	if err != nil {
		return err
	}
	cause := kind + " " + causePath(path)
	switch kind {
	case "match":
		if err := matchValue(actual, exp); err != nil {
			if strings.HasPrefix(err.Error(), "runner:") {
				return err
			}
			return fail(cause, "match %q: %v", path, err)
		}
	case "length":
		n, isLen := lengthOf(actual)
		want, _ := strconv.Atoi(scalarString(exp))
		if !ok || !isLen {
			return fail(cause, "length %q: expected %d, got %s", path, want, showPresent(actual, ok))
		}
		if n != want {
			return fail(cause, "length %q: expected %d, got %d: %s", path, want, n, show(actual))
		}
	case "gt", "gte", "lt", "lte":
		if !ok {
			return fail(cause, "%s %q: missing", kind, path)
		}
		if err := compareNumbers(kind, actual, exp); err != nil {
			return fail(cause, "%s %q: %v", kind, path, err)
		}
	case "contains":
		if err := containsValue(actual, exp); err != nil {
			return fail(cause, "contains %q: %v", path, err)
		}
	case "is_after":
		a, errA := time.Parse(time.RFC3339Nano, scalarString(actual))
		b, errB := time.Parse(time.RFC3339Nano, scalarString(exp))
		if !ok || errA != nil || errB != nil {
			return fail(cause, "is_after %q: expected two instants, got %s and %s", path, show(actual), show(exp))
		}
		if !a.After(b) {
			return fail(cause, "is_after %q: %s is not after %s", path, a, b)
		}
	case "close_to":
		em, _ := exp.(map[string]any)
		v, ok1 := numberOf(em["value"])
		e, ok2 := numberOf(em["error"])
		a, ok3 := numberOf(actual)
		if !ok1 || !ok2 || !ok3 {
			return fail(cause, "close_to %q: expected %s, got %s", path, show(exp), show(actual))
		}
		af, _ := a.Float64()
		vf, _ := v.Float64()
		ef, _ := e.Float64()
		if d := af - vf; d > ef || -d > ef {
			return fail(cause, "close_to %q: expected %g±%g, got %g", path, vf, ef, af)
		}
	}
	return nil
}

func (r *runner) set(arg any) error {
	m, ok := arg.(map[string]any)
	if !ok {
		return fmt.Errorf("set: want a map, got %T", arg)
	}
	for path, name := range m {
		if strings.HasSuffix(path, "_arbitrary_key_") {
			prefix := strings.TrimSuffix(strings.TrimSuffix(path, "_arbitrary_key_"), ".")
			v, _, err := r.value(prefix)
			if err != nil {
				return err
			}
			obj, isMap := v.(map[string]any)
			if !isMap || len(obj) == 0 {
				return fail("set "+causePath(path), "set %q: no key under %q", path, prefix)
			}
			r.stash[scalarString(name)] = sortedKeys(obj)[0]
			continue
		}
		v, ok, err := r.value(path)
		if err != nil {
			return err
		}
		if !ok {
			return fail("set "+causePath(path), "set %q: missing in response %s", path, show(r.current()))
		}
		r.stash[scalarString(name)] = v
	}
	return nil
}

var transformRe = regexp.MustCompile(`^#(base64EncodeCredentials|base64EncodeInput)\((.*)\)$`)

func (r *runner) transformAndSet(arg any) error {
	m, ok := arg.(map[string]any)
	if !ok {
		return fmt.Errorf("transform_and_set: want a map, got %T", arg)
	}
	for name, expr := range m {
		sm := transformRe.FindStringSubmatch(scalarString(expr))
		if sm == nil {
			r.stash[name] = expr
			continue
		}
		input := sm[2]
		if sm[1] == "base64EncodeCredentials" {
			user, pass, _ := strings.Cut(input, ",")
			u, _, _ := r.value(strings.TrimSpace(user))
			p, _, _ := r.value(strings.TrimSpace(pass))
			input = scalarString(u) + ":" + scalarString(p)
		}
		r.stash[name] = base64.StdEncoding.EncodeToString([]byte(input))
	}
	return nil
}

// do sends one API call and checks its status against `catch`.
func (r *runner) do(ctx context.Context, m map[string]any) error {
	var api string
	var rawParams any
	var catch string
	headers := map[string]string{}
	for k, v := range m {
		switch k {
		case "catch":
			catch = scalarString(v)
		case "headers":
			hm, _ := v.(map[string]any)
			for hk, hv := range hm {
				rv, err := r.stash.resolve(hv)
				if err != nil {
					return err
				}
				headers[hk] = scalarString(rv)
			}
		case "warnings", "allowed_warnings", "warnings_regex", "allowed_warnings_regex", "node_selector":
			// Accepted, not checked: warnings are advisory and there is one node.
		default:
			if api != "" {
				return fmt.Errorf("do: two API calls %s and %s", api, k)
			}
			api, rawParams = k, v
		}
	}
	if api == "" {
		return errors.New("do: no API call")
	}
	if catch == "param" {
		// The Java runner sends nothing either: the client itself must reject the parameter.
		return nil
	}
	resolved, err := r.stash.resolve(rawParams)
	if err != nil {
		return err
	}
	pm, _ := resolved.(map[string]any)
	params := map[string]string{}
	var body any
	hasBody := false
	ignore := map[int]bool{}
	for k, v := range pm {
		switch k {
		case "body":
			body, hasBody = v, true
		case "ignore":
			for _, s := range stringList(v) {
				if n, err := strconv.Atoi(s); err == nil {
					ignore[n] = true
				}
			}
		default:
			params[k] = scalarString(v)
		}
	}
	spec, call, err := r.spec.buildCall(api, params, hasBody)
	if err != nil {
		return fail("runner: "+api+" request", "%v", err)
	}
	var payload []byte
	if hasBody {
		payload, err = encodeBody(body, spec.ndjson)
		if err != nil {
			return fmt.Errorf("%s: encode body: %w", api, err)
		}
	}
	resp, err := r.send(ctx, spec, call, payload, headers)
	if err != nil {
		return fail("transport: "+api, "%s: %v", api, err)
	}
	r.last = resp
	r.stash["body"] = resp.body

	isErr := resp.status >= 400 && !ignore[resp.status] && !(resp.head && resp.status == 404)
	errType, errReason := errorInfo(resp.body)
	if catch == "" {
		if isErr {
			return fail(fmt.Sprintf("unexpected error: %s -> %d %s: %s", api, resp.status, errType, reasonKey(errReason)),
				"%s: expected 2xx, got %d %s: %s", api, resp.status, errType, errReason)
		}
		return nil
	}
	want, named := catchStatus[catch]
	if named {
		ok := resp.status == want
		if catch == "request" {
			ok = resp.status >= 400 && !otherNamedStatus[resp.status]
		}
		if !ok {
			return fail(fmt.Sprintf("wrong status: %s expected %s, got %d %s", api, catch, resp.status, errType),
				"%s: expected catch %s (%s), got %d %s %s", api, catch, catchLabel(catch), resp.status, errType, errReason)
		}
		return nil
	}
	re, isRegex := isRegexLiteral(catch)
	if !isRegex {
		return fmt.Errorf("catch %q not supported", catch)
	}
	if resp.status < 400 {
		return fail(fmt.Sprintf("wrong status: %s expected an error matching a regex, got %d", api, resp.status),
			"%s: expected an error matching /%s/, got %d", api, re, resp.status)
	}
	rx, err := compileJavaRegex(re)
	if err != nil {
		return fmt.Errorf("runner: regex /%s/ not supported by Go: %w", re, err)
	}
	errObj, _, _ := lookup(resp.body, "error", nil)
	if errObj == nil {
		return fail(fmt.Sprintf("error body: %s %d has no error object", api, resp.status),
			"%s: %d response has no \"error\": %s", api, resp.status, truncate(string(resp.raw), 300))
	}
	if !rx.MatchString(flatten(errObj)) && !rx.MatchString(show(errObj)) {
		return fail(fmt.Sprintf("error message: %s %d %s", api, resp.status, errType),
			"%s: error does not match /%s/: %s", api, re, truncate(flatten(errObj), 400))
	}
	return nil
}

var numberRe = regexp.MustCompile(`\d+`)

// reasonKey shortens an error reason to group failures: its first sentence, numbers elided.
func reasonKey(reason string) string {
	if i := strings.Index(reason, ". "); i > 0 {
		reason = reason[:i]
	}
	for _, cut := range []string{" please check", "; send", " (field ["} {
		if i := strings.Index(reason, cut); i > 0 {
			reason = reason[:i]
		}
	}
	return truncate(numberRe.ReplaceAllString(reason, "N"), 100)
}

var catchStatus = map[string]int{
	"bad_request": 400, "unauthorized": 401, "forbidden": 403, "missing": 404,
	"request_timeout": 408, "conflict": 409, "gone": 410, "unavailable": 503, "request": 0,
}

var otherNamedStatus = map[int]bool{400: true, 401: true, 403: true, 404: true, 408: true, 409: true, 410: true}

func catchLabel(c string) string {
	if c == "request" {
		return "4xx/5xx other than the named ones"
	}
	return strconv.Itoa(catchStatus[c])
}

// errorInfo extracts error.type and error.reason from an error response.
func errorInfo(body any) (string, string) {
	m, ok := body.(map[string]any)
	if !ok {
		if s, ok := body.(string); ok {
			return "", truncate(s, 200)
		}
		return "", ""
	}
	switch e := m["error"].(type) {
	case map[string]any:
		return scalarString(e["type"]), truncate(scalarString(e["reason"]), 300)
	case string:
		return "", truncate(e, 300)
	}
	return "", truncate(show(m), 200)
}

// flatten renders an error object as Java's Map.toString would, close enough for the
// catch regexes: keys and values, nested, in a readable order.
func flatten(v any) string {
	switch x := v.(type) {
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			parts = append(parts, k+"="+flatten(x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = flatten(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		return scalarString(v)
	}
}

// encodeBody serializes a YAML body: a map as JSON, a string as is, a list as NDJSON lines
// for bulk-style APIs.
func encodeBody(body any, ndjson bool) ([]byte, error) {
	switch b := body.(type) {
	case string:
		if ndjson && !strings.HasSuffix(b, "\n") {
			b += "\n"
		}
		return []byte(b), nil
	case []any:
		if !ndjson {
			return json.Marshal(b)
		}
		var buf bytes.Buffer
		for _, line := range b {
			if s, ok := line.(string); ok {
				buf.WriteString(strings.TrimRight(s, "\n"))
			} else {
				enc, err := json.Marshal(line)
				if err != nil {
					return nil, err
				}
				buf.Write(enc)
			}
			buf.WriteByte('\n')
		}
		return buf.Bytes(), nil
	default:
		return json.Marshal(b)
	}
}

func (r *runner) send(ctx context.Context, spec *apiSpec, call *httpCall, payload []byte, headers map[string]string) (*response, error) {
	u := r.base + call.path
	if len(call.query) > 0 {
		u += "?" + call.query.Encode()
	}
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, call.method, u, rd)
	if err != nil {
		return nil, err
	}
	if payload != nil {
		ct := spec.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if spec.accept != "" {
		req.Header.Set("Accept", spec.accept)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	r.lastReq = call.method + " " + call.path
	if len(call.query) > 0 {
		r.lastReq += "?" + unescape(call.query.Encode())
	}
	if payload != nil {
		r.lastReq += "\n" + truncate(strings.TrimSpace(string(payload)), 600)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := &response{status: resp.StatusCode, raw: raw, head: call.method == http.MethodHead}
	r.lastResp = fmt.Sprintf("%d %s", resp.StatusCode, truncate(strings.TrimSpace(string(raw)), 600))
	if len(raw) == 0 {
		if !out.head {
			out.body = "" // an empty text answer (e.g. _cat with nothing to list) is ""
		}
		return out, nil
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("decode %s response: %w: %s", mt, err, truncate(string(raw), 200))
		}
		out.body = v
		return out, nil
	}
	out.body = string(raw)
	return out, nil
}

func unescape(q string) string {
	if s, err := url.QueryUnescape(q); err == nil {
		return s
	}
	return q
}
