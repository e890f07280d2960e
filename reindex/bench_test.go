package reindex

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/esindex"
)

var benchOrders = flag.Int("bench-orders", 5000, "orders in BenchmarkReindex")

// BenchmarkReindex measures, in one run on one engine:
//   - raw bulk docs/s: the documents the backfill would write, built in advance, bulk-written
//     into an index with the build settings, then refreshed, with the same searchers running;
//   - backfill docs/s: the backfill step (reading the sources, joining, building, writing), then
//     refreshed, and backfill ÷ raw (the issue asks >= 0.5);
//   - search p99 while the reindex runs ÷ p99 before it (<= 2), with searchers on the read alias;
//   - the seconds to add the column to -bench-orders orders end to end (every step).
//
// Run: go test ./reindex -run '^$' -bench BenchmarkReindex -benchtime 1x [-bench-orders N]
func BenchmarkReindex(b *testing.B) {
	for b.Loop() {
		benchReindexOnce(b)
	}
}

func benchReindexOnce(b *testing.B) {
	h := newHarness(b)
	ctx := testCtx(b, 30*time.Minute)
	rng := testRand(b)
	n := *benchOrders
	h.src.seed(rng, max(10, n/50), n, 30*24*time.Hour)
	h.bootstrap(ctx)
	var course []string // the throttle's course: time, rate, latency ratio
	t0 := time.Now()
	r := h.reindexer(func(c *Config) {
		c.PageSize = 1000
		c.Slices = 16
		c.Workers = 4
		c.VerifyMode = "sample"
		c.OnThrottle = func(s ThrottleState) {
			course = append(course, fmt.Sprintf("%.1fs:%.0f/%.1fx", time.Since(t0).Seconds(), s.Rate, s.Ratio))
		}
	})

	// Search latency before the reindex.
	var before searchers
	stop := before.run(ctx, h, 2)
	pollUntil(b, 5*time.Minute, func() bool { return before.ok.Load() >= 30 || before.failed.Load() > 0 })
	stop()

	// Raw bulk baseline: the same documents into an index with the same build settings, with
	// the same searchers running as during the reindex, so both rates see the same load.
	var rawSearch searchers
	stopRaw := rawSearch.run(ctx, h, 2)
	raw := h.table + "_raw"
	body, err := h.v2.buildBody("24h")
	if err != nil {
		b.Fatal(err)
	}
	if err := h.es.createIndex(ctx, raw, body); err != nil {
		b.Fatal(err)
	}
	h.src.mu.Lock()
	ops := make([]esindex.Op, 0, n)
	for _, o := range h.src.orders {
		c := h.src.customers[o.CustomerID]
		doc, err := buildDoc(h.v2.Fields, o, &indexer.CustomerState{Customer: c}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		ops = append(ops, esindex.Op{Type: esindex.OpIndex, Index: raw, ID: doc.ID, Version: doc.Version, Doc: doc.Fields})
	}
	h.src.mu.Unlock()
	bw := h.client.NewBulkWriter(esindex.BulkOptions{})
	start := time.Now()
	errs := make(chan error, 4)
	chunk := (len(ops) + 3) / 4
	for w := range 4 {
		part := ops[min(w*chunk, len(ops)):min((w+1)*chunk, len(ops))]
		go func() {
			for len(part) > 0 {
				k := min(1000, len(part))
				if _, err := bw.Write(ctx, part[:k]); err != nil {
					errs <- err
					return
				}
				part = part[k:]
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	if err := h.es.refresh(ctx, raw); err != nil {
		b.Fatal(err)
	}
	rawRate := float64(n) / time.Since(start).Seconds()
	stopRaw()
	_ = h.es.deleteIndex(ctx, raw)

	var during searchers
	stop = during.run(ctx, h, 2)
	startAll := time.Now()
	job, err := r.Run(ctx, h.v2, RunOptions{Until: StepBackfilled})
	if err != nil {
		b.Fatal(err)
	}
	if err := h.es.refresh(ctx, h.v2.IndexName()); err != nil {
		b.Fatal(err)
	}
	backfillRate := float64(n) / time.Since(startAll).Seconds()
	if job, err = r.Run(ctx, h.v2, RunOptions{}); err != nil {
		b.Fatal(err)
	}
	total := time.Since(startAll)
	stop()
	during.check(b)
	if job.Step != StepSwapped {
		b.Fatalf("job at %s", job.Step)
	}
	b.Logf("throttle course (time: docs/s / search latency ratio): %s", strings.Join(course, " "))
	b.ReportMetric(rawRate, "raw-docs/s")
	b.ReportMetric(backfillRate, "backfill-docs/s")
	b.ReportMetric(backfillRate/rawRate, "backfill/raw")
	b.ReportMetric(float64(during.p99())/float64(max(1, before.p99())), "p99-during/before")
	b.ReportMetric(total.Seconds(), "s-to-add-column")
	b.Logf("%d orders: raw bulk %.0f docs/s, backfill %.0f docs/s (ratio %.2f); search p99 before %s, during %s; add column end to end %s",
		n, rawRate, backfillRate, backfillRate/rawRate, before.p99(), during.p99(), total.Round(time.Millisecond))
}
