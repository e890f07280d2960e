package esembed

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSearchDuringBulk is the reindex's search-latency question on the engine alone, without
// the rest of the stack: the latency of a sorted first page over 20,000 documents (51 hits by
// one of four columns in turn, then the order_id tiebreaker, as the search API asks), one
// search after another, before and while two clients bulk-index new documents into another
// index as fast as the engine takes them (a backfill without a throttle). The bulk bodies are
// encoded beforehand, so only the engine's indexing competes with the searches.
//
//	go test ./internal/esembed -run '^$' -bench SearchDuringBulk -benchtime 1x -v
//
// p99-ratio is the search p99 during the bulk load ÷ before it; bulk-docs/s what the load got.
// The sub-benchmarks run it with the engine's sort-column cache (sortcache.go) and without
// (bleve's collector reads every match's doc values).
func BenchmarkSearchDuringBulk(b *testing.B) {
	const live = 20000
	r := rand.New(rand.NewPCG(3, 4))
	docs := make([]map[string]any, live+60000)
	for i := range docs {
		docs[i] = orderDoc(r, i)
	}
	for _, cached := range []bool{true, false} {
		name := map[bool]string{true: "sortcache=on", false: "sortcache=off"}[cached]
		b.Run(name, func(b *testing.B) { searchDuringBulk(b, docs, live, cached) })
	}
}

func searchDuringBulk(b *testing.B, docs []map[string]any, live int, cached bool) {
	const phase = 8 * time.Second
	for it := 0; it < b.N; it++ {
		url, eng, stop := startEngine(b, "")
		if !cached {
			eng.sortCache.Store(nil)
		}
		client := &http.Client{}
		for _, ix := range []string{"live", "build"} {
			req, _ := http.NewRequest(http.MethodPut, url+"/"+ix, bytes.NewReader(ordersV2Body(b)))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := client.Do(req); err != nil || resp.StatusCode != 200 {
				b.Fatalf("create %s: %v %v", ix, err, resp)
			}
		}
		for i := 0; i < live; i += benchBatch {
			post(b, client, url+"/_bulk", bulkBody(docs, i, i+benchBatch, "live"))
		}
		post(b, client, url+"/live/_refresh", nil)
		sorts := []string{"customer_name.keyword", "placed_at", "total", "order_number"}
		search := func(i int) time.Duration {
			// As the search API asks: the column, then the order_id tiebreaker.
			body := []byte(`{"size":51,"track_total_hits":true,"sort":[{"` + sorts[i%len(sorts)] + `":{"order":"asc","missing":"_last"}},{"order_id":{"order":"asc","missing":"_last"}}]}`)
			t := time.Now()
			post(b, client, url+"/live/_search", body)
			return time.Since(t)
		}
		measure := func() []time.Duration {
			var out []time.Duration
			for t0, i := time.Now(), 0; time.Since(t0) < phase; i++ {
				out = append(out, search(i))
			}
			return out
		}
		before := measure()
		// The load's bodies are ready beforehand: what competes with the searches is the
		// engine's indexing only.
		var bodies [][]byte
		for from := live; from+500 <= len(docs); from += 500 {
			bodies = append(bodies, bulkBody(docs, from, from+500, "build"))
		}
		var indexed atomic.Int64
		stopBulk := make(chan struct{})
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 2 {
			wg.Go(func() {
				bc := &http.Client{}
				for {
					select {
					case <-stopBulk:
						return
					default:
					}
					k := int(next.Add(1)) - 1
					if k >= len(bodies) {
						return
					}
					// Not post: FailNow must not be called from this goroutine.
					resp, err := bc.Post(url+"/_bulk", "application/x-ndjson", bytes.NewReader(bodies[k]))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("bulk: status %d", resp.StatusCode)
						return
					}
					indexed.Add(500)
				}
			})
		}
		t0 := time.Now()
		during := measure()
		close(stopBulk)
		wg.Wait()
		rate := float64(indexed.Load()) / time.Since(t0).Seconds()
		stop()
		pb, pd := percentile(before, 0.99), percentile(during, 0.99)
		b.Logf("search before: p50 %v p99 %v (%d); during bulk: p50 %v p90 %v p99 %v (%d); bulk %.0f docs/s",
			percentile(before, 0.5), pb, len(before), percentile(during, 0.5), percentile(during, 0.9), pd, len(during), rate)
		b.ReportMetric(float64(pd)/float64(pb), "p99-ratio")
		b.ReportMetric(float64(percentile(during, 0.5))/float64(percentile(before, 0.5)), "p50-ratio")
		b.ReportMetric(rate, "bulk-docs/s")
	}
}

// BenchmarkSortedPage is the engine's CPU for one sorted first page of 51 hits over 20,000
// documents in several segments, through HTTP, as the search API asks for it: with the hits'
// _source (source=on) and without it (source=off), so the cost of loading the hits' stored
// fields is the difference.
//
//	go test ./internal/esembed -run '^$' -bench SortedPage
func BenchmarkSortedPage(b *testing.B) {
	const live = 20000
	r := rand.New(rand.NewPCG(5, 6))
	docs := make([]map[string]any, live)
	for i := range docs {
		docs[i] = orderDoc(r, i)
	}
	url, _, stop := startEngine(b, "")
	defer stop()
	client := &http.Client{}
	req, _ := http.NewRequest(http.MethodPut, url+"/live", bytes.NewReader(ordersV2Body(b)))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 200 {
		b.Fatalf("create live: %v %v", err, resp)
	}
	// A refresh every 4,000 documents leaves several segments, as live indexing does.
	for i := 0; i < live; i += benchBatch {
		post(b, client, url+"/_bulk", bulkBody(docs, i, i+benchBatch, "live"))
		if (i/benchBatch)%(4000/benchBatch) == 0 {
			post(b, client, url+"/live/_refresh", nil)
		}
	}
	post(b, client, url+"/live/_refresh", nil)
	sorts := []string{"customer_name.keyword", "placed_at", "total", "order_number"}
	for _, source := range []bool{true, false} {
		b.Run(map[bool]string{true: "source=on", false: "source=off"}[source], func(b *testing.B) {
			bodies := make([][]byte, len(sorts))
			for k, s := range sorts {
				bodies[k] = []byte(`{"size":51,"track_total_hits":true,"_source":` + map[bool]string{true: "true", false: "false"}[source] +
					`,"sort":[{"` + s + `":{"order":"asc","missing":"_last"}},{"order_id":{"order":"asc","missing":"_last"}}]}`)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				post(b, client, url+"/live/_search", bodies[i%len(bodies)])
			}
		})
	}
}
