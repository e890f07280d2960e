package indexer

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/mappings"
)

// Benchmarks of the indexer. Each reports ratios against a baseline measured in the same run;
// run them one at a time with -benchtime=1x, e.g.
//
//	go test ./indexer -run '^$' -bench Pipeline -benchtime 1x
var (
	benchEvents  = flag.Int("bench.events", 10000, "order events of the pipeline benchmark")
	benchBacklog = flag.Int("bench.backlog", 200000, "events of the backlog RSS benchmark")
	benchRounds  = flag.Int("bench.rounds", 3, "rounds of the pipeline benchmark (median reported)")
	benchHeap    = flag.String("bench.heapprofile", "", "BacklogRSS: write the indexer process's heap profile here when it stops")
)

const benchCustomers = 1000

func benchConfig(s *stack, name string, t testing.TB) Config {
	cfg := s.config(name, t)
	cfg.BulkSize = 500
	cfg.FlushInterval = 100 * time.Millisecond
	cfg.Workers = 4
	cfg.FanoutChunk = 0 // the default, like FanoutWorkers and FanoutMaxWait (s.config sets a test size)
	return cfg
}

func benchOrder(i int, customer string) events.Event {
	e := orderEvent(events.OrderCreated, fmt.Sprintf("o%08d", i), 1, customer, fmt.Sprintf("%d.%02d", i%10000, i%100))
	return e
}

func benchCustomer(i int) events.Event {
	return custEvent(events.CustomerCreated, fmt.Sprintf("c%05d", i), 1, fmt.Sprintf("Customer %d", i), "DE")
}

// produceFast sends events with an async producer (the backlog must be in Kafka before the
// measured part starts).
func produceFast(t testing.TB, brokers []string, n int, gen func(i int) events.Event) {
	t.Helper()
	cfg, err := kafkaconfig.Config{Brokers: brokers}.Sarama()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForLocal
	cfg.Producer.Flush.Messages = 1000
	cfg.Producer.Flush.Frequency = 5 * time.Millisecond
	p, err := sarama.NewAsyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var failed error
	wg.Go(func() {
		for range n {
			select {
			case <-p.Successes():
			case e := <-p.Errors():
				failed = e
			}
		}
	})
	for i := range n {
		e := gen(i)
		b, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		p.Input() <- &sarama.ProducerMessage{Topic: e.Type.Topic(), Key: sarama.StringEncoder(e.EntityID), Value: sarama.ByteEncoder(b)}
	}
	wg.Wait()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if failed != nil {
		t.Fatal(failed)
	}
}

