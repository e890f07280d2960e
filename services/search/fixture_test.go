package search

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/testenv"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the synthetic orders (0: random, printed)")

func testSeed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		s = rand.Uint64()
	}
	t.Logf("synthetic data seed %d (replay with -seed %d)", s, s)
	return s
}

// order is a synthetic document of the orders table. Pointer fields may be missing.
type order struct {
	OrderID         string  `json:"order_id"`
	OrderNumber     string  `json:"order_number"`
	Status          string  `json:"status"`
	TotalCents      int64   `json:"-"`
	Total           float64 `json:"total"`
	Currency        string  `json:"currency"`
	PlacedAt        *string `json:"placed_at,omitempty"`
	UpdatedAt       string  `json:"updated_at"`
	CustomerName    *string `json:"customer_name,omitempty"`
	CustomerID      string  `json:"customer_id"`
	CustomerDeleted bool    `json:"customer_deleted"`
	CustomerCountry *string `json:"customer_country,omitempty"` // v2 only
	OrderVersion    int64   `json:"order_version"`
	CustomerVersion int64   `json:"customer_version"`
	IndexedAt       string  `json:"indexed_at"`
}

var (
	statuses  = []string{"draft", "placed", "paid", "shipped", "cancelled"}
	names     = []string{"Ada Lovelace", "ada lovelace", "Alan Turing", "Grace Hopper", "Émile Borel", "Ångström Labs", "zoë Keller", "Zed Shaw", "Barbara Liskov", "Donald Knuth", "Edsger Dijkstra", "Ken Thompson", "Rob Pike", "Søren Kierkegaard", "Smith, John"}
	countries = []string{"DE", "FR", "GB", "US", "JP"}
	baseTime  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func ms(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// genOrders makes n orders with ties and missing values in most sortable columns.
func genOrders(r *rand.Rand, n int, v2 bool) []order {
	out := make([]order, n)
	for i := range out {
		placed := baseTime.Add(time.Duration(r.IntN(31*24*3600)) * time.Second).Add(time.Duration(r.IntN(1000)) * time.Millisecond)
		o := order{
			OrderID:         fmt.Sprintf("%016x", r.Uint64()),
			OrderNumber:     fmt.Sprintf("PO-%06d", r.IntN(1_000_000)),
			Status:          statuses[r.IntN(len(statuses))],
			TotalCents:      int64(r.IntN(400)) * 25, // many ties
			Currency:        []string{"EUR", "USD", "GBP"}[r.IntN(3)],
			UpdatedAt:       ms(placed.Add(time.Duration(r.IntN(3600)) * time.Second)),
			CustomerID:      fmt.Sprintf("c-%03d", r.IntN(50)),
			CustomerDeleted: r.IntN(10) == 0,
			OrderVersion:    int64(1 + r.IntN(5)),
			CustomerVersion: int64(r.IntN(3)),
			IndexedAt:       ms(baseTime.Add(40*24*time.Hour + time.Duration(r.IntN(100000))*time.Millisecond)),
		}
		o.Total = float64(o.TotalCents) / 100
		if o.Status != "draft" || r.IntN(2) == 0 {
			p := ms(placed)
			o.PlacedAt = &p
		}
		if r.IntN(12) != 0 {
			nm := names[r.IntN(len(names))]
			o.CustomerName = &nm
		}
		if v2 && r.IntN(8) != 0 {
			c := countries[r.IntN(len(countries))]
			o.CustomerCountry = &c
		}
		out[i] = o
	}
	return out
}

// sortValue returns a comparable value of a column, and whether it is present.
func sortValue(o order, col string) (any, bool) {
	switch col {
	case "order_id":
		return o.OrderID, true
	case "order_number":
		return o.OrderNumber, true
	case "status":
		return o.Status, true
	case "total":
		return o.TotalCents, true
	case "currency":
		return o.Currency, true
	case "placed_at":
		if o.PlacedAt == nil {
			return nil, false
		}
		return *o.PlacedAt, true // same-width UTC timestamps sort as strings
	case "updated_at":
		return o.UpdatedAt, true
	case "customer_name":
		if o.CustomerName == nil {
			return nil, false
		}
		return *o.CustomerName, true
	case "customer_id":
		return o.CustomerID, true
	case "customer_deleted":
		if o.CustomerDeleted {
			return int64(1), true
		}
		return int64(0), true
	case "customer_country":
		if o.CustomerCountry == nil {
			return nil, false
		}
		return *o.CustomerCountry, true
	}
	panic("no column " + col)
}

func compareValues(a, b any) int {
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string)) // keyword order is UTF-8 byte order
	case int64:
		return cmp.Compare(x, b.(int64))
	}
	panic(fmt.Sprintf("compare %T", a))
}

