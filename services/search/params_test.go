package search

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gin-gonic/gin"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ordertable/ordertable/internal/apierror"
)

// mappingFile returns the "mappings" object of mappings/orders_vN.json.
func mappingFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "mappings", name))
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Mappings json.RawMessage `json:"mappings"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	return body.Mappings
}

func tableV(t testing.TB, version string) *Table {
	t.Helper()
	tb, err := parseMapping("orders_"+version, mappingFile(t, "orders_"+version+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestParseMapping(t *testing.T) {
	v1 := tableV(t, "v1")
	var names []string
	for _, c := range v1.Columns {
		names = append(names, c.Name)
	}
	want := []string{"order_number", "status", "total", "currency", "placed_at", "updated_at", "customer_name", "customer_id", "order_id", "customer_deleted"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("v1 columns: got %v, want %v (metadata excluded, _meta order kept)", names, want)
	}
	if v1.MappingVersion != 1 || v1.FreshnessField != "indexed_at" {
		t.Errorf("got version %d freshness %q, want 1 indexed_at", v1.MappingVersion, v1.FreshnessField)
	}
	cn, _ := v1.Column("customer_name")
	if cn.Kind != "text" || !cn.Sortable || cn.sortField != "customer_name.keyword" || !cn.Searchable {
		t.Errorf("customer_name: got %+v, want text sorted by .keyword", cn)
	}
	total, _ := v1.Column("total")
	if total.Kind != "number" || total.Format != "money" || total.CurrencyField != "currency" {
		t.Errorf("total: got %+v", total)
	}
	if _, ok := v1.Column("indexed_at"); ok {
		t.Error("metadata column indexed_at is offered as a user column")
	}
	v2 := tableV(t, "v2")
	cc, ok := v2.Column("customer_country")
	if !ok || !cc.Facet || !cc.Sortable || v2.MappingVersion != 2 {
		t.Errorf("v2 customer_country: got %+v ok=%v", cc, ok)
	}
	if _, ok := v1.Column("customer_country"); ok {
		t.Error("v1 has customer_country")
	}
}

func TestColumnPosition(t *testing.T) {
	m := `{"_meta":{"columns":{"b":{"position":2},"order_id":{},"a":{"position":1}}},"properties":{"a":{"type":"keyword"},"b":{"type":"keyword"},"order_id":{"type":"keyword"}}}`
	tb, err := parseMapping("x", []byte(m))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range tb.Columns {
		got = append(got, c.Name)
	}
	if want := []string{"a", "b", "order_id"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseMappingRejects(t *testing.T) {
	for name, m := range map[string]string{
		"not json":      `{`,
		"no meta":       `{"properties":{"order_id":{"type":"keyword"}}}`,
		"no tiebreaker": `{"_meta":{"columns":{"status":{}}},"properties":{"status":{"type":"keyword"}}}`,
		"text id":       `{"_meta":{"columns":{"order_id":{}}},"properties":{"order_id":{"type":"text"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseMapping("x", []byte(m)); !errors.Is(err, ErrMapping) {
				t.Errorf("got %v, want ErrMapping", err)
			}
		})
	}
}

func limits() Limits {
	var l Limits
	l.setDefaults()
	return l
}

// badFields runs parseParams and bind and returns the fields named in the 400, or nil.
func badFields(t *testing.T, raw string) []string {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseParams(v, limits())
	if err == nil {
		_, err = bind(p, tableV(t, "v2"), []string{"-placed_at"}, limits())
	}
	if err == nil {
		return nil
	}
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Status != 400 {
		t.Fatalf("%s: got %v, want a 400 apierror", raw, err)
	}
	var fields []string
	for _, d := range ae.Details {
		fields = append(fields, d.Field)
	}
	return fields
}

