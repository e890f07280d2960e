// Package chaos holds the fault-injection and abuse suites: the whole system runs in-process
// (real PostgreSQL, the embedded or a real Kafka and search engine) while the tests drive
// continuous writes through the services and break components, then check that every index
// equals the join of the source databases.
//
// `go test ./chaos` runs the short version (a couple of minutes); CHAOS=long runs the long
// one (`make chaos`); -short skips the fault-injection suite. Every run prints its seed;
// replay one with -seed=N.
package chaos

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/bench/stack"
	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/esindex/faultproxy"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/mappings"
	"github.com/ordertable/ordertable/reindex"
)

var (
	seedFlag = flag.Uint64("seed", 0, "seed of the randomized chaos run (0: from the clock)")
	verbose  = flag.Bool("chaos.log", false, "print the components' logs")
)

var timeZero time.Time

// plan is the size of one chaos run.
type plan struct {
	Duration        time.Duration // of the workload under faults
	OpsPerSec       float64
	Workers         int
	IndexerKills    int
	RelayKills      int
	BrokerRestarts  int
	ESOutages       int
	ESOutageMax     time.Duration
	BulkRejectBurst int
	ConvergeTimeout time.Duration
}

func planFor(long bool) plan {
	if long {
		return plan{Duration: 12 * time.Minute, OpsPerSec: 60, Workers: 8, IndexerKills: 80, RelayKills: 24,
			BrokerRestarts: 4, ESOutages: 4, ESOutageMax: 60 * time.Second, BulkRejectBurst: 6, ConvergeTimeout: 10 * time.Minute}
	}
	return plan{Duration: 80 * time.Second, OpsPerSec: 40, Workers: 4, IndexerKills: 22, RelayKills: 6,
		BrokerRestarts: 1, ESOutages: 1, ESOutageMax: 8 * time.Second, BulkRejectBurst: 2, ConvergeTimeout: 4 * time.Minute}
}

// faultLog counts the faults injected, by kind.
type faultLog struct {
	mu     sync.Mutex
	counts map[string]int
	last   time.Time
}

func (f *faultLog) add(kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts == nil {
		f.counts = map[string]int{}
	}
	f.counts[kind]++
	f.last = time.Now()
}

func (f *faultLog) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var parts []string
	total := 0
	for _, k := range []string{"indexer kill", "indexer kill during reindex", "relay kill", "broker restart", "engine unreachable", "bulk 429/503 burst", "reindex kill"} {
		if n := f.counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
			total += n
		}
	}
	return fmt.Sprintf("%d faults (%s)", total, strings.Join(parts, ", "))
}

func TestChaosConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("fault-injection suite runs the whole stack for minutes; skipped with -short")
	}
	long := os.Getenv("CHAOS") == "long"
	p := planFor(long)
	if d, err := time.ParseDuration(os.Getenv("CHAOS_DURATION")); err == nil && d > 0 {
		p.Duration = d // shorter or longer runs while debugging; the fault counts stay
	}
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("chaos seed %d (replay: go test ./chaos -run TestChaosConvergence -seed=%d), long=%v", seed, seed, long)
	rng := rand.New(rand.NewPCG(seed, 0))

	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.Duration+p.ConvergeTimeout+8*time.Minute)
	defer cancel()
	brokers := testenv.EnvKafkaBrokers()
	st, err := stack.Start(ctx, stack.Config{
		ESURL:             os.Getenv("ES_URL"),
		KafkaBrokers:      brokers,
		AdminDatabaseURL:  testenv.AdminDatabaseURL(),
		WorkDir:           t.TempDir(),
		Name:              "chaos",
		RelayPollInterval: 200 * time.Millisecond,
		Logger:            logger,
	})
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	defer st.Close()
	engineLocal, brokerLocal := st.Embedded()
	st.EnableIndexers(stack.IndexerOptions{FlushInterval: 100 * time.Millisecond})
	// ix-a runs in-process (killed by cancelling it anywhere); ix-b runs as a child process of
	// the ordertable binary and is killed with SIGKILL.
	ixIDs := []string{"ix-a", "ix-b"}
	bin := buildBinary(t)
	ixLog := filepath.Join(t.TempDir(), "ix-b.log")
	startIndexer := func(id string) error {
		if id == "ix-b" && bin != "" {
			return st.StartIndexerProcess(id, bin, ixLog)
		}
		return st.StartIndexer(id)
	}
	for _, id := range ixIDs {
		if err := startIndexer(id); err != nil {
			t.Fatal(err)
		}
	}

	wl := newWorkload(st, seed)
	if err := wl.seedData(ctx, 20, 150); err != nil {
		t.Fatalf("seed data: %v", err)
	}
	chk, err := newChecker(st, wl)
	if err != nil {
		t.Fatal(err)
	}

	faults := &faultLog{}
	var reindexing atomic.Bool
	runCtx, stopRun := context.WithTimeout(ctx, p.Duration)
	defer stopRun()
	var wg sync.WaitGroup
	wg.Go(func() { wl.run(runCtx, p.Workers, p.OpsPerSec) })

	// The fault schedule: each kind of fault at random moments spread over the run.
	at := func(n int, kind string) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			slot := p.Duration * 9 / 10 / time.Duration(max(n, 1))
			out[i] = slot*time.Duration(i) + time.Duration(rng.Int64N(int64(slot)))
		}
		return out
	}
	// schedule injects a fault at each of times until the workload ends. scheduleAll is for
	// faults whose planned count is part of the test's promise (indexer kills: 20+): those
	// that fell behind (a loaded machine makes each stop and restart slower) still happen
	// after the workload ends, paced as during it, while the system catches up.
	scheduleN := func(all bool, times []time.Duration, fn func(ctx context.Context, r *rand.Rand)) {
		r := rand.New(rand.NewPCG(rng.Uint64(), 1))
		wg.Go(func() {
			start := time.Now()
			for _, d := range times {
				select {
				case <-runCtx.Done():
					if !all || ctx.Err() != nil {
						return
					}
				case <-time.After(time.Until(start.Add(d))):
				}
				fctx := runCtx
				if runCtx.Err() != nil {
					fctx = ctx // late faults keep their own pauses: no storm of back-to-back kills
				}
				fn(fctx, r)
			}
		})
	}
	schedule := func(times []time.Duration, fn func(ctx context.Context, r *rand.Rand)) { scheduleN(false, times, fn) }
	scheduleAll := func(times []time.Duration, fn func(ctx context.Context, r *rand.Rand)) { scheduleN(true, times, fn) }
	sleep := func(ctx context.Context, d time.Duration) {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	scheduleAll(at(p.IndexerKills, "indexer"), func(ctx context.Context, r *rand.Rand) {
		id := ixIDs[r.IntN(len(ixIDs))]
		st.KillIndexer(id)
		if reindexing.Load() {
			faults.add("indexer kill during reindex")
		} else {
			faults.add("indexer kill")
		}
		sleep(ctx, time.Duration(r.IntN(1500))*time.Millisecond)
		if err := startIndexer(id); err != nil {
			t.Errorf("restart indexer: %v", err)
		}
	})
	schedule(at(p.RelayKills, "relay"), func(ctx context.Context, r *rand.Rand) {
		svc := []string{"customers", "orders"}[r.IntN(2)]
		st.KillRelay(svc)
		faults.add("relay kill")
		sleep(ctx, time.Duration(200+r.IntN(2000))*time.Millisecond)
		st.StartRelay(svc)
	})
	if brokerLocal {
		schedule(at(p.BrokerRestarts, "broker"), func(ctx context.Context, r *rand.Rand) {
			if err := st.StopBroker(); err != nil {
				t.Errorf("stop broker: %v", err)
				return
			}
			faults.add("broker restart")
			sleep(ctx, time.Duration(1000+r.IntN(4000))*time.Millisecond)
			if err := st.StartBroker(context.Background()); err != nil {
				t.Errorf("restart broker: %v", err)
			}
		})
	}
	schedule(at(p.ESOutages, "es"), func(ctx context.Context, r *rand.Rand) {
		st.Proxy().Down()
		faults.add("engine unreachable")
		d := 5*time.Second + time.Duration(r.Int64N(int64(p.ESOutageMax-5*time.Second+1)))
		sleep(ctx, d)
		if err := st.Proxy().Up(); err != nil {
			t.Errorf("fault proxy up: %v", err)
		}
	})
	schedule(at(p.BulkRejectBurst, "bulk"), func(ctx context.Context, r *rand.Rand) {
		status := []int{429, 503}[r.IntN(2)]
		st.Proxy().SetFaults(faultproxy.Faults{PathContains: "/_bulk", RejectRate: 0.2, RejectStatus: status, ItemRejectRate: 0.3, FailAfterRate: 0.05})
		faults.add("bulk 429/503 burst")
		sleep(ctx, time.Duration(3000+r.IntN(7000))*time.Millisecond)
		st.Proxy().SetFaults(faultproxy.Faults{})
	})

	// The reindex to orders_v2, started a third into the run, killed before every step once and
	// once in the middle of its backfill, resumed each time.
	// It may finish after the workload: it runs on the outer context and is waited for.
	var reindexResult atomic.Value
	var reindexWG sync.WaitGroup
	reindexSeed := rng.Uint64()
	reindexWG.Go(func() {
		sleep(runCtx, p.Duration/4)
		if runCtx.Err() != nil {
			return
		}
		reindexing.Store(true)
		defer reindexing.Store(false)
		rctx, cancel := context.WithTimeout(ctx, p.Duration+3*time.Minute)
		defer cancel()
		job, err := runReindexWithKills(rctx, st, faults, reindexSeed)
		if err != nil {
			reindexResult.Store("error: " + err.Error())
			return
		}
		reindexResult.Store(fmt.Sprintf("job %s ended at step %s", job.ID, job.Step))
	})

	<-runCtx.Done()
	wg.Wait()
	reindexWG.Wait()
	// Quiescence: every component up, no fault active, no more writes.
	if err := st.Proxy().Up(); err != nil {
		t.Fatalf("fault proxy up: %v", err)
	}
	st.Proxy().SetFaults(faultproxy.Faults{})
	if brokerLocal && st.Broker() == nil {
		if err := st.StartBroker(ctx); err != nil {
			t.Fatalf("restart broker: %v", err)
		}
	}
	st.StartRelay("customers")
	st.StartRelay("orders")
	for _, id := range ixIDs {
		if err := startIndexer(id); err != nil {
			t.Fatal(err)
		}
	}
	quiet := time.Now()
	t.Logf("workload: %d operations (%s)", wl.total(), wl.summary())
	if v := wl.lastErr.Load(); v != nil {
		t.Logf("last unexpected workload error: %v", v)
	}
	t.Logf("faults: %s; engine embedded=%v, broker embedded=%v; fault proxy: %+v", faults, engineLocal, brokerLocal, st.Proxy().Stats())
	if v := reindexResult.Load(); v != nil {
		t.Logf("reindex: %v", v)
	}

	var last outcome
	var lastErr error
	deadline := quiet.Add(p.ConvergeTimeout)
	for {
		last, lastErr = chk.check(ctx)
		if lastErr == nil && last.clean() {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		sleep(ctx, 2*time.Second)
	}
	converge := time.Since(quiet)
	t.Logf("chaos report: operations %d, %s, missing %d, stale %d, resurrected %d, duplicated %d, extra %d, live orders %d, indices %v, time to converge %s",
		wl.total(), faults, last.Missing, last.Stale, last.Resurrected, last.Duplicated, last.Extra, last.Orders, last.Indices, converge.Round(100*time.Millisecond))
	if lastErr != nil {
		t.Fatalf("comparison failed: %v", lastErr)
	}
	if !last.clean() {
		t.Fatalf("not converged within %s after the last fault: %s", p.ConvergeTimeout, last)
	}
	if n := faults.count("indexer kill") + faults.count("indexer kill during reindex"); n < min(p.IndexerKills, 20) && os.Getenv("CHAOS_DURATION") == "" {
		t.Errorf("indexer killed %d times, want at least %d", n, min(p.IndexerKills, 20))
	}
	if wl.failures.Load() > wl.total()/20 {
		t.Errorf("%d workload operations failed unexpectedly (last: %v)", wl.failures.Load(), wl.lastErr.Load())
	}
	if v, _ := reindexResult.Load().(string); !strings.Contains(v, string(reindex.StepSwapped)) {
		t.Errorf("reindex did not reach the swap under faults: %v", v)
	}
	// The reindex job's own verification must agree.
	r, closeR, err := newReindexer(st)
	if err != nil {
		t.Fatal(err)
	}
	defer closeR()
	res, err := r.Verify(ctx, reindex.VerifyOptions{Mode: "full"})
	if err != nil {
		t.Fatalf("reindex verify: %v", err)
	}
	t.Logf("ordertable verify (full) on the live index: %d checked, %d missing, %d extra, %d stale", res.Checked, res.Missing, res.Extra, res.Stale)
	if !res.OK {
		t.Errorf("ordertable verify disagrees with the convergence check: %+v", res)
	}
}

// buildBinary builds cmd/ordertable for the SIGKILLed indexer; CHAOS_INPROCESS=1 skips it
// (every indexer then runs in-process).
func buildBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv("CHAOS_INPROCESS") == "1" {
		return ""
	}
	bin := filepath.Join(t.TempDir(), "ordertable")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/ordertable")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build ordertable for the SIGKILL indexer: %v\n%s", err, out)
	}
	return bin
}

