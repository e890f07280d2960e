package contract

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ordertable/ordertable/mappings"
)

// TestOrdersMapping runs the project's real index body (mappings/orders_v1.json) through the
// engine: what the indexer writes and what the search API asks must work on it.
func TestOrdersMapping(t *testing.T) {
	e := newEnv(t)
	m, err := mappings.First()
	if err != nil {
		t.Fatal(err)
	}
	idx := e.createIndex(t, "orders", string(m.Body))

	// The mapping, including _meta.columns that the search page reads, round-trips.
	got := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_mapping", nil)
	if dyn := path(got, idx+".mappings.dynamic"); dyn != "strict" {
		t.Errorf("dynamic: got %v, want strict", dyn)
	}
	var want struct {
		Mappings struct {
			Meta       map[string]any            `json:"_meta"`
			Properties map[string]map[string]any `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(m.Body, &want); err != nil {
		t.Fatal(err)
	}
	for name, def := range want.Mappings.Properties {
		if typ := path(got, idx+".mappings.properties."+name+".type"); typ != def["type"] {
			t.Errorf("field %s: got type %v, want %v", name, typ, def["type"])
		}
	}
	if f := path(got, idx+".mappings.properties.total.scaling_factor"); f == nil {
		t.Errorf("total.scaling_factor missing: %s", show(path(got, idx+".mappings.properties.total")))
	}
	if cols, _ := path(got, idx+".mappings._meta.columns").(map[string]any); len(cols) != len(want.Mappings.Meta["columns"].(map[string]any)) {
		t.Errorf("_meta.columns: got %d columns, want %d", len(cols), len(want.Mappings.Meta["columns"].(map[string]any)))
	}

	type order struct {
		OrderID, Number, Status, Currency, Customer, CustomerID, Placed string
		Total                                                           float64
		Deleted                                                         bool
		Version                                                         int
	}
	orders := []order{
		{"o1", "ORD-0001", "paid", "EUR", "Alice Martin", "c1", "2025-01-10T09:00:00Z", 120.50, false, 3},
		{"o2", "ORD-0002", "shipped", "USD", "Bob Stone", "c2", "2025-01-11T10:30:00.123Z", 99.99, false, 1},
		{"o3", "ORD-0003", "paid", "EUR", "Alice Martin", "c1", "2025-02-01T00:00:00+01:00", 5.00, true, 2},
		{"o4", "ORD-0004", "cancelled", "GBP", "Carol Alice", "c3", "1735689600000", 1000.00, false, 7},
	}
	var sb strings.Builder
	for _, o := range orders {
		doc := map[string]any{
			"order_id": o.OrderID, "order_number": o.Number, "status": o.Status, "total": o.Total,
			"currency": o.Currency, "placed_at": o.Placed, "updated_at": o.Placed, "customer_name": o.Customer,
			"customer_id": o.CustomerID, "customer_deleted": o.Deleted, "order_version": o.Version,
			"customer_version": 1, "indexed_at": "2025-03-01T00:00:00Z",
		}
		b, _ := json.Marshal(doc)
		fmt.Fprintf(&sb, `{"index": {"_index": %q, "_id": %q, "version": %d, "version_type": "external"}}`+"\n%s\n", idx, o.OrderID, o.Version, b)
	}
	status, data := e.rawBytes(t, http.MethodPost, "/_bulk?refresh=true", sb.String(), "application/x-ndjson")
	if status != 200 || strings.Contains(string(data), `"errors":true`) {
		t.Fatalf("bulk orders: %d %s", status, truncate(string(data), 500))
	}

	search := func(body string) []string {
		t.Helper()
		return hitIDs(e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", body))
	}
	check := func(what string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}
	check("sort total desc (scaled_float)", search(`{"sort": [{"total": "desc"}]}`), []string{"o4", "o1", "o2", "o3"})
	check("sort placed_at asc (ISO, offsets, epoch millis)", search(`{"sort": [{"placed_at": "asc"}]}`), []string{"o4", "o1", "o2", "o3"})
	check("sort customer_name.keyword, order_number desc", search(`{"sort": [{"customer_name.keyword": "asc"}, {"order_number": "desc"}]}`), []string{"o3", "o1", "o2", "o4"})
	check("filter status, sort order_number", search(`{"query": {"bool": {"filter": [{"term": {"status": "paid"}}]}}, "sort": ["order_number"]}`), []string{"o1", "o3"})
	check("full text on customer_name", search(`{"query": {"match": {"customer_name": "alice"}}, "sort": ["order_number"]}`), []string{"o1", "o3", "o4"})
	check("range on total", search(`{"query": {"range": {"total": {"gte": 99.99, "lt": 1000}}}, "sort": ["order_number"]}`), []string{"o1", "o2"})
	check("boolean filter", search(`{"query": {"term": {"customer_deleted": true}}}`), []string{"o3"})
	check("prefix on order_number", search(`{"query": {"prefix": {"order_number": "ORD-000"}}, "sort": [{"order_version": "desc"}]}`), []string{"o4", "o1", "o3", "o2"})

	// Facets as the search page asks for them.
	resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 0, "aggs": {"status": {"terms": {"field": "status"}}, "currency": {"terms": {"field": "currency"}}}}`)
	if got := show(path(resp, "aggregations.status.buckets")); got != `[{"doc_count":2,"key":"paid"},{"doc_count":1,"key":"cancelled"},{"doc_count":1,"key":"shipped"}]` {
		t.Errorf("status facet: got %s", got)
	}

	// The indexer's stale events are refused by external versions.
	status, body := e.raw(t, http.MethodPut, "/"+idx+"/_doc/o1?version=2&version_type=external", `{"order_id": "o1", "status": "pending"}`)
	checkErrorShape(t, status, body, 409, "version_conflict_engine_exception")
	// Strict: a column the mapping doesn't declare is refused.
	status, body = e.raw(t, http.MethodPut, "/"+idx+"/_doc/o9", `{"order_id": "o9", "colour": "red"}`)
	checkErrorShape(t, status, body, 400, "strict_dynamic_mapping_exception")
}
