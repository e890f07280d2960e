package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ordertable/ordertable/internal/bench/stack"
	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/mappings"
	"github.com/ordertable/ordertable/reindex"
)

// reindexFigures measures figure 6 on a fresh stack whose table holds exactly the orders of the
// source services (the earlier figures' generated documents have no source rows): the column
// customer_country is added with `reindex run` (orders_v2) while orders keep being created and
// the search API keeps being queried.
func (r *run) reindexFigures(ctx context.Context) ([]Figure, error) {
	// The main stack is no longer needed; free its CPU and memory.
	r.mu.Lock()
	old := r.st
	r.st = nil
	r.mu.Unlock()
	if old != nil {
		old.Close()
	}
	st, err := stack.Start(ctx, stack.Config{ESURL: r.cfg.ESURL, KafkaBrokers: r.cfg.KafkaBrokers, AdminDatabaseURL: r.cfg.DatabaseURL,
		WorkDir: filepath.Join(r.work, "reindex-stack"), Name: "benchrx", Logger: r.cfg.Logger})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if r.cfg.ESURL != "" {
		return nil, errors.New("needs an empty table; with ES_URL it would reindex a shared cluster")
	}
	es, err := newESConn(st.ESURL)
	if err != nil {
		return nil, err
	}
	st.EnableIndexers(stack.IndexerOptions{FlushInterval: benchFlushInterval})
	if err := st.StartIndexer("rx-ix"); err != nil {
		return nil, err
	}
	r.mu.Lock()
	n := budgeted(r.sizes.ReindexOrders, r.apiRate, r.sizes.Budget, 300)
	r.mu.Unlock()
	custs, err := seedCustomers(ctx, st, r.sizes.Customers, 16, r.cfg.Seed+20, &r.retried)
	if err != nil {
		return nil, err
	}
	r.progress("reindex: creating %d orders through the API", n)
	if _, err := createOrders(ctx, st, custs, n, 16, 0, r.cfg.Seed+21, &r.retried); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, 10*time.Minute, 100*time.Millisecond, "orders indexed", func(ctx context.Context) (bool, error) {
		k, err := es.count(ctx, "orders")
		return k >= n, err
	}); err != nil {
		return nil, err
	}
	base, err := st.StartSearch()
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	search := func(ctx context.Context, i int) error {
		c := searchColumns[i%len(searchColumns)]
		var p apiPage
		if _, err := apiGet(ctx, hc, base, "size=50&sort="+url.QueryEscape(c.sort), &p); err != nil {
			return err
		}
		if len(p.Items) == 0 {
			return errors.New("empty page")
		}
		return nil
	}
	// The live writer runs before, during and after the job, as orders keep being created in
	// the scenario: the before and during searches then differ only by the reindex.
	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	r.mu.Lock()
	side := max(r.apiRate/10, 5)
	r.mu.Unlock()
	wg.Go(func() { _, _ = createOrders(bg, st, custs, 1_000_000, 2, side, r.cfg.Seed+22, &r.retried) })
	if err := sleepCtx(ctx, 2*time.Second); err != nil { // the writer and its indexing reach their pace
		stopBG()
		return nil, err
	}
	samples := r.sizes.SearchSamples * 2
	before := &latencies{}
	bstart := time.Now()
	schedStart := readSched()
	// The before window lasts long enough to hold the periodic events the during window holds
	// (the live index's refresh every second, its merges): the p99 of 600 searches, a second
	// and a half, depended on whether one of them fell in it (7.6–22 ms over runs of one build).
	beforeFor := r.sizes.SampleFor / 2
	for i := 0; ; i++ {
		if i >= samples && time.Since(bstart) >= beforeFor || i >= 10 && time.Since(bstart) > r.sizes.SampleFor {
			break
		}
		t := time.Now()
		if err := search(ctx, i); err != nil {
			stopBG()
			wg.Wait()
			return nil, fmt.Errorf("search before the reindex: %w", err)
		}
		before.add(time.Since(t))
	}

	schedBefore := readSched()
	r.progress("reindex: search before the job: %s", before.distribution())
	// During: one searcher runs, beside the writer, until the job is done.
	during := &latencies{}
	// Each search's start, to tell which step of the job the slow ones fell in.
	var timedMu sync.Mutex
	var timed []timedSearch
	var failed atomic.Int64
	var firstFail atomic.Value
	wg.Go(func() {
		for i := 0; bg.Err() == nil; i++ {
			t := time.Now()
			err := search(bg, i)
			if bg.Err() != nil {
				return
			}
			if err != nil {
				failed.Add(1)
				firstFail.CompareAndSwap(nil, err.Error())
				continue
			}
			during.add(time.Since(t))
			timedMu.Lock()
			timed = append(timed, timedSearch{at: t, took: time.Since(t)})
			timedMu.Unlock()
		}
	})

	esc, err := esindex.NewClient(esindex.Config{URLs: []string{st.ESURL}})
	if err != nil {
		stopBG()
		return nil, err
	}
	lag, err := reindex.NewKafkaLag(kafkaconfig.Config{Brokers: st.Brokers, ClientID: "bench-reindex"}, st.IndexerGroup(), []string{events.TopicCustomers, events.TopicOrders})
	if err != nil {
		stopBG()
		return nil, err
	}
	defer lag.Close()
	steps := map[reindex.Step]time.Time{}
	var stepMu sync.Mutex
	src := st.Sources()
	// ORDERTABLE_BENCH_REINDEX_THROTTLE (adaptive|off), ..._THROTTLE_TARGET and ..._MAX_RATE
	// compare the backfill's throttle settings (reindex run --throttle, --throttle-target,
	// --max-rate).
	throttle := os.Getenv("ORDERTABLE_BENCH_REINDEX_THROTTLE")
	target, _ := strconv.ParseFloat(os.Getenv("ORDERTABLE_BENCH_REINDEX_THROTTLE_TARGET"), 64)
	maxRate, _ := strconv.ParseFloat(os.Getenv("ORDERTABLE_BENCH_REINDEX_MAX_RATE"), 64)
	window := newBackfillWindow()
	defer window.close()
	// Each cut of the backfill's rate, to tell what the throttle reacted to.
	var cuts atomic.Int64
	onThrottle := func(s reindex.ThrottleState) {
		if n := int64(s.Cuts); cuts.Swap(n) < n {
			stepMu.Lock()
			since := time.Since(steps[reindex.StepBackfilled]).Round(10 * time.Millisecond)
			stepMu.Unlock()
			r.progress("reindex: throttle cut %d, %s into the backfill: %s", n, since, s)
		}
	}
	rx, err := reindex.New(reindex.Config{ES: esc, Orders: src, Customers: src, Lag: lag, Logger: r.cfg.Logger,
		Throttle: throttle, ThrottleTarget: target, MaxRate: maxRate, OnThrottle: onThrottle,
		BeforeStep: func(_ context.Context, s reindex.Step) error {
			stepMu.Lock()
			steps[s] = time.Now()
			stepMu.Unlock()
			r.progress("reindex: step %s", s)
			window.step(s)
			return nil
		}})
	if err != nil {
		stopBG()
		return nil, err
	}
	latest, err := mappings.Latest()
	if err != nil {
		stopBG()
		return nil, err
	}
	m, err := reindex.ParseMappingFile(latest.Body)
	if err != nil {
		stopBG()
		return nil, err
	}
	r.progress("reindex: adding customer_country to %d orders (%s) while searching and writing", n, latest.Index)
	t0 := time.Now()
	job, err := rx.Run(ctx, m, reindex.RunOptions{MappingFile: "mappings/" + latest.Index + ".json"})
	total := time.Since(t0)
	schedDuring := readSched()
	stopBG()
	wg.Wait()
	refused := ""
	switch {
	case errors.Is(err, reindex.ErrVerifyFailed) && job != nil:
		// The job built the index but rightly refused to swap: the figures of the build stand,
		// those of the swap don't.
		refused = "swap refused: " + err.Error()
	case err != nil:
		return nil, err
	case job.Step != reindex.StepSwapped:
		return nil, fmt.Errorf("reindex ended at step %s", job.Step)
	}
	// The build index has refresh_interval -1: the engine indexes what the backfill wrote only
	// at the finish step's refresh. So the clock runs from the backfill's start to the end of
	// the finish step (production settings, refresh, indexer caught up), like the engine
	// figure's clock that stops once everything is searchable.
	stepMu.Lock()
	backfill := steps[reindex.StepVerified].Sub(steps[reindex.StepBackfilled])
	byStep := searchLatencyByStep(steps, timed)
	stepMu.Unlock()
	r.progress("reindex: search latency by the job's step: %s", byStep)
	docs := job.BackfillDocs
	if docs == 0 {
		docs = job.Docs()
	}
	r.mu.Lock()
	raw := r.rawDocsS
	r.mu.Unlock()
	bf := ratioOf("reindex", "reindex.backfill_docs_per_s", rate(int(docs), backfill), "docs/s", raw, "raw engine bulk docs/s", AtLeast(0.5))
	bf.Note = fmt.Sprintf("%d documents backfilled from the services' list APIs and made searchable (backfill + finish steps) in %s", docs, backfill.Round(10*time.Millisecond))
	add := plain("reindex", "reindex.add_column_time", total.Seconds(), "s", nil)
	add.Note = fmt.Sprintf("reindex run to %s for %d orders (plan → swap, verify in sample mode), with writes and searches running", latest.Index, n)
	p99 := ratioOf("reindex", "reindex.search_p99_during", ms(during.percentile(99)), "ms", ms(before.percentile(99)), "search p99 before", AtMost(2))
	p99.Note = fmt.Sprintf("searches before: %s; during: %s; goroutines' wait for a scheduler thread (GOMAXPROCS %d), p99: %s before, %s during",
		before.distribution(), during.distribution(), runtime.GOMAXPROCS(0), schedPercentile(schedStart, schedBefore, 99), schedPercentile(schedBefore, schedDuring, 99))
	if job != nil && job.Throttle != nil {
		p99.Note += fmt.Sprintf("; backfill %s at its end, %d cuts", job.Throttle, job.Throttle.Cuts)
	}
	fails := plain("reindex", "reindex.failed_searches_during_swap", float64(failed.Load()), "searches", AtMost(0))
	fails.Note = "errors or empty pages of the search API during the whole reindex, swap included"
	if v := firstFail.Load(); v != nil {
		fails.Note += "; first: " + v.(string)
	}
	if refused != "" {
		add = notMeasured("reindex", "reindex.add_column_time", refused)
		fails.Name = "reindex.failed_searches_during_build"
		fails.Note += "; no swap happened (" + refused + ")"
		return []Figure{bf, add, p99, fails, notMeasured("reindex", "reindex.failed_searches_during_swap", refused)}, nil
	}
	return []Figure{bf, add, p99, fails}, nil
}