// waitEvents waits until the instance processed n events in total and returns when the first
// one and the last one were seen (polled every 5 ms).
func waitEvents(t testing.TB, ix *Indexer, n float64, timeout time.Duration) (first, last time.Time) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := metricValue(t, ix, "ordertable_indexer_events_total", nil)
		if v > 0 && first.IsZero() {
			first = time.Now()
		}
		if v >= n {
			return first, time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("processed %v of %v events within %v", v, n, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkPipeline: events/s from Kafka into the index ÷ raw bulk docs/s of the same documents
// into the same engine (same bulk size and parallelism), measured in the same run. Both times
// run until the documents are searchable (a final refresh included: the embedded engine does
// its indexing work at refresh time). -bench.rounds alternates baseline and pipeline on fresh
// engines and reports the median ratio, which keeps a busy machine from skewing one side.
func BenchmarkPipeline(b *testing.B) {
	for range b.N {
		var ratios, raws, pipes []float64
		for round := range *benchRounds {
			raw, pipe := pipelineRound(b, *benchEvents)
			b.Logf("round %d: raw bulk %.0f docs/s, pipeline %.0f events/s, ratio %.2f", round, raw, pipe, pipe/raw)
			ratios, raws, pipes = append(ratios, pipe/raw), append(raws, raw), append(pipes, pipe)
		}
		b.ReportMetric(median(raws), "raw_docs/s")
		b.ReportMetric(median(pipes), "pipeline_events/s")
		b.ReportMetric(median(ratios), "efficiency")
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func pipelineRound(b *testing.B, n int) (raw, pipe float64) {
	s := newStack(b)
	s.es = newSlowClient(b, s.esURL)
	ctx := context.Background()

	// Customers first, indexed by a first instance, so the measured part is orders only.
	cfg := benchConfig(s, "warm", b)
	produceFast(b, s.brokers, benchCustomers, benchCustomer)
	r := s.start(b, cfg)
	waitEvents(b, r.ix, benchCustomers, time.Minute)
	r.stop(b)

	// Baseline: the same documents, straight into a fresh index with the same mapping.
	m, err := mappings.First()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.es.CreateIndex(ctx, "baseline", m.Body); err != nil {
		b.Fatal(err)
	}
	ops := make([]esindex.Op, n)
	now := time.Now()
	for i := range n {
		e := benchOrder(i, fmt.Sprintf("c%05d", i%benchCustomers))
		c := benchCustomer(i % benchCustomers)
		doc, err := BuildDocument(*e.Order, &CustomerState{Customer: *c.Customer}, m.Fields, now)
		if err != nil {
			b.Fatal(err)
		}
		ops[i] = esindex.Op{Type: esindex.OpIndex, Index: "baseline", ID: doc.ID, Version: doc.Version, Doc: doc.Fields}
	}
	w := s.es.NewBulkWriter(esindex.BulkOptions{})
	start := time.Now()
	var wg sync.WaitGroup
	chunks := make(chan []esindex.Op)
	for range cfg.Workers {
		wg.Go(func() {
			for c := range chunks {
				if _, err := w.Write(ctx, c); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := 0; i < n; i += cfg.BulkSize {
		chunks <- ops[i:min(n, i+cfg.BulkSize)]
	}
	close(chunks)
	wg.Wait()
	if err := s.es.Refresh(ctx, "baseline"); err != nil {
		b.Fatal(err)
	}
	raw = float64(n) / time.Since(start).Seconds()

	// Pipeline: the same orders as a Kafka backlog, consumed by a fresh instance.
	produceFast(b, s.brokers, n, func(i int) events.Event { return benchOrder(i, fmt.Sprintf("c%05d", i%benchCustomers)) })
	cfg.InstanceID, cfg.Registry = "measured", nil
	r = s.start(b, cfg)
	first, _ := waitEvents(b, r.ix, float64(n), 10*time.Minute)
	if err := s.es.Refresh(ctx, "orders_v1"); err != nil {
		b.Fatal(err)
	}
	pipe = float64(n) / time.Since(first).Seconds()
	r.stop(b)
	cnt, err := countAll(ctx, s.es, "orders_v1")
	if err != nil {
		b.Fatal(err)
	}
	if cnt != n {
		b.Fatalf("got %d documents, want %d", cnt, n)
	}
	return raw, pipe
}

// newSlowClient is a client whose requests may take minutes (refreshes of large batches on a
// busy machine).
func newSlowClient(t testing.TB, url string) *esindex.Client {
	t.Helper()
	c, err := esindex.NewClient(esindex.Config{URLs: []string{url}, RequestTimeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)]
}

// produceAt sends events at rate per second for d, stamping each with the send time.
func produceAt(t testing.TB, s *stack, rate float64, d time.Duration, gen func(i int) events.Event) int {
	t.Helper()
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	i := 0
	for time.Since(start) < d {
		// Send whatever is due (a 1 ms resolution loop; several events per tick at high rates).
		due := int(time.Since(start) / interval)
		var msgs []*sarama.ProducerMessage
		for ; i <= due; i++ {
			e := gen(i)
			e.Time = time.Now().UTC()
			b, err := events.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, &sarama.ProducerMessage{Topic: e.Type.Topic(), Key: sarama.StringEncoder(e.EntityID), Value: sarama.ByteEncoder(b)})
		}
		if len(msgs) > 0 {
			if err := s.prod.SendMessages(msgs); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Millisecond)
	}
	return i
}

type samples struct {
	mu sync.Mutex
	d  map[string][]time.Duration
}

func (s *samples) observe(topic string, d time.Duration) {
	s.mu.Lock()
	s.d[topic] = append(s.d[topic], d)
	s.mu.Unlock()
}

func (s *samples) take(topic string) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.d[topic]
	s.d[topic] = nil
	return out
}

// BenchmarkFreshness: the maximum sustained rate is measured first (backlog), then events
// are produced at half of it; freshness p99 is reported against the bound
// 2 × (flush interval + refresh interval).
func BenchmarkFreshness(b *testing.B) {
	for range b.N {
		s := newStack(b)
		sm := &samples{d: map[string][]time.Duration{}}
		cfg := benchConfig(s, "fresh", b)
		cfg.ObserveFreshness = sm.observe
		produceFast(b, s.brokers, benchCustomers, benchCustomer)
		n := *benchEvents
		produceFast(b, s.brokers, n, func(i int) events.Event { return benchOrder(i, fmt.Sprintf("c%05d", i%benchCustomers)) })
		r := s.start(b, cfg)
		first, last := waitEvents(b, r.ix, float64(n+benchCustomers), 10*time.Minute)
		maxRate := float64(n+benchCustomers) / last.Sub(first).Seconds()
		sm.take(events.TopicOrders)

		rate := maxRate / 2
		sent := produceAt(b, s, rate, 15*time.Second, func(i int) events.Event {
			return benchOrder(n+i, fmt.Sprintf("c%05d", i%benchCustomers))
		})
		waitEvents(b, r.ix, float64(n+benchCustomers+sent), 2*time.Minute)
		fr := sm.take(events.TopicOrders)
		p50, p99 := percentile(fr, 0.5), percentile(fr, 0.99)
		bound := 2 * (cfg.FlushInterval + time.Second) // orders_v1 refresh_interval is 1s
		b.ReportMetric(maxRate, "max_events/s")
		b.ReportMetric(rate, "offered_events/s")
		b.ReportMetric(p50.Seconds()*1000, "p50_ms")
		b.ReportMetric(p99.Seconds()*1000, "p99_ms")
		b.ReportMetric(p99.Seconds()/bound.Seconds(), "p99/bound")
	}
}

// BenchmarkFanout10k: a customer with 10,000 orders changes; time until every document shows
// the change, and the freshness p99 of unrelated orders produced meanwhile, against their p99
// with no fan-out running (the baseline, same run, same rate).
func BenchmarkFanout10k(b *testing.B) {
	const orders = 10000
	for range b.N {
		s := newStack(b)
		ctx := context.Background()
		sm := &samples{d: map[string][]time.Duration{}}
		cfg := benchConfig(s, "fanout", b)
		cfg.ObserveFreshness = sm.observe
		produceFast(b, s.brokers, benchCustomers, benchCustomer)
		produceFast(b, s.brokers, orders, func(i int) events.Event { return benchOrder(i, "c00000") })
		r := s.start(b, cfg)
		waitEvents(b, r.ix, orders+benchCustomers, 5*time.Minute)
		sm.take(events.TopicOrders)
		const rate = 100.0
		unrelated := func(off int) func(i int) events.Event {
			return func(i int) events.Event {
				return benchOrder(orders+off+i, fmt.Sprintf("c%05d", 1+i%(benchCustomers-1)))
			}
		}
		sent := produceAt(b, s, rate, 5*time.Second, unrelated(0))
		waitEvents(b, r.ix, float64(orders+benchCustomers+sent), time.Minute)
		quiet := percentile(sm.take(events.TopicOrders), 0.99)

		done := make(chan time.Duration, 1)
		fanned := metricValue(b, r.ix, "ordertable_indexer_fanout_docs_total", nil)
		start := time.Now()
		writtenc := make(chan time.Duration, 1)
		s.produce(b, custEvent(events.CustomerUpdated, "c00000", 2, "Renamed", "FR"))
		go func() {
			for {
				n, err := countWhere(ctx, s.es, "orders_v1", "customer_version", 2)
				if err == nil && n >= orders {
					done <- time.Since(start)
					return
				}
				time.Sleep(250 * time.Millisecond)
			}
		}()
		go func() {
			for metricValue(b, r.ix, "ordertable_indexer_fanout_docs_total", nil) < fanned+orders {
				time.Sleep(10 * time.Millisecond)
			}
			writtenc <- time.Since(start)
		}()
		sent2 := produceAt(b, s, rate, 3*time.Second, unrelated(sent))
		var took time.Duration
		select {
		case took = <-done:
		case <-time.After(5 * time.Minute):
			b.Fatal("fan-out did not finish within 5 minutes")
		}
		waitEvents(b, r.ix, float64(orders+benchCustomers+sent+sent2+1), time.Minute)
		during := percentile(sm.take(events.TopicOrders), 0.99)
		b.ReportMetric(took.Seconds(), "fanout_visible_s")
		b.ReportMetric((<-writtenc).Seconds(), "fanout_written_s")
		b.ReportMetric(quiet.Seconds()*1000, "unrelated_p99_quiet_ms")
		b.ReportMetric(during.Seconds()*1000, "unrelated_p99_during_ms")
	}
}

// countWhere counts documents of index with field = value (refreshing first: visibility is
// what a user sees).
func countWhere(ctx context.Context, c *esindex.Client, index, field string, value any) (int, error) {
	return count(ctx, c, index, map[string]any{"term": map[string]any{field: value}})
}

func count(ctx context.Context, c *esindex.Client, index string, query any) (int, error) {
	if err := c.Refresh(ctx, index); err != nil {
		return 0, err
	}
	body, _ := json.Marshal(map[string]any{"query": query})
	_, data, err := c.Do(ctx, http.MethodPost, "/"+index+"/_count", body)
	if err != nil {
		return 0, err
	}
	var res struct{ Count int }
	if err := json.Unmarshal(data, &res); err != nil {
		return 0, err
	}
	return res.Count, nil
}

// BenchmarkBacklogRSS consumes a backlog of -bench.backlog events with the indexer in a child
// process (this test binary re-executed, so the broker and engine memory of this process don't
// count) and samples its resident set size.
func BenchmarkBacklogRSS(b *testing.B) {
	for range b.N {
		s := newStack(b)
		n := *benchBacklog
		produceFast(b, s.brokers, benchCustomers, benchCustomer)
		produceFast(b, s.brokers, n, func(i int) events.Event { return benchOrder(i, fmt.Sprintf("c%05d", i%benchCustomers)) })
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		listen := ln.Addr().String()
		_ = ln.Close()
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperIndexerProcess$")
		cmd.Env = append(os.Environ(), "INDEXER_HELPER=1", "HELPER_BROKERS="+strings.Join(s.brokers, ","),
			"HELPER_ES="+s.esURL, "HELPER_GROUP="+s.group, "HELPER_LISTEN="+listen, "HELPER_HEAPPROFILE="+*benchHeap)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill() }()
		start := time.Now()
		var rss []float64 // MiB, one sample per 500 ms
		var progress []float64
		total := float64(n + benchCustomers)
		logged := -1
		for {
			kb, err := rssKB(cmd.Process.Pid)
			if err != nil {
				b.Fatal(err)
			}
			m := scrapeMetrics(listen, "ordertable_indexer_events_total{", "go_memstats_heap_inuse_bytes")
			done := m["ordertable_indexer_events_total{"]
			rss = append(rss, float64(kb)/1024)
			progress = append(progress, done/total)
			// The curve, every 5 % (Go's heap in use next to the RSS tells a leak from the
			// runtime keeping freed memory).
			if step := int(20 * done / total); step > logged {
				logged = step
				b.Logf("%5.1f%% %8.0f events %6.0fs: rss %6.1f MiB, heap in use %6.1f MiB", 100*done/total, done,
					time.Since(start).Seconds(), float64(kb)/1024, m["go_memstats_heap_inuse_bytes"]/(1<<20))
			}
			if done >= total {
				break
			}
			if time.Since(start) > 30*time.Minute {
				b.Fatalf("backlog not consumed within 30 minutes (%v of %v events)", done, total)
			}
			time.Sleep(500 * time.Millisecond)
		}
		took := time.Since(start)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		at := func(p float64) float64 {
			for i := range progress {
				if progress[i] >= p {
					return rss[i]
				}
			}
			return rss[len(rss)-1]
		}
		b.ReportMetric(float64(n)/took.Seconds(), "events/s")
		b.ReportMetric(at(0.1), "rss_10%_MiB")
		b.ReportMetric(at(0.5), "rss_50%_MiB")
		b.ReportMetric(at(0.9), "rss_90%_MiB")
		b.ReportMetric(slices.Max(rss), "rss_max_MiB")
		b.ReportMetric(at(0.9)/at(0.1), "rss_90%/10%")
	}
}

// TestHelperIndexerProcess is the child process of BenchmarkBacklogRSS; it does nothing in a
// normal test run.
func TestHelperIndexerProcess(t *testing.T) {
	if os.Getenv("INDEXER_HELPER") != "1" {
		t.Skip("helper process of BenchmarkBacklogRSS")
	}
	es, err := esindex.NewClient(esindex.Config{URLs: []string{os.Getenv("HELPER_ES")}})
	if err != nil {
		t.Fatal(err)
	}
	ix, err := New(Config{
		Kafka: kafkaconfig.Config{Brokers: strings.Split(os.Getenv("HELPER_BROKERS"), ",")}, Group: os.Getenv("HELPER_GROUP"),
		ESClient: es, BulkSize: 500, FlushInterval: 100 * time.Millisecond, Workers: 4, Listen: os.Getenv("HELPER_LISTEN"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := ix.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv("HELPER_HEAPPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			t.Fatal(err)
		}
	}
}

// scrapeMetrics sums, for each prefix, the samples of a /metrics endpoint whose line starts with
// it (all series of a metric when the prefix ends with "{"); zeros when it doesn't answer yet.
func scrapeMetrics(listen string, prefixes ...string) map[string]float64 {
	sums := make(map[string]float64, len(prefixes))
	res, err := http.Get("http://" + listen + "/metrics")
	if err != nil {
		return sums
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return sums
	}
	for _, line := range strings.Split(string(body), "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				sums[p] += v
			}
		}
	}
	return sums
}

func rssKB(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// countAll counts the documents of index (refreshing first).
func countAll(ctx context.Context, c *esindex.Client, index string) (int, error) {
	return count(ctx, c, index, map[string]any{"match_all": map[string]any{}})
}
