package reindex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/events"
)

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestEndToEndWithLiveWrites is the scenario with a stand-in indexer: writers change
// orders and customers and searchers query the read alias through the whole reindex; after
// quiescence the new index equals the sources, the alias is on v2 and the new column sorts.
func TestEndToEndWithLiveWrites(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t, 3*time.Minute)
	rng := testRand(t)
	custIDs := h.src.seed(rng, 30, 600, 48*time.Hour)
	h.bootstrap(ctx)

	fi := newFakeIndexer(h, rng, custIDs)
	var s searchers
	stopSearch := s.run(ctx, h, 2)
	stopWrites := fi.runWriters(ctx, 2*time.Millisecond)
	job, err := h.reindexer().Run(ctx, h.v2, RunOptions{MappingFile: "orders_v2.json"})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	// Keep writing a little after the swap: the old index must keep receiving writes.
	before := fi.batches.Load()
	pollUntil(t, 10*time.Second, func() bool { return fi.batches.Load() > before+20 })
	if err := stopWrites(); err != nil {
		t.Fatalf("writers: %v", err)
	}
	stopSearch()
	s.check(t)
	t.Logf("writer batches %d (deletes %d), searches %d, backfilled %d", fi.batches.Load(), fi.deleted.Load(), s.ok.Load(), job.Docs())

	if job.Step != StepSwapped || job.Verify == nil || !job.Verify.OK {
		t.Fatalf("job: step %s verify %+v, want swapped and verified", job.Step, job.Verify)
	}
	if got := h.aliasIndices(ctx, h.alias); !slices.Equal(got, []string{h.v2.IndexName()}) {
		t.Fatalf("alias %s -> %v, want [%s]", h.alias, got, h.v2.IndexName())
	}
	if got := h.aliasIndices(ctx, h.targets); !slices.Equal(got, []string{h.v1.IndexName(), h.v2.IndexName()}) {
		t.Fatalf("targets -> %v, want both versions during the grace period", got)
	}
	h.mustVerify(ctx, h.alias)
	h.mustVerify(ctx, h.v1.IndexName())
	checkCountrySortable(t, h, ctx)
}

