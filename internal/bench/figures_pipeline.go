package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"

	"github.com/ordertable/ordertable/internal/bench/stack"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/services/customers"
)

func customerRename(name string) customers.PatchInput { return customers.PatchInput{Name: &name} }

// Indexer settings of the bench; freshness targets are derived from them.
const (
	benchFlushInterval   = 100 * time.Millisecond
	benchRefreshInterval = time.Second // orders_v1.json's refresh_interval
	benchIndexerID       = "bench-ix"
)

// indexer makes sure one indexer instance runs and has caught up with every order created so
// far through the API.
func (r *run) indexer(ctx context.Context) (*stack.Stack, error) {
	st, err := r.system(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	first := !r.ixEnabled
	r.ixEnabled = true
	r.mu.Unlock()
	if first {
		st.EnableIndexers(stack.IndexerOptions{FlushInterval: benchFlushInterval})
	}
	if err := st.StartIndexer(benchIndexerID); err != nil {
		return nil, err
	}
	return st, nil
}

// liveOrders counts the orders in the sources (one keyset walk of ids).
func liveOrders(ctx context.Context, st *stack.Stack) (int, error) {
	n := 0
	err := st.Orders.Each(ctx, 1000, func(page []events.Order) error {
		n += len(page)
		return nil
	})
	return n, err
}

// waitIndexed waits until the live index holds want documents.
func (r *run) waitIndexed(ctx context.Context, want int, timeout time.Duration) error {
	return waitFor(ctx, timeout, 50*time.Millisecond, fmt.Sprintf("index holds %d orders", want), func(ctx context.Context) (bool, error) {
		n, err := r.es.count(ctx, "orders")
		return n >= want, err
	})
}

// pipelineFigures measures figure 3: events/s from Kafka into the index by one indexer, ÷ the
// raw engine's bulk docs/s (goal ≥ 0.7). The order events are produced straight into Kafka
// while the indexer is stopped; the clock runs from the indexer's first processed event (its
// events metric, so the consumer-group join is not counted) until every document is
// searchable, like the engine figure's clock.
func (r *run) pipelineFigures(ctx context.Context) ([]Figure, error) {
	st, err := r.indexer(ctx)
	if err != nil {
		return nil, err
	}
	custs, err := r.customers(ctx)
	if err != nil {
		return nil, err
	}
	base, err := liveOrders(ctx, st)
	if err != nil {
		return nil, err
	}
	r.progress("pipeline: waiting for the indexer to catch up with %d orders", base)
	if err := r.waitIndexed(ctx, base, 3*time.Minute); err != nil {
		return nil, err
	}
	st.KillIndexer(benchIndexerID)
	r.mu.Lock()
	m := budgeted(r.sizes.PipelineEvents, r.rawDocsS, r.sizes.Budget, 500)
	r.mu.Unlock()
	r.progress("pipeline: producing %d order events into Kafka with the indexer stopped", m)
	if err := produceOrders(ctx, st.Brokers, custs, m, r.cfg.Seed+3); err != nil {
		return nil, err
	}
	if err := st.StartIndexer(benchIndexerID); err != nil {
		return nil, err
	}
	var first time.Time
	err = waitFor(ctx, 10*time.Minute, 10*time.Millisecond, "indexer starts consuming the backlog", func(ctx context.Context) (bool, error) {
		k, err := st.IndexerEvents(benchIndexerID)
		if k > 0 {
			first = time.Now()
		}
		return k > 0, err
	})
	if err != nil {
		return nil, err
	}
	if err := r.waitIndexed(ctx, base+m, 10*time.Minute); err != nil {
		return nil, err
	}
	// The first poll that saw progress came up to one batch late; count from the batch before.
	elapsed := time.Since(first) + benchFlushInterval
	got := rate(m, elapsed)
	r.mu.Lock()
	raw := r.rawDocsS
	r.pipelineRate = got
	r.mu.Unlock()
	f := ratioOf("pipeline", "pipeline.indexer_events_per_s", got, "events/s", raw, "raw engine bulk docs/s", AtLeast(0.7))
	f.BaselineUnit = "docs/s"
	f.Note = fmt.Sprintf("%d order.created events consumed by 1 indexer (flush %s, 4 workers), first processed → all searchable", m, benchFlushInterval)
	if raw == 0 {
		f.Note += "; no ratio: the engine figure did not run"
	}
	return []Figure{f}, nil
}

// produceOrders writes n order.created events for existing customers straight into Kafka.
func produceOrders(ctx context.Context, brokers []string, custs []customers.Customer, n int, seed uint64) error {
	kc := kafkaconfig.Config{Brokers: brokers, ClientID: "bench"}
	sc, err := kc.Producer()
	if err != nil {
		return err
	}
	p, err := sarama.NewSyncProducer(brokers, sc)
	if err != nil {
		return fmt.Errorf("bench producer: %w", err)
	}
	defer p.Close()
	g := newDocGen(seed, len(custs))
	now := time.Now().UTC()
	batch := make([]*sarama.ProducerMessage, 0, 1000)
	for i := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, _ := g.order(i)
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		o.ID = id.String()
		o.OrderNumber = fmt.Sprintf("PO-B%d-%07d", seed%1000, i)
		o.CustomerID = custs[i%len(custs)].ID
		o.CreatedAt, o.UpdatedAt = now, now
		b, err := events.Encode(events.Event{ID: uuid.Must(uuid.NewV7()).String(), Type: events.OrderCreated, Time: now,
			EntityID: o.ID, Version: 1, Order: &o})
		if err != nil {
			return err
		}
		batch = append(batch, &sarama.ProducerMessage{Topic: events.TopicOrders, Key: sarama.StringEncoder(o.ID), Value: sarama.ByteEncoder(b)})
		if len(batch) == cap(batch) || i == n-1 {
			if err := p.SendMessages(batch); err != nil {
				return fmt.Errorf("bench producer: %w", err)
			}
			batch = batch[:0]
		}
	}
	return nil
}

