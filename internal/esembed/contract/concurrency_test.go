package contract

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentWritesAndSearches runs bulk writers, refreshes, searches and real-time gets
// at once: nothing fails with a server error, and every acknowledged document is counted at
// the end.
func TestConcurrentWritesAndSearches(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "conc", `{"settings": {"refresh_interval": "-1"}, "mappings": {"properties": {"w": {"type": "keyword"}, "n": {"type": "long"}}}}`)
	const writers, batches, perBatch = 3, 10, 50
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	var writersDone atomic.Int32
	var failures sync.Map
	fail := func(what string) { failures.Store(what, true) }
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			defer writersDone.Add(1)
			for b := 0; b < batches && ctx.Err() == nil; b++ {
				var sb strings.Builder
				for i := 0; i < perBatch; i++ {
					fmt.Fprintf(&sb, `{"index": {"_index": %q, "_id": "w%d-%d"}}`+"\n"+`{"w": "w%d", "n": %d}`+"\n", idx, w, b*perBatch+i, w, i)
				}
				status, data, err := e.tryRawBytes(ctx, http.MethodPost, "/_bulk", sb.String(), "application/x-ndjson")
				if err != nil || status != 200 || strings.Contains(string(data), `"errors":true`) {
					fail(fmt.Sprintf("bulk: %d %v %s", status, err, truncate(string(data), 200)))
				}
				// Real-time get of what was just written.
				if status, _, err := e.tryRaw(ctx, http.MethodGet, fmt.Sprintf("/%s/_doc/w%d-%d", idx, w, b*perBatch), nil); err != nil || status != 200 {
					fail(fmt.Sprintf("real-time get after bulk: %d %v", status, err))
				}
			}
		}(w)
	}
	background := func(name string, f func() (int, string)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && writersDone.Load() < writers {
				if status, body := f(); status >= 500 || status == 0 {
					fail(fmt.Sprintf("%s: %d %s", name, status, body))
				}
			}
		}()
	}
	background("refresh", func() (int, string) {
		status, body, err := e.tryRaw(ctx, http.MethodPost, "/"+idx+"/_refresh", nil)
		return status, fmt.Sprint(err, show(body))
	})
	for s := 0; s < 2; s++ {
		// Each searcher checks its own sequence: its requests are sequential, so a count it
		// reads can never be lower than one it read before. (A count shared between the two
		// searchers would compare answers to overlapping requests, which may finish in any
		// order.)
		var lastCount atomic.Int64
		background("search", func() (int, string) {
			status, body, err := e.tryRaw(ctx, http.MethodPost, "/"+idx+"/_search", `{"size": 5, "sort": [{"n": "desc"}], "query": {"term": {"w": "w1"}}, "aggs": {"ws": {"terms": {"field": "w"}}}}`)
			if err != nil || status != 200 {
				return status, fmt.Sprint(err, show(body))
			}
			status, c, err := e.tryRaw(ctx, http.MethodGet, "/"+idx+"/_count", nil)
			if err != nil || status != 200 {
				return status, fmt.Sprint(err, show(c))
			}
			n := int64(jsonInt(c["count"]))
			// Refreshes only add documents here: the count never goes back.
			if prev := lastCount.Load(); n < prev {
				return 599, fmt.Sprintf("count went from %d back to %d", prev, n)
			}
			lastCount.Store(n)
			return status, ""
		})
	}
	wg.Wait()
	failures.Range(func(k, _ any) bool {
		t.Error(k)
		return true
	})
	e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_refresh", nil)
	want := writers * batches * perBatch
	if c := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_count", nil); jsonInt(c["count"]) != want {
		t.Errorf("final count: got %v, want %d", c["count"], want)
	}
	status, data := e.rawBytes(t, http.MethodGet, "/_cat/indices/"+idx+"?format=json&h=index,docs.count", nil, "")
	if status != 200 || !strings.Contains(string(data), fmt.Sprintf(`"docs.count":"%d"`, want)) {
		t.Errorf("_cat/indices docs.count: got %d %s, want %d", status, data, want)
	}
}

// TestConcurrentIndexCreation: racing creations of one index have exactly one winner, and
// racing writes that auto-create an index all land in it.
func TestConcurrentIndexCreation(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	name := uniqueName("race")
	e.cleanupIndex(t, name)
	const n = 8
	statuses := make([]int, n)
	types := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			status, body, err := e.tryRaw(ctx, http.MethodPut, "/"+name, `{"mappings": {"properties": {"n": {"type": "long"}}}}`)
			if err != nil {
				types[i] = err.Error()
				return
			}
			statuses[i] = status
			types[i], _ = path(body, "error.type").(string)
		}(i)
	}
	wg.Wait()
	ok := 0
	for i := range statuses {
		switch {
		case statuses[i] == 200:
			ok++
		case statuses[i] == 400 && types[i] == "resource_already_exists_exception":
		default:
			t.Errorf("racing create %d: %d %s", i, statuses[i], types[i])
		}
	}
	if ok != 1 {
		t.Errorf("racing creates: %d succeeded, want exactly 1", ok)
	}

	auto := uniqueName("autorace")
	e.cleanupIndex(t, auto)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := fmt.Sprintf(`{"index": {"_index": %q, "_id": "%d"}}`+"\n"+`{"n": %d}`+"\n", auto, i, i)
			status, data, err := e.tryRawBytes(ctx, http.MethodPost, "/_bulk", body, "application/x-ndjson")
			if err != nil || status != 200 || strings.Contains(string(data), `"errors":true`) {
				types[i] = fmt.Sprintf("bulk auto-create %d: %d %v %s", i, status, err, truncate(string(data), 200))
			} else {
				types[i] = ""
			}
		}(i)
	}
	wg.Wait()
	for _, msg := range types {
		if msg != "" {
			t.Error(msg)
		}
	}
	e.mustRaw(t, 200, http.MethodPost, "/"+auto+"/_refresh", nil)
	if c := e.mustRaw(t, 200, http.MethodGet, "/"+auto+"/_count", nil); jsonInt(c["count"]) != n {
		t.Errorf("documents after racing auto-creates: got %v, want %d", c["count"], n)
	}
}
