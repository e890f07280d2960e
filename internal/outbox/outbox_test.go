package outbox_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/outbox"
	"github.com/ordertable/ordertable/internal/outbox/outboxtest"
	"github.com/ordertable/ordertable/internal/pgstore"
	"github.com/ordertable/ordertable/internal/testenv"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the randomized outbox tests (0: random)")

func testSeed(t *testing.T) uint64 {
	s := *seedFlag
	if s == 0 {
		s = rand.Uint64()
	}
	t.Logf("seed %d (replay with -seed=%d)", s, s)
	return s
}

// openDB creates a fresh database with the outbox table and a toy entity table.
func openDB(t testing.TB) (string, *pgxpool.Pool) {
	t.Helper()
	url := testenv.NewDatabase(t, "outbox")
	ctx := context.Background()
	pool, err := pgstore.Open(ctx, pgstore.Options{DatabaseURL: url, Migrations: fstest.MapFS{},
		GoMigrations: []*goose.Migration{outbox.Migration(1)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `CREATE TABLE items (id uuid PRIMARY KEY, version bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return url, pool
}

// write performs one change of entity id in a transaction like the services do: lock/bump
// the row, append the event, then wait (delay) before committing or rolling back.
func write(ctx context.Context, pool *pgxpool.Pool, id string, delay time.Duration, rollback bool) (events.Event, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return events.Event{}, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	var v int64
	if err := tx.QueryRow(ctx, `INSERT INTO items (id, version) VALUES ($1, 1)
		ON CONFLICT (id) DO UPDATE SET version = items.version + 1 RETURNING version`, id).Scan(&v); err != nil {
		return events.Event{}, err
	}
	now := time.Now().UTC()
	typ := events.CustomerUpdated
	if v == 1 {
		typ = events.CustomerCreated
	}
	e := events.Event{ID: uuid.Must(uuid.NewV7()).String(), Type: typ, Time: now, EntityID: id, Version: v,
		Customer: &events.Customer{ID: id, Name: "n", Email: "e@x.io", Country: "DE", CreatedAt: now, UpdatedAt: now, Version: v}}
	if err := outbox.Append(ctx, tx, e); err != nil {
		return events.Event{}, err
	}
	if delay > 0 {
		time.Sleep(delay) // holds the transaction open so commits happen out of id order
	}
	if rollback {
		return e, tx.Rollback(ctx)
	}
	return e, tx.Commit(ctx)
}

func newRelay(t testing.TB, url string, brokers []string, mod func(*outbox.Config)) *outbox.Relay {
	t.Helper()
	cfg := outbox.Config{Name: "test", DatabaseURL: url, Kafka: kafkaconfig.Config{Brokers: brokers},
		Topics: []string{events.TopicCustomers}, PollInterval: 200 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if mod != nil {
		mod(&cfg)
	}
	r, err := outbox.NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runRelay runs r until the test ends.
func runRelay(t testing.TB, r *outbox.Relay) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return cancel
}

func waitEmpty(t testing.TB, pool *pgxpool.Pool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still holds %d rows after %v", n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The gap trap: writers commit in random order with random delays while the relay runs;
// some roll back. Kafka must end up with every committed event, no rolled-back one, and each
// entity's events in version order.
func TestGapTrap(t *testing.T) {
	seed := testSeed(t)
	url, pool := openDB(t)
	brokers := testenv.KafkaBrokers(t)
	writers, perWriter, nEntities := 16, 40, 24
	if testing.Short() {
		writers, perWriter = 8, 15
	}
	entities := map[string]bool{}
	ids := make([]string, nEntities)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7()).String()
		entities[ids[i]] = true
	}
	cons := outboxtest.Consume(t, brokers, events.TopicCustomers, entities)
	runRelay(t, newRelay(t, url, brokers, func(c *outbox.Config) { c.BatchSize = 7 }))

	var mu sync.Mutex
	committed, rolledBack := map[string]bool{}, map[string]bool{}
	var wg sync.WaitGroup
	for w := range writers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for range perWriter {
				id := ids[rng.IntN(len(ids))]
				delay := time.Duration(rng.IntN(15)) * time.Millisecond
				rb := rng.IntN(5) == 0
				e, err := write(context.Background(), pool, id, delay, rb)
				if err != nil {
					t.Errorf("write: %v", err)
					return
				}
				mu.Lock()
				if rb {
					rolledBack[e.ID] = true
				} else {
					committed[e.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	cons.WaitFor(t, committed, 60*time.Second)
	waitEmpty(t, pool, 10*time.Second)
	n, dups := cons.Check(t, rolledBack)
	t.Logf("%d committed, %d rolled back, %d events received (%d duplicates)", len(committed), len(rolledBack), n, dups)
	if n != len(committed)+dups {
		t.Fatalf("received %d events, want %d committed + %d duplicates", n, len(committed), dups)
	}
}

// Exactly one relay per service publishes; when it stops, a standby takes over.
func TestSingleLeaderAndTakeover(t *testing.T) {
	url, pool := openDB(t)
	brokers := testenv.KafkaBrokers(t)
	a := newRelay(t, url, brokers, func(c *outbox.Config) { c.LockRetryInterval = 50 * time.Millisecond })
	b := newRelay(t, url, brokers, func(c *outbox.Config) { c.LockRetryInterval = 50 * time.Millisecond })
	stopA := runRelay(t, a)
	waitUntil(t, 10*time.Second, "a relay to lead", a.Leader)
	runRelay(t, b)
	id := uuid.Must(uuid.NewV7()).String()
	cons := outboxtest.Consume(t, brokers, events.TopicCustomers, map[string]bool{id: true})
	e1, err := write(context.Background(), pool, id, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	cons.WaitFor(t, map[string]bool{e1.ID: true}, 20*time.Second)
	if b.Leader() {
		t.Fatal("two relays lead at once")
	}
	stopA()
	waitUntil(t, 10*time.Second, "the standby to take over", b.Leader)
	e2, err := write(context.Background(), pool, id, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	cons.WaitFor(t, map[string]bool{e2.ID: true}, 20*time.Second)
	cons.Check(t, nil)
}

func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The broker goes away: writes keep committing, and their events arrive once it is back
// (the embedded broker restarts on the same port from its data directory).
func TestBrokerDownAndUp(t *testing.T) {
	url, pool := openDB(t)
	dir := t.TempDir()
	b := testenv.EmbeddedKafka(t, dir)
	addr := b.Addr()
	brokers := []string{addr}
	ids := map[string]bool{}
	var entities []string
	for range 10 {
		id := uuid.Must(uuid.NewV7()).String()
		ids[id] = true
		entities = append(entities, id)
	}
	reg := prometheus.NewRegistry()
	runRelay(t, newRelay(t, url, brokers, func(c *outbox.Config) { c.Registerer = reg }))
	before := map[string]bool{}
	for _, id := range entities {
		e, err := write(context.Background(), pool, id, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		before[e.ID] = true
	}
	c1 := outboxtest.Consume(t, brokers, events.TopicCustomers, ids)
	c1.WaitFor(t, before, 30*time.Second)

	b.Close()
	during := map[string]bool{}
	for i := range 200 {
		e, err := write(context.Background(), pool, entities[i%len(entities)], 0, false)
		if err != nil {
			t.Fatalf("write while Kafka is down: %v", err)
		}
		during[e.ID] = true
	}
	var pending int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending == 0 {
		t.Fatal("outbox is empty while Kafka is down; events were lost or published elsewhere")
	}
	waitUntil(t, 20*time.Second, "the metrics to show the outage", func() bool {
		return metric(t, reg, "ordertable_outbox_errors_total") > 0 && metric(t, reg, "ordertable_outbox_oldest_age_seconds") > 0
	})
	restartBroker(t, addr, dir)
	c2 := outboxtest.Consume(t, brokers, events.TopicCustomers, ids)
	all := map[string]bool{}
	for id := range before {
		all[id] = true
	}
	for id := range during {
		all[id] = true
	}
	c2.WaitFor(t, all, 60*time.Second)
	waitEmpty(t, pool, 10*time.Second)
	n, dups := c2.Check(t, nil)
	t.Logf("%d events after restart (%d duplicates), %d were pending while down", n, dups, pending)
	waitUntil(t, 10*time.Second, "the oldest-age gauge to return to 0", func() bool {
		return metric(t, reg, "ordertable_outbox_oldest_age_seconds") == 0
	})
	if got, want := metric(t, reg, "ordertable_outbox_published_total"), float64(len(before)+len(during)); got < want {
		t.Fatalf("published_total %v, want >= %v", got, want)
	}
	if metric(t, reg, "ordertable_outbox_lag_seconds") < float64(len(before)+len(during)) {
		t.Fatal("lag histogram did not count every published event")
	}
}

// restartBroker starts a broker on addr persisting in dir, retrying while the port lingers.
func restartBroker(t testing.TB, addr, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := startBroker(addr, dir)
		if err == nil {
			t.Cleanup(b.Close)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("restart broker on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond) // the port may linger briefly after close
	}
}

// The relay is killed (SIGKILL, mid-batch) while writers keep committing; a new relay
// publishes everything committed. Duplicates are allowed, losses are not.
func TestRelayCrashRestart(t *testing.T) {
	if os.Getenv("OUTBOX_CRASH_HELPER") != "" {
		t.Skip("helper process")
	}
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	url, pool := openDB(t)
	brokers := testenv.KafkaBrokers(t)
	entities := map[string]bool{}
	var ids []string
	for range 50 {
		id := uuid.Must(uuid.NewV7()).String()
		entities[id] = true
		ids = append(ids, id)
	}
	committed := map[string]bool{}
	var mu sync.Mutex
	round := uint64(0)
	// writeN commits n changes from 8 concurrent writers.
	writeN := func(n int) {
		round++
		var wg sync.WaitGroup
		for w := range 8 {
			wrng := rand.New(rand.NewPCG(seed, round<<8|uint64(w)))
			wg.Go(func() {
				for range n / 8 {
					e, err := write(context.Background(), pool, ids[wrng.IntN(len(ids))], 0, false)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					committed[e.ID] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	initial := 2000
	if testing.Short() {
		initial = 800
	}
	writeN(initial)
	cons := outboxtest.Consume(t, brokers, events.TopicCustomers, entities)

	cmd := exec.Command(os.Args[0], "-test.run=^TestRelayCrashHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "OUTBOX_CRASH_HELPER=1", "OUTBOX_DB="+url, "OUTBOX_BROKERS="+brokers[0])
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once it is busy publishing: some but not all events have arrived.
	killAt := initial/10 + rng.IntN(initial/2)
	waitUntil(t, 60*time.Second, fmt.Sprintf("%d events from the helper relay", killAt), func() bool {
		return cons.Distinct() >= killAt
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	var left int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the relay after >= %d events; %d rows left in the outbox", killAt, left)
	writeN(300)
	runRelay(t, newRelay(t, url, brokers, nil))
	cons.WaitFor(t, committed, 60*time.Second)
	waitEmpty(t, pool, 10*time.Second)
	n, dups := cons.Check(t, nil)
	t.Logf("%d committed, %d received, %d duplicates", len(committed), n, dups)
}

// TestRelayCrashHelper is the relay process that TestRelayCrashRestart kills.
func TestRelayCrashHelper(t *testing.T) {
	if os.Getenv("OUTBOX_CRASH_HELPER") == "" {
		t.Skip("only run as TestRelayCrashRestart's helper process")
	}
	r := newRelay(t, os.Getenv("OUTBOX_DB"), []string{os.Getenv("OUTBOX_BROKERS")}, func(c *outbox.Config) { c.BatchSize = 20 })
	_ = r.Run(context.Background()) // runs until killed
}

// The relay's database session is killed (as by a failover or an idle-connection reaper):
// it reconnects, takes the lock again and keeps publishing.
func TestRelayReconnectsAfterSessionLoss(t *testing.T) {
	url, pool := openDB(t)
	brokers := testenv.KafkaBrokers(t)
	r := newRelay(t, url, brokers, func(c *outbox.Config) { c.MaxBackoff = 200 * time.Millisecond })
	runRelay(t, r)
	waitUntil(t, 10*time.Second, "the relay to lead", r.Leader)
	id := uuid.Must(uuid.NewV7()).String()
	cons := outboxtest.Consume(t, brokers, events.TopicCustomers, map[string]bool{id: true})
	want := map[string]bool{}
	for round := range 3 {
		var killed int
		if err := pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1`, outbox.ApplicationName("test")).Scan(&killed); err != nil {
			t.Fatal(err)
		}
		if killed == 0 {
			t.Fatalf("round %d: found no relay session to kill", round)
		}
		e, err := write(context.Background(), pool, id, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		want[e.ID] = true
		cons.WaitFor(t, want, 30*time.Second)
		waitUntil(t, 10*time.Second, "the relay to lead again", r.Leader)
	}
	cons.Check(t, nil)
}

// Kafka is unreachable when the relay starts: events wait in the outbox and flow once a
// broker appears at the configured address.
func TestKafkaDownAtStart(t *testing.T) {
	url, pool := openDB(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	runRelay(t, newRelay(t, url, []string{addr}, nil))
	id := uuid.Must(uuid.NewV7()).String()
	want := map[string]bool{}
	for range 5 {
		e, err := write(context.Background(), pool, id, 0, false)
		if err != nil {
			t.Fatalf("write with Kafka down: %v", err)
		}
		want[e.ID] = true
	}
	restartBroker(t, addr, t.TempDir())
	cons := outboxtest.Consume(t, []string{addr}, events.TopicCustomers, map[string]bool{id: true})
	cons.WaitFor(t, want, 60*time.Second)
	waitEmpty(t, pool, 10*time.Second)
	cons.Check(t, nil)
}

// metric returns the value of a counter or gauge, or the sample count of a histogram.
func metric(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}
