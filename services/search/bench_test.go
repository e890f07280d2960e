package search

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

var (
	benchDocs     = flag.Int("bench-docs", 100_000, "orders in the index of BenchmarkPaging (at least 1000 pages' worth)")
	benchPageSize = flag.Int("bench-page-size", 50, "page size of BenchmarkPaging")
	benchOrders   = flag.Int("bench-orders", 10_000, "orders created through the source services in BenchmarkComposition")
)

// latencies collects durations and reports percentiles in milliseconds.
type latencies []time.Duration

func (l latencies) p(q float64) float64 {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return float64(s[min(len(s)-1, int(q*float64(len(s))))].Microseconds()) / 1000
}

func timed(l *latencies, f func()) {
	start := time.Now()
	f()
	*l = append(*l, time.Since(start))
}

// BenchmarkPaging measures, over -bench-docs orders, the API's first pages (-bench-page-size) under
// rotating sorts and page 1000 reached by cursor (the cursor is built once by walking; each
// iteration fetches page 1000 again). Page 1 is the baseline: p1000/first near 1 means deep
// pages cost what the first does, which is what search_after promises.
//
// Run: go test ./services/search -run '^$' -bench Paging -benchtime 200x -args -bench-docs 1000000
func BenchmarkPaging(b *testing.B) {
	n, size := *benchDocs, *benchPageSize
	if n < 1000*size {
		b.Fatalf("-bench-docs %d: page 1000 of %d needs at least %d orders", n, size, 1000*size)
	}
	s := newStack(b)
	idx := s.createIndex("v2")
	r := rand.New(rand.NewPCG(testSeed(b), 9))
	start := time.Now()
	for done := 0; done < n; {
		k := min(5_000, n-done)
		s.bulk(idx, genOrders(r, k, true), true)
		done += k
	}
	s.point(idx)
	b.Logf("indexed %d orders in %v", n, time.Since(start).Round(time.Millisecond))

	sorts := []string{"customer_name", "-placed_at", "total", "-updated_at", "status,-total", "customer_country,customer_name"}
	deep := map[string]string{}
	for _, sort := range []string{"customer_name", "-total"} {
		// Pages of up to 200 that end after 999*size orders give the cursor of page 1000.
		params := url.Values{"sort": {sort}}
		for left := 999 * size; left > 0; {
			k := min(200, left)
			params.Set("size", strconv.Itoa(k))
			p := s.page(params)
			params.Set("cursor", *p.NextCursor)
			left -= k
		}
		deep[sort] = params.Get("cursor")
	}
	// raw sends the API's own Elasticsearch body for a first page straight to the engine: the
	// baseline that tells the API's overhead (alias lookup, parsing, JSON) from engine time.
	tb := tableV(b, "v2")
	raw := func(sort string) {
		p, err := parseParams(url.Values{"sort": {sort}, "size": {strconv.Itoa(size)}}, limits())
		if err != nil {
			b.Fatal(err)
		}
		q, err := bind(p, tb, nil, limits())
		if err != nil {
			b.Fatal(err)
		}
		body, _ := json.Marshal(searchBody(tb, q, nil, 10000))
		if _, _, err := s.es.Do(context.Background(), http.MethodPost, "/"+idx+"/_search", body); err != nil {
			b.Fatal(err)
		}
	}
	var first, page1000, engine latencies
	client := s.srv.Client()
	get := func(params url.Values) {
		res, err := client.Get(s.srv.URL + "/v1/orders?" + params.Encode())
		if err != nil {
			b.Fatal(err)
		}
		var body struct {
			Items []map[string]any `json:"items"`
		}
		err = jsonDecodeBody(res, &body)
		if err != nil || res.StatusCode != http.StatusOK || len(body.Items) != size {
			b.Fatalf("GET %s: %d %v (%d items)", params.Encode(), res.StatusCode, err, len(body.Items))
		}
	}
	i := 0
	for b.Loop() {
		sz := strconv.Itoa(size)
		timed(&first, func() { get(url.Values{"sort": {sorts[i%len(sorts)]}, "size": {sz}}) })
		timed(&engine, func() { raw(sorts[i%len(sorts)]) })
		sort := []string{"customer_name", "-total"}[i%2]
		timed(&page1000, func() { get(url.Values{"sort": {sort}, "size": {sz}, "cursor": {deep[sort]}}) })
		i++
	}
	b.ReportMetric(float64(n), "orders")
	b.ReportMetric(float64(size), "page_size")
	b.ReportMetric(first.p(.5), "first_p50_ms")
	b.ReportMetric(first.p(.99), "first_p99_ms")
	b.ReportMetric(page1000.p(.5), "p1000_p50_ms")
	b.ReportMetric(page1000.p(.99), "p1000_p99_ms")
	b.ReportMetric(page1000.p(.5)/first.p(.5), "p1000/first_p50")
	b.ReportMetric(engine.p(.5), "engine_first_p50_ms")
	b.ReportMetric(first.p(.5)/engine.p(.5), "api/engine_p50")
}

