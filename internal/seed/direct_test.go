package seed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

// directServices are both services on fresh databases, served over HTTP, no Kafka.
type directServices struct {
	custDB, ordDB string
	cc            *customers.Client
	oc            *orders.Client
}

func startDirectServices(t *testing.T) directServices {
	t.Helper()
	ctx := context.Background()
	d := directServices{custDB: testenv.NewDatabase(t, "directc"), ordDB: testenv.NewDatabase(t, "directo")}
	cs, err := customers.New(ctx, customers.Config{DatabaseURL: d.custDB})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cs.Close)
	csrv := httptest.NewServer(cs.Handler())
	t.Cleanup(csrv.Close)
	osvc, err := orders.New(ctx, orders.Config{DatabaseURL: d.ordDB, CustomersURL: csrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(osvc.Close)
	osrv := httptest.NewServer(osvc.Handler())
	t.Cleanup(osrv.Close)
	d.cc, d.oc = customers.NewClient(csrv.URL, "", nil), orders.NewClient(osrv.URL, "", nil)
	return d
}

// written collects what RunDirect reports, keyed by id, as JSON (the API's encoding).
type written struct {
	mu        sync.Mutex
	customers map[string]string
	orders    map[string]string
	raw       []events.Order
}

func newWritten() *written {
	return &written{customers: map[string]string{}, orders: map[string]string{}}
}

func (w *written) add(t *testing.T) func([]events.Customer, []events.Order) {
	return func(cs []events.Customer, os []events.Order) {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, c := range cs {
			w.customers[c.ID] = mustJSON(t, c)
		}
		for _, o := range os {
			w.orders[o.ID] = mustJSON(t, o)
			w.raw = append(w.raw, o)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The services' APIs must return exactly the records the direct load says it wrote, no more,
// no fewer, field by field; the records must look like the services' own (UUIDv7 ids of their
// creation time, version 1, order numbers from the sequence, existing customers), and the
// services must keep working on them (an update, and a new order whose number doesn't collide).
func TestDirectSeedMatchesAPIs(t *testing.T) {
	ctx := context.Background()
	d := startDirectServices(t)
	w := newWritten()
	var out bytes.Buffer
	end := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	res, err := RunDirect(ctx, DirectConfig{
		CustomersDatabaseURL: d.custDB, OrdersDatabaseURL: d.ordDB, Customers: 70, Orders: 1234,
		Backdate: 30 * 24 * time.Hour, BatchSize: 100, Workers: 3, Progress: &out, Written: w.add(t),
		Now: func() time.Time { return end },
	})
	if err != nil {
		t.Fatalf("direct seed (seed %d): %v", res.Seed, err)
	}
	t.Logf("seed %d", res.Seed)
	if !strings.Contains(out.String(), "customers: 70/70 done") || !strings.Contains(out.String(), "orders: 1234/1234 done") {
		t.Fatalf("progress output lacks the totals:\n%s", out.String())
	}
	if len(w.customers) != 70 || len(w.orders) != 1234 {
		t.Fatalf("reported %d customers and %d orders, want 70 and 1234", len(w.customers), len(w.orders))
	}

	gotC := map[string]string{}
	if err := d.cc.Each(ctx, 1000, func(p []customers.Customer) error {
		for _, c := range p {
			gotC[c.ID] = mustJSON(t, c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	compareRecords(t, "customer", gotC, w.customers)
	gotO := map[string]string{}
	var apiOrders []orders.Order
	if err := d.oc.Each(ctx, 1000, func(p []orders.Order) error {
		for _, o := range p {
			gotO[o.ID] = mustJSON(t, o)
			apiOrders = append(apiOrders, o)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	compareRecords(t, "order", gotO, w.orders)

	number := regexp.MustCompile(`^PO-(\d{4})-(\d{6,})$`)
	numbers := map[string]bool{}
	start := end.Add(-30 * 24 * time.Hour)
	for _, o := range apiOrders {
		if _, ok := gotC[o.CustomerID]; !ok {
			t.Errorf("order %s refers to customer %s, which the CustomerService doesn't have", o.ID, o.CustomerID)
		}
		id, err := uuid.Parse(o.ID)
		if err != nil || id.Version() != 7 || id.Variant() != uuid.RFC4122 {
			t.Errorf("order id %s: not a UUIDv7 (%v)", o.ID, err)
		}
		if pm := uuidMillis(o.ID); pm != o.CreatedAt.UnixMilli() {
			t.Errorf("order %s: id time %d ms, created_at %s", o.ID, pm, o.CreatedAt)
		}
		if o.Version != 1 || !o.CreatedAt.Equal(o.UpdatedAt) || o.CreatedAt.Before(start) || o.CreatedAt.After(end) {
			t.Errorf("order %s: version %d, created %s, updated %s; want version 1, created = updated within the backdated month",
				o.ID, o.Version, o.CreatedAt, o.UpdatedAt)
		}
		m := number.FindStringSubmatch(o.OrderNumber)
		if m == nil || m[1] != fmt.Sprint(o.CreatedAt.Year()) || numbers[m[2]] {
			t.Errorf("order %s: number %q is not PO-<created year>-<unique sequence number>", o.ID, o.OrderNumber)
		}
		numbers[m[2]] = true
		if (o.Status == "draft") != (o.PlacedAt == nil) {
			t.Errorf("order %s: status %s with placed_at %v", o.ID, o.Status, o.PlacedAt)
		}
	}

	// The services carry on: an update bumps the version, a new order gets a fresh number.
	some := apiOrders[len(apiOrders)/2]
	status := "cancelled"
	if some.Status == status {
		status = "paid"
	}
	upd, err := d.oc.Update(ctx, some.ID, 1, orders.PatchInput{Status: &status})
	if err != nil || upd.Version != 2 || upd.Status != status {
		t.Fatalf("update a seeded order: %+v, %v", upd, err)
	}
	fresh, err := d.oc.Create(ctx, orders.CreateInput{CustomerID: some.CustomerID, Total: "10.00", Currency: "EUR"})
	if err != nil {
		t.Fatalf("create an order after the direct seed: %v", err)
	}
	if m := number.FindStringSubmatch(fresh.OrderNumber); m == nil || numbers[m[2]] {
		t.Fatalf("the API's next order number %s collides with a seeded one", fresh.OrderNumber)
	}
	// Without Outbox, nothing was written to the outboxes (the update and create above wrote one each).
	if n := outboxCount(t, d.custDB); n != 0 {
		t.Fatalf("customers outbox has %d rows after a seed without outbox, want 0", n)
	}
	if n := outboxCount(t, d.ordDB); n != 2 {
		t.Fatalf("orders outbox has %d rows, want the 2 of the API calls", n)
	}
}

func compareRecords(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s %s was written but the API doesn't list it", what, id)
		case g != w:
			t.Errorf("%s %s:\n got %s\nwant %s", what, id, g, w)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("the API lists %s %s, which the seed didn't write", what, id)
		}
	}
}

func uuidMillis(id string) int64 {
	u := uuid.MustParse(id)
	var ms int64
	for _, b := range u[:6] {
		ms = ms<<8 | int64(b)
	}
	return ms
}

func outboxCount(t *testing.T, db string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// With Outbox, each record's created event is in its service's outbox, equal to the record,
// exactly as the services write them; orders for existing customers (Customers 0) go to them.
func TestDirectSeedWithOutbox(t *testing.T) {
	ctx := context.Background()
	d := startDirectServices(t)
	w := newWritten()
	if _, err := RunDirect(ctx, DirectConfig{CustomersDatabaseURL: d.custDB, OrdersDatabaseURL: d.ordDB,
		Customers: 15, Orders: 120, Outbox: true, BatchSize: 50, Written: w.add(t)}); err != nil {
		t.Fatal(err)
	}
	// Orders only, to the existing customers, without outbox.
	if _, err := RunDirect(ctx, DirectConfig{CustomersDatabaseURL: d.custDB, OrdersDatabaseURL: d.ordDB, Orders: 30, Written: w.add(t)}); err != nil {
		t.Fatal(err)
	}
	for _, o := range w.raw {
		if _, ok := w.customers[o.CustomerID]; !ok {
			t.Fatalf("order %s refers to %s, not one of the 15 customers", o.ID, o.CustomerID)
		}
	}
	for _, tc := range []struct {
		db, topic string
		want      map[string]string
		wantRows  int
	}{
		{d.custDB, events.TopicCustomers, w.customers, 15},
		{d.ordDB, events.TopicOrders, w.orders, 120},
	} {
		conn, err := pgx.Connect(ctx, tc.db)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(ctx, `SELECT topic, msg_key, payload FROM outbox ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var topic, key string
			var payload []byte
			if err := rows.Scan(&topic, &key, &payload); err != nil {
				t.Fatal(err)
			}
			n++
			e, err := events.Decode(payload)
			if err != nil {
				t.Fatalf("outbox event %s: %v", key, err)
			}
			var snap any = e.Order
			if e.Customer != nil {
				snap = e.Customer
			}
			if topic != tc.topic || key != e.EntityID || e.Version != 1 || !strings.HasSuffix(string(e.Type), ".created") || mustJSON(t, snap) != tc.want[key] {
				t.Errorf("outbox row %s on %s: event %+v does not match the written record %s", key, topic, e, tc.want[key])
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		if n != tc.wantRows {
			t.Errorf("%s outbox: %d rows, want %d", tc.topic, n, tc.wantRows)
		}
	}
}
