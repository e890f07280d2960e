package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/ordertable/ordertable/internal/bench/stack"
	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/mappings"
)

// searchColumns are the sorted first pages measured, one per column type.
var searchColumns = []struct{ kind, sort, field string }{
	{"keyword", "order_number", "order_number"},
	{"numeric", "-total", "total"},
	{"date", "-placed_at", "placed_at"},
	{"text", "customer_name", "customer_name.keyword"},
}

// apiPage is the part of a search API answer the bench reads.
type apiPage struct {
	Index      string            `json:"index"`
	Items      []json.RawMessage `json:"items"`
	NextCursor *string           `json:"next_cursor"`
}

// apiGet sends one GET to the search API and decodes a 200 answer into out (when non-nil).
func apiGet(ctx context.Context, hc *http.Client, base, query string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/orders?"+query, nil)
	if err != nil {
		return 0, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, fmt.Errorf("search API %s: HTTP %d: %.200s", query, res.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, fmt.Errorf("search API %s: decode: %w", query, err)
		}
	}
	return res.StatusCode, nil
}

// timeN runs fn n times sequentially (fewer, but at least 10, once limit has passed) and
// returns the latencies.
func timeN(ctx context.Context, n int, limit time.Duration, fn func(ctx context.Context) error) (*latencies, error) {
	l := &latencies{}
	start := time.Now()
	for i := range n {
		if i >= 10 && time.Since(start) > limit {
			break
		}
		t := time.Now()
		if err := fn(ctx); err != nil {
			return nil, err
		}
		l.add(time.Since(t))
	}
	return l, nil
}

// fillIndex bulk-loads generated order documents into the live index until it holds at least
// want documents (the search figures need volume; these documents have no source rows, so
// later figures that verify against the sources use a fresh stack).
func (r *run) fillIndex(ctx context.Context, want int) (int, error) {
	have, err := r.es.count(ctx, "orders")
	if err != nil {
		return 0, err
	}
	if have >= want {
		return have, nil
	}
	m, err := mappings.First()
	if err != nil {
		return 0, err
	}
	n := want - have
	r.progress("search: loading %d more documents into the live index (%d there)", n, have)
	g := newDocGen(r.cfg.Seed+8, r.sizes.Customers)
	g.idBase = 1 << 40
	ids, versions, bodies, err := g.docs(n, m)
	if err != nil {
		return 0, err
	}
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: r.es.c, Index: "orders", NumWorkers: 2, FlushBytes: 2 << 20})
	if err != nil {
		return 0, err
	}
	for i := range ids {
		if err := bi.Add(ctx, esutil.BulkIndexerItem{Action: "index", DocumentID: ids[i], Version: &versions[i], VersionType: "external", Body: bytes.NewReader(bodies[i])}); err != nil {
			return 0, err
		}
	}
	if err := bi.Close(ctx); err != nil {
		return 0, err
	}
	if st := bi.Stats(); st.NumFailed > 0 {
		return 0, fmt.Errorf("search: %d documents failed to load", st.NumFailed)
	}
	return r.es.count(ctx, "orders")
}