// backfillWindow records the bench process during the backfill, from its start to the finish
// step's, when asked: ORDERTABLE_BENCH_REINDEX_TRACE=FILE writes a Go execution trace (where
// the searches during a backfill wait: go tool trace -pprof=sched FILE, -pprof=sync FILE),
// ORDERTABLE_BENCH_REINDEX_CPUPROFILE=FILE a CPU profile, ORDERTABLE_BENCH_REINDEX_ALLOCPROFILE=FILE
// the allocations made in the window.
type backfillWindow struct {
	recs []windowRecorder
}

type windowRecorder struct {
	env   string
	start func(io.Writer) error
	stop  func()
	file  *os.File // while recording
}

func newBackfillWindow() *backfillWindow {
	// The allocation profile is cumulative: the file holds the window's end, FILE.base its
	// start (go tool pprof -sample_index=alloc_space -diff_base FILE.base FILE).
	var allocs *os.File
	allocStart := func(w io.Writer) error {
		f, ok := w.(*os.File)
		if !ok {
			return errors.New("allocation profile: not a file")
		}
		base, err := os.Create(f.Name() + ".base")
		if err != nil {
			return err
		}
		defer base.Close()
		allocs = f
		return pprof.Lookup("allocs").WriteTo(base, 0)
	}
	allocStop := func() { _ = pprof.Lookup("allocs").WriteTo(allocs, 0) }
	return &backfillWindow{recs: []windowRecorder{
		{env: "ORDERTABLE_BENCH_REINDEX_CPUPROFILE", start: pprof.StartCPUProfile, stop: pprof.StopCPUProfile},
		{env: "ORDERTABLE_BENCH_REINDEX_TRACE", start: trace.Start, stop: trace.Stop},
		{env: "ORDERTABLE_BENCH_REINDEX_ALLOCPROFILE", start: allocStart, stop: allocStop},
	}}
}

