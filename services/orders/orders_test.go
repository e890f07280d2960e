package orders_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/events"
	st "github.com/ordertable/ordertable/internal/sourceservice/servicetest"
	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

type env struct {
	customers, orders string // base URLs
	ordersDB          string
	customer          customers.Customer
}

// start runs a CustomerService and a PurchaseOrderService without Kafka (events stay in the
// outbox) and creates one customer. customersURL overrides where orders looks customers up.
func start(t *testing.T, customersURL string) env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := customers.New(ctx, customers.Config{DatabaseURL: testenv.NewDatabase(t, "ocust")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cs.Close)
	csrv := httptest.NewServer(cs.Handler())
	t.Cleanup(csrv.Close)
	if customersURL == "" {
		customersURL = csrv.URL
	}
	db := testenv.NewDatabase(t, "orders")
	os, err := orders.New(ctx, orders.Config{DatabaseURL: db, CustomersURL: customersURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(os.Close)
	osrv := httptest.NewServer(os.Handler())
	t.Cleanup(osrv.Close)
	c, err := customers.NewClient(csrv.URL, "", nil).Create(ctx, customers.CreateInput{Name: "Acme GmbH", Email: "buyer@acme.de", Country: "DE"})
	if err != nil {
		t.Fatal(err)
	}
	return env{customers: csrv.URL, orders: osrv.URL, ordersDB: db, customer: c}
}

func TestLifecycleAndEvents(t *testing.T) {
	e := start(t, "")
	r := st.Do(t, "POST", e.orders+"/v1/orders", fmt.Sprintf(`{"customer_id":%q,"total":"1234.50","currency":"eur"}`, e.customer.ID))
	if r.Status != http.StatusCreated {
		t.Fatalf("create: got %d %s", r.Status, r.Body)
	}
	var o orders.Order
	r.Decode(t, &o)
	if !regexp.MustCompile(`^PO-\d{4}-\d{6}$`).MatchString(o.OrderNumber) {
		t.Fatalf("order number %q, want PO-YYYY-NNNNNN", o.OrderNumber)
	}
	if o.Status != "draft" || o.Total != "1234.50" || o.Currency != "EUR" || o.PlacedAt != nil || o.Version != 1 || o.CustomerID != e.customer.ID {
		t.Fatalf("created %+v: want draft, exact total 1234.50, EUR, no placed_at, version 1", o)
	}
	if r.Header.Get("Location") != "/v1/orders/"+o.ID {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	// Moving beyond draft stamps placed_at.
	r = st.Do(t, "PATCH", e.orders+"/v1/orders/"+o.ID, `{"status":"placed","total":"0.10"}`, "If-Match: 1")
	var placed orders.Order
	r.Decode(t, &placed)
	if r.Status != 200 || placed.Version != 2 || placed.PlacedAt == nil || placed.Total != "0.10" || placed.OrderNumber != o.OrderNumber {
		t.Fatalf("patch: got %d %+v", r.Status, placed)
	}
	// Moving to another existing customer.
	other, err := customers.NewClient(e.customers, "", nil).Create(context.Background(), customers.CreateInput{Name: "Globex", Email: "ap@globex.com", Country: "US"})
	if err != nil {
		t.Fatal(err)
	}
	r = st.Do(t, "PATCH", e.orders+"/v1/orders/"+o.ID, fmt.Sprintf(`{"customer_id":%q,"status":"draft","placed_at":null}`, other.ID))
	var moved orders.Order
	r.Decode(t, &moved)
	if r.Status != 200 || moved.CustomerID != other.ID || moved.Version != 3 || moved.PlacedAt != nil {
		t.Fatalf("move: got %d %+v", r.Status, moved)
	}
	if r := st.Do(t, "DELETE", e.orders+"/v1/orders/"+o.ID, ""); r.Status != 204 {
		t.Fatalf("delete: got %d", r.Status)
	}
	evs := st.Outbox(t, e.ordersDB)
	want := []events.Type{events.OrderCreated, events.OrderUpdated, events.OrderUpdated, events.OrderDeleted}
	if len(evs) != len(want) {
		t.Fatalf("got %d events, want %d", len(evs), len(want))
	}
	for i, ev := range evs {
		if ev.Type != want[i] || ev.Version != int64(i+1) || ev.Order.ID != o.ID {
			t.Fatalf("event %d: got %s v%d, want %s v%d", i, ev.Type, ev.Version, want[i], i+1)
		}
	}
	if !same(*evs[0].Order, o) || evs[1].Order.Total != "0.10" || !same(*evs[2].Order, moved) {
		t.Fatalf("snapshots do not match the API answers")
	}
}

func TestOrderNumbersUnique(t *testing.T) {
	e := start(t, "")
	cl := orders.NewClient(e.orders, "", nil)
	seen := map[string]bool{}
	for range 20 {
		o, err := cl.Create(context.Background(), orders.CreateInput{CustomerID: e.customer.ID, Total: "1", Currency: "JPY", Status: "paid"})
		if err != nil {
			t.Fatal(err)
		}
		if seen[o.OrderNumber] {
			t.Fatalf("order number %s reused", o.OrderNumber)
		}
		seen[o.OrderNumber] = true
	}
}

// Every bad request answers with the one error shape, changes nothing and emits nothing.
func TestErrors(t *testing.T) {
	e := start(t, "")
	var o orders.Order
	st.Do(t, "POST", e.orders+"/v1/orders", fmt.Sprintf(`{"customer_id":%q,"total":"10.00","currency":"USD","status":"placed"}`, e.customer.ID)).Decode(t, &o)
	one := e.orders + "/v1/orders/" + o.ID
	unknownCustomer := "01932f4e-0000-7000-8000-00000000abcd"
	body := func(fields string) string {
		return fmt.Sprintf(`{"customer_id":%q,%s}`, e.customer.ID, fields)
	}
	cases := []st.ErrorCase{
		st.Case("malformed", "POST", e.orders+"/v1/orders", `{"total":`, nil, 400, "bad_request", nil),
		st.Case("unknown field", "POST", e.orders+"/v1/orders", body(`"total":"1","currency":"EUR","discount":"5"`), nil, 400, "bad_request", []string{"discount"}),
		st.Case("total as number", "POST", e.orders+"/v1/orders", body(`"total":12.5,"currency":"EUR"`), nil, 400, "bad_request", []string{"total"}),
		st.Case("placed_at not a time", "POST", e.orders+"/v1/orders", body(`"total":"1","currency":"EUR","placed_at":"yesterday"`), nil, 400, "bad_request", nil),
		st.Case("missing everything", "POST", e.orders+"/v1/orders", `{}`, nil, 422, "validation_failed", []string{"customer_id", "currency", "total"}),
		st.Case("all invalid", "POST", e.orders+"/v1/orders", `{"customer_id":"x","status":"lost","total":"-1","currency":"EURO"}`, nil, 422, "validation_failed", []string{"customer_id", "status", "currency", "total"}),
		st.Case("total exponent", "POST", e.orders+"/v1/orders", body(`"total":"1e3","currency":"EUR"`), nil, 422, "validation_failed", []string{"total"}),
		st.Case("total leading zero", "POST", e.orders+"/v1/orders", body(`"total":"01.00","currency":"EUR"`), nil, 422, "validation_failed", []string{"total"}),
		st.Case("total too precise for JPY", "POST", e.orders+"/v1/orders", body(`"total":"100.5","currency":"JPY"`), nil, 422, "validation_failed", []string{"total"}),
		st.Case("total too large", "POST", e.orders+"/v1/orders", body(`"total":"1234567890123456","currency":"EUR"`), nil, 422, "validation_failed", []string{"total"}),
		st.Case("placed_at far future", "POST", e.orders+"/v1/orders", body(`"total":"1","currency":"EUR","placed_at":"2999-01-01T00:00:00Z"`), nil, 422, "validation_failed", []string{"placed_at"}),
		st.Case("unknown customer", "POST", e.orders+"/v1/orders", fmt.Sprintf(`{"customer_id":%q,"total":"1","currency":"EUR"}`, unknownCustomer), nil, 422, "validation_failed", []string{"customer_id"}),
		st.Case("move to unknown customer", "PATCH", one, fmt.Sprintf(`{"customer_id":%q}`, unknownCustomer), nil, 422, "validation_failed", []string{"customer_id"}),
		st.Case("clear placed_at of a paid order", "PATCH", one, `{"status":"paid","placed_at":null}`, nil, 422, "validation_failed", []string{"placed_at"}),
		st.Case("patch null status", "PATCH", one, `{"status":null}`, nil, 422, "validation_failed", []string{"status"}),
		st.Case("patch bad currency", "PATCH", one, `{"currency":"XYZ"}`, nil, 422, "validation_failed", []string{"currency"}),
		st.Case("patch stale", "PATCH", one, `{"status":"paid"}`, []string{"If-Match: 9"}, 412, "version_mismatch", nil),
		st.Case("delete stale", "DELETE", one, ``, []string{"If-Match: 9"}, 412, "version_mismatch", nil),
		st.Case("get unknown", "GET", e.orders+"/v1/orders/"+unknownCustomer, ``, nil, 404, "not_found", nil),
		st.Case("patch unknown", "PATCH", e.orders+"/v1/orders/"+unknownCustomer, `{"status":"paid"}`, nil, 404, "not_found", nil),
		st.Case("delete unknown", "DELETE", e.orders+"/v1/orders/"+unknownCustomer, ``, nil, 404, "not_found", nil),
		st.Case("too large", "POST", e.orders+"/v1/orders", body(`"total":"1","currency":"EUR","status":"`+strings.Repeat("x", 1<<20)+`"`), nil, 413, "body_too_large", nil),
		st.Case("list bad before", "GET", e.orders+"/v1/orders?before=PO-1", ``, nil, 400, "bad_request", []string{"before"}),
	}
	before := len(st.Outbox(t, e.ordersDB))
	st.RunErrorCases(t, st.LoadContract(t, e.orders), cases)

	if after := len(st.Outbox(t, e.ordersDB)); after != before {
		t.Fatalf("failed requests emitted events: %d -> %d", before, after)
	}
	var now orders.Order
	st.Do(t, "GET", one, "").Decode(t, &now)
	if !same(now, o) {
		t.Fatalf("failed requests changed the order: got %+v, want %+v", now, o)
	}
}

// With the CustomerService down, order writes that need it answer 503 and change nothing;
// writes that do not need it still work.
func TestCustomersUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	e := start(t, dead)
	r := st.Do(t, "POST", e.orders+"/v1/orders", fmt.Sprintf(`{"customer_id":%q,"total":"1","currency":"EUR"}`, e.customer.ID))
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("got %d %s, want 503", r.Status, r.Body)
	}
	st.LoadContract(t, e.orders).Check(t, r)
	if er := r.Error(t); er.Code != "customers_unavailable" || !strings.Contains(er.Message, "CustomerService") {
		t.Fatalf("got %+v, want customers_unavailable naming the CustomerService", er)
	}
	if n := len(st.Outbox(t, e.ordersDB)); n != 0 {
		t.Fatalf("got %d events, want 0", n)
	}
	if n := st.Count(t, e.ordersDB, `SELECT count(*) FROM orders`); n != 0 {
		t.Fatalf("got %d orders, want 0", n)
	}
}

func same(a, b orders.Order) bool {
	return fmt.Sprintf("%+v %v", a, a.PlacedAt) == fmt.Sprintf("%+v %v", b, b.PlacedAt)
}

// Every successful answer matches the OpenAPI document (the error answers are checked in
// TestErrors).
func TestResponsesMatchOpenAPI(t *testing.T) {
	e := start(t, "")
	contract := st.LoadContract(t, e.orders)
	r := st.Do(t, "POST", e.orders+"/v1/orders", fmt.Sprintf(`{"customer_id":%q,"total":"5.00","currency":"EUR"}`, e.customer.ID))
	contract.Check(t, r)
	var o orders.Order
	r.Decode(t, &o)
	for _, r := range []st.Response{
		st.Do(t, "GET", e.orders+"/v1/orders/"+o.ID, ""),
		st.Do(t, "GET", e.orders+"/v1/orders?limit=1", ""),
		st.Do(t, "GET", e.orders+"/v1/orders?before="+o.ID, ""),
		st.Do(t, "GET", e.orders+"/v1/orders?ids="+o.ID, ""),
		st.Do(t, "PATCH", e.orders+"/v1/orders/"+o.ID, `{"status":"paid"}`, "If-Match: 1"),
		st.Do(t, "DELETE", e.orders+"/v1/orders/"+o.ID, ""),
	} {
		if r.Status >= 300 {
			t.Fatalf("%s %s: %d %s", r.Method, r.URL, r.Status, r.Body)
		}
		contract.Check(t, r)
	}
}
