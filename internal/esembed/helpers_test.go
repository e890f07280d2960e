package esembed

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// testServer runs an in-memory engine for one test.
type testServer struct {
	t    testing.TB
	url  string
	eng  *Engine
	stop func()
}

// serveEngine serves an engine the test opened itself (stop it with ts.stop).
func serveEngine(t testing.TB, eng *Engine) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Serve(ctx, ln) }()
	return &testServer{t: t, url: "http://" + ln.Addr().String(), eng: eng, stop: func() { cancel(); <-done }}
}

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	return newTestServerAt(t, "")
}

func newTestServerAt(t testing.TB, dir string) *testServer {
	t.Helper()
	return newTestServerWith(t, Config{DataDir: dir})
}

// newTestServerWith opens an engine with cfg and serves it until the test ends.
func newTestServerWith(t testing.TB, cfg Config) *testServer {
	t.Helper()
	eng, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Serve(ctx, ln) }()
	ts := &testServer{t: t, url: "http://" + ln.Addr().String(), eng: eng}
	t.Cleanup(func() {
		cancel()
		<-done
		if err := eng.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ts
}

// do sends a request and decodes the JSON answer (nil for empty bodies).
func (ts *testServer) do(method, path string, body any) (int, map[string]any) {
	ts.t.Helper()
	status, raw := ts.raw(method, path, body)
	if len(bytes.TrimSpace(raw)) == 0 {
		return status, nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		ts.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
	}
	return status, m
}

func (ts *testServer) raw(method, path string, body any) (int, []byte) {
	ts.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
		if strings.HasSuffix(path, "_bulk") || strings.Contains(path, "_bulk?") {
			ct = "application/x-ndjson"
		}
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, ts.url+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	if resp.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		ts.t.Fatalf("%s %s: missing X-Elastic-Product header", method, path)
	}
	return resp.StatusCode, raw
}

// must asserts a status and returns the body.
func (ts *testServer) must(want int, method, path string, body any) map[string]any {
	ts.t.Helper()
	status, m := ts.do(method, path, body)
	if status != want {
		ts.t.Fatalf("%s %s: got status %d, want %d: %v", method, path, status, want, m)
	}
	return m
}

// get walks a decoded JSON document by a dotted path (numeric segments index arrays).
func get(v any, path string) any {
	for _, seg := range strings.Split(path, ".") {
		switch t := v.(type) {
		case map[string]any:
			v = t[seg]
		case []any:
			i := 0
			for _, c := range seg {
				i = i*10 + int(c-'0')
			}
			if i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any) string { return jsonString(v) }

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