func (f *faultLog) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[kind]
}

func (f *faultLog) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.counts {
		n += c
	}
	return n
}

// newReindexer builds the reindex job against the stack; before, when given, is called before
// every step. Call closeFn when done.
func newReindexer(st *stack.Stack, before ...func(ctx context.Context, s reindex.Step) error) (r *reindex.Reindexer, closeFn func(), err error) {
	es, err := esindex.NewClient(esindex.Config{URLs: []string{st.ESURL}})
	if err != nil {
		return nil, nil, err
	}
	closeFn = func() {}
	cfg := reindex.Config{ES: es, Orders: st.Sources(), Customers: st.Sources(), Slices: 8, Workers: 2, PageSize: 500,
		VerifyMode: "sample", SampleSize: 500, SettleTimeout: time.Minute, LeaseTTL: 3 * time.Second, LagTimeout: 3 * time.Minute}
	if g := st.IndexerGroup(); g != "" {
		lag, err := reindex.NewKafkaLag(kafkaconfig.Config{Brokers: st.Brokers, ClientID: "chaos-reindex"}, g, []string{events.TopicCustomers, events.TopicOrders})
		if err == nil {
			cfg.Lag = lag
			closeFn = func() { _ = lag.Close() }
		}
	}
	if len(before) > 0 {
		cfg.BeforeStep = before[0]
	}
	r, err = reindex.New(cfg)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return r, closeFn, nil
}

