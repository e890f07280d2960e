package search

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSortEveryColumnBothDirections(t *testing.T) {
	s := newStack(t)
	r := rand.New(rand.NewPCG(testSeed(t), 1))
	n := 400
	if testing.Short() {
		n = 150
	}
	docs := genOrders(r, n, true)
	idx := s.createIndex("v2")
	s.bulk(idx, docs, true)
	s.point(idx)

	tb := tableV(t, "v2")
	for _, c := range tb.Columns {
		if !c.Sortable {
			continue
		}
		for _, desc := range []bool{false, true} {
			key := SortKey{Column: c.Name, Desc: desc}
			t.Run(key.String(), func(t *testing.T) {
				got, first := s.all(url.Values{"sort": {key.String()}}, 97)
				want := expectedOrder(docs, []SortKey{key})
				if !slices.Equal(got, want) {
					t.Errorf("sort %s: order differs from Go's; first difference at %d", key, firstDiff(got, want))
				}
				if first.Total.Value != int64(len(docs)) || first.Total.Relation != "eq" {
					t.Errorf("total: got %+v, want %d eq", first.Total, len(docs))
				}
			})
		}
	}
	t.Run("two keys", func(t *testing.T) {
		keys := []SortKey{{Column: "status"}, {Column: "total", Desc: true}}
		got, _ := s.all(url.Values{"sort": {"status,-total"}}, 50)
		if want := expectedOrder(docs, keys); !slices.Equal(got, want) {
			t.Errorf("first difference at %d", firstDiff(got, want))
		}
	})
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func TestFiltersAndSearch(t *testing.T) {
	s := newStack(t)
	r := rand.New(rand.NewPCG(testSeed(t), 2))
	docs := genOrders(r, 300, true)
	idx := s.createIndex("v2")
	s.bulk(idx, docs, true)
	s.point(idx)

	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	cases := []struct {
		params url.Values
		keep   func(o order) bool
	}{
		{url.Values{"filter.status": {"paid,shipped"}}, func(o order) bool { return o.Status == "paid" || o.Status == "shipped" }},
		{url.Values{"filter.total": {">=50"}}, func(o order) bool { return o.TotalCents >= 5000 }},
		{url.Values{"filter.total": {"10..20.5"}}, func(o order) bool { return o.TotalCents >= 1000 && o.TotalCents <= 2050 }},
		{url.Values{"filter.total": {">10", "<20"}}, func(o order) bool { return o.TotalCents > 1000 && o.TotalCents < 2000 }},
		{url.Values{"filter.placed_at": {"2026-01-10..2026-01-20"}}, func(o order) bool {
			p := str(o.PlacedAt)
			return p >= "2026-01-10" && p < "2026-01-21"
		}},
		{url.Values{"filter.placed_at": {"2026-01-07"}}, func(o order) bool { return strings.HasPrefix(str(o.PlacedAt), "2026-01-07") }},
		{url.Values{"filter.customer_country": {"DE,FR"}, "filter.currency": {"EUR"}}, func(o order) bool {
			return (str(o.CustomerCountry) == "DE" || str(o.CustomerCountry) == "FR") && o.Currency == "EUR"
		}},
		{url.Values{"filter.customer_name": {`Smith\, John`}}, func(o order) bool { return str(o.CustomerName) == "Smith, John" }},
		{url.Values{"filter.customer_deleted": {"true"}}, func(o order) bool { return o.CustomerDeleted }},
		{url.Values{"q": {"lovelace"}}, func(o order) bool { return strings.EqualFold(str(o.CustomerName), "ada lovelace") }},
		{url.Values{"q": {"ada LOVELACE"}, "filter.status": {"paid"}}, func(o order) bool {
			return strings.EqualFold(str(o.CustomerName), "ada lovelace") && o.Status == "paid"
		}},
		{url.Values{"q": {docs[7].OrderNumber}}, func(o order) bool { return o.OrderNumber == docs[7].OrderNumber }},
		{url.Values{"q": {"status:paid OR *"}}, func(o order) bool { return false }}, // syntax is just words
	}
	for _, c := range cases {
		t.Run(c.params.Encode(), func(t *testing.T) {
			params := cloneValues(c.params)
			params.Set("sort", "order_id")
			got, first := s.all(params, 60)
			var want []string
			for _, o := range docs {
				if c.keep(o) {
					want = append(want, o.OrderID)
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("got %d orders, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
			}
			if first.Total.Value != int64(len(want)) {
				t.Errorf("total: got %d, want %d", first.Total.Value, len(want))
			}
		})
	}
}

// TestCursorPagingWhileWriting: orders keep changing and arriving while a client pages; every
// order that existed at the start is visited exactly once and nothing twice.
func TestCursorPagingWhileWriting(t *testing.T) {
	s := newStack(t)
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 3))
	n := 600
	if testing.Short() {
		n = 200
	}
	docs := genOrders(r, n, false)
	idx := s.createIndex("v1")
	s.bulk(idx, docs, false)
	s.point(idx)

	// Between every two page requests a batch of writes lands (and is refreshed): updates of
	// fields the sort does not use, and new orders. The sort column is one the writes leave
	// alone, as an order's number is in production; an order whose sort value changes may
	// legitimately move across the cursor.
	wr := rand.New(rand.NewPCG(seed, 4))
	writes := 0
	params := url.Values{"sort": {"customer_name"}, "size": {"25"}}
	var got []string
	for pages := 0; ; pages++ {
		p := s.page(params)
		for _, it := range p.Items {
			got = append(got, it["order_id"].(string))
		}
		if p.NextCursor == nil {
			t.Logf("%d writes while paging %d pages", writes, pages+1)
			break
		}
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		params.Set("cursor", *p.NextCursor)
		batch := make([]order, 0, 20)
		for range 10 {
			o := docs[wr.IntN(len(docs))]
			o.Status = statuses[wr.IntN(len(statuses))]
			o.TotalCents = int64(wr.IntN(1000))
			o.Total = float64(o.TotalCents) / 100
			batch = append(batch, o)
		}
		batch = append(batch, genOrders(wr, 10, false)...)
		s.bulk(idx, batch, false)
		writes += len(batch)
	}
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("order %s served %d times", id, n)
		}
	}
	for _, o := range docs {
		if seen[o.OrderID] != 1 {
			t.Errorf("order %s served %d times, want once", o.OrderID, seen[o.OrderID])
		}
	}
}

