package seed

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

func TestGeneratorIsReproducible(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	a, b := newGenerator(42, 0, now), newGenerator(42, 0, now)
	for range 50 {
		ca, cb := a.customer(), b.customer()
		if ca != cb {
			t.Fatalf("same seed, different customers: %+v vs %+v", ca, cb)
		}
		oa, ob := a.order("c", ca.Country), b.order("c", cb.Country)
		if oa.Total != ob.Total || oa.Currency != ob.Currency || oa.Status != ob.Status {
			t.Fatalf("same seed, different orders: %+v vs %+v", oa, ob)
		}
	}
}

// Seeding through the real APIs: every generated record passes validation, the data is
// varied, and the plain progress output reports the totals.
func TestRunAgainstServices(t *testing.T) {
	ctx := context.Background()
	cs, err := customers.New(ctx, customers.Config{DatabaseURL: testenv.NewDatabase(t, "seedc"), AuthToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cs.Close)
	csrv := httptest.NewServer(cs.Handler())
	t.Cleanup(csrv.Close)
	os, err := orders.New(ctx, orders.Config{DatabaseURL: testenv.NewDatabase(t, "seedo"), CustomersURL: csrv.URL, AuthToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(os.Close)
	osrv := httptest.NewServer(os.Handler())
	t.Cleanup(osrv.Close)

	var out bytes.Buffer
	res, err := Run(ctx, Config{CustomersURL: csrv.URL, OrdersURL: osrv.URL, Token: "t", Customers: 60, Orders: 300, Concurrency: 8, Progress: &out})
	if err != nil {
		t.Fatalf("seed (seed %d): %v", res.Seed, err)
	}
	if !strings.Contains(out.String(), "customers: 60/60 done") || !strings.Contains(out.String(), "orders: 300/300 done") {
		t.Fatalf("progress output lacks the totals:\n%s", out.String())
	}
	countries, currencies, statuses := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var n int
	err = orders.NewClient(osrv.URL, "", nil).Each(ctx, 1000, func(page []orders.Order) error {
		for _, o := range page {
			n++
			currencies[o.Currency], statuses[o.Status] = true, true
			if (o.Status == "draft") != (o.PlacedAt == nil) {
				t.Errorf("order %s: status %s with placed_at %v", o.ID, o.Status, o.PlacedAt)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = customers.NewClient(csrv.URL, "", nil).Each(ctx, 1000, func(page []customers.Customer) error {
		for _, c := range page {
			countries[c.Country] = true
		}
		return nil
	})
	if n != 300 || len(countries) < 5 || len(currencies) < 4 || len(statuses) < 4 {
		t.Fatalf("got %d orders, %d countries, %d currencies, %d statuses; want 300 varied orders", n, len(countries), len(currencies), len(statuses))
	}
	// Orders for existing customers only.
	res, err = Run(ctx, Config{CustomersURL: csrv.URL, OrdersURL: osrv.URL, Token: "t", Orders: 20})
	if err != nil || res.Orders != 20 {
		t.Fatalf("orders for existing customers: %+v, %v", res, err)
	}
}