// checkCountrySortable sorts the live index by customer_country and checks order and values
// against the source.
func checkCountrySortable(t *testing.T, h *harness, ctx context.Context) {
	t.Helper()
	var out struct {
		Hits struct {
			Hits []struct {
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	body := map[string]any{"size": 200, "sort": []any{map[string]any{"customer_country": "asc"}, map[string]any{"order_id": "asc"}}}
	if err := h.es.do(ctx, http.MethodPost, "/"+url.PathEscape(h.alias)+"/_search", body, &out); err != nil {
		t.Fatalf("sort by customer_country: %v", err)
	}
	if len(out.Hits.Hits) == 0 {
		t.Fatal("sort by customer_country: no hits")
	}
	prev := ""
	h.src.mu.Lock()
	defer h.src.mu.Unlock()
	for _, hit := range out.Hits.Hits {
		c, _ := hit.Source["customer_country"].(string)
		if c == "" || c < prev {
			t.Fatalf("customer_country %q after %q: not sorted or empty", c, prev)
		}
		prev = c
		o := h.src.orders[hit.Source["order_id"].(string)]
		if want := h.src.customers[o.CustomerID].Country; c != want {
			t.Errorf("order %s: customer_country %q, want %q", o.ID, c, want)
		}
	}
}

// TestResumeAfterCrashAtEachStep stops the job before each step, then runs it again: it must
// resume there and end exact.
func TestResumeAfterCrashAtEachStep(t *testing.T) {
	for _, step := range []Step{StepCreated, StepRegistered, StepBackfilled, StepFinished, StepVerified, StepSwapped} {
		t.Run(string(step), func(t *testing.T) {
			h := newHarness(t)
			ctx := testCtx(t, 2*time.Minute)
			rng := testRand(t)
			custIDs := h.src.seed(rng, 20, 300, 24*time.Hour)
			h.bootstrap(ctx)
			fi := newFakeIndexer(h, rng, custIDs)
			stopWrites := fi.runWriters(ctx, 5*time.Millisecond)
			crashed := false
			r := h.reindexer(func(c *Config) {
				c.BeforeStep = func(_ context.Context, s Step) error {
					if s == step && !crashed {
						crashed = true
						return errCrash
					}
					return nil
				}
			})
			if _, err := r.Run(ctx, h.v2, RunOptions{}); !errors.Is(err, errCrash) {
				t.Fatalf("first run: got %v, want the simulated crash", err)
			}
			job, err := r.store.get(ctx, h.v2.IndexName())
			if err != nil {
				t.Fatal(err)
			}
			if want := stepOrder[slices.Index(stepOrder, step)-1]; job.Step != want {
				t.Fatalf("after crash before %s: job at %s, want %s", step, job.Step, want)
			}
			if job, err = r.Run(ctx, h.v2, RunOptions{}); err != nil || job.Step != StepSwapped {
				t.Fatalf("resume: step %v, err %v; want swapped", job.Step, err)
			}
			if err := stopWrites(); err != nil {
				t.Fatal(err)
			}
			h.mustVerify(ctx, h.alias)
			// Idempotent: running a finished job again changes nothing.
			if job, err = r.Run(ctx, h.v2, RunOptions{}); err != nil || job.Step != StepSwapped {
				t.Fatalf("rerun: step %v err %v", job.Step, err)
			}
		})
	}
}

// TestResumeBackfillFromCheckpoint cancels the job in the middle of the backfill; the next
// run must continue from the checkpoints instead of starting over.
func TestResumeBackfillFromCheckpoint(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t, 2*time.Minute)
	rng := testRand(t)
	h.src.seed(rng, 20, 1000, 24*time.Hour)
	h.bootstrap(ctx)

	runCtx, cancel := context.WithCancel(ctx)
	startPages := h.src.pageCount()
	h.src.onPage = func(_, _ string, _ []events.Order) {
		if h.src.pageCount()-startPages >= 8 {
			cancel()
		}
	}
	r := h.reindexer(func(c *Config) { c.Workers = 2; c.PageSize = 100 })
	if _, err := r.Run(runCtx, h.v2, RunOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: got %v, want context.Canceled", err)
	}
	h.src.onPage = nil
	job, err := r.store.get(ctx, h.v2.IndexName())
	if err != nil {
		t.Fatal(err)
	}
	done := job.Docs()
	if job.Step != StepRegistered || done == 0 || done >= 1000 {
		t.Fatalf("after cancel: step %s, %d docs checkpointed; want registered with partial progress", job.Step, done)
	}
	pagesBefore := h.src.pageCount()
	if job, err = r.Run(ctx, h.v2, RunOptions{Until: StepBackfilled}); err != nil {
		t.Fatal(err)
	}
	if job.Docs() != 1000 {
		t.Errorf("backfilled docs: got %d, want 1000 (each order counted once across the resume)", job.Docs())
	}
	// A restart from scratch would read all 1000/100 = 10 pages again plus up to one per slice.
	if pages := h.src.pageCount() - pagesBefore; pages > 10+8-int(done/100) {
		t.Errorf("resume read %d pages after %d docs were checkpointed; it restarted instead of resuming", pages, done)
	}
	if job, err = r.Run(ctx, h.v2, RunOptions{}); err != nil || job.Step != StepSwapped {
		t.Fatalf("finish: %v %v", job.Step, err)
	}
	h.mustVerify(ctx, h.alias)
}

// TestDeletedThenStaleBackfill deletes an order while the backfill page holding it is in
// flight: the indexer's delete leaves a tombstone in the new index (gc_deletes covers the
// build), so the backfill's stale write is rejected and the order does not come back.
func TestDeletedThenStaleBackfill(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t, 2*time.Minute)
	rng := testRand(t)
	custIDs := h.src.seed(rng, 10, 500, 24*time.Hour)
	h.bootstrap(ctx)
	fi := newFakeIndexer(h, rng, custIDs)

	var victims []string
	h.src.onPage = func(_, _ string, page []events.Order) {
		if len(page) < 2 || len(victims) >= 3 {
			return
		}
		// The page already holds the order; delete it now, before the backfill writes it.
		id := page[len(page)/2].ID
		victims = append(victims, id)
		if err := fi.deleteOrder(ctx, id); err != nil {
			t.Errorf("delete %s: %v", id, err)
		}
	}
	r := h.reindexer(func(c *Config) { c.Workers = 1 })
	if _, err := r.Run(ctx, h.v2, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	h.src.onPage = nil
	if len(victims) == 0 {
		t.Fatal("no order was deleted during the backfill")
	}
	docs, err := r.mget(ctx, h.v2.IndexName(), victims)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range victims {
		if _, ok := docs[id]; ok {
			t.Errorf("order %s deleted during the backfill came back in %s", id, h.v2.IndexName())
		}
	}
	h.mustVerify(ctx, h.alias)
}

// TestRollbackAfterSwapWithWrites swaps, keeps writing, rolls back, keeps writing: both
// indices must equal the sources (nothing lost in either direction).
func TestRollbackAfterSwapWithWrites(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t, 2*time.Minute)
	rng := testRand(t)
	custIDs := h.src.seed(rng, 20, 400, 24*time.Hour)
	h.bootstrap(ctx)
	fi := newFakeIndexer(h, rng, custIDs)
	r := h.reindexer()
	if _, err := r.Rollback(ctx, false); !errors.Is(err, ErrRefused) {
		t.Fatalf("rollback of the first index: got %v, want ErrRefused (no previous index)", err)
	}
	if _, err := r.Run(ctx, h.v2, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	var s searchers
	stopSearch := s.run(ctx, h, 2)
	writeSome := func() {
		for range 30 {
			if err := fi.step(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeSome()
	job, err := r.Rollback(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if job.Step != StepRolledBack {
		t.Fatalf("rollback: step %s", job.Step)
	}
	if got := h.aliasIndices(ctx, h.alias); !slices.Equal(got, []string{h.v1.IndexName()}) {
		t.Fatalf("after rollback alias -> %v, want v1", got)
	}
	writeSome()
	stopSearch()
	s.check(t)
	h.mustVerify(ctx, h.v1.IndexName())
	h.mustVerify(ctx, h.v2.IndexName())
	if _, err := r.Rollback(ctx, false); !errors.Is(err, ErrRefused) {
		t.Fatalf("second rollback: got %v, want ErrRefused", err)
	}
	// Running the job again rolls forward: v2 kept receiving writes, so it verifies and swaps.
	writeSome()
	if job, err = r.Run(ctx, h.v2, RunOptions{}); err != nil || job.Step != StepSwapped || job.OldIndex != h.v1.IndexName() {
		t.Fatalf("roll forward: %+v %v", job, err)
	}
	if got := h.aliasIndices(ctx, h.alias); !slices.Equal(got, []string{h.v2.IndexName()}) {
		t.Fatalf("after roll forward alias -> %v, want v2", got)
	}
	h.mustVerify(ctx, h.alias)
}

// TestCleanupHonoursGrace checks cleanup keeps the previous index during the grace period and
// deletes it after, and that rollback then refuses.
func TestCleanupHonoursGrace(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t, 2*time.Minute)
	h.src.seed(testRand(t), 5, 100, time.Hour)
	h.bootstrap(ctx)
	r := h.reindexer(func(c *Config) { c.Grace = time.Hour })
	if _, err := r.Run(ctx, h.v2, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := r.Cleanup(ctx, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Waiting, []string{h.v1.IndexName()}) || len(res.Deleted) != 0 {
		t.Fatalf("cleanup in grace: %+v, want v1 waiting", res)
	}
	h.clock.Advance(2 * time.Hour)
	res, err = r.Cleanup(ctx, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Kept, []string{h.v1.IndexName()}) || !slices.Equal(res.Untargeted, []string{h.v1.IndexName()}) {
		t.Fatalf("cleanup --keep 1 past grace: %+v, want v1 kept and out of the targets", res)
	}
	if _, err := r.Rollback(ctx, false); !errors.Is(err, ErrRefused) {
		t.Fatalf("rollback to an index without writes: got %v, want ErrRefused", err)
	}
	if res, err = r.Cleanup(ctx, 0, false); err != nil || !slices.Equal(res.Deleted, []string{h.v1.IndexName()}) {
		t.Fatalf("cleanup --keep 0: %+v %v, want v1 deleted", res, err)
	}
	infos, err := r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Name != h.v2.IndexName() || !infos[0].Live || infos[0].Docs != 100 || infos[0].MappingVersion != 2 {
		t.Fatalf("list after cleanup: %+v", infos)
	}
	if _, err := r.Rollback(ctx, true); !errors.Is(err, ErrRefused) {
		t.Fatalf("rollback to a deleted index: got %v, want ErrRefused", err)
	}
}

// TestRefusals covers what the job must decline clearly.
func TestRefusals(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t, 2*time.Minute)
	h.src.seed(testRand(t), 5, 200, time.Hour)
	h.bootstrap(ctx)
	r := h.reindexer()

	t.Run("identical mapping", func(t *testing.T) {
		// v1's job is swapped: running it again is a no-op, not an error.
		if job, err := r.Run(ctx, h.v1, RunOptions{}); err != nil || job.Step != StepSwapped {
			t.Fatalf("rerun of the finished v1 job: %v %v", job, err)
		}
		same := h.mapping("orders_v1.json")
		same.Version = 5 // a new version number but nothing else changed
		same.Body = editMapping(t, same.Body, func(m map[string]any) { metaOf(m)["mapping_version"] = 5 })
		p, err := r.Plan(ctx, same)
		if err != nil {
			t.Fatal(err)
		}
		if p.Rebuild {
			t.Errorf("plan of an equal mapping: rebuild %v, want false", p.Rebuild)
		}
		if _, err := r.Run(ctx, same, RunOptions{}); !errors.Is(err, ErrRefused) {
			t.Errorf("run of a mapping identical to live: got %v, want ErrRefused", err)
		}
	})
	t.Run("concurrent reindex", func(t *testing.T) {
		meta, err := r.store.acquire(ctx, "other-host:1", "other", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Run(ctx, h.v2, RunOptions{})
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "other-host:1") {
			t.Errorf("second reindex: got %v, want ErrLocked naming the holder", err)
		}
		if err := r.store.release(ctx, meta); err != nil {
			t.Fatal(err)
		}
		// An expired lock (its holder died) is taken over.
		if _, err := r.store.acquire(ctx, "dead-host:1", "other", time.Millisecond); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Second)
		if _, err := r.Run(ctx, h.v2, RunOptions{Until: StepCreated}); err != nil {
			t.Errorf("run after the lock expired: %v", err)
		}
	})
	t.Run("other job unfinished", func(t *testing.T) {
		v3 := h.mapping("orders_v2.json")
		v3.Version = 3
		v3.Body = editMapping(t, v3.Body, func(m map[string]any) { metaOf(m)["mapping_version"] = 3 })
		if _, err := r.Run(ctx, v3, RunOptions{}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), h.v2.IndexName()) {
			t.Errorf("run v3 while v2 unfinished: got %v, want ErrRefused naming %s", err, h.v2.IndexName())
		}
	})
	t.Run("swap after failed verify", func(t *testing.T) {
		// A wrong document at the right version (a build bug the live index doesn't share):
		// verification must fail.
		if _, err := r.Run(ctx, h.v2, RunOptions{Until: StepFinished}); err != nil {
			t.Fatal(err)
		}
		h.corruptDoc(t, ctx, h.v2)
		r2 := h.reindexer(func(c *Config) { c.SettleTimeout = 200 * time.Millisecond })
		job, err := r2.Run(ctx, h.v2, RunOptions{})
		if !errors.Is(err, ErrVerifyFailed) || job.Verify == nil || job.Verify.Stale != 1 {
			t.Fatalf("run with a wrong doc: err %v verify %+v, want ErrVerifyFailed with 1 stale", err, job.Verify)
		}
		if _, err := r2.Swap(ctx, h.v2.IndexName(), false); !errors.Is(err, ErrRefused) {
			t.Fatalf("swap after failed verify: got %v, want ErrRefused", err)
		}
		if got := h.aliasIndices(ctx, h.alias); !slices.Equal(got, []string{h.v1.IndexName()}) {
			t.Fatalf("alias moved despite the refusal: %v", got)
		}
		// verify --repair fixes it, and the next run passes verification and swaps.
		res, err := r2.Verify(ctx, VerifyOptions{Index: h.v2.IndexName(), Repair: true})
		if err != nil || !res.OK {
			t.Fatalf("verify --repair: %+v %v", res, err)
		}
		if job, err = r2.Run(ctx, h.v2, RunOptions{}); err != nil || job.Step != StepSwapped {
			t.Fatalf("run after repair: %v %v", job.Step, err)
		}
	})
	t.Run("swap --force", func(t *testing.T) {
		job := &Job{ID: "x", NewIndex: h.v2.IndexName()}
		if err := r.swap(ctx, job, false); !errors.Is(err, ErrRefused) {
			t.Errorf("swap of an unverified job: got %v, want ErrRefused", err)
		}
		if err := r.swap(ctx, job, true); err != nil {
			t.Errorf("swap --force: %v", err)
		}
	})
}

// TestVerifyFindsAndRepairsDifferences plants one missing, one extra and one stale document.
func TestVerifyFindsAndRepairsDifferences(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t, time.Minute)
	h.src.seed(testRand(t), 5, 300, time.Hour)
	h.bootstrap(ctx)
	r := h.reindexer(func(c *Config) { c.SettleTimeout = 200 * time.Millisecond })
	ids := make([]string, 0, 3)
	for id := range h.src.orders {
		ids = append(ids, id)
		if len(ids) == 3 {
			break
		}
	}
	idx := h.v1.IndexName()
	_ = idx
	// missing: an order whose event never reached the index (a delete would leave a tombstone
	// that rightly beats a repair while gc_deletes keeps it).
	ids[0] = h.addUnindexedOrder(t)
	h.src.mu.Lock()
	delete(h.src.orders, ids[1]) // extra: gone at the source, still indexed
	o := h.src.orders[ids[2]]
	o.Version++
	o.Status = "shipped" // stale: changed at the source, event not indexed
	h.src.orders[ids[2]] = o
	h.src.mu.Unlock()
	var got []Difference
	res, err := r.Verify(ctx, VerifyOptions{Index: h.alias, Report: func(d Difference) { got = append(got, d) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.Missing != 1 || res.Extra != 1 || res.Stale != 1 {
		t.Fatalf("verify: %+v, want 1 missing, 1 extra, 1 stale", res)
	}
	kinds := map[string]string{}
	for _, d := range got {
		kinds[d.ID] = d.Kind
	}
	if kinds[ids[0]] != Missing || kinds[ids[1]] != Extra || kinds[ids[2]] != Stale {
		t.Errorf("differences %v, want %s missing, %s extra, %s stale", got, ids[0], ids[1], ids[2])
	}
	res, err = r.Verify(ctx, VerifyOptions{Index: h.alias, Repair: true})
	if err != nil || !res.OK {
		t.Fatalf("verify --repair: %+v %v", res, err)
	}
	h.mustVerify(ctx, h.alias)
	// Sample mode on a correct index passes too.
	if res, err = r.Verify(ctx, VerifyOptions{Index: h.alias, Mode: "sample", SampleSize: 50}); err != nil || !res.OK || res.Checked == 0 {
		t.Fatalf("sample verify: %+v %v", res, err)
	}
}

// pollUntil polls cond until it holds or the deadline passes.
func pollUntil(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// addUnindexedOrder creates an order at the source only, as if its event were lost.
func (h *harness) addUnindexedOrder(t testing.TB) string {
	t.Helper()
	h.src.mu.Lock()
	defer h.src.mu.Unlock()
	var cust string
	for id := range h.src.customers {
		cust = id
		break
	}
	now := time.Now().UTC()
	id := newUUIDv7(testRand(t), now.UnixMilli())
	h.src.orders[id] = events.Order{ID: id, OrderNumber: "PO-LOST", CustomerID: cust, Status: "draft", Total: "5.00",
		Currency: "EUR", CreatedAt: now, UpdatedAt: now, Version: 1}
	return id
}

// corruptDoc rewrites one document of m's index with a wrong status at its own version.
func (h *harness) corruptDoc(t testing.TB, ctx context.Context, m *Mapping) string {
	t.Helper()
	h.src.mu.Lock()
	var o events.Order
	for _, v := range h.src.orders {
		o = v
		break
	}
	c := h.src.customers[o.CustomerID]
	h.src.mu.Unlock()
	doc, err := buildDoc(m.Fields, o, &indexer.CustomerState{Customer: c}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	doc.Fields["status"] = "bogus"
	q := url.Values{"version": {fmt.Sprint(doc.Version)}, "version_type": {"external_gte"}, "refresh": {"true"}}
	if _, err := h.es.putDoc(ctx, m.IndexName(), doc.ID, doc.Fields, q); err != nil {
		t.Fatal(err)
	}
	return doc.ID
}