func TestBadInput(t *testing.T) {
	s := newStack(t)
	r := rand.New(rand.NewPCG(testSeed(t), 5))
	idx := s.createIndex("v1")
	s.bulk(idx, genOrders(r, 30, false), false)
	s.point(idx)
	first := s.page(url.Values{"sort": {"total"}, "size": {"5"}})
	if first.NextCursor == nil {
		t.Fatal("no next cursor")
	}
	cur := *first.NextCursor
	other, err := New(Config{Client: s.es, Alias: s.alias, CursorSecret: "another-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.codec.encode(cursor{Index: idx, Sort: []string{"total", "order_id"}, Hash: "x", After: nil})

	cases := []struct {
		name   string
		query  string
		status int
		field  string
	}{
		{"unknown sort column", "sort=colour", 400, "sort"},
		{"metadata sort column", "sort=indexed_at", 400, "sort"},
		{"v2 column on v1", "sort=customer_country", 400, "sort"},
		{"too many sort columns", "sort=status,total,currency,placed_at,updated_at", 400, "sort"},
		{"size zero", "size=0", 400, "size"},
		{"size too large", "size=201", 400, "size"},
		{"size not a number", "size=lots", 400, "size"},
		{"q too long", "q=" + strings.Repeat("a", 201), 400, "q"},
		{"unknown parameter", "colour=red", 400, "colour"},
		{"unknown filter column", "filter.colour=red", 400, "filter.colour"},
		{"bad number filter", "filter.total=>=ten", 400, "filter.total"},
		{"bad date filter", "filter.placed_at=tomorrow", 400, "filter.placed_at"},
		{"empty filter", "filter.status=", 400, "filter.status"},
		{"too many filters", strings.Repeat("filter.status=paid&", 11), 400, "filter"},
		{"malformed cursor", "cursor=garbage", 400, "cursor"},
		{"cursor of another secret", "cursor=" + url.QueryEscape(foreign), 400, "cursor"},
		{"cursor with other sort", "sort=-total&cursor=" + url.QueryEscape(cur), 400, "cursor"},
		{"cursor with other filter", "sort=total&filter.status=paid&cursor=" + url.QueryEscape(cur), 400, "cursor"},
		{"malformed query string", "q=%zz", 400, "query"},
		{"URL too long", "q=a&filter.status=" + strings.Repeat("x", 9000), 414, "url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := http.Get(s.srv.URL + "/v1/orders?" + c.query)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var e errorBody
			if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != c.status {
				t.Fatalf("got status %d, want %d (%+v)", res.StatusCode, c.status, e)
			}
			if e.Error.Code == "" || e.Error.Message == "" || len(e.Error.Details) == 0 || e.Error.Details[0].Field != c.field {
				t.Errorf("got error %+v, want details naming %q", e.Error, c.field)
			}
		})
	}
	t.Run("cursor continues with size changed", func(t *testing.T) {
		p := s.page(url.Values{"sort": {"total"}, "size": {"7"}, "cursor": {cur}})
		if len(p.Items) != 7 {
			t.Errorf("got %d items, want 7", len(p.Items))
		}
	})
}

func TestNoLiveIndex(t *testing.T) {
	s := newStack(t)
	var e errorBody
	for _, path := range []string{"/v1/orders", "/v1/orders/columns", "/readyz"} {
		if code := s.get(path, nil, &e); code != http.StatusServiceUnavailable {
			t.Errorf("%s without alias: got %d %+v, want 503", path, code, e)
		}
	}
}

// TestAliasSwap: a page sequence started on v1 stays on v1 after the alias moves to v2; a
// fresh query shows v2's new column; once v1 is deleted its cursors answer 410.
func TestAliasSwap(t *testing.T) {
	s := newStack(t)
	r := rand.New(rand.NewPCG(testSeed(t), 6))
	docs := genOrders(r, 120, true)
	v1 := s.createIndex("v1")
	s.bulk(v1, docs, false)
	s.point(v1)

	var cols columnsBody
	if code := s.get("/v1/orders/columns", nil, &cols); code != 200 || cols.Index != v1 || hasColumn(cols.Columns, "customer_country") {
		t.Fatalf("columns before swap: %d %+v", code, cols)
	}
	params := url.Values{"sort": {"customer_name"}, "size": {"40"}}
	p1 := s.page(params)
	if p1.Index != v1 || p1.NextCursor == nil {
		t.Fatalf("first page: index %s cursor %v", p1.Index, p1.NextCursor)
	}

	// The reindex: v2 gets the same orders plus the new column, then the alias moves. v2's
	// copy differs in one visible way (a status) so a page read from it would show.
	v2 := s.createIndex("v2")
	changed := slices.Clone(docs)
	for i := range changed {
		changed[i].Status = "shipped"
	}
	s.bulk(v2, changed, true)
	s.point(v2)

	params.Set("cursor", *p1.NextCursor)
	p2 := s.page(params)
	if p2.Index != v1 {
		t.Errorf("second page read %s, want %s (the cursor's index)", p2.Index, v1)
	}
	if hasColumn(p2.Columns, "customer_country") {
		t.Error("second page has v2's column")
	}
	want := expectedOrder(docs, []SortKey{{Column: "customer_name"}})
	var got []string
	for _, it := range append(p1.Items, p2.Items...) {
		got = append(got, it["order_id"].(string))
	}
	if !slices.Equal(got, want[:80]) {
		t.Errorf("sequence across the swap differs at %d", firstDiff(got, want[:80]))
	}

	fresh := s.page(url.Values{"sort": {"customer_country"}})
	if fresh.Index != v2 || fresh.MappingVersion != 2 || !hasColumn(fresh.Columns, "customer_country") {
		t.Errorf("fresh query after swap: index %s version %d", fresh.Index, fresh.MappingVersion)
	}
	if _, ok := fresh.Items[0]["customer_country"]; !ok {
		t.Errorf("fresh item has no customer_country: %v", fresh.Items[0])
	}
	if code := s.get("/v1/orders/columns", nil, &cols); code != 200 || cols.Index != v2 || !hasColumn(cols.Columns, "customer_country") {
		t.Errorf("columns after swap: %d index %s", code, cols.Index)
	}

	s.deleteIndex(v1)
	params.Set("cursor", *p2.NextCursor)
	var e errorBody
	if code := s.get("/v1/orders", params, &e); code != http.StatusGone || e.Error.Code != "cursor_expired" || e.Error.Details[0].Field != "cursor" {
		t.Errorf("cursor of deleted index: got %d %+v, want 410 cursor_expired", code, e)
	}
}

type columnsBody struct {
	Index          string   `json:"index"`
	MappingVersion int      `json:"mapping_version"`
	Columns        []Column `json:"columns"`
	FreshAsOf      *string  `json:"fresh_as_of"`
}

func hasColumn(cols []Column, name string) bool {
	return slices.ContainsFunc(cols, func(c Column) bool { return c.Name == name })
}

func TestColumnsFacetsFreshness(t *testing.T) {
	s := newStack(t)
	r := rand.New(rand.NewPCG(testSeed(t), 7))
	docs := genOrders(r, 200, true)
	idx := s.createIndex("v2")
	s.bulk(idx, docs, true)
	s.point(idx)

	var cols columnsBody
	if code := s.get("/v1/orders/columns", nil, &cols); code != 200 {
		t.Fatalf("columns: %d", code)
	}
	var names []string
	for _, c := range cols.Columns {
		names = append(names, c.Name)
	}
	// The order of _meta keys is not compared: the embedded engine returns them sorted.
	want := []string{"order_number", "status", "total", "currency", "placed_at", "updated_at", "customer_name", "customer_country", "customer_id", "order_id", "customer_deleted"}
	slices.Sort(want)
	if slices.Sort(names); !slices.Equal(names, want) {
		t.Errorf("columns: got %v, want %v", names, want)
	}
	newest := ""
	for _, o := range docs {
		newest = max(newest, o.IndexedAt)
	}
	if cols.FreshAsOf == nil || !sameInstant(*cols.FreshAsOf, newest) {
		t.Errorf("fresh_as_of: got %v, want %s", cols.FreshAsOf, newest)
	}

	var f facetsResponse
	if code := s.get("/v1/orders/facets", nil, &f); code != 200 {
		t.Fatalf("facets: %d", code)
	}
	counts := map[string]map[string]int64{"status": {}, "currency": {}, "customer_country": {}}
	for _, o := range docs {
		counts["status"][o.Status]++
		counts["currency"][o.Currency]++
		if o.CustomerCountry != nil {
			counts["customer_country"][*o.CustomerCountry]++
		}
	}
	for col, want := range counts {
		got := map[string]int64{}
		for _, v := range f.Facets[col] {
			n := int64(-1)
			if v.Count != nil {
				n = *v.Count
			}
			got[v.Value] = n
		}
		if len(got) != len(want) {
			t.Errorf("facet %s: got %v, want values of %v", col, got, want)
		}
		for v, n := range want {
			if g, ok := got[v]; !ok || (g != -1 && g != n) {
				t.Errorf("facet %s=%s: got %d (present %v), want %d", col, v, g, ok, n)
			}
		}
	}
}

func sameInstant(a, b string) bool {
	ta, err1 := time.Parse(time.RFC3339Nano, a)
	tb, err2 := time.Parse(time.RFC3339Nano, b)
	return err1 == nil && err2 == nil && ta.Equal(tb)
}

func TestOpenAPIAndPage(t *testing.T) {
	s := newStack(t)
	for path, want := range map[string]string{"/openapi.json": `"openapi": "3.0.3"`, "/": "<title>Orders", "/static/app.js": "use strict", "/static/style.css": "position: sticky"} {
		res, err := http.Get(s.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: status %d, body lacks %q", path, res.StatusCode, want)
		}
		if res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: no CSP header", path)
		}
	}
}
