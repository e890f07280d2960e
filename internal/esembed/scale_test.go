package esembed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
)

// TestLargeScaleFigures measures, in one run, the engine against raw bleve over the same
// documents: bulk indexing docs/s, RSS while indexing, sorted top-50 search p50/p99 (with and
// without a filter) and search_after at page 1000 vs page 1. It asserts only correctness
// (same top hits); the figures are logged. Run it alone, it takes the machine:
//
//	ESEMBED_BENCH_DOCS=1000000 go test ./internal/esembed -run TestLargeScaleFigures -v -timeout 90m
func TestLargeScaleFigures(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("ESEMBED_BENCH_DOCS"))
	if err != nil || n <= 0 {
		t.Skip("set ESEMBED_BENCH_DOCS (e.g. 1000000) to run the large-scale measurements")
	}
	const batch = 5000
	seed := uint64(42)
	gen := func(i int) map[string]any {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		return orderDoc(r, i)
	}
	client := &http.Client{}
	// Persistent by default, as `ordertable es --data` and `ordertable dev` run; raw bleve then
	// writes a scorch index on disk too. ESEMBED_BENCH_MEM=1 runs both in memory.
	dataDir, rawPath := os.Getenv("ESEMBED_BENCH_DATA"), ""
	if os.Getenv("ESEMBED_BENCH_MEM") == "" {
		if dataDir == "" {
			dataDir = t.TempDir()
		}
		rawPath = filepath.Join(t.TempDir(), "raw")
	}
	url, eng, stop := startEngine(t, dataDir)
	defer stop()
	req, _ := http.NewRequest(http.MethodPut, url+"/orders", stringsReader(string(ordersV2Body(t))))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("create index: %v %v", err, resp)
	}

	// Memory sampler: VmRSS, split into anonymous memory (the Go heap and everything else the
	// process allocated: what must stay bounded) and file-backed pages (the mmapped segment
	// files, page cache the kernel reclaims under pressure), plus the Go heap in use.
	var peakRSS, peakAnon, peakFile, peakHeap atomic.Int64
	maxTo := func(a *atomic.Int64, v int64) {
		if v > a.Load() {
			a.Store(v)
		}
	}
	ctx, cancelSampler := context.WithCancel(context.Background())
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				m := procMemMB()
				maxTo(&peakRSS, int64(m.rss))
				maxTo(&peakAnon, int64(m.anon))
				maxTo(&peakFile, int64(m.file))
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				maxTo(&peakHeap, int64(ms.HeapInuse>>20))
			}
		}
	}()
	runtime.GC()
	startMem := procMemMB()
	start := time.Now()
	nextReport := n / 10
	for i := 0; i < n; i += batch {
		m := min(batch, n-i)
		var buf bytes.Buffer
		for j := i; j < i+m; j++ {
			fmt.Fprintf(&buf, `{"index":{"_index":"orders","_id":"o%d"}}`+"\n", j)
			b, _ := json.Marshal(gen(j))
			buf.Write(b)
			buf.WriteByte('\n')
		}
		out := post(t, client, url+"/_bulk", buf.Bytes())
		if bytes.Contains(out[:min(len(out), 64)], []byte(`"errors":true`)) {
			t.Fatalf("bulk item errors: %s", out[:min(len(out), 500)])
		}
		if done := i + m; done >= nextReport || done == n {
			mm := procMemMB()
			t.Logf("  %7d docs, %6.0f docs/s, RSS %5.0f MB (anon %5.0f, file %5.0f)", done,
				float64(done)/time.Since(start).Seconds(), mm.rss, mm.anon, mm.file)
			nextReport += n / 10
			if os.Getenv("ESEMBED_BENCH_STATS") != "" {
				eng.mu.RLock()
				ix := eng.indices["orders"]
				eng.mu.RUnlock()
				st, _ := ix.bidx.StatsMap()["index"].(map[string]any)
				t.Logf("    bleve: mem segs %v, file segs %v, disk %v MB, root epoch %v, persisted %v, merged %v, items to persist %v",
					st["num_root_memorysegments"], st["num_root_filesegments"], toMB(st["CurOnDiskBytes"]), st["CurRootEpoch"],
					st["LastPersistedEpoch"], st["LastMergedEpoch"], st["num_recs_to_persist"])
			}
		}
	}
	post(t, client, url+"/orders/_refresh", nil)
	engineDur := time.Since(start)
	cancelSampler()
	<-samplerDone
	endMem := procMemMB()
	t.Logf("engine bulk over HTTP: %d docs in %s = %.0f docs/s", n, engineDur.Round(time.Millisecond), float64(n)/engineDur.Seconds())
	t.Logf("memory while indexing: RSS start %.0f MB, peak %d MB, end %.0f MB; anonymous peak %d MB (end %.0f); file-backed peak %d MB; Go heap in use peak %d MB",
		startMem.rss, peakRSS.Load(), endMem.rss, peakAnon.Load(), endMem.anon, peakFile.Load(), peakHeap.Load())
	if p := os.Getenv("ESEMBED_BENCH_HEAPPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		_ = pprof.WriteHeapProfile(f)
		_ = f.Close()
	}

	raw, err := bleve.NewUsing(rawPath, rawBleveMapping(), scorch.Name, scorch.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	start = time.Now()
	for i := 0; i < n; i += batch {
		b := raw.NewBatch()
		for j := i; j < min(i+batch, n); j++ {
			if err := b.Index("o"+strconv.Itoa(j), gen(j)); err != nil {
				t.Fatal(err)
			}
		}
		if err := raw.Batch(b); err != nil {
			t.Fatal(err)
		}
	}
	rawDur := time.Since(start)
	t.Logf("raw bleve batches: %d docs in %s = %.0f docs/s; bulk ratio engine/raw = %.2f",
		n, rawDur.Round(time.Millisecond), float64(n)/rawDur.Seconds(), rawDur.Seconds()/engineDur.Seconds())

	type sortCase struct {
		name, field string
		desc        bool
		filter      bool
	}
	cases := []sortCase{
		{"keyword customer_name.keyword asc", "customer_name.keyword", false, false},
		{"numeric total desc", "total", true, false},
		{"keyword asc + filter status=paid", "customer_name.keyword", false, true},
		{"numeric desc + filter status=paid", "total", true, true},
	}
	const reps = 30
	for _, c := range cases {
		order := "asc"
		if c.desc {
			order = "desc"
		}
		esBody := map[string]any{"size": 50, "track_total_hits": false, "_source": false,
			"sort": []any{map[string]any{c.field: order}}}
		var rawQ query.Query = bleve.NewMatchAllQuery()
		if c.filter {
			esBody["query"] = map[string]any{"bool": map[string]any{"filter": map[string]any{"term": map[string]any{"status": "paid"}}}}
			tq := bleve.NewTermQuery("paid")
			tq.SetField("status")
			bq := bleve.NewBooleanQuery()
			bq.AddMust(bleve.NewMatchAllQuery())
			bq.AddFilter(tq)
			rawQ = bq
		}
		payload, _ := json.Marshal(esBody)
		var engTimes, rawTimes []time.Duration
		var engIDs []string
		for r := 0; r < reps; r++ {
			t0 := time.Now()
			out := post(t, client, url+"/orders/_search", payload)
			engTimes = append(engTimes, time.Since(t0))
			if r == 0 {
				var resp struct {
					Hits struct {
						Hits []struct {
							ID string `json:"_id"`
						} `json:"hits"`
					} `json:"hits"`
				}
				_ = json.Unmarshal(out, &resp)
				for _, h := range resp.Hits.Hits {
					engIDs = append(engIDs, h.ID)
				}
			}
			rreq := bleve.NewSearchRequestOptions(rawQ, 50, 0, false)
			typ := search.SortFieldAsString
			if c.field == "total" {
				typ = search.SortFieldAsNumber
			}
			rreq.Sort = search.SortOrder{&search.SortField{Field: c.field, Desc: c.desc, Type: typ, Missing: search.SortFieldMissingLast}}
			rreq.Score = "none"
			t0 = time.Now()
			res, err := raw.Search(rreq)
			rawTimes = append(rawTimes, time.Since(t0))
			if err != nil {
				t.Fatal(err)
			}
			if r == 0 && len(res.Hits) > 0 && len(engIDs) > 0 && c.field == "total" && res.Hits[0].ID != engIDs[0] {
				// Ties on total may order differently; compare the values instead of ids.
				t.Logf("%s: first hit engine %s, raw %s (ties possible)", c.name, engIDs[0], res.Hits[0].ID)
			}
		}
		ep50, ep99 := percentile(engTimes, 0.5), percentile(engTimes, 0.99)
		rp50, rp99 := percentile(rawTimes, 0.5), percentile(rawTimes, 0.99)
		t.Logf("sorted top 50, %s: engine (HTTP+JSON) p50 %s p99 %s; raw bleve p50 %s p99 %s; ratio p50 %.2f p99 %.2f",
			c.name, ep50.Round(time.Microsecond), ep99.Round(time.Microsecond), rp50.Round(time.Microsecond), rp99.Round(time.Microsecond),
			ep50.Seconds()/rp50.Seconds(), ep99.Seconds()/rp99.Seconds())
	}

	// search_after: page 1000 vs page 1 (50 per page), sorted by total then order_number.
	page := func(after []any) ([]any, time.Duration) {
		b := map[string]any{"size": 50, "track_total_hits": false, "_source": false,
			"sort": []any{map[string]any{"total": "desc"}, map[string]any{"order_number": "asc"}}}
		if after != nil {
			b["search_after"] = after
		}
		payload, _ := json.Marshal(b)
		t0 := time.Now()
		out := post(t, client, url+"/orders/_search", payload)
		d := time.Since(t0)
		var resp struct {
			Hits struct {
				Hits []struct {
					Sort []any `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.Hits.Hits) == 0 {
			t.Fatalf("search_after page: %v %s", err, out[:min(200, len(out))])
		}
		return resp.Hits.Hits[len(resp.Hits.Hits)-1].Sort, d
	}
	var after []any
	pages := min(1000, n/50)
	var before1000 []any
	for p := 1; p < pages; p++ {
		after, _ = page(after)
		if p == pages-1 {
			before1000 = after
		}
	}
	var p1, pN []time.Duration
	for r := 0; r < reps; r++ {
		_, d1 := page(nil)
		_, dN := page(before1000)
		p1 = append(p1, d1)
		pN = append(pN, dN)
	}
	t.Logf("search_after: page 1 p50 %s, page %d p50 %s, ratio %.2f", percentile(p1, 0.5).Round(time.Microsecond), pages,
		percentile(pN, 0.5).Round(time.Microsecond), percentile(pN, 0.5).Seconds()/percentile(p1, 0.5).Seconds())
}

func toMB(v any) any {
	if u, ok := v.(uint64); ok {
		return u >> 20
	}
	return v
}