// visibility measures commit → searchable for orders as they are created: a poller asks the
// engine (through the live alias) which pending ids are searchable now.
type visibility struct {
	es      esConn
	mu      sync.Mutex
	pending map[string]time.Time
	lat     latencies
	errs    int
}

func newVisibility(es esConn) *visibility {
	return &visibility{es: es, pending: map[string]time.Time{}}
}

func (v *visibility) add(c created) {
	v.mu.Lock()
	v.pending[c.ID] = c.At
	v.mu.Unlock()
}

func (v *visibility) left() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.pending)
}

// poll runs until ctx ends, checking every interval.
func (v *visibility) poll(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v.mu.Lock()
		ids := make([]string, 0, len(v.pending))
		for id := range v.pending {
			ids = append(ids, id)
			if len(ids) == 2000 {
				break
			}
		}
		v.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		var res struct {
			Hits struct {
				Hits []struct {
					ID string `json:"_id"`
				} `json:"hits"`
			} `json:"hits"`
		}
		body := map[string]any{"size": len(ids), "_source": false, "query": map[string]any{"ids": map[string]any{"values": ids}}}
		if err := v.es.do(ctx, http.MethodPost, "/orders/_search", body, &res); err != nil {
			v.mu.Lock()
			v.errs++
			v.mu.Unlock()
			continue
		}
		now := time.Now()
		v.mu.Lock()
		for _, h := range res.Hits.Hits {
			if at, ok := v.pending[h.ID]; ok {
				v.lat.add(now.Sub(at))
				delete(v.pending, h.ID)
			}
		}
		v.mu.Unlock()
	}
}

// measureFreshness creates n orders at perSec through the API and returns their
// commit-to-searchable latencies.
func (r *run) measureFreshness(ctx context.Context, st *stack.Stack, n int, perSec float64, seed uint64) (*latencies, error) {
	custs, err := r.customers(ctx)
	if err != nil {
		return nil, err
	}
	v := newVisibility(r.es)
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	go v.poll(pctx, 20*time.Millisecond)
	if _, err := createOrdersNotify(ctx, st, custs, n, 8, perSec, seed, &r.retried, v.add); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, 2*time.Minute, 50*time.Millisecond, "created orders become searchable", func(context.Context) (bool, error) {
		return v.left() == 0, nil
	}); err != nil {
		return nil, err
	}
	return &v.lat, nil
}

