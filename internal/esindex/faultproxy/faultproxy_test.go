package faultproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestProxyFaults(t *testing.T) {
	var backendHits atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backendHits.Add(1)
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		_, _ = io.WriteString(w, `{"errors":false,"items":[{"index":{"_id":"a","status":201,"result":"created"}},{"index":{"_id":"b","status":201,"result":"created"}}]}`)
	}))
	defer backend.Close()
	p, err := Start(backend.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Post(p.URL()+path, "application/x-ndjson", strings.NewReader("{}\n"))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if st, _ := get("/_bulk"); st != 200 || backendHits.Load() != 1 {
		t.Fatalf("no faults: got %d with %d backend hits, want 200 and 1", st, backendHits.Load())
	}
	p.SetFaults(Faults{PathContains: "/_bulk", RejectRate: 1})
	if st, body := get("/_bulk"); st != 429 || backendHits.Load() != 1 || !strings.Contains(body, "es_rejected_execution_exception") {
		t.Fatalf("reject: got %d %s with %d backend hits, want 429 not forwarded", st, body, backendHits.Load())
	}
	if st, _ := get("/other"); st != 200 {
		t.Fatalf("path filter: got %d, want 200", st)
	}
	p.SetFaults(Faults{FailAfterRate: 1})
	before := backendHits.Load()
	if st, _ := get("/_bulk"); st != 502 || backendHits.Load() != before+1 {
		t.Fatalf("fail after: got %d, backend hits +%d, want 502 after forwarding", st, backendHits.Load()-before)
	}
	p.SetFaults(Faults{ItemRejectRate: 1})
	if st, body := get("/_bulk"); st != 200 || strings.Count(body, `"status":429`) != 2 || !strings.Contains(body, `"errors":true`) {
		t.Fatalf("item rejects: got %d %s, want both items 429", st, body)
	}
	p.SetFaults(Faults{})
	p.Down()
	if _, err := http.Get(p.URL() + "/"); err == nil {
		t.Fatal("down: request succeeded")
	}
	if err := p.Up(); err != nil {
		t.Fatal(err)
	}
	if st, _ := get("/_bulk"); st != 200 {
		t.Fatalf("up again: got %d, want 200", st)
	}
	if s := p.Stats(); s.Rejected != 1 || s.FailedAfter != 1 || s.ItemsRejected != 2 {
		t.Fatalf("stats: got %+v", s)
	}
}
