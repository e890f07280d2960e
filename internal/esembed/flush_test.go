package esembed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withSmallFlushLimits makes writes spill into bleve after a handful of documents.
func withSmallFlushLimits(t *testing.T) {
	t.Helper()
	d, b, hd, hb, bd := flushDocs, flushBytes, flushHardDocs, flushHardBytes, flushBatchDocs
	flushDocs, flushBytes, flushHardDocs, flushHardBytes, flushBatchDocs = 5, 1<<20, 10, 1<<20, 3
	t.Cleanup(func() { flushDocs, flushBytes, flushHardDocs, flushHardBytes, flushBatchDocs = d, b, hd, hb, bd })
}

// TestFlushedWritesStayInvisibleUntilRefresh: with refresh disabled, writes far beyond the
// flush limits go into bleve (pending memory stays bounded) but search, count and
// aggregations keep seeing the last refresh, while real-time GET sees every write; an
// explicit refresh publishes them all at once. The same holds after a restart from the log.
func TestFlushedWritesStayInvisibleUntilRefresh(t *testing.T) {
	withSmallFlushLimits(t)
	for _, dir := range []string{"", t.TempDir()} {
		t.Run(fmt.Sprintf("persistent=%v", dir != ""), func(t *testing.T) {
			ts := newTestServerAt(t, dir)
			ts.must(200, "PUT", "/idx", map[string]any{"settings": map[string]any{"refresh_interval": "-1"},
				"mappings": map[string]any{"properties": map[string]any{"k": map[string]any{"type": "keyword"}, "n": map[string]any{"type": "long"}}}})
			ts.must(201, "PUT", "/idx/_doc/first?refresh=true", map[string]any{"k": "a", "n": -1})
			ix := ts.eng.indices["idx"]
			maxPending := 0
			const n = 103
			for i := 0; i < n; i++ {
				ts.must(201, "PUT", fmt.Sprintf("/idx/_doc/d%d", i), map[string]any{"k": "b", "n": i})
				if i%10 == 0 {
					ts.must(200, "PUT", fmt.Sprintf("/idx/_doc/d%d", i/2), map[string]any{"k": "c", "n": i})
				}
				ix.mu.Lock()
				maxPending = max(maxPending, len(ix.pending))
				ix.mu.Unlock()
			}
			ts.must(200, "DELETE", "/idx/_doc/d7", nil)
			if maxPending > flushHardDocs {
				t.Errorf("pending writes reached %d, hard limit %d", maxPending, flushHardDocs)
			}
			if got := str(get(ts.must(200, "POST", "/idx/_count", nil), "count")); got != "1" {
				t.Fatalf("count before refresh: %s, want 1 (only the refreshed document)", got)
			}
			sr := ts.must(200, "POST", "/idx/_search", map[string]any{"size": 0, "aggs": map[string]any{"k": map[string]any{"terms": map[string]any{"field": "k"}}}})
			if got := str(get(sr, "hits.total.value")); got != "1" {
				t.Fatalf("search total before refresh: %s", got)
			}
			if got := str(get(sr, "aggregations.k.buckets.0.key")); got != "a" {
				t.Fatalf("aggregation before refresh sees unrefreshed writes: %v", sr)
			}
			// Real-time GET sees every write, flushed or still pending; realtime=false does not.
			for i := 0; i < n; i++ {
				path := fmt.Sprintf("/idx/_doc/d%d", i)
				if i == 7 {
					ts.must(404, "GET", path, nil)
					continue
				}
				g := ts.must(200, "GET", path, nil)
				want := "b"
				if i < n/2 && i*2 < n && (i*2)%10 == 0 {
					want = "c"
				}
				if str(get(g, "_source.k")) != want {
					t.Fatalf("GET %s: %v, want k=%s", path, g, want)
				}
			}
			ts.must(404, "GET", "/idx/_doc/d50?realtime=false", nil)
			ts.must(200, "POST", "/idx/_refresh", nil)
			if got := str(get(ts.must(200, "POST", "/idx/_count", nil), "count")); got != fmt.Sprint(n) {
				t.Fatalf("count after refresh: %s, want %d", got, n)
			}
			if got := str(get(ts.must(200, "POST", "/idx/_count", map[string]any{"query": map[string]any{"term": map[string]any{"k": "c"}}}), "count")); got != "11" {
				t.Fatalf("updated documents after refresh: %s, want 11", got)
			}
		})
	}
}

// TestOpensIndicesOfOlderEngines: a data directory whose bleve indices were written as plain
// scorch (before the pinned reader) opens, keeps its documents and is switched to the pinned
// type.
func TestOpensIndicesOfOlderEngines(t *testing.T) {
	dir := t.TempDir()
	eng, err := Open(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ts := serveEngine(t, eng)
	ts.must(200, "PUT", "/idx", map[string]any{"mappings": map[string]any{"properties": map[string]any{"k": map[string]any{"type": "keyword"}}}})
	for i := 0; i < 5; i++ {
		ts.must(201, "PUT", fmt.Sprintf("/idx/_doc/d%d?refresh=true", i), map[string]any{"k": "v"})
	}
	uuid := eng.indices["idx"].uuid
	ts.stop()
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(dir, "indices", uuid, "bleve", "index_meta.json")
	raw, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(raw), pinnedIndexType, "scorch", 1)
	if old == string(raw) {
		t.Fatalf("index_meta.json does not name %s: %s", pinnedIndexType, raw)
	}
	if err := os.WriteFile(meta, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	ts2 := newTestServerAt(t, dir)
	if got := str(get(ts2.must(200, "POST", "/idx/_count", nil), "count")); got != "5" {
		t.Fatalf("count after reopening a plain scorch index: %s", got)
	}
	if raw, _ := os.ReadFile(meta); !strings.Contains(string(raw), pinnedIndexType) {
		t.Fatalf("index type not switched: %s", raw)
	}
}