// searchFigures measures figure 7 through the public search API: p50/p99 of sorted first pages
// per column type (baseline: the same query straight to the engine), page 1000 by cursor ÷
// page 1 (goal ≤ 1.5), and API composition (the rejected design: list orders and customers
// from the two services, join and sort in memory) ÷ this projection at the same data size.
func (r *run) searchFigures(ctx context.Context) ([]Figure, error) {
	st, err := r.system(ctx)
	if err != nil {
		return nil, err
	}
	// The orders table exists once an indexer has started; with --only search, no group has
	// started one yet. Bootstrap is what the indexer does, and it is idempotent.
	esc, err := esindex.NewClient(esindex.Config{URLs: []string{st.ESURL}})
	if err != nil {
		return nil, err
	}
	table, err := mappings.First()
	if err != nil {
		return nil, err
	}
	if _, err := esc.Bootstrap(ctx, table); err != nil {
		return nil, fmt.Errorf("search: create the orders table: %w", err)
	}
	r.mu.Lock()
	want := budgeted(r.sizes.SearchDocs, r.rawDocsS, r.sizes.Budget, 2000)
	r.mu.Unlock()
	docs, err := r.fillIndex(ctx, want)
	if err != nil {
		return nil, err
	}
	base, err := st.StartSearch()
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	samples := r.sizes.SearchSamples
	var figs []Figure
	for _, c := range searchColumns {
		q := "size=50&sort=" + url.QueryEscape(c.sort)
		api, err := timeN(ctx, samples, r.sizes.SampleFor, func(ctx context.Context) error { _, err := apiGet(ctx, hc, base, q, nil); return err })
		if err != nil {
			return nil, err
		}
		order := "asc"
		if strings.HasPrefix(c.sort, "-") {
			order = "desc"
		}
		body := map[string]any{"size": 50, "track_total_hits": 10000, "query": map[string]any{"match_all": map[string]any{}},
			"sort": []any{map[string]any{c.field: order}, map[string]any{"order_id": "asc"}}}
		direct, err := timeN(ctx, samples, r.sizes.SampleFor, func(ctx context.Context) error { return r.es.do(ctx, http.MethodPost, "/orders/_search", body, nil) })
		if err != nil {
			return nil, err
		}
		p50 := plain("search", "search.first_page_"+c.kind+"_p50", ms(api.percentile(50)), "ms", nil)
		p99 := ratioOf("search", "search.first_page_"+c.kind+"_p99", ms(api.percentile(99)), "ms", ms(direct.percentile(99)), "same query straight to the engine, p99", nil)
		p99.Note = fmt.Sprintf("GET /v1/orders?%s over %d documents, %d sequential requests", q, docs, api.count())
		figs = append(figs, p50, p99)
		r.progress("search: %s first page p50 %.1f ms, p99 %.1f ms (engine p99 %.1f ms)", c.kind, ms(api.percentile(50)), ms(api.percentile(99)), ms(direct.percentile(99)))
	}

	// Page 1000 by cursor.
	size := min(50, docs/1000)
	if size < 1 {
		return figs, errors.New("too few documents for page 1000")
	}
	q := fmt.Sprintf("size=%d&sort=-placed_at", size)
	cursor := ""
	r.progress("search: walking to page 1000 (size %d)", size)
	walkStart, reached := time.Now(), 1000
	for page := 1; page < 1000; page++ {
		if time.Since(walkStart) > r.sizes.Budget {
			reached = page
			r.progress("search: walk stopped at page %d by the time budget", page)
			break
		}
		var p apiPage
		qq := q
		if cursor != "" {
			qq += "&cursor=" + url.QueryEscape(cursor)
		}
		if _, err := apiGet(ctx, hc, base, qq, &p); err != nil {
			return figs, err
		}
		if p.NextCursor == nil {
			return figs, fmt.Errorf("search: no next cursor at page %d", page)
		}
		cursor = *p.NextCursor
	}
	r.mu.Lock()
	r.cursor = cursor
	r.mu.Unlock()
	first, err := timeN(ctx, samples, r.sizes.SampleFor, func(ctx context.Context) error { _, err := apiGet(ctx, hc, base, q, nil); return err })
	if err != nil {
		return figs, err
	}
	deep, err := timeN(ctx, samples, r.sizes.SampleFor, func(ctx context.Context) error {
		_, err := apiGet(ctx, hc, base, q+"&cursor="+url.QueryEscape(cursor), nil)
		return err
	})
	if err != nil {
		return figs, err
	}
	cf := ratioOf("search", "search.cursor_page_1000_p99", ms(deep.percentile(99)), "ms", ms(first.percentile(99)), "page 1 p99", AtMost(1.5))
	cf.Note = fmt.Sprintf("sort=-placed_at, size %d, p50 %.1f ms vs page 1 p50 %.1f ms", size, ms(deep.percentile(50)), ms(first.percentile(50)))
	if reached < 1000 {
		cf.Note += fmt.Sprintf("; ONLY PAGE %d was reached within the time budget", reached)
	}
	figs = append(figs, cf)

	comp, err := r.compositionFigure(ctx, st, hc, base)
	if err != nil {
		return figs, err
	}
	return append(figs, comp), nil
}

// compositionFigure times the rejected alternative: every order from the orders service, their
// customers from the customers service, joined and sorted by customer name in memory, first
// page of 50; against the projection's first page sorted by customer name.
func (r *run) compositionFigure(ctx context.Context, st *stack.Stack, hc *http.Client, base string) (Figure, error) {
	var n int
	runs := max(3, r.sizes.SearchSamples/40)
	comp, err := timeN(ctx, runs, r.sizes.SampleFor, func(ctx context.Context) error {
		var all []events.Order
		if err := st.Orders.Each(ctx, 1000, func(p []events.Order) error { all = append(all, p...); return nil }); err != nil {
			return err
		}
		seen := map[string]bool{}
		var ids []string
		for _, o := range all {
			if !seen[o.CustomerID] {
				seen[o.CustomerID] = true
				ids = append(ids, o.CustomerID)
			}
		}
		names := map[string]string{}
		for i := 0; i < len(ids); i += 1000 {
			cs, err := st.Customers.BatchGet(ctx, ids[i:min(i+1000, len(ids))])
			if err != nil {
				return err
			}
			for _, c := range cs {
				names[c.ID] = c.Name
			}
		}
		slices.SortFunc(all, func(a, b events.Order) int {
			if c := strings.Compare(names[a.CustomerID], names[b.CustomerID]); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		n = len(all)
		_ = all[:min(50, len(all))]
		return nil
	})
	if err != nil {
		return Figure{}, err
	}
	if n == 0 {
		// With --only search, no group has created orders through the services: composing
		// nothing proves nothing.
		return notMeasured("search", "search.api_composition_vs_projection",
			"the services hold no orders; run it with a group that creates them (write, pipeline, freshness or fanout)"), nil
	}
	proj, err := timeN(ctx, runs*4, r.sizes.SampleFor, func(ctx context.Context) error {
		_, err := apiGet(ctx, hc, base, "size=50&sort=customer_name", nil)
		return err
	})
	if err != nil {
		return Figure{}, err
	}
	f := ratioOf("search", "search.api_composition_vs_projection", ms(comp.percentile(50)), "ms", ms(proj.percentile(50)), "projection first page p50", nil)
	f.Note = fmt.Sprintf("first page by customer name: composition over the %d orders of the sources (p50 of %d runs) vs the search API over an index of at least as many", n, runs)
	return f, nil
}
