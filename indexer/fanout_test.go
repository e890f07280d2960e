package indexer

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/ordertable/ordertable/internal/events"
)

// keysOnDistinctPartitions returns n keys of the form prefix<i> that the producer's hash
// partitioner sends to n different partitions of topic.
func keysOnDistinctPartitions(t *testing.T, brokers []string, topic, prefix string, n int) []string {
	t.Helper()
	parts, err := testClient(t, brokers).Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < n {
		t.Skipf("topic %s has %d partitions, the test needs %d", topic, len(parts), n)
	}
	p := sarama.NewHashPartitioner(topic)
	seen := map[int32]bool{}
	var keys []string
	for i := 0; len(keys) < n; i++ {
		k := fmt.Sprintf("%s%d", prefix, i)
		part, err := p.Partition(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(k)}, int32(len(parts)))
		if err != nil {
			t.Fatal(err)
		}
		if !seen[part] {
			seen[part] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// An order event is written while a fan-out chunk is in flight and chunks of other customers'
// fan-outs are queued: it doesn't wait for them (it used to: batches and chunks shared one FIFO
// of worker slots, and with every slot held by chunks an order batch waited behind the whole
// queue). The chunk in flight is held by the test until the order's document is written, so
// on the old scheduling (one worker) this test never sees the document. Afterwards every
// fan-out completes.
func TestOrderNotDelayedByFanoutQueue(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	const perCustomer = 40
	customers := keysOnDistinctPartitions(t, s.brokers, events.TopicCustomers, "fc", 3)
	var evs []events.Event
	for _, c := range customers {
		evs = append(evs, custEvent(events.CustomerCreated, c, 1, "Before", "DE"))
		for i := range perCustomer {
			evs = append(evs, orderEvent(events.OrderCreated, fmt.Sprintf("%s-o%03d", c, i), 1, c, "1"))
		}
	}
	s.produce(t, evs...)

	cfg := s.config("a", t)
	cfg.Workers, cfg.FanoutWorkers, cfg.FanoutChunk = 1, 1, 10
	cfg.FanoutMaxWait = time.Hour // chunks start only when no batch is in flight: a strict order
	ix, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := &schedLog{}
	hold := make(chan struct{})
	holding := false // only touched by the observer, which runs in the chunk's goroutine
	armed := make(chan struct{})
	held := make(chan struct{})
	ix.sched.observe = func(ev schedEvent) {
		log.observe(ev)
		if ev.fanout && ev.op == "grant" && !holding {
			select {
			case <-armed:
				holding = true
				close(held)
				<-hold // the first chunk granted once armed stays in flight until released
			default:
			}
		}
	}
	r := s.run(t, ix)
	total := len(customers) * (perCustomer + 1)
	eventually(t, 60*time.Second, func() error {
		if n := metricValue(t, ix, "ordertable_indexer_events_total", nil); n < float64(total) {
			return fmt.Errorf("indexed %v of %d events", n, total)
		}
		return nil
	})

	// Every customer changes: three partitions fan out at once, one chunk at a time.
	close(armed)
	released := false
	release := func() {
		if !released {
			released = true
			close(hold)
		}
	}
	defer release()
	for _, c := range customers {
		s.produce(t, custEvent(events.CustomerUpdated, c, 2, "After", "FR"))
	}
	queued := func() int {
		return log.count(func(ev schedEvent) bool { return ev.fanout && ev.op == "request" }) -
			log.count(func(ev schedEvent) bool { return ev.fanout && ev.op == "grant" })
	}
	select {
	case <-held:
	case <-time.After(60 * time.Second):
		t.Fatal("no fan-out chunk started")
	}
	eventually(t, 60*time.Second, func() error {
		if q := queued(); q < len(customers)-1 {
			return fmt.Errorf("%d chunks queued, want %d", q, len(customers)-1)
		}
		return nil
	})
	mark := len(log.snapshot())

	// An unrelated order arrives: its document is written while the chunk is held.
	s.produce(t, orderEvent(events.OrderCreated, "unrelated", 1, "nobody", "2"))
	eventually(t, 30*time.Second, func() error {
		st, err := ix.state.getOrders(ctx, []string{"unrelated"})
		if err != nil {
			return err
		}
		if st["unrelated"] == nil {
			return errNotYet
		}
		all, err := docs(ctx, s.es, "orders_v1")
		if err != nil {
			return err
		}
		if all["unrelated"] == nil {
			return errNotYet
		}
		return nil
	})
	after := log.snapshot()[mark:]
	if i := slices.IndexFunc(after, func(ev schedEvent) bool { return ev.fanout && ev.op == "grant" }); i >= 0 {
		t.Errorf("a fan-out chunk was granted before the order batch was written: %+v", after)
	}
	if q := queued(); q < len(customers)-1 {
		t.Errorf("got %d chunks queued while the order was written, want %d", q, len(customers)-1)
	}

	// The held chunk goes on; every fan-out finishes.
	release()
	eventually(t, 60*time.Second, func() error {
		all, err := docs(ctx, s.es, "orders_v1")
		if err != nil {
			return err
		}
		for _, c := range customers {
			for i := range perCustomer {
				id := fmt.Sprintf("%s-o%03d", c, i)
				if err := expectDoc(all[id], map[string]any{"customer_name": "After", "customer_version": 2}); err != nil {
					return fmt.Errorf("%s: %w", id, err)
				}
			}
		}
		return nil
	})
	r.stop(t)
}
