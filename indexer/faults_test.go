package indexer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/esindex/faultproxy"
	"github.com/ordertable/ordertable/internal/events"
)

// allOrders waits until index holds exactly the orders want (id -> customer name).
func allOrders(t *testing.T, s *stack, want map[string]string) {
	t.Helper()
	eventually(t, 60*time.Second, func() error {
		all, err := docs(context.Background(), s.es, "orders_v1")
		if err != nil {
			return err
		}
		if len(all) != len(want) {
			return fmt.Errorf("got %d docs, want %d", len(all), len(want))
		}
		for id, name := range want {
			d, ok := all[id]
			if !ok {
				return fmt.Errorf("%s missing", id)
			}
			if d["customer_name"] != name {
				return fmt.Errorf("%s: got customer %v, want %s", id, d["customer_name"], name)
			}
		}
		return nil
	})
}

func TestIndexerRetriesThrottlingAndServerErrors(t *testing.T) {
	s := newStack(t)
	p, err := faultproxy.Start(s.esURL, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	p.SetFaults(faultproxy.Faults{PathContains: "/_bulk", RejectRate: 0.25, RejectStatus: 429, FailAfterRate: 0.15, ItemRejectRate: 0.1})
	cfg := s.config("faulty", t)
	cfg.ESClient = newESClient(t, p.URL())
	r := s.start(t, cfg)
	want := map[string]string{}
	for i := range 300 {
		c := fmt.Sprintf("c%d", i%7)
		s.produce(t, orderEvent(events.OrderCreated, fmt.Sprintf("o%03d", i), 1, c, "3.50"))
		want[fmt.Sprintf("o%03d", i)] = "name-" + c
	}
	for i := range 7 {
		s.produce(t, custEvent(events.CustomerCreated, fmt.Sprintf("c%d", i), 1, fmt.Sprintf("name-c%d", i), "DE"))
	}
	allOrders(t, s, want)
	st := p.Stats()
	if st.Rejected == 0 || st.FailedAfter == 0 || st.ItemsRejected == 0 {
		t.Fatalf("too few faults injected to test anything: %+v", st)
	}
	if v := metricValue(t, r.ix, "ordertable_indexer_retries_total", nil); v == 0 {
		t.Fatal("retries metric is 0")
	}
	if v := metricValue(t, r.ix, "ordertable_indexer_dlq_total", nil); v != 0 {
		t.Fatalf("got %v dead letters, want 0: throttling must never dead-letter", v)
	}
	t.Logf("injected %+v", st)
}

// TestIndexerSurvivesESDown: Elasticsearch goes away while events arrive; an instance is
// killed while it is down (its offsets must not have been committed); after Elasticsearch comes
// back, a fresh instance indexes everything.
func TestIndexerSurvivesESDown(t *testing.T) {
	s := newStack(t)
	p, err := faultproxy.Start(s.esURL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	cfg := s.config("down1", t)
	cfg.ESClient = newESClient(t, p.URL())
	r1 := s.start(t, cfg)
	s.produce(t, custEvent(events.CustomerCreated, "c1", 1, "Before", "FR"), orderEvent(events.OrderCreated, "o0", 1, "c1", "1"))
	allOrders(t, s, map[string]string{"o0": "Before"})

	p.Down()
	want := map[string]string{"o0": "After"}
	for i := 1; i <= 50; i++ {
		s.produce(t, orderEvent(events.OrderCreated, fmt.Sprintf("o%02d", i), 1, "c1", "2"))
		want[fmt.Sprintf("o%02d", i)] = "After"
	}
	s.produce(t, custEvent(events.CustomerUpdated, "c1", 2, "After", "FR"))
	eventually(t, 30*time.Second, func() error {
		if v := metricValue(t, r1.ix, "ordertable_indexer_retries_total", nil); v < 2 {
			return fmt.Errorf("got %v retries while Elasticsearch is down", v)
		}
		return nil
	})
	r1.stop(t)
	if err := p.Up(); err != nil {
		t.Fatal(err)
	}
	cfg.InstanceID = "down2"
	cfg.Registry = nil
	s.start(t, cfg)
	allOrders(t, s, want)
}