// BenchmarkComposition compares the rejected alternative, API composition, with this API for
// the first page (50) sorted by customer name over -bench-orders orders. Composition lists
// every order from the PurchaseOrderService, batch-gets their customers from the
// CustomerService, joins and sorts in memory; the search API answers from the index that
// holds the same join. Each iteration runs both, interleaved, so both see the same machine
// load; both answers are checked to be the same page first.
//
// Run: go test ./services/search -run '^$' -bench Composition -benchtime 20x -args -bench-orders 100000
func BenchmarkComposition(b *testing.B) {
	ctx := context.Background()
	n := *benchOrders
	logger := slog.New(slog.NewTextHandler(stdout{b, new(atomic.Int32)}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cs, err := customers.New(ctx, customers.Config{DatabaseURL: testenv.NewDatabase(b, "benchsc"), Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cs.Close)
	csrv := httptest.NewServer(cs.Handler())
	b.Cleanup(csrv.Close)
	osvc, err := orders.New(ctx, orders.Config{DatabaseURL: testenv.NewDatabase(b, "benchso"), CustomersURL: csrv.URL, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(osvc.Close)
	osrv := httptest.NewServer(osvc.Handler())
	b.Cleanup(osrv.Close)
	cc := customers.NewClient(csrv.URL, "", nil)
	oc := orders.NewClient(osrv.URL, "", nil)

	r := rand.New(rand.NewPCG(testSeed(b), 10))
	start := time.Now()
	nc := max(1, n/10)
	custs := make([]customers.Customer, nc)
	inputs := make([]customers.CreateInput, nc)
	for i := range inputs {
		inputs[i] = customers.CreateInput{
			Name:    fmt.Sprintf("%s %s", names[r.IntN(len(names))], strconv.Itoa(r.IntN(1000))),
			Email:   fmt.Sprintf("c%d@example.com", i),
			Country: countries[r.IntN(len(countries))],
		}
	}
	parallel(b, nc, func(i int) error {
		c, err := cc.Create(ctx, inputs[i])
		custs[i] = c
		return err
	})
	oin := make([]orders.CreateInput, n)
	for i := range oin {
		placed := baseTime.Add(time.Duration(r.IntN(31*24*3600)) * time.Second)
		oin[i] = orders.CreateInput{
			CustomerID: custs[r.IntN(nc)].ID, Status: statuses[1+r.IntN(len(statuses)-1)],
			Total: fmt.Sprintf("%d.%02d", r.IntN(2000), r.IntN(100)), Currency: "EUR", PlacedAt: &placed,
		}
	}
	created := make([]orders.Order, n)
	parallel(b, n, func(i int) error {
		o, err := oc.Create(ctx, oin[i])
		created[i] = o
		return err
	})
	b.Logf("created %d customers and %d orders through the services in %v", nc, n, time.Since(start).Round(time.Millisecond))

	// The index holds the join the indexer would write.
	byID := map[string]customers.Customer{}
	for _, c := range custs {
		byID[c.ID] = c
	}
	s := newStack(b)
	idx := s.createIndex("v2")
	docs := make([]order, n)
	for i, o := range created {
		c := byID[o.CustomerID]
		total, _ := strconv.ParseFloat(o.Total, 64)
		name, country := c.Name, c.Country
		placed := ms(*o.PlacedAt)
		docs[i] = order{
			OrderID: o.ID, OrderNumber: o.OrderNumber, Status: o.Status, Total: total, Currency: o.Currency,
			PlacedAt: &placed, UpdatedAt: ms(o.UpdatedAt), CustomerName: &name, CustomerID: o.CustomerID,
			CustomerCountry: &country, OrderVersion: o.Version, CustomerVersion: c.Version, IndexedAt: ms(time.Now()),
		}
	}
	s.bulk(idx, docs, true)
	s.point(idx)

	compose := func() []string {
		var all []orders.Order
		if err := oc.Each(ctx, 1000, func(p []orders.Order) error { all = append(all, p...); return nil }); err != nil {
			b.Fatal(err)
		}
		seen := map[string]bool{}
		var ids []string
		for _, o := range all {
			if !seen[o.CustomerID] {
				seen[o.CustomerID] = true
				ids = append(ids, o.CustomerID)
			}
		}
		cs, err := cc.BatchGet(ctx, ids)
		if err != nil {
			b.Fatal(err)
		}
		name := make(map[string]string, len(cs))
		for _, c := range cs {
			name[c.ID] = c.Name
		}
		slices.SortFunc(all, func(x, y orders.Order) int {
			if c := compareValues(name[x.CustomerID], name[y.CustomerID]); c != 0 {
				return c
			}
			return compareValues(x.ID, y.ID)
		})
		out := make([]string, 0, 50)
		for _, o := range all[:min(50, len(all))] {
			out = append(out, o.ID)
		}
		return out
	}
	search := func() []string {
		res, err := s.srv.Client().Get(s.srv.URL + "/v1/orders?sort=customer_name&size=50")
		if err != nil {
			b.Fatal(err)
		}
		var body struct {
			Items []map[string]any `json:"items"`
		}
		if err := jsonDecodeBody(res, &body); err != nil || res.StatusCode != 200 {
			b.Fatalf("search: %d %v", res.StatusCode, err)
		}
		ids := make([]string, len(body.Items))
		for i, it := range body.Items {
			ids[i] = it["order_id"].(string)
		}
		return ids
	}
	if got, want := search(), compose(); !slices.Equal(got, want) {
		b.Fatalf("the two approaches disagree on the first page:\nsearch  %v\ncompose %v", got, want)
	}
	var comp, api latencies
	for b.Loop() {
		timed(&comp, func() { compose() })
		timed(&api, func() { search() })
	}
	b.ReportMetric(float64(n), "orders")
	b.ReportMetric(comp.p(.5), "compose_p50_ms")
	b.ReportMetric(comp.p(.99), "compose_p99_ms")
	b.ReportMetric(api.p(.5), "search_p50_ms")
	b.ReportMetric(api.p(.99), "search_p99_ms")
	b.ReportMetric(comp.p(.5)/api.p(.5), "compose/search_p50")
}

// stdout sends the services' first warnings to the benchmark log (a failing dependency
// would otherwise flood it).
type stdout struct {
	b *testing.B
	n *atomic.Int32
}

func (w stdout) Write(p []byte) (int, error) {
	if w.n.Add(1) <= 20 {
		w.b.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// parallel runs f(0..n-1) on 16 workers and fails b on the first error.
func parallel(b *testing.B, n int, f func(i int) error) {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}