// step starts the recorders asked for when the backfill starts (BeforeStep of
// StepBackfilled) and stops them when it ends.
func (w *backfillWindow) step(s reindex.Step) {
	for i := range w.recs {
		rec := &w.recs[i]
		path := os.Getenv(rec.env)
		switch {
		case path == "":
		case s == reindex.StepBackfilled:
			f, err := os.Create(path)
			if err != nil {
				continue
			}
			if rec.start(f) != nil {
				_ = f.Close()
				continue
			}
			rec.file = f
		case s == reindex.StepFinished:
			rec.end()
		}
	}
}

// close stops what a job that ended before its finish step left recording.
func (w *backfillWindow) close() {
	for i := range w.recs {
		w.recs[i].end()
	}
}

func (rec *windowRecorder) end() {
	if rec.file == nil {
		return
	}
	rec.stop()
	_ = rec.file.Close()
	rec.file = nil
}

type timedSearch struct {
	at   time.Time
	took time.Duration
}

// searchLatencyByStep tells, for each step of the job (from its start to the next step's), the
// latency distribution of the searches that started in it: where a reindex's slow searches
// come from.
func searchLatencyByStep(steps map[reindex.Step]time.Time, timed []timedSearch) string {
	type span struct {
		step  reindex.Step
		start time.Time
	}
	var spans []span
	for st, at := range steps {
		spans = append(spans, span{st, at})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start.Before(spans[j].start) })
	var parts []string
	for i, sp := range spans {
		l := &latencies{}
		for _, ts := range timed {
			if !ts.at.Before(sp.start) && (i == len(spans)-1 || ts.at.Before(spans[i+1].start)) {
				l.add(ts.took)
			}
		}
		if l.count() > 0 {
			parts = append(parts, fmt.Sprintf("%s: %s", sp.step, l.distribution()))
		}
	}
	return strings.Join(parts, ", ")
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
