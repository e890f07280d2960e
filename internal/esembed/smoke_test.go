package esembed

import (
	"os"
	"testing"
)

func TestSmokeOrdersMapping(t *testing.T) {
	ts := newTestServer(t)
	body, err := os.ReadFile("../../mappings/orders_v2.json")
	if err != nil {
		t.Fatal(err)
	}
	ts.must(200, "PUT", "/orders_v2", string(body))
	m := ts.must(200, "GET", "/orders_v2/_mapping", nil)
	if got := str(get(m, "orders_v2.mappings._meta.mapping_version")); got != "2" {
		t.Fatalf("_meta.mapping_version: got %s, want 2; %v", got, m)
	}
	ts.must(201, "PUT", "/orders_v2/_doc/o1?version=5&version_type=external", map[string]any{
		"order_number": "A-1", "status": "open", "total": 12.5, "currency": "EUR", "placed_at": "2024-01-02T03:04:05Z",
		"customer_name": "Zoe Smith", "customer_id": "c1", "order_id": "o1", "customer_deleted": false, "order_version": 5})
	bulk := `{"index":{"_index":"orders_v2","_id":"o2","version":3,"version_type":"external"}}
{"order_number":"A-2","status":"paid","total":7,"customer_name":"adam jones","placed_at":"2024-01-01"}
{"index":{"_index":"orders_v2","_id":"o3"}}
{"order_number":"A-3","status":"paid","total":99.99,"customer_name":"Bob","nope":1}
`
	r := ts.must(200, "POST", "/_bulk", bulk)
	if get(r, "errors") != true || str(get(r, "items.1.index.error.type")) != "strict_dynamic_mapping_exception" {
		t.Fatalf("bulk: %v", r)
	}
	s := ts.must(200, "POST", "/orders_v2/_search", map[string]any{"query": map[string]any{"match_all": map[string]any{}}})
	if str(get(s, "hits.total.value")) != "0" {
		t.Fatalf("search before refresh saw docs: %v", s)
	}
	ts.must(200, "POST", "/orders_v2/_refresh", nil)
	s = ts.must(200, "POST", "/orders_v2/_search", map[string]any{"sort": []any{map[string]any{"customer_name.keyword": "asc"}}})
	if str(get(s, "hits.hits.0._id")) != "o1" || str(get(s, "hits.hits.1._id")) != "o2" {
		t.Fatalf("sort: %v", s)
	}
	s = ts.must(200, "POST", "/orders_v2/_search", map[string]any{"sort": []any{map[string]any{"total": "desc"}}, "query": map[string]any{"match": map[string]any{"customer_name": "SMITH"}}})
	if str(get(s, "hits.total.value")) != "1" || str(get(s, "hits.hits.0.sort.0")) != "12.5" {
		t.Fatalf("match+sort: %v", s)
	}
	ts.must(400, "POST", "/orders_v2/_search", map[string]any{"sort": []any{"customer_name"}})
	ts.must(409, "PUT", "/orders_v2/_doc/o1?version=5&version_type=external", map[string]any{"order_number": "x"})
}
