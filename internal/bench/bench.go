// Package bench measures the whole ordertable system in one run: every figure of the
// performance issue, each against a baseline measured in the same run, so the ratios hold on
// any machine. `ordertable bench` wires it; the run starts the embedded engines in-process
// unless ES_URL / KAFKA_BROKERS / DATABASE_URL point at real ones.
//
// A figure whose part of the system is missing or failed is reported as "not measured" with
// the reason, never as a made-up number.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ordertable/ordertable/internal/bench/stack"
	"github.com/ordertable/ordertable/services/customers"
)

// Config configures a bench run.
type Config struct {
	// Quick shrinks every size so the run takes about a minute.
	Quick bool
	// ESURL is an Elasticsearch to measure; empty starts the embedded engine.
	ESURL string
	// KafkaBrokers are the brokers to use; empty starts the embedded broker.
	KafkaBrokers []string
	// DatabaseURL is a PostgreSQL URL with the right to create databases; the run creates its
	// own databases there and drops them at the end. Default: the local server.
	DatabaseURL string
	// WorkDir holds the embedded engines' data; default a temporary directory removed after.
	WorkDir string
	// Seed makes the generated data reproducible; 0 picks one from the clock (printed).
	Seed uint64
	// Only, when non-empty, runs only these figure groups (write, engine, pipeline, ...).
	Only []string
	// Progress receives one line per step while the run goes; nil discards them.
	Progress io.Writer
	// Logger receives the components' logs; nil discards them.
	Logger *slog.Logger
}

// Groups lists the figure groups in the order they run.
var Groups = []string{"engine", "write", "pipeline", "freshness", "fanout", "search", "abuse", "reindex", "memory"}

