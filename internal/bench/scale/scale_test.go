package scale

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordertable/ordertable/internal/bench/stack"
	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/seed"
	"github.com/ordertable/ordertable/mappings"
	"github.com/ordertable/ordertable/reindex"
)

// backdate spreads the seeded orders over a year, like a table that grew over one: the reindex
// job slices the id space by the UUIDv7 time prefix between the first id and now, so a table
// loaded within a minute would put every order into one or two of its slices.
const backdate = 365 * 24 * time.Hour

// pageSize is the page size of every measured search request (the search API's default).
const pageSize = 50

type knobs struct {
	orders, samples, compRuns int
	sampleFor                 time.Duration
	compSizes                 []int
	seed                      uint64
	out                       string
	onlyAddColumn             bool // ORDERTABLE_SCALE_FIGURES=add_column
}

func readKnobs(t *testing.T) knobs {
	raw := os.Getenv("ORDERTABLE_SCALE_ORDERS")
	if raw == "" {
		t.Skip("set ORDERTABLE_SCALE_ORDERS (e.g. 1000000) to run the scale measurement (make bench-1m)")
	}
	num := func(name string, def int) int {
		v := os.Getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive integer", name, v)
		}
		return n
	}
	k := knobs{orders: num("ORDERTABLE_SCALE_ORDERS", 0), samples: num("ORDERTABLE_SCALE_SAMPLES", 50),
		compRuns: num("ORDERTABLE_SCALE_COMPOSITION_RUNS", 3), out: os.Getenv("ORDERTABLE_SCALE_OUT"),
		sampleFor: time.Duration(num("ORDERTABLE_SCALE_SAMPLE_SECONDS", 120)) * time.Second}
	if k.orders < 10*pageSize {
		t.Fatalf("ORDERTABLE_SCALE_ORDERS=%d: want at least %d orders", k.orders, 10*pageSize)
	}
	sizes := os.Getenv("ORDERTABLE_SCALE_COMPOSITION_SIZES")
	if sizes == "" {
		sizes = "10000,100000," + strconv.Itoa(k.orders)
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(s), "_", ""))
		if err != nil || n < pageSize {
			t.Fatalf("ORDERTABLE_SCALE_COMPOSITION_SIZES: %q is not a size of at least %d", s, pageSize)
		}
		if n <= k.orders && !slices.Contains(k.compSizes, n) {
			k.compSizes = append(k.compSizes, n)
		}
	}
	slices.Sort(k.compSizes)
	k.seed = uint64(num("ORDERTABLE_SCALE_SEED", int(rand.Uint32()|1)))
	switch f := os.Getenv("ORDERTABLE_SCALE_FIGURES"); f {
	case "", "all":
	case "add_column":
		// Only the bootstrap and the column addition: about half the run.
		k.onlyAddColumn, k.compSizes = true, nil
	default:
		t.Fatalf("ORDERTABLE_SCALE_FIGURES=%q: want all or add_column", f)
	}
	return k
}

// TestScale is the measurement; see the package documentation.
func TestScale(t *testing.T) {
	k := readKnobs(t)
	ctx := context.Background()
	rep := newReport(t, k)
	t.Logf("scale: %d orders, seed %d, composition at %v, %d samples per latency figure, GOMAXPROCS %d",
		k.orders, k.seed, k.compSizes, k.samples, runtime.GOMAXPROCS(0))

	// Composition at the smaller sizes, each on a stack of its own (freed before the big one).
	for _, n := range k.compSizes {
		if n == k.orders {
			continue
		}
		func() {
			sys := startSystem(t, ctx, rep, fmt.Sprintf("scale%d", n), n, k.seed+uint64(n), false)
			sys.sampleFor = k.sampleFor
			defer sys.st.Close()
			sys.composition(t, ctx, rep, 5, k.samples)
		}()
	}

	sys := startSystem(t, ctx, rep, "scale", k.orders, k.seed, true)
	sys.sampleFor = k.sampleFor
	defer sys.st.Close()
	if !k.onlyAddColumn {
		sys.firstPages(t, ctx, rep, k.samples)
		sys.deepPages(t, ctx, rep, k.samples)
	}
	if slices.Contains(k.compSizes, k.orders) {
		sys.composition(t, ctx, rep, k.compRuns, k.samples)
	}
	sys.addColumn(t, ctx, rep)
	rep.add(figure{Name: "scale.total_run_time", Value: time.Since(rep.started).Seconds(), Unit: "s",
		Note: "the whole measurement, stacks and seeding included"})
}

