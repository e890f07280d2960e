package reindex

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

// stack is the real system for one test: both source services on their own PostgreSQL
// databases with their outbox relays, a broker, the engine and indexer instances, all in
// process and talking over TCP. It uses the contract's fixed names (orders, orders_targets,
// ordertable-jobs), so it needs an engine and broker of its own: the embedded ones unless
// ES_URL / KAFKA_BROKERS point to dedicated ones.
type stack struct {
	t          testing.TB
	esURL      string
	client     *esindex.Client
	kafka      kafkaconfig.Config
	group      string
	customers  *customers.Client
	orders     *orders.Client
	custURL    string
	ordersURL  string
	v1, v2     *Mapping
	mu         sync.Mutex
	indexers   []*runningIndexer
	customerID []string
}

type runningIndexer struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func newStack(t testing.TB) *stack {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL, the broker and the engine; skipped with -short")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &stack{t: t, esURL: testenv.ESURL(t), kafka: kafkaconfig.Config{Brokers: testenv.KafkaBrokers(t)}, group: testenv.UniqueName("indexer")}
	var err error
	if s.client, err = esindex.NewClient(esindex.Config{URLs: []string{s.esURL}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		s.stopIndexers()
		cancel()
		wg.Wait()
	})
	serve := func(name string, srv interface {
		Serve(context.Context, net.Listener) error
		Close()
	}) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, http.ErrServerClosed) && ctx.Err() == nil {
				t.Errorf("%s: %v", name, err)
			}
			srv.Close()
		})
		return "http://" + ln.Addr().String()
	}
	cs, err := customers.New(ctx, customers.Config{DatabaseURL: testenv.NewDatabase(t, "reindex_customers"), Kafka: s.kafka})
	if err != nil {
		t.Fatal(err)
	}
	s.custURL = serve("customers", cs)
	os, err := orders.New(ctx, orders.Config{DatabaseURL: testenv.NewDatabase(t, "reindex_orders"), CustomersURL: s.custURL, Kafka: s.kafka})
	if err != nil {
		t.Fatal(err)
	}
	s.ordersURL = serve("orders", os)
	s.customers = customers.NewClient(s.custURL, "", nil)
	s.orders = orders.NewClient(s.ordersURL, "", nil)
	if s.v1, err = LoadMapping("../mappings/orders_v1.json"); err != nil {
		t.Fatal(err)
	}
	if s.v2, err = LoadMapping("../mappings/orders_v2.json"); err != nil {
		t.Fatal(err)
	}
	return s
}

// startIndexer starts one more indexer instance in the group.
func (s *stack) startIndexer() *runningIndexer {
	s.t.Helper()
	ix, err := indexer.New(indexer.Config{Kafka: s.kafka, Group: s.group, ESClient: s.client, FlushInterval: 20 * time.Millisecond})
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ri := &runningIndexer{cancel: cancel, done: make(chan error, 1)}
	go func() { ri.done <- ix.Run(ctx) }()
	s.mu.Lock()
	s.indexers = append(s.indexers, ri)
	s.mu.Unlock()
	return ri
}

// stop ends an instance abruptly (its context), like a killed pod: unfinished batches are
// redelivered to the others.
func (ri *runningIndexer) stop() error {
	ri.once.Do(func() {
		ri.cancel()
		ri.err = <-ri.done
	})
	return ri.err
}

func (s *stack) stopIndexers() {
	s.mu.Lock()
	all := s.indexers
	s.indexers = nil
	s.mu.Unlock()
	for _, ri := range all {
		if err := ri.stop(); err != nil && !errors.Is(err, context.Canceled) {
			s.t.Errorf("indexer: %v", err)
		}
	}
}

func (s *stack) config(edit ...func(*Config)) Config {
	lag, err := NewKafkaLag(s.kafka, s.group, []string{events.TopicCustomers, events.TopicOrders})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = lag.Close() })
	cfg := Config{
		ES: s.client, Orders: s.orders, Customers: s.customers, Lag: lag, MaxLag: 0, LagTimeout: 2 * time.Minute,
		Slices: 8, Workers: 3, PageSize: 250, VerifyMode: "full", SettleTimeout: 20 * time.Second,
		LeaseTTL: 5 * time.Second, CheckpointEvery: 100 * time.Millisecond,
	}
	if testing.Verbose() {
		cfg.Logger = testLogger(s.t)
	}
	for _, e := range edit {
		e(&cfg)
	}
	return cfg
}

