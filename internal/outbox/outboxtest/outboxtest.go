// Package outboxtest helps tests observe what the outbox relay published: a consumer that
// reads a topic from the start and checks delivery (every committed event, nothing rolled
// back, per-entity version order).
package outboxtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
)

// Consumer reads a topic from the beginning and keeps the events of the given entities, per
// entity in arrival order.
type Consumer struct {
	mu   sync.Mutex
	byID map[string][]events.Event
	seen map[string]int // event id -> times
	want map[string]bool
	errs []error
}

// Consume starts reading topic (waiting for it to exist) until the test ends.
func Consume(t testing.TB, brokers []string, topic string, entities map[string]bool) *Consumer {
	t.Helper()
	cfg, err := kafkaconfig.Config{Brokers: brokers}.Sarama()
	if err != nil {
		t.Fatal(err)
	}
	c := &Consumer{byID: map[string][]events.Event{}, seen: map[string]int{}, want: entities}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() {
		// The topic may not exist until the relay creates it; retry until it does.
		var cons sarama.Consumer
		var parts []int32
		for ctx.Err() == nil {
			var err error
			if cons, err = sarama.NewConsumer(brokers, cfg); err == nil {
				if parts, err = cons.Partitions(topic); err == nil && len(parts) > 0 {
					break
				}
				cons.Close()
				cons = nil
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		if cons == nil {
			return
		}
		defer cons.Close()
		var pwg sync.WaitGroup
		for _, p := range parts {
			pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
			if err != nil {
				c.mu.Lock()
				c.errs = append(c.errs, err)
				c.mu.Unlock()
				continue
			}
			pwg.Go(func() {
				defer pc.Close()
				for {
					select {
					case <-ctx.Done():
						return
					case m := <-pc.Messages():
						c.add(m)
					}
				}
			})
		}
		pwg.Wait()
	})
	return c
}

func (c *Consumer) add(m *sarama.ConsumerMessage) {
	e, err := events.Decode(m.Value)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.errs = append(c.errs, err)
		return
	}
	if !c.want[e.EntityID] {
		return
	}
	if string(m.Key) != e.EntityID {
		c.errs = append(c.errs, fmt.Errorf("key %q != entity %q", m.Key, e.EntityID))
	}
	c.byID[e.EntityID] = append(c.byID[e.EntityID], e)
	c.seen[e.ID]++
}

// WaitFor polls until every event id in ids has arrived, or fails after timeout.
func (c *Consumer) WaitFor(t testing.TB, ids map[string]bool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		missing := 0
		for id := range ids {
			if c.seen[id] == 0 {
				missing++
			}
		}
		errs := c.errs
		c.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("consumer: %v", errors.Join(errs...))
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d committed events never reached Kafka", missing, len(ids))
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not a wait for a result
	}
}

// Check asserts: no rolled-back event arrived, and each entity's events arrived in version
// order. A redelivery (at-least-once) may repeat already-delivered versions, but a version
// never arrives before all lower ones did, so "newest version wins" consumers end right.
func (c *Consumer) Check(t testing.TB, rolledBack map[string]bool) (events, dups int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, n := range c.seen {
		if rolledBack[id] {
			t.Fatalf("event %s of a rolled-back transaction reached Kafka", id)
		}
		events += n
		dups += n - 1
	}
	for id, evs := range c.byID {
		var maxV int64
		delivered := map[string]bool{}
		for _, e := range evs {
			switch {
			case e.Version == maxV+1:
				maxV = e.Version
			case e.Version <= maxV && delivered[e.ID]:
				// a redelivered event
			default:
				vs := make([]int64, len(evs))
				for j, e := range evs {
					vs[j] = e.Version
				}
				t.Fatalf("entity %s: versions arrived as %v; version %d came out of order", id, vs, e.Version)
			}
			delivered[e.ID] = true
		}
	}
	return events, dups
}

// Distinct returns how many distinct events arrived.
func (c *Consumer) Distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// Events returns the events of one entity in arrival order.
func (c *Consumer) Events(entity string) []events.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]events.Event(nil), c.byID[entity]...)
}

// WaitForVersions polls until, for every entity in want, an event with that version arrived.
func (c *Consumer) WaitForVersions(t testing.TB, want map[string]int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		missing := 0
		for id, v := range want {
			found := false
			for _, e := range c.byID[id] {
				if e.Version == v {
					found = true
					break
				}
			}
			if !found {
				missing++
			}
		}
		errs := c.errs
		c.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("consumer: %v", errors.Join(errs...))
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d entities never reached their expected version in Kafka", missing, len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