func TestBadParams(t *testing.T) {
	long := strings.Repeat("x", 201)
	cases := []struct {
		query string
		field string
	}{
		{"sort=colour", "sort"},
		{"sort=indexed_at", "sort"}, // metadata is no column
		{"sort=status,status", "sort"},
		{"sort=status,,total", "sort"},
		{"sort=a,b,c,d,e", "sort"},
		{"sort=status&sort=total", "sort"},
		{"size=0", "size"},
		{"size=201", "size"},
		{"size=ten", "size"},
		{"size=-1", "size"},
		{"q=" + long, "q"},
		{"q=a%00b", "q"},
		{"cursor=" + strings.Repeat("c", 5000), "cursor"},
		{"page=2", "page"},
		{"filter.=x", "filter."},
		{"filter.colour=red", "filter.colour"},
		{"filter.indexed_at=2026-01-01", "filter.indexed_at"},
		{"filter.status=", "filter.status"},
		{"filter.status=paid,,shipped", "filter.status"},
		{"filter.status=a\\b", "filter.status"},
		{"filter.total=>=abc", "filter.total"},
		{"filter.total=NaN", "filter.total"},
		{"filter.total=..", "filter.total"},
		{"filter.total=>=", "filter.total"},
		{"filter.order_version=1", "filter.order_version"},
		{"filter.placed_at=yesterday", "filter.placed_at"},
		{"filter.placed_at=2026-13-01..", "filter.placed_at"},
		{"filter.customer_deleted=yes", "filter.customer_deleted"},
		{"filter.status=" + strings.Repeat("a,", 51) + "a", "filter.status"},
		{"filter.status=" + strings.Repeat("s", 300), "filter.status"},
		{"filter.status=a&filter.status=b&filter.status=c&filter.status=d&filter.status=e&filter.status=f&filter.status=g&filter.status=h&filter.status=i&filter.status=j&filter.status=k", "filter"},
	}
	for _, c := range cases {
		t.Run(c.query[:min(len(c.query), 40)], func(t *testing.T) {
			got := badFields(t, c.query)
			if len(got) == 0 || got[0] != c.field {
				t.Errorf("%s: got fields %v, want %q first", c.query, got, c.field)
			}
		})
	}
	t.Run("every problem is reported", func(t *testing.T) {
		if got := badFields(t, "size=0&q="+long+"&page=1"); len(got) != 3 {
			t.Errorf("got %v, want page, q and size", got)
		}
		if got := badFields(t, "sort=nope&filter.colour=x"); len(got) != 2 {
			t.Errorf("got %v, want sort and filter.colour", got)
		}
	})
}

