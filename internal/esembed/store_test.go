package esembed

import (
	"fmt"
	"testing"
)

// TestRestartKeepsEverything checks indices, mappings, settings, aliases, documents, versions
// and tombstones survive a clean restart and a restart from the log alone.
func TestRestartKeepsEverything(t *testing.T) {
	for _, clean := range []bool{true, false} {
		t.Run(fmt.Sprintf("clean=%v", clean), func(t *testing.T) {
			dir := t.TempDir()
			eng, err := Open(Config{DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			ts := serveEngine(t, eng)
			ts.must(200, "PUT", "/idx", map[string]any{"settings": map[string]any{"refresh_interval": "-1", "gc_deletes": "1h"},
				"mappings": map[string]any{"dynamic": "strict", "_meta": map[string]any{"v": 1}, "properties": map[string]any{"k": map[string]any{"type": "keyword"}, "n": map[string]any{"type": "long"}}}})
			ts.must(200, "POST", "/_aliases", map[string]any{"actions": []any{map[string]any{"add": map[string]any{"index": "idx", "alias": "al", "is_write_index": true}}}})
			for i := 0; i < 20; i++ {
				ts.must(201, "PUT", fmt.Sprintf("/al/_doc/d%d?version=%d&version_type=external", i, 10+i), map[string]any{"k": fmt.Sprint("v", i), "n": i})
			}
			ts.must(200, "DELETE", "/idx/_doc/d3?version=100&version_type=external", nil)
			ts.must(404, "DELETE", "/idx/_doc/ghost?version=7&version_type=external", nil)
			ts.must(201, "PUT", "/auto/_doc/1", map[string]any{"title": "hello world", "when": "2024-05-01"})
			if clean {
				ts.stop()
				if err := eng.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				// Simulate a crash: drop the engine without a checkpoint (the log is fsynced).
				ts.stop()
				eng.abandon()
			}
			eng2, err := Open(Config{DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			ts2 := serveEngine(t, eng2)
			defer func() {
				ts2.stop()
				if err := eng2.Close(); err != nil {
					t.Error(err)
				}
			}()
			m := ts2.must(200, "GET", "/idx", nil)
			if str(get(m, "idx.mappings.dynamic")) != "strict" || str(get(m, "idx.mappings._meta.v")) != "1" ||
				str(get(m, "idx.settings.index.refresh_interval")) != "-1" || get(m, "idx.aliases.al.is_write_index") != true {
				t.Fatalf("index after restart: %v", m)
			}
			g := ts2.must(200, "GET", "/idx/_doc/d5", nil)
			if str(get(g, "_version")) != "15" || str(get(g, "_source.k")) != "v5" {
				t.Fatalf("doc after restart: %v", g)
			}
			ts2.must(404, "GET", "/idx/_doc/d3", nil)
			ts2.must(409, "PUT", "/idx/_doc/d3?version=99&version_type=external", map[string]any{"k": "stale"})
			ts2.must(409, "PUT", "/idx/_doc/ghost?version=6&version_type=external", map[string]any{"k": "stale"})
			ts2.must(201, "PUT", "/idx/_doc/ghost?version=8&version_type=external", map[string]any{"k": "fresh"})
			c := ts2.must(200, "GET", "/idx/_count", nil)
			if str(get(c, "count")) != "19" {
				t.Fatalf("count after restart: got %v, want 19", get(c, "count"))
			}
			s := ts2.must(200, "POST", "/auto/_search", map[string]any{"query": map[string]any{"match": map[string]any{"title": "world"}}})
			if str(get(s, "hits.total.value")) != "1" {
				t.Fatalf("auto index search after restart: %v", s)
			}
			mm := ts2.must(200, "GET", "/auto/_mapping", nil)
			if str(get(mm, "auto.mappings.properties.when.type")) != "date" {
				t.Fatalf("dynamic mapping after restart: %v", mm)
			}
		})
	}
}
