package esindex

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeES answers /_bulk with per-item statuses chosen by the test, keyed by document id and
// attempt number, and records every request.
type fakeES struct {
	mu       sync.Mutex
	attempts map[string]int // id -> times seen
	// status returns the item status for id at its n-th attempt (1-based), or 0 to fail the
	// whole request with 503.
	status   func(id string, n int) int
	requests int
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	if r.URL.Path != "/_bulk" {
		http.Error(w, `{"error":{"type":"x","reason":"unexpected path"},"status":400}`, 400)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var items []map[string]any
	for sc.Scan() {
		var action map[string]bulkMeta
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var typ string
		var meta bulkMeta
		for k, v := range action {
			typ, meta = k, v
		}
		if typ == "index" && !sc.Scan() {
			http.Error(w, "missing source", 400)
			return
		}
		f.attempts[meta.ID]++
		st := f.status(meta.ID, f.attempts[meta.ID])
		if st == 0 {
			w.WriteHeader(503)
			_, _ = io.WriteString(w, `{"error":{"type":"unavailable","reason":"busy"},"status":503}`)
			return
		}
		it := map[string]any{"_index": meta.Index, "_id": meta.ID, "status": st}
		switch {
		case st == 201:
			it["result"] = "created"
		case st == 409:
			it["error"] = map[string]any{"type": "version_conflict_engine_exception", "reason": "newer"}
		case st >= 400:
			it["error"] = map[string]any{"type": "document_parsing_exception", "reason": fmt.Sprintf("bad %s", meta.ID)}
		}
		items = append(items, map[string]any{typ: it})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": true, "items": items})
}

func newFake(t *testing.T, status func(id string, n int) int) (*fakeES, *Client) {
	t.Helper()
	f := &fakeES{attempts: map[string]int{}, status: status}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := NewClient(Config{URLs: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func TestBulkWriterItemOutcomes(t *testing.T) {
	f, c := newFake(t, func(id string, n int) int {
		switch id {
		case "ok":
			return 201
		case "old":
			return 409
		case "bad":
			return 400
		case "throttled":
			if n < 3 {
				return 429
			}
			return 201
		case "flaky":
			if n < 2 {
				return 500
			}
			return 200
		}
		return 418
	})
	retries := map[string]int{}
	var mu sync.Mutex
	w := c.NewBulkWriter(BulkOptions{
		Backoff: Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond},
		OnRetry: func(reason string, n int) { mu.Lock(); retries[reason] += n; mu.Unlock() },
	})
	ops := []Op{
		{Type: OpIndex, Index: "i", ID: "ok", Version: 5, Doc: map[string]any{"a": 1}},
		{Type: OpIndex, Index: "i", ID: "old", Version: 5, Doc: json.RawMessage(`{"a":
 2}`)},
		{Type: OpIndex, Index: "i", ID: "bad", Doc: map[string]any{"a": "x"}},
		{Type: OpDelete, Index: "i", ID: "throttled", Version: 7},
		{Type: OpIndex, Index: "i", ID: "flaky", Doc: map[string]any{}},
	}
	res, err := w.Write(context.Background(), ops)
	if err != nil {
		t.Fatal(err)
	}
	want := []Outcome{Applied, Conflict, Rejected, Applied, Applied}
	for i, r := range res {
		if r.Outcome != want[i] {
			t.Errorf("op %s: got %v, want %v", ops[i].ID, r.Outcome, want[i])
		}
	}
	if !strings.Contains(res[2].Reason(), "bad bad") {
		t.Errorf("rejection reason: got %q", res[2].Reason())
	}
	if retries["item_429"] != 2 || retries["item_5xx"] != 1 {
		t.Errorf("retries: got %v, want item_429:2 item_5xx:1", retries)
	}
	if f.attempts["ok"] != 1 || f.attempts["throttled"] != 3 {
		t.Errorf("attempts: got %v, want ok once, throttled 3 times", f.attempts)
	}
}

func TestBulkWriterWholeRequestFailureIsRetried(t *testing.T) {
	_, c := newFake(t, func(id string, n int) int {
		if n < 3 {
			return 0 // whole request 503
		}
		return 201
	})
	var got []string
	w := c.NewBulkWriter(BulkOptions{
		Backoff: Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond},
		OnRetry: func(reason string, n int) { got = append(got, reason) },
	})
	res, err := w.Write(context.Background(), []Op{{Type: OpIndex, Index: "i", ID: "a", Doc: map[string]int{}}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != Applied {
		t.Fatalf("got %v, want applied", res[0].Outcome)
	}
	if strings.Join(got, ",") != "status_5xx,status_5xx" {
		t.Fatalf("retries: got %v, want two status_5xx", got)
	}
}

func TestBulkWriterStopsWithContext(t *testing.T) {
	_, c := newFake(t, func(string, int) int { return 429 })
	w := c.NewBulkWriter(BulkOptions{Backoff: Backoff{Base: time.Millisecond, Max: time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := w.Write(ctx, []Op{{Type: OpDelete, Index: "i", ID: "a"}})
	if err == nil || ctx.Err() == nil {
		t.Fatalf("got %v, want an error after the context ended", err)
	}
}

func TestBulkWriterSplitsByBytes(t *testing.T) {
	f, c := newFake(t, func(string, int) int { return 201 })
	w := c.NewBulkWriter(BulkOptions{MaxBytes: 300})
	var ops []Op
	for i := range 10 {
		ops = append(ops, Op{Type: OpIndex, Index: "i", ID: fmt.Sprint(i), Doc: map[string]string{"pad": strings.Repeat("x", 100)}})
	}
	if _, err := w.Write(context.Background(), ops); err != nil {
		t.Fatal(err)
	}
	if f.requests < 4 {
		t.Fatalf("got %d requests, want the 10 ops split over several", f.requests)
	}
}

func TestEncodeOpExternalVersion(t *testing.T) {
	b, err := encodeOp(Op{Type: OpIndex, Index: "orders_v1", ID: "o1", Version: 1 << 33, Doc: map[string]int{"a": 1}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":{"_index":"orders_v1","_id":"o1","version":8589934592,"version_type":"external"}}` + "\n" + `{"a":1}` + "\n"
	if string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
	if _, err := encodeOp(Op{Type: "upsert", Index: "i", ID: "x"}); err == nil {
		t.Fatal("got nil error for an unknown op type")
	}
	if !bytes.HasPrefix(mustEncode(t, Op{Type: OpDelete, Index: "i", ID: "x"}), []byte(`{"delete":{"_index":"i","_id":"x"}}`)) {
		t.Fatal("unversioned delete carries a version")
	}
}

func mustEncode(t *testing.T, op Op) []byte {
	t.Helper()
	b, err := encodeOp(op)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		for range 20 {
			d := b.Delay(attempt)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: got %v, want in [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{URLs: []string{"ftp://x", "http://"}, Password: "p", MaxRetries: -1}.Validate()
	for _, want := range []string{"scheme must be http", "no host", "password without username", "max retries"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to mention %q", err, want)
		}
	}
	if err := (Config{}).Validate(); err == nil {
		t.Error("empty config validated")
	}
	if err := (Config{URLs: []string{"http://127.0.0.1:9200"}}).Validate(); err != nil {
		t.Errorf("got %v, want nil", err)
	}
}