// freshnessFigures measures figure 4: commit → searchable p50/p99 at half the maximum rate,
// against flush interval + refresh interval (goal p99 ≤ 2 ×).
func (r *run) freshnessFigures(ctx context.Context) ([]Figure, error) {
	st, err := r.indexer(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	maxRate := r.apiRate
	if r.pipelineRate > 0 && r.pipelineRate < maxRate {
		maxRate = r.pipelineRate
	}
	r.mu.Unlock()
	if maxRate == 0 {
		return nil, errors.New("no maximum rate: the write figure did not run")
	}
	half := maxRate / 2
	n := max(int(half*r.sizes.FreshnessFor.Seconds()), 50)
	r.progress("freshness: %d orders at %.0f/s (half of %.0f/s)", n, half, maxRate)
	lat, err := r.measureFreshness(ctx, st, n, half, r.cfg.Seed+4)
	if err != nil {
		return nil, err
	}
	bound := benchFlushInterval + benchRefreshInterval
	p50 := plain("freshness", "freshness.p50", ms(lat.percentile(50)), "ms", nil)
	p50.Note = fmt.Sprintf("%d orders at %.0f/s, API create returned → found by search", n, half)
	p99 := ratioOf("freshness", "freshness.p99", ms(lat.percentile(99)), "ms", ms(bound), "flush interval + refresh interval", AtMost(2))
	r.mu.Lock()
	r.freshP99 = lat.percentile(99)
	r.mu.Unlock()
	return []Figure{p50, p99}, nil
}

// fanoutFigures measures figure 5: a customer with FanoutOrders orders is renamed; time until
// every one of its documents shows the new name (baseline: the raw engine's time to write as
// many documents), and the freshness p99 of unrelated orders created meanwhile (baseline: the
// freshness p99 without fan-out).
func (r *run) fanoutFigures(ctx context.Context) ([]Figure, error) {
	st, err := r.indexer(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	n := budgeted(r.sizes.FanoutOrders, r.apiRate, r.sizes.Budget, 200)
	r.mu.Unlock()
	c, err := seedCustomers(ctx, st, 1, 1, r.cfg.Seed+5, &r.retried)
	if err != nil {
		return nil, err
	}
	big := c[0]
	r.progress("fanout: creating %d orders of one customer", n)
	if _, err := createOrders(ctx, st, c, n, 16, 0, r.cfg.Seed+6, &r.retried); err != nil {
		return nil, err
	}
	countWith := func(ctx context.Context, name string) (int, error) {
		filter := []any{map[string]any{"term": map[string]any{"customer_id": big.ID}}}
		if name != "" {
			filter = append(filter, map[string]any{"term": map[string]any{"customer_name.keyword": name}})
		}
		q := map[string]any{"query": map[string]any{"bool": map[string]any{"filter": filter}}}
		var res struct {
			Count int `json:"count"`
		}
		err := r.es.do(ctx, http.MethodPost, "/orders/_count", q, &res)
		return res.Count, err
	}
	// Only the orders' presence is awaited: orders indexed before their customer's first event
	// may lack the name until a customer event reaches them, and the rename below is one.
	if err := waitFor(ctx, 5*time.Minute, 100*time.Millisecond, "the customer's orders are indexed", func(ctx context.Context) (bool, error) {
		k, err := countWith(ctx, "")
		return k >= n, err
	}); err != nil {
		return nil, err
	}
	custs, err := r.customers(ctx)
	if err != nil {
		return nil, err
	}
	newName := big.Name + " (renamed)"
	r.progress("fanout: renaming the customer; unrelated orders keep flowing")
	v := newVisibility(r.es)
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	go v.poll(pctx, 20*time.Millisecond)
	r.mu.Lock()
	side := max(r.apiRate/4, 5)
	r.mu.Unlock()
	sideDone := make(chan error, 1)
	sideCtx, stopSide := context.WithCancel(ctx)
	defer stopSide()
	go func() {
		_, err := createOrdersNotify(sideCtx, st, custs, 1_000_000, 4, side, r.cfg.Seed+7, &r.retried, v.add)
		sideDone <- err
	}()
	t0 := time.Now()
	if _, err := st.Customers.Update(ctx, big.ID, 0, customerRename(newName)); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, 10*time.Minute, 50*time.Millisecond, "every order shows the new name", func(ctx context.Context) (bool, error) {
		k, err := countWith(ctx, newName)
		return k >= n, err
	}); err != nil {
		return nil, err
	}
	took := time.Since(t0)
	stopSide()
	<-sideDone
	_ = waitFor(ctx, time.Minute, 50*time.Millisecond, "side orders searchable", func(context.Context) (bool, error) { return v.left() == 0, nil })
	r.mu.Lock()
	raw, fresh := r.rawDocsS, r.freshP99
	r.mu.Unlock()
	rawTime := 0.0
	if raw > 0 {
		rawTime = float64(n) / raw
	}
	f := ratioOf("fanout", "fanout.rename_orders", took.Seconds(), "s", rawTime, fmt.Sprintf("raw engine writing %d docs", n), nil)
	f.Note = fmt.Sprintf("customer with %d orders renamed → all %d documents show it", n, n)
	u := ratioOf("fanout", "fanout.unrelated_freshness_p99", ms(v.lat.percentile(99)), "ms", ms(fresh), "freshness p99 without fan-out", nil)
	u.Note = fmt.Sprintf("%d unrelated orders created at %.0f/s during the fan-out", v.lat.count(), side)
	return []Figure{f, u}, nil
}
