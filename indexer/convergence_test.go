package indexer

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/outbox"
	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/mappings"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

var (
	seedFlag = flag.Uint64("seed", 0, "seed of the randomized convergence test (0: random)")
	longFlag = flag.Bool("convergence.long", false, "run the long convergence test (thousands of operations)")
)

// sources are both services running in-process on their own PostgreSQL databases, publishing
// to the test's broker.
type sources struct {
	customers *customers.Client
	orders    *orders.Client
}

func startSources(t *testing.T, ctx context.Context, brokers []string) sources {
	t.Helper()
	kc := kafkaconfig.Config{Brokers: brokers}
	relay := outbox.Config{PollInterval: 100 * time.Millisecond}
	cs, err := customers.New(ctx, customers.Config{DatabaseURL: testenv.NewDatabase(t, "conv_customers"), Kafka: kc, Relay: relay})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cs.Close)
	csrv := httptest.NewServer(cs.Handler())
	t.Cleanup(csrv.Close)
	osvc, err := orders.New(ctx, orders.Config{DatabaseURL: testenv.NewDatabase(t, "conv_orders"), CustomersURL: csrv.URL, Kafka: kc, Relay: relay})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(osvc.Close)
	osrv := httptest.NewServer(osvc.Handler())
	t.Cleanup(osrv.Close)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { _ = cs.RunRelay(rctx); done <- struct{}{} }()
	go func() { _ = osvc.RunRelay(rctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return sources{customers: customers.NewClient(csrv.URL, "", nil), orders: orders.NewClient(osrv.URL, "", nil)}
}

// TestConvergence is the randomized model-based test of the indexer: it drives both services
// with creates, updates, moves and deletes, re-produces old events (duplicates, reordering),
// runs two indexer instances and kills and restarts them at random; once everything is quiet,
// every document must equal the join computed from the source databases, field by field.
//
// Replay a failure with -seed=N; -convergence.long (or CHAOS=long, make chaos) runs thousands
// of operations.
func TestConvergence(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay: go test ./indexer -run TestConvergence -seed=%d)", seed, seed)
	ops := 800
	if testing.Short() {
		ops = 300
	}
	if *longFlag || os.Getenv("CHAOS") == "long" { // make chaos
		ops = 6000
	}
	rng := rand.New(rand.NewPCG(seed, seed>>1|1))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	s := newStack(t)
	src := startSources(t, ctx, s.brokers)
	tap := startTap(t, s.brokers, events.TopicCustomers, events.TopicOrders)

	// Indexer fleet: two instances at all times, except right after a kill.
	var fleet []*running
	next := 0
	spawn := func() {
		next++
		cfg := s.config(fmt.Sprintf("i%d", next), t)
		cfg.BulkSize = 1 + rng.IntN(100)
		cfg.FanoutChunk = 1 + rng.IntN(30)
		cfg.Workers = 1 + rng.IntN(3)
		// Derived from the draws above rather than drawn, so that seeds keep replaying the same
		// operations: one or two fan-out chunks at a time, max waits of 1-30 ms (short enough
		// that the chunks racing batches start forced as well as in gaps).
		cfg.FanoutWorkers = 1 + cfg.BulkSize%2
		cfg.FanoutMaxWait = time.Duration(cfg.FanoutChunk) * time.Millisecond
		// Rechecks are rare in production (slow writes only); make every created document
		// take that path in some instances so it is exercised too.
		r := s.start(t, cfg)
		if rng.IntN(2) == 0 {
			r.ix.recheckAfter = 0
		}
		fleet = append(fleet, r)
	}
	spawn()
	spawn()

	// deleted holds each deleted customer's last snapshot (with the delete's version): the
	// customers database forgets them, the documents of their orders must not.
	deleted := map[string]events.Customer{}
	var liveCustomers []string
	var liveOrders []string
	pick := func(ids []string) string { return ids[rng.IntN(len(ids))] }
	remove := func(ids []string, id string) []string {
		for i, x := range ids {
			if x == id {
				return append(ids[:i], ids[i+1:]...)
			}
		}
		return ids
	}
	countries := []string{"DE", "FR", "GB", "US", "JP", "BR"}
	statuses := []string{"draft", "placed", "paid", "shipped", "cancelled"}
	total := func() string { return fmt.Sprintf("%d.%02d", rng.IntN(100000), rng.IntN(100)) }
	stats := map[string]int{}
	spent := map[string]time.Duration{}
	workStart := time.Now()
	for i := 0; i < ops; i++ {
		op := rng.IntN(100)
		opStart := time.Now()
		var kind string
		var err error
		switch {
		case op < 12 || len(liveCustomers) < 3:
			var c customers.Customer
			c, err = src.customers.Create(ctx, customers.CreateInput{Name: fmt.Sprintf("Customer %d", i), Email: fmt.Sprintf("c%d@example.com", i), Country: countries[rng.IntN(len(countries))]})
			if err == nil {
				liveCustomers = append(liveCustomers, c.ID)
			}
			kind = "customer.create"
		case op < 30:
			name := fmt.Sprintf("Renamed %d", i)
			country := countries[rng.IntN(len(countries))]
			_, err = src.customers.Update(ctx, pick(liveCustomers), 0, customers.PatchInput{Name: &name, Country: &country})
			kind = "customer.update"
		case op < 33:
			id := pick(liveCustomers)
			var c customers.Customer
			if c, err = src.customers.Get(ctx, id); err == nil {
				if err = src.customers.Delete(ctx, id, c.Version); err == nil {
					c.Version++
					deleted[id] = c
					liveCustomers = remove(liveCustomers, id)
				}
			}
			kind = "customer.delete"
		case op < 60 || len(liveOrders) == 0:
			var o orders.Order
			o, err = src.orders.Create(ctx, orders.CreateInput{CustomerID: pick(liveCustomers), Status: statuses[rng.IntN(4)], Total: total(), Currency: "EUR"})
			if err == nil {
				liveOrders = append(liveOrders, o.ID)
			}
			kind = "order.create"
		case op < 75:
			st, tot := statuses[rng.IntN(len(statuses))], total()
			_, err = src.orders.Update(ctx, pick(liveOrders), 0, orders.PatchInput{Status: &st, Total: &tot})
			kind = "order.update"
		case op < 85:
			c := pick(liveCustomers)
			_, err = src.orders.Update(ctx, pick(liveOrders), 0, orders.PatchInput{CustomerID: &c})
			kind = "order.move"
		case op < 88:
			// A customer change and an order moving to that customer at the same moment: the
			// interleaving the fan-out protocol is about.
			c, o := pick(liveCustomers), pick(liveOrders)
			name := fmt.Sprintf("Raced %d", i)
			errc := make(chan error, 1)
			go func() {
				_, err := src.customers.Update(ctx, c, 0, customers.PatchInput{Name: &name})
				errc <- err
			}()
			_, err = src.orders.Update(ctx, o, 0, orders.PatchInput{CustomerID: &c})
			if cerr := <-errc; err == nil {
				err = cerr
			}
			kind = "race"
		case op < 91:
			id := pick(liveOrders)
			if err = src.orders.Delete(ctx, id, 0); err == nil {
				liveOrders = remove(liveOrders, id)
			}
			kind = "order.delete"
		case op < 97:
			// Duplicates and reordering: old events delivered again, after newer ones.
			old := tap.snapshot()
			if len(old) > 0 {
				var msgs []*sarama.ProducerMessage
				for range 1 + rng.IntN(20) {
					m := old[rng.IntN(len(old))]
					msgs = append(msgs, &sarama.ProducerMessage{Topic: m.Topic, Key: sarama.ByteEncoder(m.Key), Value: sarama.ByteEncoder(m.Value)})
				}
				if err := s.prod.SendMessages(msgs); err != nil {
					t.Fatal(err)
				}
				stats["replayed"] += len(msgs)
			}
			kind = "replay"
		default:
			// Kill a random instance (mid-batch, mid-fan-out, whatever it is doing) and
			// start a replacement.
			k := rng.IntN(len(fleet))
			fleet[k].stop(t)
			fleet = append(fleet[:k], fleet[k+1:]...)
			spawn()
			kind = "kill"
		}
		stats[kind]++
		spent[kind] += time.Since(opStart)
		if err != nil {
			// The services refuse some random changes (e.g. a status transition); that is
			// their business, the join is computed from what they hold.
			stats["refused"]++
		}
	}
	t.Logf("operations: %v in %v; time per kind %v", stats, time.Since(workStart).Round(time.Millisecond), spent)
	convergeStart := time.Now()
	defer func() {
		t.Logf("converged %v after the last operation", time.Since(convergeStart).Round(time.Millisecond))
	}()

	live, err := mappings.Load("orders_v1")
	if err != nil {
		t.Fatal(err)
	}
	var lastDiff string
	deadline := time.Now().Add(3 * time.Minute)
	for {
		diff, err := compareWithSources(ctx, t, s, src, deleted, live.Fields)
		if err != nil {
			t.Fatal(err)
		}
		if diff == "" {
			break
		}
		lastDiff = diff
		if time.Now().After(deadline) {
			t.Fatalf("seed %d: the index did not converge to the join of the sources:\n%s", seed, lastDiff)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var conflicts float64
	for _, r := range fleet {
		conflicts += metricValue(t, r.ix, "ordertable_indexer_version_conflicts_total", nil)
	}
	t.Logf("converged: %d live orders, %d live customers, %d deleted customers; conflicts seen by the last instances: %v",
		len(liveOrders), len(liveCustomers), len(deleted), conflicts)
}

// compareWithSources returns "" when the live index equals the join of the two source
// databases, or a description of the first differences.
func compareWithSources(ctx context.Context, t *testing.T, s *stack, src sources, deleted map[string]events.Customer, fields mappings.FieldSet) (string, error) {
	custs := map[string]events.Customer{}
	if err := src.customers.Each(ctx, 500, func(page []customers.Customer) error {
		for _, c := range page {
			custs[c.ID] = c
		}
		return nil
	}); err != nil {
		return "", err
	}
	want := map[string]events.Order{}
	if err := src.orders.Each(ctx, 500, func(page []orders.Order) error {
		for _, o := range page {
			want[o.ID] = o
		}
		return nil
	}); err != nil {
		return "", err
	}
	got, err := docs(ctx, s.es, "orders_v1")
	if err != nil {
		return "", err
	}
	var diffs []string
	for id, o := range want {
		d, ok := got[id]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("order %s (v%d): no document", id, o.Version))
			continue
		}
		c, live := custs[o.CustomerID]
		if !live {
			var ok bool
			if c, ok = deleted[o.CustomerID]; !ok {
				t.Fatalf("order %s references customer %s that neither exists nor was deleted by the test", id, o.CustomerID)
			}
		}
		for _, problem := range diffDoc(d, o, c, !live, fields) {
			diffs = append(diffs, fmt.Sprintf("order %s: %s", id, problem))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("order %s: document of a deleted order (%v)", id, got[id]["order_version"]))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 15 {
		diffs = append(diffs[:15], fmt.Sprintf("... and %d more", len(diffs)-15))
	}
	return strings.Join(diffs, "\n"), nil
}

// diffDoc compares one document with the expected join, field by field, computed here
// independently of BuildDocument.
func diffDoc(d map[string]any, o events.Order, c events.Customer, customerDeleted bool, fields mappings.FieldSet) []string {
	var out []string
	str := func(field, want string) {
		if got, _ := d[field].(string); got != want {
			out = append(out, fmt.Sprintf("%s: got %q, want %q", field, d[field], want))
		}
	}
	num := func(field string, want float64) {
		if got, ok := d[field].(float64); !ok || got != want {
			out = append(out, fmt.Sprintf("%s: got %v, want %v", field, d[field], want))
		}
	}
	tm := func(field string, want *time.Time) {
		raw, ok := d[field].(string)
		if want == nil {
			if ok {
				out = append(out, fmt.Sprintf("%s: got %q, want none", field, raw))
			}
			return
		}
		got, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil || !got.Equal(*want) {
			out = append(out, fmt.Sprintf("%s: got %q, want %s", field, raw, want.UTC().Format(time.RFC3339Nano)))
		}
	}
	str("order_id", o.ID)
	str("order_number", o.OrderNumber)
	str("status", o.Status)
	str("currency", o.Currency)
	str("customer_id", o.CustomerID)
	str("customer_name", c.Name)
	wantTotal, _ := strconv.ParseFloat(o.Total, 64)
	num("total", wantTotal)
	num("order_version", float64(o.Version))
	num("customer_version", float64(c.Version))
	tm("placed_at", o.PlacedAt)
	tm("updated_at", &o.UpdatedAt)
	if got, ok := d["customer_deleted"].(bool); !ok || got != customerDeleted {
		out = append(out, fmt.Sprintf("customer_deleted: got %v, want %v", d["customer_deleted"], customerDeleted))
	}
	if _, ok := d["indexed_at"].(string); !ok {
		out = append(out, "indexed_at missing")
	}
	for k := range d {
		if !fields.Has(k) {
			out = append(out, fmt.Sprintf("field %s is not in the index's mapping", k))
		}
	}
	return out
}