func (c *Config) setDefaults() {
	if c.DatabaseURL == "" {
		c.DatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	for _, g := range c.Only {
		if !slices.Contains(Groups, g) {
			errs = append(errs, fmt.Errorf("unknown figure group %q (have %s)", g, strings.Join(Groups, ", ")))
		}
	}
	return errors.Join(errs...)
}

// sizes are the data sizes of one run: upper bounds, each cut to what the measured rates of
// this machine get done within the matching time budget, so a slow engine or a busy machine
// lengthens no figure beyond its budget.
type sizes struct {
	Budget         time.Duration // the time one bulk phase may take
	SampleFor      time.Duration // the time one latency sample set may take (at least 10 requests)
	EngineDocs     int           // documents for the raw engine figure
	WriteOrders    int           // orders created through the API for the write figure
	Customers      int           // customers the orders are spread over
	PipelineEvents int           // order events for the pipeline figure
	FreshnessFor   time.Duration // how long freshness is sampled
	FanoutOrders   int           // orders of the renamed customer
	SearchDocs     int           // documents the search figures run over
	SearchSamples  int           // requests per search figure
	ReindexOrders  int           // orders in the table when the column is added
	MemoryN        int           // N of the memory slope (N to 10N)
}

func sizesFor(quick bool) sizes {
	if quick {
		return sizes{Budget: 5 * time.Second, SampleFor: 2 * time.Second, EngineDocs: 5_000, WriteOrders: 500, Customers: 100, PipelineEvents: 2_000,
			FreshnessFor: 6 * time.Second, FanoutOrders: 500, SearchDocs: 5_000, SearchSamples: 50,
			ReindexOrders: 600, MemoryN: 1_000}
	}
	return sizes{Budget: 60 * time.Second, SampleFor: 10 * time.Second, EngineDocs: 200_000, WriteOrders: 5_000, Customers: 2_000, PipelineEvents: 50_000,
		FreshnessFor: 20 * time.Second, FanoutOrders: 10_000, SearchDocs: 200_000, SearchSamples: 300,
		ReindexOrders: 20_000, MemoryN: 10_000}
}

// budgeted cuts n to what perSec gets done in d (at least floor); perSec 0 leaves n.
func budgeted(n int, perSec float64, d time.Duration, floor int) int {
	if perSec <= 0 {
		return n
	}
	return max(min(n, int(perSec*d.Seconds())), min(floor, n))
}

// run is the state shared by the stages of one bench run.
type run struct {
	cfg   Config
	sizes sizes
	start time.Time
	work  string

	mu       sync.Mutex
	st       *stack.Stack
	es       esConn
	custs    []customers.Customer
	relayLag map[string]*latencies
	rawDocsS float64 // raw engine bulk docs/s, the denominator of later ratios
	apiRate  float64 // orders/s through the API

	ixEnabled    bool
	pipelineRate float64       // indexer events/s
	freshP99     time.Duration // freshness p99 at half rate
	cursor       string        // a real next_cursor of the search API
	retried      atomic.Int64  // API calls of the load generator retried after a 5xx
}

func (r *run) progress(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progressLocked(format, args...)
}

func (r *run) progressLocked(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, "[%6.1fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// stage measures one figure group. names lists the figures it yields, so a failed stage still
// reports each of them as not measured.
type stage struct {
	group string
	names []string
	run   func(r *run, ctx context.Context) ([]Figure, error)
}

func stages() []stage {
	return []stage{
		{"engine", []string{"engine.bulk_docs_per_s"}, (*run).engineFigures},
		{"write", []string{"write.api_orders_per_s", "write.relay_events_per_s", "write.relay_lag_p99"}, (*run).writeFigures},
		{"pipeline", []string{"pipeline.indexer_events_per_s"}, (*run).pipelineFigures},
		{"freshness", []string{"freshness.p50", "freshness.p99"}, (*run).freshnessFigures},
		{"fanout", []string{"fanout.rename_orders", "fanout.unrelated_freshness_p99"}, (*run).fanoutFigures},
		{"search", []string{"search.first_page_keyword_p99", "search.first_page_numeric_p99", "search.first_page_date_p99", "search.first_page_text_p99", "search.cursor_page_1000_p99", "search.api_composition_vs_projection"}, (*run).searchFigures},
		{"abuse", []string{"abuse.answered_as_expected", "abuse.slowest_hostile_answer", "abuse.normal_search_p99_during"}, (*run).abuseFigures},
		{"reindex", []string{"reindex.backfill_docs_per_s", "reindex.add_column_time", "reindex.search_p99_during", "reindex.failed_searches_during_swap"}, (*run).reindexFigures},
		{"memory", []string{"memory.bench_process_peak_rss", "memory.es_peak_rss", "memory.es_rss_at_10n", "memory.indexer_peak_rss", "memory.indexer_rss_at_10n"}, (*run).memoryFigures},
	}
}

// Run measures every figure and returns the report. It fails only when the run itself can't
// start; a failing figure group is reported as not measured. When ctx ends early it returns
// the figures measured so far with the error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	r := &run{cfg: cfg, sizes: sizesFor(cfg.Quick), start: time.Now(), relayLag: map[string]*latencies{}}
	r.work = cfg.WorkDir
	if r.work == "" {
		dir, err := os.MkdirTemp("", "ordertable-bench-*")
		if err != nil {
			return nil, fmt.Errorf("bench: work dir: %w", err)
		}
		defer os.RemoveAll(dir)
		r.work = dir
	}
	rep := &Report{
		Started: r.start.UTC(),
		Quick:   cfg.Quick,
		Environment: map[string]string{
			"cpus":       fmt.Sprint(runtime.NumCPU()),
			"gomaxprocs": fmt.Sprint(runtime.GOMAXPROCS(0)),
			"go":         runtime.Version(),
			"os":         runtime.GOOS + "/" + runtime.GOARCH,
			"seed":       fmt.Sprint(cfg.Seed),
			"es":         endpointKind(cfg.ESURL),
			"kafka":      endpointKind(strings.Join(cfg.KafkaBrokers, ",")),
		},
	}
	r.progress("bench: seed %d, quick=%v, work dir %s", cfg.Seed, cfg.Quick, r.work)
	defer func() {
		if r.st != nil {
			r.progress("stack: stopping")
			r.st.Close()
		}
	}()
	for _, st := range stages() {
		if len(cfg.Only) > 0 && !slices.Contains(cfg.Only, st.group) {
			continue
		}
		if ctx.Err() != nil {
			rep.Figures = append(rep.Figures, fillMissing(st, nil, "interrupted")...)
			continue
		}
		r.progress("%s: start", st.group)
		t0 := time.Now()
		figs, err := st.run(r, ctx)
		if err != nil {
			reason := err.Error()
			if ctx.Err() != nil {
				reason = "interrupted"
			}
			r.progress("%s: not measured: %s", st.group, reason)
			figs = fillMissing(st, figs, reason)
		}
		for _, f := range figs {
			if f.Measured() {
				r.progress("%s: %s = %s", st.group, f.Name, withUnit(f.Value, f.Unit))
			}
		}
		r.progress("%s: done in %s", st.group, time.Since(t0).Round(100*time.Millisecond))
		rep.Figures = append(rep.Figures, figs...)
	}
	rep.Duration = time.Since(r.start)
	if n := r.retried.Load(); n > 0 {
		rep.Environment["api_5xx_retried"] = fmt.Sprint(n)
		r.progress("bench: %d API calls of the load were retried after a server error", n)
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("bench: interrupted: %w", err)
	}
	return rep, nil
}

// fillMissing adds a not-measured figure for every name of the stage that figs lacks.
func fillMissing(st stage, figs []Figure, reason string) []Figure {
	for _, n := range st.names {
		if !slices.ContainsFunc(figs, func(f Figure) bool { return f.Name == n }) {
			figs = append(figs, notMeasured(st.group, n, reason))
		}
	}
	return figs
}

func endpointKind(v string) string {
	if v == "" {
		return "embedded"
	}
	return "external"
}
