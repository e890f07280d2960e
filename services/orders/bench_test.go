package orders_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	stdos "os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/outbox"
	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

// lagRecorder collects the relay's commit-to-ack lags.
type lagRecorder struct {
	mu          sync.Mutex
	lags        []time.Duration
	first, last time.Time // of the acknowledgements
}

func (l *lagRecorder) observe(d time.Duration) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lags) == 0 {
		l.first = now
	}
	l.last = now
	l.lags = append(l.lags, d)
}

func (l *lagRecorder) reset() { l.mu.Lock(); l.lags = nil; l.mu.Unlock() }

// rate is the steady publishing rate: acknowledgements per second between the first and the
// last (the relay's one-time connection set-up is not part of its throughput).
func (l *lagRecorder) rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lags) < 2 || !l.last.After(l.first) {
		return 0
	}
	return float64(len(l.lags)-1) / l.last.Sub(l.first).Seconds()
}
func (l *lagRecorder) p(q float64) (time.Duration, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lags) == 0 {
		return 0, 0
	}
	s := slices.Clone(l.lags)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))], len(s)
}

// BenchmarkWritePath measures, in one run against real PostgreSQL and the broker:
//
//   - api_orders/s: orders created through the HTTP API (b.N of them, 32 concurrent
//     clients, each create checking its customer over HTTP), relay paused;
//   - relay_events/s: the relay publishing those b.N events to Kafka (acks=all), from the
//     first acknowledgement to the last;
//   - relay/api: their ratio (the relay must not be the bottleneck: >= 0.9);
//   - lag_p50_ms, lag_p99_ms: commit-to-ack lag while writing at half api_orders/s for 3 s
//     with the relay running.
//
// Run: go test ./services/orders -run '^$' -bench WritePath -benchtime 5000x
func BenchmarkWritePath(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	brokers := testenv.KafkaBrokers(b)
	cs, err := customers.New(ctx, customers.Config{DatabaseURL: testenv.NewDatabase(b, "benchc")})
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	csrv := httptest.NewServer(cs.Handler())
	defer csrv.Close()
	lags := &lagRecorder{}
	os, err := orders.New(ctx, orders.Config{DatabaseURL: testenv.NewDatabase(b, "bencho"), CustomersURL: csrv.URL,
		Kafka: kafkaconfig.Config{Brokers: brokers}, Relay: outbox.Config{ObserveLag: lags.observe},
		Logger: slog.New(slog.NewTextHandler(stdos.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		b.Fatal(err)
	}
	defer os.Close()
	osrv := httptest.NewServer(os.Handler())
	defer osrv.Close()
	hc := entityapi.DefaultHTTPClient()
	var custIDs []string
	cc := customers.NewClient(csrv.URL, "", hc)
	for range 100 {
		c, err := cc.Create(ctx, customers.CreateInput{Name: "Bench Co", Email: "b@bench.example", Country: "DE"})
		if err != nil {
			b.Fatal(err)
		}
		custIDs = append(custIDs, c.ID)
	}
	oc := orders.NewClient(osrv.URL, "", hc)
	create := func(i int) error {
		_, err := oc.Create(ctx, orders.CreateInput{CustomerID: custIDs[i%len(custIDs)], Total: "199.90", Currency: "EUR", Status: "placed"})
		return err
	}
	const clients = 32

	// 1. API write rate, relay paused: events accumulate in the outbox.
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := create(i); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	apiDur := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	apiRate := float64(b.N) / apiDur.Seconds()

	// 2. Relay throughput: drain the b.N pending events.
	relayCtx, stopRelay := context.WithCancel(ctx)
	defer stopRelay()
	relayDone := make(chan struct{})
	go func() { _ = os.RunRelay(relayCtx); close(relayDone) }()
	defer func() { stopRelay(); <-relayDone }()
	start = time.Now()
	deadline := start.Add(5 * time.Minute)
	for {
		_, n := lags.p(0)
		if n >= b.N {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("relay published %d of %d events in 5 minutes", n, b.N)
		}
		time.Sleep(time.Millisecond)
	}
	relayRate := lags.rate()

	// 3. Lag at half the maximum write rate.
	lags.reset()
	target := apiRate / 2
	interval := time.Duration(float64(time.Second) / target)
	tokens := make(chan int, clients)
	phase := 3 * time.Second
	go func() {
		defer close(tokens)
		t := time.NewTicker(max(interval, 50*time.Microsecond))
		defer t.Stop()
		end := time.Now().Add(phase)
		for i := 0; time.Now().Before(end); i++ {
			<-t.C
			tokens <- i
		}
	}()
	var sent atomic.Int64
	for range clients {
		wg.Go(func() {
			for i := range tokens {
				if err := create(i); err != nil {
					failed.Store(err)
				}
				sent.Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	deadline = time.Now().Add(time.Minute)
	for {
		if _, n := lags.p(0); n >= int(sent.Load()) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	p50, _ := lags.p(0.50)
	p99, n := lags.p(0.99)
	b.ReportMetric(apiRate, "api_orders/s")
	b.ReportMetric(relayRate, "relay_events/s")
	b.ReportMetric(relayRate/apiRate, "relay/api")
	b.ReportMetric(float64(sent.Load())/phase.Seconds(), "halfrate_orders/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "lag_p50_ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "lag_p99_ms")
	b.Logf("N=%d api %.0f orders/s, relay %.0f events/s (%.2fx), half rate %.0f/s: lag p50 %v p99 %v over %d events",
		b.N, apiRate, relayRate, relayRate/apiRate, float64(sent.Load())/phase.Seconds(), p50, p99, n)
}