var errKilled = errors.New("chaos: reindex job killed")

// runReindexWithKills runs the reindex to the latest mapping, killing the job once before each
// of its steps and once in the middle of the backfill, and resuming it after every kill as an
// operator would (`ordertable reindex run` again).
func runReindexWithKills(ctx context.Context, st *stack.Stack, faults *faultLog, seed uint64) (*reindex.Job, error) {
	m, err := mappings.Latest()
	if err != nil {
		return nil, err
	}
	rm, err := reindex.ParseMappingFile(m.Body)
	if err != nil {
		return nil, err
	}
	killed := map[reindex.Step]bool{}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 3))
	midBackfill := false
	for attempt := 0; attempt < 40; attempt++ {
		jobCtx, cancel := context.WithCancel(ctx)
		r, closeR, err := newReindexer(st, func(_ context.Context, s reindex.Step) error {
			mu.Lock()
			defer mu.Unlock()
			if !killed[s] {
				killed[s] = true
				faults.add("reindex kill")
				return fmt.Errorf("%w before step %s", errKilled, s)
			}
			if !midBackfill && s == reindex.StepBackfilled {
				// The backfill runs now: kill it after a moment, mid-copy.
				midBackfill = true
				d := time.Duration(200+rng.IntN(800)) * time.Millisecond
				go func() {
					select {
					case <-jobCtx.Done():
					case <-time.After(d):
						faults.add("reindex kill")
						cancel()
					}
				}()
			}
			return nil
		})
		if err != nil {
			cancel()
			return nil, err
		}
		job, err := r.Run(jobCtx, rm, reindex.RunOptions{})
		cancel()
		closeR()
		if err == nil && job != nil && job.Step == reindex.StepSwapped {
			return job, nil
		}
		if ctx.Err() != nil {
			return job, fmt.Errorf("run ended before the reindex finished (last: %v)", err)
		}
		if errors.Is(err, reindex.ErrVerifyFailed) {
			// Verification found differences that did not settle: the job rightly refuses to
			// swap. The convergence check below reports what differs.
			return job, err
		}
		if err != nil && !errors.Is(err, errKilled) && !errors.Is(err, context.Canceled) {
			// A real failure (e.g. the lease of the killed run not expired yet): retry shortly.
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil, errors.New("reindex did not finish after 40 attempts")
}