func (s *stack) reindexer(edit ...func(*Config)) *Reindexer {
	s.t.Helper()
	r, err := New(s.config(edit...))
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// seed creates customers and orders through the services' APIs.
func (s *stack) seed(ctx context.Context, rng *rand.Rand, nCustomers, nOrders int) {
	s.t.Helper()
	countries := []string{"DE", "FR", "US", "JP", "BR", "NL", "SE"}
	for i := range nCustomers {
		c, err := s.customers.Create(ctx, customers.CreateInput{Name: fmt.Sprintf("Customer %d", i), Email: fmt.Sprintf("c%d@example.com", i), Country: countries[rng.IntN(len(countries))]})
		if err != nil {
			s.t.Fatal(err)
		}
		s.customerID = append(s.customerID, c.ID)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	per := nOrders / 4
	for w := range 4 {
		seed := rng.Uint64()
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for range per {
				if _, err := s.orders.Create(ctx, orders.CreateInput{CustomerID: s.customerID[rng.IntN(len(s.customerID))], Status: "placed",
					Total: fmt.Sprintf("%d.%02d", rng.IntN(10000), rng.IntN(100)), Currency: "EUR"}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		s.t.Fatal(err)
	}
}

// writers change orders and customers through the APIs until stopped; they return how many
// changes they made.
func (s *stack) writers(ctx context.Context, rng *rand.Rand, n int, pause time.Duration) (stop func() int64) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var changes atomic.Int64
	for w := range n {
		seed := rng.Uint64()
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			var mine []string // orders this writer created (others' may be deleted under it)
			for ctx.Err() == nil {
				var err error
				switch k := rng.IntN(10); {
				case k < 3 || len(mine) < 5:
					var o orders.Order
					o, err = s.orders.Create(ctx, orders.CreateInput{CustomerID: s.customerID[rng.IntN(len(s.customerID))], Total: "1.00", Currency: "USD"})
					if err == nil {
						mine = append(mine, o.ID)
					}
				case k < 6:
					st := []string{"placed", "paid", "shipped"}[rng.IntN(3)]
					total := fmt.Sprintf("%d.%02d", rng.IntN(1000), rng.IntN(100))
					p := orders.PatchInput{Status: &st, Total: &total}
					if rng.IntN(4) == 0 {
						p.CustomerID = &s.customerID[rng.IntN(len(s.customerID))]
					}
					_, err = s.orders.Update(ctx, mine[rng.IntN(len(mine))], 0, p)
				case k < 9:
					i := rng.IntN(len(mine))
					err = s.orders.Delete(ctx, mine[i], 0)
					mine = slices.Delete(mine, i, i+1)
				default: // a customer change re-indexes every order of the customer
					name := fmt.Sprintf("Renamed %d", rng.IntN(1e6))
					country := []string{"DE", "FR", "US", "JP", "BR", "NL", "SE", "IT"}[rng.IntN(8)]
					_, err = s.customers.Update(ctx, s.customerID[rng.IntN(len(s.customerID))], 0, customers.PatchInput{Name: &name, Country: &country})
				}
				if err != nil && ctx.Err() == nil {
					s.t.Errorf("writer: %v", err)
					return
				}
				changes.Add(1)
				_ = sleepCtx(ctx, pause)
			}
		})
	}
	return func() int64 { cancel(); wg.Wait(); return changes.Load() }
}

// waitIndexed waits until the indexer group has no lag and its writes are searchable.
func (s *stack) waitIndexed(ctx context.Context, r *Reindexer) {
	s.t.Helper()
	saved := r.cfg.MaxLag
	r.cfg.MaxLag = 0
	defer func() { r.cfg.MaxLag = saved }()
	if _, err := r.waitLag(ctx); err != nil {
		s.t.Fatalf("indexer did not catch up: %v", err)
	}
	// Caught up means written, not searchable: the indexer's writes show in search after the
	// live index's next periodic refresh, which a loaded machine can delay by seconds.
	// Readers that start now must find the table, so publish it.
	if err := r.es.refresh(ctx, r.cfg.Alias); err != nil {
		s.t.Fatalf("refresh %s: %v", r.cfg.Alias, err)
	}
}

// verifyAll compares index with the source databases (through the services) field by field
// and returns the differences by id.
func (s *stack) verifyAll(ctx context.Context, r *Reindexer, index string) (map[string]Difference, *VerifyResult) {
	s.t.Helper()
	if err := r.es.refresh(ctx, index); err != nil {
		s.t.Fatal(err)
	}
	diffs := map[string]Difference{}
	res, err := r.Verify(ctx, VerifyOptions{Index: index, Mode: "full", Report: func(d Difference) { diffs[d.ID] = d }})
	if err != nil {
		s.t.Fatalf("verify %s: %v", index, err)
	}
	if res.Checked == 0 || res.IndexCount != res.Checked {
		s.t.Errorf("verify %s: checked %d orders, the index holds %d", index, res.Checked, res.IndexCount)
	}
	return diffs, res
}

// checkAfterReindex requires both indices, the new live one and the old one that kept
// receiving writes, to equal the sources exactly after quiescence: no missing, extra or stale
// document in either.
func (s *stack) checkAfterReindex(ctx context.Context, r *Reindexer) {
	s.t.Helper()
	for _, index := range []string{"orders", "orders_v1"} {
		diffs, res := s.verifyAll(ctx, r, index)
		s.t.Logf("after quiescence: %s: %d missing, %d extra, %d stale", index, res.Missing, res.Extra, res.Stale)
		reported := 0
		for _, d := range diffs {
			if reported++; reported <= 10 {
				s.t.Errorf("%s: %s %s %s", index, d.Kind, d.ID, d.Detail)
			}
		}
		if len(diffs) > 0 {
			s.t.Errorf("%s has %d differences from the sources, want 0", index, len(diffs))
		}
	}
}

// TestStackEndToEnd is the scenario on the real system: services on PostgreSQL,
// outbox relays, the broker, the engine and two indexer instances, with writers and searchers
// running through the whole reindex; one indexer instance is killed during the backfill and a
// new one started.
func TestStackEndToEnd(t *testing.T) {
	s := newStack(t)
	ctx := testCtx(t, 8*time.Minute)
	rng := testRand(t)
	s.startIndexer()
	victim := s.startIndexer()
	s.seed(ctx, rng, 30, 800)
	// A deleted customer keeps its orders visible with its last data and customer_deleted=true
	// in the live index; the rebuilt index must hold the very same documents.
	deleted := s.customerID[0]
	s.customerID = s.customerID[1:]
	if err := s.customers.Delete(ctx, deleted, 0); err != nil {
		t.Fatal(err)
	}
	r := s.reindexer()
	s.waitIndexed(ctx, r)

	h := &harness{t: t, client: s.client, es: es{c: s.client}, alias: "orders"}
	var before searchers
	stopBefore := before.run(ctx, h, 2)
	stopW := s.writers(ctx, rng, 2, 20*time.Millisecond)
	pollUntil(t, 2*time.Minute, func() bool { return before.ok.Load() >= 30 || before.failed.Load() > 0 })
	stopBefore()
	before.check(t)

	var during searchers
	stopDuring := during.run(ctx, h, 2)
	killed := false
	r = s.reindexer(func(c *Config) {
		c.BeforeStep = func(_ context.Context, step Step) error {
			if step == StepFinished && !killed {
				// The backfill is done but instances die and join all the time: replace one.
				killed = true
				if err := victim.stop(); err != nil && !errors.Is(err, context.Canceled) {
					return err
				}
				s.startIndexer()
			}
			return nil
		}
	})
	// Kill an indexer instance in the middle of the backfill as well.
	var pages atomic.Int64
	r.cfg.Orders = listHook{OrderLister: s.orders, fn: func() {
		if pages.Add(1) == 2 {
			s.mu.Lock()
			first := s.indexers[0]
			s.mu.Unlock()
			_ = first.stop()
			s.startIndexer()
		}
	}}
	start := time.Now()
	job, err := r.Run(ctx, s.v2, RunOptions{MappingFile: "mappings/orders_v2.json"})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	took := time.Since(start)
	changes := stopW()
	stopDuring()
	during.check(t)
	t.Logf("reindex of %d orders took %s with %d concurrent changes; search p99 before %s, during %s (ratio %.2f)",
		job.Docs(), took.Round(time.Millisecond), changes, before.p99(), during.p99(), float64(during.p99())/float64(max(1, before.p99())))

	s.waitIndexed(ctx, r)
	if got := h.aliasIndices(ctx, "orders"); !slices.Equal(got, []string{"orders_v2"}) {
		t.Fatalf("alias orders -> %v, want [orders_v2]", got)
	}
	s.checkAfterReindex(ctx, r)
	checkCountrySortableStack(t, s, h, ctx)
	checkDeletedCustomer(t, h, ctx, deleted)
}

// checkDeletedCustomer requires the orders of a deleted customer to stay in both indices with
// the customer's last name and customer_deleted=true, as the indexer writes them.
func checkDeletedCustomer(t *testing.T, h *harness, ctx context.Context, customerID string) {
	t.Helper()
	for _, index := range []string{"orders_v1", "orders_v2"} {
		var out struct {
			Hits struct {
				Hits []struct {
					Source map[string]any `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		body := map[string]any{"size": 1000, "query": map[string]any{"term": map[string]any{"customer_id": customerID}}}
		if err := h.es.do(ctx, http.MethodPost, "/"+index+"/_search", body, &out); err != nil {
			t.Fatalf("%s: orders of deleted customer: %v", index, err)
		}
		if len(out.Hits.Hits) == 0 {
			t.Fatalf("%s: no orders of the deleted customer %s; the test needs some", index, customerID)
		}
		for _, hit := range out.Hits.Hits {
			if hit.Source["customer_deleted"] != true || hit.Source["customer_name"] == nil {
				t.Errorf("%s: order %v of deleted customer: customer_deleted=%v customer_name=%v, want true and the last name",
					index, hit.Source["order_id"], hit.Source["customer_deleted"], hit.Source["customer_name"])
			}
		}
	}
}

// listHook calls fn before each page the backfill reads.
type listHook struct {
	OrderLister
	fn func()
}

func (l listHook) List(ctx context.Context, after, before string, limit int) (p pageOfOrders, err error) {
	l.fn()
	return l.OrderLister.List(ctx, after, before, limit)
}

func checkCountrySortableStack(t *testing.T, s *stack, h *harness, ctx context.Context) {
	t.Helper()
	var out struct {
		Hits struct {
			Hits []struct {
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	body := map[string]any{"size": 100, "sort": []any{map[string]any{"customer_country": "desc"}}}
	if err := h.es.do(ctx, http.MethodPost, "/orders/_search", body, &out); err != nil {
		t.Fatalf("sort by customer_country: %v", err)
	}
	if len(out.Hits.Hits) == 0 {
		t.Fatal("sort by customer_country: no hits")
	}
	prev := "~"
	for _, hit := range out.Hits.Hits {
		c, _ := hit.Source["customer_country"].(string)
		if c == "" || c > prev {
			t.Fatalf("customer_country %q after %q: not sorted descending or empty", c, prev)
		}
		prev = c
		cs, err := s.customers.BatchGet(ctx, []string{hit.Source["customer_id"].(string)})
		if del, _ := hit.Source["customer_deleted"].(bool); del {
			// The orders of a deleted customer keep its last data (checkDeletedCustomer
			// checks them); the source no longer has the customer.
			if err != nil || len(cs) != 0 {
				t.Errorf("order %v: marked customer_deleted, source says %v (%v)", hit.Source["order_id"], cs, err)
			}
			continue
		}
		if err != nil || len(cs) != 1 || cs[0].Country != c {
			t.Errorf("order %v: customer_country %q, source says %v (%v)", hit.Source["order_id"], c, cs, err)
		}
	}
}

type pageOfOrders = entityapi.Page[events.Order]