func TestBindFilters(t *testing.T) {
	cases := []struct {
		query string
		want  any // filterClause of the only filter
	}{
		{"filter.status=paid", map[string]any{"term": map[string]any{"status": "paid"}}},
		{"filter.status=paid,shipped", map[string]any{"terms": map[string]any{"status": []any{"paid", "shipped"}}}},
		{`filter.customer_name=Smith\, John,A\\B`, map[string]any{"terms": map[string]any{"customer_name.keyword": []any{"Smith, John", `A\B`}}}},
		{"filter.total=>=100", rng("total", "gte", 100.0)},
		{"filter.total=>99.5", rng("total", "gt", 99.5)},
		{"filter.total=<=10", rng("total", "lte", 10.0)},
		{"filter.total=<10", rng("total", "lt", 10.0)},
		{"filter.total=10..20", rng("total", "gte", 10.0, "lte", 20.0)},
		{"filter.total=-5", map[string]any{"term": map[string]any{"total": -5.0}}},
		{"filter.total=1,2", map[string]any{"terms": map[string]any{"total": []any{1.0, 2.0}}}},
		{"filter.placed_at=2026-01-01..2026-01-31", rng("placed_at", "gte", "2026-01-01T00:00:00.000Z", "lt", "2026-02-01T00:00:00.000Z")},
		{"filter.placed_at=..2026-01-31T10:00:00Z", rng("placed_at", "lte", "2026-01-31T10:00:00.000Z")},
		{"filter.placed_at=>2026-01-01", rng("placed_at", "gte", "2026-01-02T00:00:00.000Z")},
		{"filter.placed_at=>2026-01-01T12:00:00+02:00", rng("placed_at", "gt", "2026-01-01T10:00:00.000Z")},
		{"filter.placed_at=<2026-01-01", rng("placed_at", "lt", "2026-01-01T00:00:00.000Z")},
		{"filter.placed_at=2026-01-05", rng("placed_at", "gte", "2026-01-05T00:00:00.000Z", "lt", "2026-01-06T00:00:00.000Z")},
		{"filter.customer_deleted=true", map[string]any{"term": map[string]any{"customer_deleted": true}}},
		{"filter.status=>x", map[string]any{"term": map[string]any{"status": ">x"}}}, // keywords take values as-is
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			v, _ := url.ParseQuery(c.query)
			p, err := parseParams(v, limits())
			if err != nil {
				t.Fatal(err)
			}
			q, err := bind(p, tableV(t, "v2"), nil, limits())
			if err != nil {
				t.Fatal(err)
			}
			if len(q.filters) != 1 {
				t.Fatalf("got %d filters, want 1", len(q.filters))
			}
			got := roundTrip(t, filterClause(q.filters[0]))
			if want := roundTrip(t, c.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func rng(field string, kv ...any) map[string]any {
	b := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		b[kv[i].(string)] = kv[i+1]
	}
	return map[string]any{"range": map[string]any{field: b}}
}

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBindSort(t *testing.T) {
	cases := []struct {
		query, want string
	}{
		{"", "-placed_at,order_id"},
		{"sort=customer_name,-total", "customer_name,-total,order_id"},
		{"sort=-order_id", "-order_id"}, // the tiebreaker is not appended twice
		{"sort=+status", "status,order_id"},
	}
	for _, c := range cases {
		v, _ := url.ParseQuery(c.query)
		p, err := parseParams(v, limits())
		if err != nil {
			t.Fatal(err)
		}
		q, err := bind(p, tableV(t, "v1"), []string{"-placed_at"}, limits())
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(q.sortTokens(), ","); got != c.want {
			t.Errorf("%q: got sort %s, want %s", c.query, got, c.want)
		}
		body := roundTrip(t, searchBody(tableV(t, "v1"), q, nil, 10000)).(map[string]any)
		if n := len(body["sort"].([]any)); n != len(q.sort) {
			t.Errorf("%q: body has %d sort clauses, want %d", c.query, n, len(q.sort))
		}
	}
}

func TestQueryHash(t *testing.T) {
	hash := func(raw string) string {
		v, _ := url.ParseQuery(raw)
		p, err := parseParams(v, limits())
		if err != nil {
			t.Fatal(err)
		}
		q, err := bind(p, tableV(t, "v1"), []string{"-placed_at"}, limits())
		if err != nil {
			t.Fatal(err)
		}
		return q.hash()
	}
	base := hash("sort=total&q=ada&filter.status=paid&filter.total=>=5")
	if got := hash("filter.total=>=5&size=7&filter.status=paid&q=ada&sort=total"); got != base {
		t.Errorf("parameter order or size changed the hash: %s != %s", got, base)
	}
	for _, other := range []string{"sort=-total&q=ada&filter.status=paid&filter.total=>=5", "sort=total&q=bob&filter.status=paid&filter.total=>=5", "sort=total&q=ada&filter.status=paid&filter.total=>=6", "sort=total&q=ada&filter.status=paid"} {
		if hash(other) == base {
			t.Errorf("%s: same hash as a different query", other)
		}
	}
}

func TestSearchBodyUsesOnlyValues(t *testing.T) {
	// A q that looks like Lucene syntax must travel as a multi_match value, nothing else.
	v, _ := url.ParseQuery(`q=status:paid OR _exists_:x {"script":1}`)
	p, err := parseParams(v, limits())
	if err != nil {
		t.Fatal(err)
	}
	q, err := bind(p, tableV(t, "v1"), []string{"-placed_at"}, limits())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(searchBody(tableV(t, "v1"), q, nil, 10000))
	s := string(b)
	if strings.Contains(s, "query_string") || strings.Contains(s, `"script"`+":") {
		t.Errorf("body passes syntax through: %s", s)
	}
	if !strings.Contains(s, `"multi_match":{"fields":["order_number","status","currency","customer_name","customer_id","order_id"],"lenient":true,"operator":"and","query":"status:paid OR _exists_:x {\"script\":1}","type":"best_fields"}`) {
		t.Errorf("unexpected multi_match in %s", s)
	}
}

func TestInFlightLimit(t *testing.T) {
	s := &Service{cfg: Config{QueueWait: 50 * time.Millisecond}, slots: make(chan struct{}, 1)}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	release := make(chan struct{})
	entered := make(chan struct{})
	e.GET("/x", s.limitInFlight, func(c *gin.Context) {
		entered <- struct{}{}
		<-release
		c.Status(http.StatusOK)
	})
	first := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
		first <- w.Code
	}()
	<-entered
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
	if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), "too_many_requests") {
		t.Errorf("second request while the only slot is taken: got %d %s, want 429", w.Code, w.Body)
	}
	close(release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first request: got %d, want 200", code)
	}
	go func() { <-entered }()
	w = httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
	if w.Code != http.StatusOK {
		t.Errorf("after release: got %d, want 200", w.Code)
	}
}