// system is a running stack loaded with n orders and indexed in orders_v1.
type system struct {
	st       *stack.Stack
	n        int
	name     string
	es       *esindex.Client
	search   string
	hc       *http.Client
	start    time.Time // the seeded orders' creation times are in [start-backdate, start]
	indexers bool
	// sampleFor bounds each latency figure's sampling once it has 10 requests.
	sampleFor time.Duration
}

// keepSampling reports whether to take sample i of at most n: at least 10, then as long as
// sampleFor has not passed since start (at 1M orders one sorted request can take seconds).
func (s *system) keepSampling(i, n int, start time.Time) bool {
	return i < n && (i < 10 || time.Since(start) < s.sampleFor)
}

// startSystem starts a stack, seeds n orders (n/10 customers) directly, builds orders_v1 from
// the services with `reindex run` (no alias exists yet) and, when withIndexer, starts the
// indexer afterwards (it finds the alias and bootstraps nothing); then the search API.
func startSystem(t *testing.T, ctx context.Context, rep *report, name string, n int, sd uint64, withIndexer bool) *system {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := stack.Start(ctx, stack.Config{WorkDir: t.TempDir(), PersistEngine: true, Name: name, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sys := &system{st: st, n: n, name: name, hc: &http.Client{Timeout: 10 * time.Minute}, start: time.Now()}
	if sys.es, err = esindex.NewClient(esindex.Config{URLs: []string{st.ESURL}, RequestTimeout: 5 * time.Minute}); err != nil {
		st.Close()
		t.Fatal(err)
	}
	label := ""
	if name != "scale" {
		label = fmt.Sprintf(".at_%d", n)
	}

	customers := max(1, n/10)
	res, err := seed.RunDirect(ctx, seed.DirectConfig{
		CustomersDatabaseURL: st.CustomersDB, OrdersDatabaseURL: st.OrdersDB, Customers: customers, Orders: n,
		Seed: sd, Backdate: backdate, Progress: os.Stderr, Now: func() time.Time { return sys.start },
	})
	if err != nil {
		st.Close()
		t.Fatalf("direct seed (seed %d): %v", res.Seed, err)
	}
	rep.add(figure{Name: "seed.direct_orders_per_s" + label, Value: res.OrdersPerS, Unit: "orders/s",
		Note: fmt.Sprintf("%d orders in %s and %d customers in %s written with COPY into the services' databases (seed %d)",
			n, res.OrderTime.Round(time.Millisecond), customers, res.CustomerTime.Round(time.Millisecond), res.Seed)})
	if got := sys.sourceCount(t, ctx); got != n {
		st.Close()
		t.Fatalf("orders database holds %d orders after seeding %d", got, n)
	}

	// orders_v1 from the list APIs: the same job as `ordertable reindex run --mapping
	// mappings/orders_v1.json` on a system that has no table yet.
	if withIndexer {
		st.EnableIndexers(stack.IndexerOptions{})
	}
	job, took, steps := sys.reindex(t, ctx, 1)
	rep.add(figure{Name: "bootstrap.orders_v1_time" + label, Value: took.Seconds(), Unit: "s",
		Note: fmt.Sprintf("reindex run --mapping orders_v1.json with no alias yet: %d documents backfilled; steps %s; verify: %s", job.BackfillDocs, steps, verifyDetail(job))})
	rep.add(figure{Name: "bootstrap.orders_v1_docs_per_s" + label, Value: float64(n) / took.Seconds(), Unit: "docs/s",
		Note: "end to end, plan to swap"})
	if live := sys.alias(t, ctx, "orders"); !slices.Equal(live, []string{"orders_v1"}) {
		t.Fatalf("after the bootstrap the alias orders points to %v, want [orders_v1]", live)
	}
	if c := sys.count(t, ctx, "orders_v1"); c != n {
		t.Fatalf("orders_v1 holds %d documents, want %d", c, n)
	}
	if withIndexer {
		if err := st.StartIndexer("scale-ix"); err != nil {
			t.Fatal(err)
		}
		sys.indexers = true
	}
	if sys.search, err = st.StartSearch(); err != nil {
		t.Fatal(err)
	}
	return sys
}

// reindex runs the reindex job to mapping version v and returns it with its duration.
func (s *system) reindex(t *testing.T, ctx context.Context, v int) (*reindex.Job, time.Duration, string) {
	t.Helper()
	mf, err := mappings.LoadVersion(v)
	if err != nil {
		t.Fatal(err)
	}
	m, err := reindex.ParseMappingFile(mf.Body)
	if err != nil {
		t.Fatal(err)
	}
	// The finish step waits for the indexer group's lag. Before the bootstrap no indexer has
	// run, and the embedded broker answers "group does not exist" for a group that never
	// committed (a real broker lists no offsets), which the lag reader reports as an error until
	// its timeout; so the bootstrap runs without one, as `reindex run --kafka-group ""` does.
	var lag reindex.LagReader
	if g := s.st.IndexerGroup(); g != "" && s.indexers {
		kl, err := reindex.NewKafkaLag(kafkaconfig.Config{Brokers: s.st.Brokers, ClientID: s.name + "-reindex"}, g,
			[]string{events.TopicCustomers, events.TopicOrders})
		if err != nil {
			t.Fatal(err)
		}
		defer kl.Close()
		lag = kl
	}
	var mu sync.Mutex
	var steps []string
	var prev reindex.Step
	last := time.Now()
	src := s.st.Sources()
	rx, err := reindex.New(reindex.Config{ES: s.es, Orders: src, Customers: src, Lag: lag, Progress: os.Stderr,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		BeforeStep: func(_ context.Context, step reindex.Step) error {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			if prev != "" {
				steps = append(steps, fmt.Sprintf("%s %s", prev, now.Sub(last).Round(100*time.Millisecond)))
			}
			prev, last = step, now
			t.Logf("%s: reindex to %s: step %s", s.name, m.IndexName(), step)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	job, err := rx.Run(ctx, m, reindex.RunOptions{MappingFile: fmt.Sprintf("mappings/orders_v%d.json", v)})
	took := time.Since(start)
	mu.Lock()
	steps = append(steps, fmt.Sprintf("%s %s", prev, time.Since(last).Round(100*time.Millisecond)))
	t.Logf("%s: reindex to %s took %s; steps: %s", s.name, m.IndexName(), took.Round(time.Millisecond), strings.Join(steps, ", "))
	mu.Unlock()
	if err != nil {
		t.Fatalf("reindex to %s: %v", m.IndexName(), err)
	}
	if job.Step != reindex.StepSwapped {
		t.Fatalf("reindex to %s ended at step %s", m.IndexName(), job.Step)
	}
	return job, took, strings.Join(steps, ", ")
}

func verifyDetail(j *reindex.Job) string {
	if j.Verify == nil {
		return "none"
	}
	return j.Verify.Detail
}

// ---- search API figures ----

// sortColumns are the measured sorts, one per column type.
var sortColumns = []struct{ kind, sort, field string }{
	{"keyword", "order_number", "order_number"},
	{"numeric", "-total", "total"},
	{"date", "-placed_at", "placed_at"},
}

type apiPage struct {
	Items []struct {
		OrderID string `json:"order_id"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// get sends one search API request and checks it answers a full page.
func (s *system) get(t *testing.T, ctx context.Context, params url.Values, want int) apiPage {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.search+"/v1/orders?"+params.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.hc.Do(req)
	if err != nil {
		t.Fatalf("search %s: %v", params.Encode(), err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("search %s: HTTP %d %v: %.300s", params.Encode(), res.StatusCode, err, body)
	}
	var p apiPage
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("search %s: %v", params.Encode(), err)
	}
	if len(p.Items) != want {
		t.Fatalf("search %s: %d items, want %d", params.Encode(), len(p.Items), want)
	}
	return p
}

// engineFirstPage sends the first page's query straight to the engine (the baseline).
func (s *system) engineFirstPage(t *testing.T, ctx context.Context, field string, desc bool) {
	t.Helper()
	order := "asc"
	if desc {
		order = "desc"
	}
	body, _ := json.Marshal(map[string]any{"size": pageSize, "track_total_hits": 10000, "query": map[string]any{"match_all": map[string]any{}},
		"sort": []any{map[string]any{field: order}, map[string]any{"order_id": "asc"}}})
	code, out, err := s.es.Do(ctx, http.MethodPost, "/orders/_search", body)
	if err != nil || code != http.StatusOK {
		t.Fatalf("engine first page by %s: %d %v %.300s", field, code, err, out)
	}
}

// firstPages measures sorted first pages through the search API, each against the same query
// sent straight to the engine, interleaved so both see the same machine load.
func (s *system) firstPages(t *testing.T, ctx context.Context, rep *report, samples int) {
	for _, c := range sortColumns {
		params := url.Values{"sort": {c.sort}, "size": {strconv.Itoa(pageSize)}}
		var api, engine latencies
		for i, start := 0, time.Now(); s.keepSampling(i, samples, start); i++ {
			api.time(func() { s.get(t, ctx, params, pageSize) })
			engine.time(func() { s.engineFirstPage(t, ctx, c.field, strings.HasPrefix(c.sort, "-")) })
		}
		note := fmt.Sprintf("GET /v1/orders?sort=%s&size=%d over %d orders, %d sequential requests", c.sort, pageSize, s.n, len(api))
		rep.add(figure{Name: "search.first_page_" + c.kind + "_p50", Value: api.ms(50), Unit: "ms",
			Baseline: engine.ms(50), BaselineOf: "same query straight to the engine, p50", Note: note})
		rep.add(figure{Name: "search.first_page_" + c.kind + "_p99", Value: api.ms(99), Unit: "ms",
			Baseline: engine.ms(99), BaselineOf: "same query straight to the engine, p99", Note: note})
	}
}

// deepPages walks to page 1000 (pages of 200 up to the end of page 999) for each sort, then
// measures page 1000 by cursor against page 1 of the same sort, interleaved. A table of fewer
// than 50,000 orders gets its last full page instead (the figures are named by the page).
func (s *system) deepPages(t *testing.T, ctx context.Context, rep *report, samples int) {
	deep := min(1000, s.n/pageSize)
	for _, c := range sortColumns {
		walk := time.Now()
		params := url.Values{"sort": {c.sort}}
		for left := (deep - 1) * pageSize; left > 0; {
			k := min(200, left)
			params.Set("size", strconv.Itoa(k))
			p := s.get(t, ctx, params, k)
			if p.NextCursor == nil {
				t.Fatalf("sort %s: no next cursor with %d orders left to page %d", c.sort, left, deep)
			}
			params.Set("cursor", *p.NextCursor)
			left -= k
		}
		t.Logf("%s: walked to page %d by %s in %s", s.name, deep, c.sort, time.Since(walk).Round(time.Millisecond))
		params.Set("size", strconv.Itoa(pageSize))
		first := url.Values{"sort": {c.sort}, "size": {strconv.Itoa(pageSize)}}
		p1, p1000 := s.get(t, ctx, first, pageSize), s.get(t, ctx, params, pageSize)
		if p1.Items[0].OrderID == p1000.Items[0].OrderID {
			t.Fatalf("sort %s: page %d starts with page 1's first order", c.sort, deep)
		}
		var l1, l1000 latencies
		for i, start := 0, time.Now(); s.keepSampling(i, samples, start); i++ {
			l1.time(func() { s.get(t, ctx, first, pageSize) })
			l1000.time(func() { s.get(t, ctx, params, pageSize) })
		}
		note := fmt.Sprintf("sort=%s, size %d, over %d orders, %d requests each, interleaved with page 1", c.sort, pageSize, s.n, len(l1000))
		rep.add(figure{Name: fmt.Sprintf("search.page_%d_%s_p50", deep, c.kind), Value: l1000.ms(50), Unit: "ms",
			Baseline: l1.ms(50), BaselineOf: "page 1 p50, same sort", Note: note})
		rep.add(figure{Name: fmt.Sprintf("search.page_%d_%s_p99", deep, c.kind), Value: l1000.ms(99), Unit: "ms",
			Baseline: l1.ms(99), BaselineOf: "page 1 p99, same sort", Note: note})
	}
}

// composition measures the rejected design, API composition (every order from the
// PurchaseOrderService, their customers from the CustomerService, joined and sorted by
// customer name in memory), against the search API's first page sorted by customer name,
// after checking both give the same page.
func (s *system) composition(t *testing.T, ctx context.Context, rep *report, runs, samples int) {
	params := url.Values{"sort": {"customer_name"}, "size": {strconv.Itoa(pageSize)}}
	searchIDs := func() []string {
		p := s.get(t, ctx, params, pageSize)
		ids := make([]string, len(p.Items))
		for i, it := range p.Items {
			ids[i] = it.OrderID
		}
		return ids
	}
	var comp, api latencies
	for i := range runs {
		var ids []string
		comp.time(func() { ids = s.compose(t, ctx) })
		t.Logf("%s: composition run %d/%d over %d orders: %s", s.name, i+1, runs, s.n, comp[len(comp)-1].Round(time.Millisecond))
		if i == 0 {
			if got := searchIDs(); !slices.Equal(got, ids) {
				t.Errorf("%d orders: the search API's first page by customer name differs from the composition's:\nsearch  %v\ncompose %v", s.n, got, ids)
			}
		}
	}
	for i, start := 0, time.Now(); s.keepSampling(i, samples, start); i++ {
		api.time(func() { searchIDs() })
	}
	note := fmt.Sprintf("first page (%d) sorted by customer name over %d orders: composition p50 of %d runs (p99 %.0f ms) vs the search API p50 of %d (p99 %.1f ms)",
		pageSize, s.n, runs, comp.ms(99), len(api), api.ms(99))
	rep.add(figure{Name: fmt.Sprintf("composition.first_page_by_customer_name_at_%d", s.n), Value: comp.ms(50), Unit: "ms",
		Baseline: api.ms(50), BaselineOf: "search API first page by customer name, p50", Note: note})
}

// compose is API composition through the services' public clients.
func (s *system) compose(t *testing.T, ctx context.Context) []string {
	var all []events.Order
	if err := s.st.Orders.Each(ctx, 1000, func(p []events.Order) error { all = append(all, p...); return nil }); err != nil {
		t.Fatalf("composition: list orders: %v", err)
	}
	seen := map[string]bool{}
	var ids []string
	for _, o := range all {
		if !seen[o.CustomerID] {
			seen[o.CustomerID] = true
			ids = append(ids, o.CustomerID)
		}
	}
	names := make(map[string]string, len(ids))
	for i := 0; i < len(ids); i += 1000 {
		cs, err := s.st.Customers.BatchGet(ctx, ids[i:min(i+1000, len(ids))])
		if err != nil {
			t.Fatalf("composition: customers: %v", err)
		}
		for _, c := range cs {
			names[c.ID] = c.Name
		}
	}
	slices.SortFunc(all, func(a, b events.Order) int {
		if c := strings.Compare(names[a.CustomerID], names[b.CustomerID]); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	out := make([]string, 0, pageSize)
	for _, o := range all[:min(pageSize, len(all))] {
		out = append(out, o.ID)
	}
	return out
}

// ---- the new column ----

// addColumn times `reindex run` to orders_v2 (customer_country) end to end with the indexer
// running, then verifies: the alias moved, counts equal the sources, and a random sample of
// documents equals the services' records, the new column included.
func (s *system) addColumn(t *testing.T, ctx context.Context, rep *report) {
	if !s.indexers {
		t.Fatal("addColumn needs the indexer running")
	}
	job, took, steps := s.reindex(t, ctx, 2)
	rep.add(figure{Name: "reindex.add_column_time", Value: took.Seconds(), Unit: "s",
		Note: fmt.Sprintf("reindex run --mapping orders_v2.json (customer_country) over %d orders with the indexer running, plan → create → register (dual-write) → backfill → finish → verify → swap; steps %s; %d documents backfilled; verify: %s",
			s.n, steps, job.BackfillDocs, verifyDetail(job))})
	rep.add(figure{Name: "reindex.add_column_docs_per_s", Value: float64(s.n) / took.Seconds(), Unit: "docs/s", Note: "end to end"})

	if live := s.alias(t, ctx, "orders"); !slices.Equal(live, []string{"orders_v2"}) {
		t.Fatalf("after the reindex the alias orders points to %v, want [orders_v2]", live)
	}
	src := s.sourceCount(t, ctx)
	for _, idx := range []string{"orders_v2", "orders_v1"} {
		if c := s.count(t, ctx, idx); c != src {
			t.Errorf("%s holds %d documents, the orders database %d", idx, c, src)
		}
	}
	checked := s.sample(t, ctx, 200)
	rep.add(figure{Name: "reindex.verified_sample", Value: float64(checked), Unit: "orders",
		Note: fmt.Sprintf("orders_v2 and orders_v1 hold %d documents = the orders database; %d random orders' documents equal the services' records field by field (customer_country included)", src, checked)})
}

// sample compares the documents of n random orders (through the alias) with the services.
func (s *system) sample(t *testing.T, ctx context.Context, n int) int {
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	from := s.start.Add(-backdate).UnixMilli()
	checked, fields := 0, s.fieldsV2()
	for range n {
		ms := from + r.Int64N(backdate.Milliseconds())
		after := fmt.Sprintf("%08x-%04x-0000-0000-000000000000", uint64(ms)>>16, uint64(ms)&0xffff)
		page, err := s.st.Orders.List(ctx, after, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) == 0 {
			continue
		}
		o := page.Items[0]
		c, err := s.st.Customers.Get(ctx, o.CustomerID)
		if err != nil {
			t.Fatalf("customer %s of order %s: %v", o.CustomerID, o.ID, err)
		}
		code, body, err := s.es.Do(ctx, http.MethodGet, "/orders/_doc/"+o.ID, nil)
		if err != nil || code != http.StatusOK {
			t.Errorf("order %s: document: %d %v", o.ID, code, err)
			continue
		}
		var doc struct {
			Source map[string]any `json:"_source"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"order_id": o.ID, "order_number": o.OrderNumber, "status": o.Status, "total": o.Total, "currency": o.Currency,
			"customer_id": o.CustomerID, "customer_name": c.Name, "customer_email": c.Email, "customer_country": c.Country,
			"order_version": strconv.FormatInt(o.Version, 10), "customer_version": strconv.FormatInt(c.Version, 10),
		}
		for f, w := range want {
			if !fields[f] {
				continue
			}
			if got := fmt.Sprint(doc.Source[f]); got != w {
				t.Errorf("order %s: document %s = %q, source %q", o.ID, f, got, w)
			}
		}
		checked++
	}
	return checked
}

// fieldsV2 are the columns of orders_v2.
func (s *system) fieldsV2() map[string]bool {
	m, err := mappings.LoadVersion(2)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, n := range m.Fields.Names() {
		out[n] = true
	}
	return out
}

// ---- engine and database reads ----

func (s *system) count(t *testing.T, ctx context.Context, index string) int {
	t.Helper()
	if code, out, err := s.es.Do(ctx, http.MethodPost, "/"+index+"/_refresh", nil); err != nil || code != http.StatusOK {
		t.Fatalf("refresh %s: %d %v %.200s", index, code, err, out)
	}
	code, out, err := s.es.Do(ctx, http.MethodGet, "/"+index+"/_count", nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("count %s: %d %v %.200s", index, code, err, out)
	}
	var c struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatal(err)
	}
	return c.Count
}

func (s *system) alias(t *testing.T, ctx context.Context, alias string) []string {
	t.Helper()
	idx, err := s.es.AliasIndices(ctx, alias)
	if err != nil {
		t.Fatalf("alias %s: %v", alias, err)
	}
	slices.Sort(idx)
	return idx
}

func (s *system) sourceCount(t *testing.T, ctx context.Context) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, s.st.OrdersDB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// ---- figures ----

// latencies are request durations.
type latencies []time.Duration

func (l *latencies) time(f func()) {
	start := time.Now()
	f()
	*l = append(*l, time.Since(start))
}

// ms is the q-th percentile (nearest rank) in milliseconds.
func (l latencies) ms(q float64) float64 {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(q/100*float64(len(s))+0.999999) - 1
	return float64(s[min(max(i, 0), len(s)-1)].Microseconds()) / 1000
}

// figure is one measured value, with the baseline measured in the same run when there is one.
type figure struct {
	Name       string  `json:"name"`
	Value      float64 `json:"value"`
	Unit       string  `json:"unit"`
	Baseline   float64 `json:"baseline,omitempty"`
	BaselineOf string  `json:"baseline_of,omitempty"`
	Ratio      float64 `json:"ratio,omitempty"`
	Note       string  `json:"note,omitempty"`
}

// report logs each figure as it is measured and rewrites the JSON file after each, so an
// interrupted run keeps what it measured.
type report struct {
	t       *testing.T
	path    string
	started time.Time
	mu      sync.Mutex
	doc     struct {
		Orders     int       `json:"orders"`
		Seed       uint64    `json:"seed"`
		Started    time.Time `json:"started"`
		GoMaxProcs int       `json:"gomaxprocs"`
		Figures    []figure  `json:"figures"`
	}
}

func newReport(t *testing.T, k knobs) *report {
	r := &report{t: t, path: k.out, started: time.Now()}
	r.doc.Orders, r.doc.Seed, r.doc.Started, r.doc.GoMaxProcs = k.orders, k.seed, r.started.UTC(), runtime.GOMAXPROCS(0)
	return r
}

func (r *report) add(f figure) {
	if f.Baseline > 0 {
		f.Ratio = f.Value / f.Baseline
	}
	line := fmt.Sprintf("FIGURE %s = %.4g %s", f.Name, f.Value, f.Unit)
	if f.Baseline > 0 {
		line += fmt.Sprintf(" | baseline %.4g %s (%s) | ratio %.3g", f.Baseline, f.Unit, f.BaselineOf, f.Ratio)
	}
	if f.Note != "" {
		line += " | " + f.Note
	}
	r.t.Log(line)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.doc.Figures = append(r.doc.Figures, f)
	if r.path == "" {
		return
	}
	b, err := json.MarshalIndent(r.doc, "", "  ")
	if err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(r.path, append(b, '\n'), 0o644); err != nil {
		r.t.Fatalf("write %s: %v", r.path, err)
	}
}