// expectedOrder sorts like Elasticsearch: keys in turn, missing values last in both
// directions, then order_id ascending.
func expectedOrder(docs []order, keys []SortKey) []string {
	s := slices.Clone(docs)
	slices.SortStableFunc(s, func(a, b order) int {
		for _, k := range append(slices.Clone(keys), SortKey{Column: "order_id"}) {
			va, oka := sortValue(a, k.Column)
			vb, okb := sortValue(b, k.Column)
			switch {
			case !oka && !okb:
				continue
			case !oka:
				return 1
			case !okb:
				return -1
			}
			c := compareValues(va, vb)
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	ids := make([]string, len(s))
	for i, o := range s {
		ids[i] = o.OrderID
	}
	return ids
}

// stack is a search service over its own alias and indices on the test engine.
type stack struct {
	t      testing.TB
	es     *esindex.Client
	svc    *Service
	srv    *httptest.Server
	alias  string
	prefix string
}

// esURL is the engine of the tests: ES_URL, or an embedded one.
func esURL(t testing.TB) string {
	t.Helper()
	return testenv.ESURL(t)
}

func newStack(t testing.TB) *stack {
	t.Helper()
	client, err := esindex.NewClient(esindex.Config{URLs: []string{esURL(t)}})
	if err != nil {
		t.Fatal(err)
	}
	alias := testenv.UniqueName("orders")
	svc, err := New(Config{Client: client, Alias: alias, CursorSecret: "test-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return &stack{t: t, es: client, svc: svc, srv: srv, alias: alias, prefix: alias}
}

// createIndex creates <alias>_<version> from mappings/orders_<version>.json and deletes it
// when the test ends.
func (s *stack) createIndex(version string) string {
	s.t.Helper()
	return s.createIndexAs(s.prefix+"_"+version, version)
}

func (s *stack) createIndexAs(name, version string) string {
	s.t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "mappings", "orders_"+version+".json"))
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.es.CreateIndex(context.Background(), name, body); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { s.deleteIndex(name) })
	return name
}

func (s *stack) deleteIndex(name string) {
	_, _, err := s.es.Do(context.Background(), http.MethodDelete, "/"+name, nil)
	if err != nil && esindex.StatusOf(err) != http.StatusNotFound {
		s.t.Errorf("delete %s: %v", name, err)
	}
}

// point moves the alias to index atomically (removing it from every other index).
func (s *stack) point(index string) {
	s.t.Helper()
	actions := []esindex.AliasAction{}
	if old, err := s.es.AliasIndices(context.Background(), s.alias); err == nil {
		for _, o := range old {
			actions = append(actions, esindex.AliasAction{Remove: &esindex.AliasRef{Index: o, Alias: s.alias}})
		}
	}
	actions = append(actions, esindex.AliasAction{Add: &esindex.AliasRef{Index: index, Alias: s.alias}})
	if err := s.es.UpdateAliases(context.Background(), actions...); err != nil {
		s.t.Fatal(err)
	}
}

// bulk indexes docs into index and refreshes it.
func (s *stack) bulk(index string, docs []order, v2 bool) {
	s.t.Helper()
	for start := 0; start < len(docs); start += 5000 {
		var buf bytes.Buffer
		for _, d := range docs[start:min(start+5000, len(docs))] {
			if !v2 {
				d.CustomerCountry = nil
			}
			meta, _ := json.Marshal(map[string]any{"index": map[string]any{"_index": index, "_id": d.OrderID}})
			src, _ := json.Marshal(d)
			buf.Write(meta)
			buf.WriteByte('\n')
			buf.Write(src)
			buf.WriteByte('\n')
		}
		res, err := s.es.ES.Bulk(bytes.NewReader(buf.Bytes()), s.es.ES.Bulk.WithContext(context.Background()))
		if err != nil {
			s.t.Fatal(err)
		}
		var out struct {
			Errors bool `json:"errors"`
			Items  []map[string]struct {
				Status int             `json:"status"`
				Error  json.RawMessage `json:"error"`
			} `json:"items"`
		}
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil || res.IsError() || out.Errors {
			for _, it := range out.Items {
				for _, r := range it {
					if r.Status >= 300 {
						s.t.Fatalf("bulk into %s: item status %d: %s", index, r.Status, r.Error)
					}
				}
			}
			s.t.Fatalf("bulk into %s: %v %s", index, err, res.Status())
		}
	}
	if err := s.es.Refresh(context.Background(), index); err != nil {
		s.t.Fatal(err)
	}
}

// get calls the API and decodes the answer into out (a page or an error body).
func (s *stack) get(path string, params url.Values, out any) int {
	s.t.Helper()
	u := s.srv.URL + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	res, err := http.Get(u)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		s.t.Fatalf("GET %s: decode: %v", u, err)
	}
	return res.StatusCode
}

// pageBody is ordersResponse as a client sees it.
type pageBody struct {
	Index          string           `json:"index"`
	MappingVersion int              `json:"mapping_version"`
	Columns        []Column         `json:"columns"`
	Items          []map[string]any `json:"items"`
	Total          total            `json:"total"`
	NextCursor     *string          `json:"next_cursor"`
	FreshAsOf      *string          `json:"fresh_as_of"`
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

// page fetches one page and fails the test on a non-200.
func (s *stack) page(params url.Values) pageBody {
	s.t.Helper()
	var p pageBody
	raw := map[string]any{}
	code := s.get("/v1/orders", params, &raw)
	b, _ := json.Marshal(raw)
	if code != http.StatusOK {
		s.t.Fatalf("GET /v1/orders?%s: status %d: %s", params.Encode(), code, b)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// all pages through a query and returns the order ids in the order served.
func (s *stack) all(params url.Values, size int) ([]string, pageBody) {
	s.t.Helper()
	params = cloneValues(params)
	params.Set("size", fmt.Sprint(size))
	var ids []string
	var first pageBody
	for n := 0; ; n++ {
		p := s.page(params)
		if n == 0 {
			first = p
		}
		if len(p.Items) > size {
			s.t.Fatalf("page of %d items, size %d", len(p.Items), size)
		}
		for _, it := range p.Items {
			ids = append(ids, it["order_id"].(string))
		}
		if p.NextCursor == nil {
			return ids, first
		}
		if n > 5000 || params.Get("cursor") == *p.NextCursor {
			s.t.Fatalf("paging does not advance (page %d)", n)
		}
		params.Set("cursor", *p.NextCursor)
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func jsonDecodeBody(res *http.Response, v any) error {
	defer res.Body.Close()
	return json.NewDecoder(res.Body).Decode(v)
}
