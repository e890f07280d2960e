package indexer

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
)

// expectDoc checks the fields of one document that the scenario tests care about.
func expectDoc(d map[string]any, want map[string]any) error {
	for k, v := range want {
		got, ok := d[k]
		if v == nil {
			if ok {
				return fmt.Errorf("field %s: got %v, want absent", k, got)
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(v) {
			return fmt.Errorf("field %s: got %v, want %v", k, got, v)
		}
	}
	return nil
}

func TestIndexerScenario(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	r := s.start(t, s.config("a", t))

	// An order before its customer: indexed without customer fields.
	s.produce(t, orderEvent(events.OrderCreated, "o1", 1, "c1", "10.50"))
	check := func(id string, want map[string]any) func() error {
		return func() error {
			all, err := docs(ctx, s.es, "orders_v1")
			if err != nil {
				return err
			}
			d, ok := all[id]
			if !ok {
				if want == nil {
					return nil
				}
				return fmt.Errorf("%s: no document", id)
			}
			if want == nil {
				return fmt.Errorf("%s: document still there: %v", id, d)
			}
			return expectDoc(d, want)
		}
	}
	eventually(t, 30*time.Second, check("o1", map[string]any{"order_id": "o1", "total": 10.50, "customer_id": "c1", "customer_name": nil, "customer_version": 0, "customer_deleted": false}))

	// The customer arrives: fan-out fills the customer fields.
	s.produce(t, custEvent(events.CustomerCreated, "c1", 1, "Ada", "GB"))
	eventually(t, 30*time.Second, check("o1", map[string]any{"customer_name": "Ada", "customer_version": 1, "order_version": 1}))

	// More orders of c1, then a rename: every order shows it (more orders than a fan-out chunk).
	var evs []events.Event
	for i := range 120 {
		evs = append(evs, orderEvent(events.OrderCreated, fmt.Sprintf("x%03d", i), 1, "c1", "1"))
	}
	s.produce(t, evs...)
	s.produce(t, custEvent(events.CustomerUpdated, "c1", 2, "Ada Lovelace", "GB"))
	eventually(t, 30*time.Second, func() error {
		all, err := docs(ctx, s.es, "orders_v1")
		if err != nil {
			return err
		}
		if len(all) != 121 {
			return fmt.Errorf("got %d docs, want 121", len(all))
		}
		for id, d := range all {
			if err := expectDoc(d, map[string]any{"customer_name": "Ada Lovelace", "customer_version": 2}); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
		}
		return nil
	})

	// A move to another customer whose version is lower than c1's.
	s.produce(t, custEvent(events.CustomerCreated, "c2", 1, "Grace", "US"))
	s.produce(t, orderEvent(events.OrderUpdated, "o1", 2, "c2", "11.00"))
	eventually(t, 30*time.Second, check("o1", map[string]any{"customer_id": "c2", "customer_name": "Grace", "customer_version": 1, "order_version": 2, "total": 11}))

	// Stale and duplicate deliveries change nothing.
	s.produce(t, orderEvent(events.OrderCreated, "o1", 1, "c1", "10.50"), custEvent(events.CustomerCreated, "c1", 1, "Ada", "GB"))

	// Customer delete: orders keep the last snapshot, marked deleted.
	s.produce(t, custEvent(events.CustomerDeleted, "c2", 2, "Grace", "US"))
	eventually(t, 30*time.Second, check("o1", map[string]any{"customer_name": "Grace", "customer_deleted": true, "customer_version": 2, "order_version": 2}))

	// Order delete, then a stale update: the document stays gone.
	s.produce(t, orderEvent(events.OrderDeleted, "o1", 3, "c2", "11.00"))
	eventually(t, 30*time.Second, check("o1", nil))
	s.produce(t, orderEvent(events.OrderUpdated, "o1", 2, "c2", "11.00"), custEvent(events.CustomerUpdated, "c2", 2, "Grace", "US"))
	s.produce(t, orderEvent(events.OrderCreated, "sentinel", 1, "c1", "1"))
	eventually(t, 30*time.Second, check("sentinel", map[string]any{"customer_name": "Ada Lovelace"}))
	if err := check("o1", nil)(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if v := metricValue(t, r.ix, "ordertable_indexer_version_conflicts_total", nil); v == 0 {
			return fmt.Errorf("no version conflicts counted")
		}
		return nil
	})
	if v := metricValue(t, r.ix, "ordertable_indexer_freshness_seconds", nil); v == 0 {
		t.Error("freshness histogram is empty")
	}
}

func TestIndexerDLQ(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	// A second target whose mapping makes order_number a long: every document the indexer
	// writes there is rejected, per item, while the live index keeps working.
	if _, err := s.es.CreateIndex(ctx, "orders_v1", mustFirst(t).Body); err != nil {
		t.Fatal(err)
	}
	if _, err := s.es.CreateIndex(ctx, "strict_numbers", []byte(`{"mappings":{"dynamic":"strict","properties":{"order_id":{"type":"keyword"},"order_number":{"type":"long"}}}}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.es.UpdateAliases(ctx,
		esindex.AliasAction{Add: &esindex.AliasRef{Index: "orders_v1", Alias: esindex.AliasRead}},
		esindex.AliasAction{Add: &esindex.AliasRef{Index: "orders_v1", Alias: esindex.AliasTargets}},
		esindex.AliasAction{Add: &esindex.AliasRef{Index: "strict_numbers", Alias: esindex.AliasTargets}},
	); err != nil {
		t.Fatal(err)
	}
	cfg := s.config("dlq", t)
	cfg.Listen = freeAddr(t)
	r := s.start(t, cfg)
	s.produceRaw(t, events.TopicOrders, "garbage", []byte(`{not json`))
	s.produceRaw(t, events.TopicOrders, "wrongtopic", mustEncode(t, custEvent(events.CustomerCreated, "wrongtopic", 1, "X", "FR")))
	bad := orderEvent(events.OrderCreated, "badtotal", 1, "c1", "1")
	bad.Order.Total = "12,50" // passes the event schema, not the decimal check
	s.produce(t, bad)
	s.produce(t, orderEvent(events.OrderCreated, "good", 1, "c1", "5"))
	eventually(t, 30*time.Second, func() error {
		all, err := docs(ctx, s.es, "orders_v1")
		if err != nil {
			return err
		}
		if _, ok := all["good"]; !ok {
			return fmt.Errorf("good order not indexed: %v", all)
		}
		return nil
	})
	var got []dlqMessage
	eventually(t, 30*time.Second, func() error {
		got = readDLQ(t, s.brokers)
		if len(got) < 4 {
			return fmt.Errorf("got %d dead letters, want 4", len(got))
		}
		return nil
	})
	want := map[string]string{"badtotal": "invalid", "garbage": "decode", "good": "rejected", "wrongtopic": "invalid"}
	for _, m := range got {
		if kind, ok := want[m.key]; !ok || m.headers[HeaderKind] != kind {
			t.Errorf("dead letter %s: got kind %q (reason %q), want %q", m.key, m.headers[HeaderKind], m.headers[HeaderReason], want[m.key])
		}
		if m.headers[HeaderReason] == "" || m.headers[HeaderTopic] != events.TopicOrders || m.headers[HeaderOffset] == "" {
			t.Errorf("dead letter %s: incomplete headers %v", m.key, m.headers)
		}
	}
	if v := metricValue(t, r.ix, "ordertable_indexer_dlq_total", nil); v < 4 {
		t.Errorf("dlq metric: got %v, want >= 4", v)
	}
	eventually(t, 10*time.Second, func() error {
		for path, want := range map[string]string{"/readyz": `"ready"`, "/healthz": `"ok"`, "/metrics": "ordertable_indexer_dlq_total{kind=\"rejected\"}"} {
			res, err := http.Get("http://" + cfg.Listen + path)
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
				return fmt.Errorf("%s: got %d %.300s, want 200 with %s", path, res.StatusCode, body, want)
			}
		}
		return nil
	})
	// The partition is not blocked: a later event is indexed.
	s.produce(t, orderEvent(events.OrderCreated, "after", 1, "c1", "5"))
	eventually(t, 30*time.Second, func() error {
		all, err := docs(ctx, s.es, "orders_v1")
		if err != nil {
			return err
		}
		if _, ok := all["after"]; !ok {
			return errNotYet
		}
		return nil
	})
}

func mustEncode(t testing.TB, e events.Event) []byte {
	t.Helper()
	b, err := events.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
