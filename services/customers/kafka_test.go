package customers_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/kafkaembed"
	"github.com/ordertable/ordertable/internal/outbox"
	"github.com/ordertable/ordertable/internal/outbox/outboxtest"
	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/services/customers"
)

// End to end through Serve: API changes arrive in Kafka as snapshots equal to the API's
// answers; with the broker down writes still succeed and their events arrive once it is back.
func TestEventsReachKafka(t *testing.T) {
	dir := t.TempDir()
	b := testenv.EmbeddedKafka(t, dir)
	addr := b.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := customers.New(ctx, customers.Config{DatabaseURL: testenv.NewDatabase(t, "ckafka"),
		Kafka: kafkaconfig.Config{Brokers: []string{addr}}, Relay: outbox.Config{PollInterval: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- svc.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		svc.Close()
	})
	cl := customers.NewClient("http://"+ln.Addr().String(), "", nil)

	latest := map[string]customers.Customer{}
	for _, in := range []customers.CreateInput{
		{Name: "Ada", Email: "ada@example.com", Country: "GB"},
		{Name: "Grace", Email: "grace@example.com", Country: "US"},
		{Name: "Hedy", Email: "hedy@example.com", Country: "AT"},
	} {
		c, err := cl.Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		latest[c.ID] = c
	}
	entities := map[string]bool{}
	want := map[string]int64{}
	var ids []string
	for id, c := range latest {
		entities[id] = true
		want[id] = c.Version
		ids = append(ids, id)
	}
	name := "Ada King"
	up, err := cl.Update(ctx, ids[0], 1, customers.PatchInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	latest[up.ID], want[up.ID] = up, up.Version
	if err := cl.Delete(ctx, ids[1], 0); err != nil {
		t.Fatal(err)
	}
	want[ids[1]] = 2
	cons := outboxtest.Consume(t, []string{addr}, events.TopicCustomers, entities)
	cons.WaitForVersions(t, want, 30*time.Second)
	for _, id := range []string{ids[0], ids[2]} {
		evs := cons.Events(id)
		got := evs[len(evs)-1]
		if *got.Customer != latest[id] {
			t.Fatalf("snapshot in Kafka %+v, want the API's %+v", *got.Customer, latest[id])
		}
	}
	if evs := cons.Events(ids[1]); evs[len(evs)-1].Type != events.CustomerDeleted {
		t.Fatalf("last event of the deleted customer is %s, want %s", evs[len(evs)-1].Type, events.CustomerDeleted)
	}

	// Broker down: writes succeed.
	b.Close()
	for i := range 20 {
		n := name + string(rune('a'+i))
		c, err := cl.Update(ctx, ids[2], 0, customers.PatchInput{Name: &n})
		if err != nil {
			t.Fatalf("write with Kafka down: %v", err)
		}
		want[ids[2]] = c.Version
		latest[ids[2]] = c
	}
	var b2 *kafkaembed.Broker
	deadline := time.Now().Add(10 * time.Second)
	for b2 == nil {
		b2, err = kafkaembed.Start(kafkaembed.Config{Listen: addr, DataDir: dir, Topics: []string{events.TopicCustomers}})
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("restart broker: %v", err)
			}
			time.Sleep(100 * time.Millisecond) // the port may linger briefly
		}
	}
	t.Cleanup(b2.Close)
	cons2 := outboxtest.Consume(t, []string{addr}, events.TopicCustomers, entities)
	cons2.WaitForVersions(t, want, 60*time.Second)
	cons2.Check(t, nil)
	evs := cons2.Events(ids[2])
	if *evs[len(evs)-1].Customer != latest[ids[2]] {
		t.Fatalf("after the outage Kafka's last snapshot is %+v, want %+v", *evs[len(evs)-1].Customer, latest[ids[2]])
	}
}
