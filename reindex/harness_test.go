package reindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/mappings"
)

// harness is one isolated table: its own index names (a unique _meta.table), aliases and jobs
// index on the engine, and an in-memory source.
type harness struct {
	t       testing.TB
	url     string
	client  *esindex.Client
	es      es
	src     *memSource
	table   string
	alias   string
	targets string
	jobs    string
	v1, v2  *Mapping
	clock   *testClock
}

// testClock is a settable clock for grace-period tests.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the search engine; skipped with -short")
	}
	u := esURL(t)
	client, err := esindex.NewClient(esindex.Config{URLs: []string{u}})
	if err != nil {
		t.Fatal(err)
	}
	table := strings.ToLower(testenv.UniqueName("rt"))
	h := &harness{
		t: t, url: u, client: client, es: es{c: client}, src: newMemSource(), table: table,
		alias: table, targets: table + "_targets", jobs: table + "-jobs", clock: &testClock{},
	}
	h.v1 = h.mapping("orders_v1.json")
	h.v2 = h.mapping("orders_v2.json")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, idx := range []string{h.v1.IndexName(), h.v2.IndexName(), h.jobs, h.table + "_raw"} {
			_ = h.es.deleteIndex(ctx, idx)
		}
	})
	return h
}

// mapping loads a mapping file with the harness's table name.
func (h *harness) mapping(file string) *Mapping {
	h.t.Helper()
	body := editMapping(h.t, readMapping(h.t, file), func(m map[string]any) { metaOf(m)["table"] = h.table })
	m, err := ParseMapping(body)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

// config is a fast configuration for tests; edit adjusts it.
func (h *harness) config(edit ...func(*Config)) Config {
	cfg := Config{
		ES: h.client, Orders: h.src, Customers: h.src, Alias: h.alias, TargetsAlias: h.targets, JobsIndex: h.jobs,
		Slices: 8, Workers: 3, PageSize: 200, VerifyMode: "full", SettleTimeout: 5 * time.Second,
		LeaseTTL: 3 * time.Second, CheckpointEvery: 50 * time.Millisecond, Now: h.clock.Now,
	}
	if testing.Verbose() {
		cfg.Logger = testLogger(h.t)
	}
	for _, e := range edit {
		e(&cfg)
	}
	return cfg
}

func (h *harness) reindexer(edit ...func(*Config)) *Reindexer {
	h.t.Helper()
	r, err := New(h.config(edit...))
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// bootstrap builds v1 from the source with the job itself (first index: no previous one).
func (h *harness) bootstrap(ctx context.Context) {
	h.t.Helper()
	job, err := h.reindexer().Run(ctx, h.v1, RunOptions{})
	if err != nil {
		h.t.Fatalf("bootstrap v1: %v", err)
	}
	if job.Step != StepSwapped {
		h.t.Fatalf("bootstrap v1: step %s, want swapped", job.Step)
	}
}

// mustVerify runs a full verification of index against the source and fails on differences.
func (h *harness) mustVerify(ctx context.Context, index string) *VerifyResult {
	h.t.Helper()
	// Counts are searches: make every write visible first.
	if err := h.es.refresh(ctx, index); err != nil {
		h.t.Fatal(err)
	}
	res, err := h.reindexer().Verify(ctx, VerifyOptions{Index: index, Mode: "full", Report: func(d Difference) {
		h.t.Errorf("verify %s: %s %s %s", index, d.Kind, d.ID, d.Detail)
	}})
	if err != nil {
		h.t.Fatalf("verify %s: %v", index, err)
	}
	if !res.OK {
		h.t.Fatalf("verify %s: %s", index, res.Detail)
	}
	h.src.mu.Lock()
	n := len(h.src.orders)
	h.src.mu.Unlock()
	if res.Checked != int64(n) || res.IndexCount != int64(n) {
		h.t.Fatalf("verify %s: checked %d, index holds %d, source has %d", index, res.Checked, res.IndexCount, n)
	}
	return res
}

func (h *harness) aliasIndices(ctx context.Context, alias string) []string {
	h.t.Helper()
	idx, err := h.es.aliasIndices(ctx, alias)
	if err != nil {
		h.t.Fatal(err)
	}
	return idx
}

// fakeIndexer stands in for the indexer: it changes the source (the "commit") and then, as
// the indexer does for each fetched batch, reads the write-target alias and writes the
// affected documents to every target with the fields that target declares.
type fakeIndexer struct {
	h       *harness
	rng     *rand.Rand
	bulk    *esindex.BulkWriter
	mu      sync.Mutex // one batch at a time, like one consumer
	fields  map[string]mappings.FieldSet
	batches atomic.Int64
	deleted atomic.Int64
	// paused, when set, makes step a no-op (tests freeze writes at a point).
	custIDs []string
}

func newFakeIndexer(h *harness, rng *rand.Rand, custIDs []string) *fakeIndexer {
	return &fakeIndexer{h: h, rng: rng, bulk: h.client.NewBulkWriter(esindex.BulkOptions{}), fields: map[string]mappings.FieldSet{}, custIDs: custIDs}
}

// step applies one random batch of changes and indexes it.
func (f *fakeIndexer) step(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.h.src
	var changedOrders []string // ids to (re)index
	var deletes []events.Order
	s.mu.Lock()
	for range 1 + f.rng.IntN(5) {
		switch k := f.rng.IntN(10); {
		case k < 3: // create
			now := time.Now().UTC()
			id := newUUIDv7(f.rng, now.UnixMilli())
			s.orders[id] = events.Order{ID: id, OrderNumber: fmt.Sprintf("PO-N%06d", f.rng.IntN(1e6)), CustomerID: f.custIDs[f.rng.IntN(len(f.custIDs))],
				Status: "draft", Total: "1.00", Currency: "USD", CreatedAt: now, UpdatedAt: now, Version: 1}
			changedOrders = append(changedOrders, id)
		case k < 6: // update a random order
			if o, ok := randomOrder(f.rng, s.orders); ok {
				o.Version++
				o.Status = []string{"placed", "paid", "shipped", "cancelled"}[f.rng.IntN(4)]
				o.Total = fmt.Sprintf("%d.%02d", f.rng.IntN(1000), f.rng.IntN(100))
				o.UpdatedAt = time.Now().UTC()
				if f.rng.IntN(4) == 0 {
					o.CustomerID = f.custIDs[f.rng.IntN(len(f.custIDs))]
				}
				s.orders[o.ID] = o
				changedOrders = append(changedOrders, o.ID)
			}
		case k < 7: // delete
			if o, ok := randomOrder(f.rng, s.orders); ok {
				delete(s.orders, o.ID)
				o.Version++
				deletes = append(deletes, o)
			}
		default: // rename or move a customer: every order of it is re-indexed
			id := f.custIDs[f.rng.IntN(len(f.custIDs))]
			c := s.customers[id]
			c.Version++
			c.Name = fmt.Sprintf("Customer %d", f.rng.IntN(1e6))
			c.Country = []string{"DE", "FR", "US", "JP", "BR", "NL", "SE", "IT"}[f.rng.IntN(8)]
			c.UpdatedAt = time.Now().UTC()
			s.customers[id] = c
			for oid, o := range s.orders {
				if o.CustomerID == id {
					changedOrders = append(changedOrders, oid)
				}
			}
		}
	}
	// Snapshot what the "events" carry.
	orders := make([]events.Order, 0, len(changedOrders))
	for _, id := range changedOrders {
		if o, ok := s.orders[id]; ok {
			orders = append(orders, o)
		}
	}
	customers := map[string]events.Customer{}
	for _, o := range orders {
		customers[o.CustomerID] = s.customers[o.CustomerID]
	}
	s.mu.Unlock()
	// The changes are committed: like events in Kafka, they must be indexed even if the
	// writers are being stopped.
	return f.write(context.WithoutCancel(ctx), orders, customers, deletes)
}

// write indexes a batch the way the indexer does: targets read after the batch was fetched.
func (f *fakeIndexer) write(ctx context.Context, orders []events.Order, customers map[string]events.Customer, deletes []events.Order) error {
	targets, err := f.h.es.aliasIndices(ctx, f.h.targets)
	if err != nil {
		return err
	}
	var ops []esindex.Op
	for _, idx := range targets {
		fs, ok := f.fields[idx]
		if !ok {
			if fs, err = f.h.client.Fields(ctx, idx); err != nil {
				return err
			}
			f.fields[idx] = fs
		}
		for _, o := range orders {
			c := customers[o.CustomerID]
			doc, err := indexer.BuildDocument(o, &indexer.CustomerState{Customer: c}, fs, time.Now())
			if err != nil {
				return err
			}
			ops = append(ops, esindex.Op{Type: esindex.OpIndex, Index: idx, ID: doc.ID, Version: doc.Version, Doc: doc.Fields})
		}
		for _, o := range deletes {
			v, err := indexer.DeleteVersion(o.Version)
			if err != nil {
				return err
			}
			ops = append(ops, esindex.Op{Type: esindex.OpDelete, Index: idx, ID: o.ID, Version: v})
		}
	}
	res, err := f.bulk.Write(ctx, ops)
	if err != nil {
		return err
	}
	for i, r := range res {
		if r.Outcome == esindex.Rejected {
			return fmt.Errorf("fake indexer: %s %s/%s rejected: %s", ops[i].Type, ops[i].Index, ops[i].ID, r.Reason())
		}
	}
	f.batches.Add(1)
	f.deleted.Add(int64(len(deletes)))
	return nil
}

// deleteOrder deletes one order at the source and indexes the delete.
func (f *fakeIndexer) deleteOrder(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.h.src
	s.mu.Lock()
	o, ok := s.orders[id]
	delete(s.orders, id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("order %s not found", id)
	}
	o.Version++
	return f.write(ctx, nil, nil, []events.Order{o})
}

func randomOrder(rng *rand.Rand, m map[string]events.Order) (events.Order, bool) {
	if len(m) == 0 {
		return events.Order{}, false
	}
	n := rng.IntN(len(m))
	for _, o := range m {
		if n == 0 {
			return o, true
		}
		n--
	}
	return events.Order{}, false
}

// runWriters runs the fake indexer continuously until the returned stop is called; stop
// returns the first error.
func (f *fakeIndexer) runWriters(ctx context.Context, pause time.Duration) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var firstErr error
	wg.Go(func() {
		for ctx.Err() == nil {
			if err := f.step(ctx); err != nil && ctx.Err() == nil {
				firstErr = err
				return
			}
			_ = sleepCtx(ctx, pause)
		}
	})
	return func() error {
		cancel()
		wg.Wait()
		return firstErr
	}
}

// searchers query the read alias continuously and count failed and empty answers.
type searchers struct {
	ok, failed, empty atomic.Int64
	mu                sync.Mutex
	lat               []time.Duration
	errs              []string
}

func (s *searchers) run(ctx context.Context, h *harness, n int) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sorts := []string{"order_number", "updated_at", "total", "status"}
			for ctx.Err() == nil {
				body := map[string]any{"size": 20, "sort": []any{map[string]any{sorts[i%len(sorts)]: "desc"}}, "track_total_hits": true}
				var out struct {
					Hits struct {
						Total struct {
							Value int64 `json:"value"`
						} `json:"total"`
						Hits []json.RawMessage `json:"hits"`
					} `json:"hits"`
				}
				start := time.Now()
				err := h.es.do(ctx, http.MethodPost, "/"+url.PathEscape(h.alias)+"/_search", body, &out)
				d := time.Since(start)
				switch {
				case ctx.Err() != nil:
				case err != nil:
					s.failed.Add(1)
					s.mu.Lock()
					if len(s.errs) < 5 {
						s.errs = append(s.errs, err.Error())
					}
					s.mu.Unlock()
				case len(out.Hits.Hits) == 0:
					s.empty.Add(1)
				default:
					s.ok.Add(1)
					s.mu.Lock()
					s.lat = append(s.lat, d)
					s.mu.Unlock()
				}
			}
		})
	}
	return func() { cancel(); wg.Wait() }
}

// p99 returns the 99th percentile latency of the successful searches.
func (s *searchers) p99() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lat) == 0 {
		return 0
	}
	l := slices.Clone(s.lat)
	slices.Sort(l)
	return l[(len(l)*99)/100]
}

func (s *searchers) check(t testing.TB) {
	t.Helper()
	if s.failed.Load() != 0 || s.empty.Load() != 0 || s.ok.Load() == 0 {
		t.Errorf("searches: %d ok, %d failed, %d empty; want 0 failed and 0 empty (errors: %v)", s.ok.Load(), s.failed.Load(), s.empty.Load(), s.errs)
	}
}

// esURL returns ES_URL or an embedded engine for this test.
func esURL(t testing.TB) string { return testenv.ESURL(t) }

var errCrash = errors.New("simulated crash")
