package reindex

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

// serveSource serves the in-memory source with the services' list APIs, each page delayed by
// pageDelay (so a child process can be killed in the middle of its backfill).
func serveSource(t testing.TB, src *memSource, pageDelay time.Duration) string {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/orders", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		if limit <= 0 || limit > maxIDsPerCall {
			limit = 100
		}
		time.Sleep(pageDelay) // simulated service latency, not a wait for a result
		p, err := src.List(r.Context(), q.Get("after"), q.Get("before"), limit)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(p)
	})
	mux.HandleFunc("GET /v1/customers", func(w http.ResponseWriter, r *http.Request) {
		cs, err := src.BatchGet(r.Context(), strings.Split(r.URL.Query().Get("ids"), ","))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"items": cs})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestKilledProcessResumes runs the reindex in a child process, SIGKILLs it in the middle of
// the backfill, and resumes it here: the lock of the dead process expires and is taken over,
// the backfill continues from its checkpoints, and the result is exact.
func TestKilledProcessResumes(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t, 3*time.Minute)
	h.src.seed(testRand(t), 20, 1000, 24*time.Hour)
	h.bootstrap(ctx)
	srcURL := serveSource(t, h.src, 30*time.Millisecond)

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestReindexChildProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "REINDEX_CHILD=1", "REINDEX_CHILD_ES="+h.url, "REINDEX_CHILD_SOURCE="+srcURL, "REINDEX_CHILD_TABLE="+h.table)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := h.reindexer()
	pollUntil(t, time.Minute, func() bool {
		j, err := r.store.get(ctx, h.v2.IndexName())
		return err == nil && j.Docs() >= 300
	})
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup, the lock stays behind
		t.Fatal(err)
	}
	_ = cmd.Wait()
	job, err := r.store.get(ctx, h.v2.IndexName())
	if err != nil {
		t.Fatal(err)
	}
	done := job.Docs()
	t.Logf("killed the child at step %s with %d docs checkpointed", job.Step, done)
	if job.Step != StepRegistered || done >= 1000 {
		t.Fatalf("child killed at step %s with %d docs: want in the middle of the backfill\n%s", job.Step, done, out.String())
	}
	pages := h.src.pageCount()
	deadline := time.Now().Add(time.Minute)
	locked := 0
	for {
		// Refused while the dead process's lock is fresh; taken over once it expired.
		job, err = r.Run(ctx, h.v2, RunOptions{})
		if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			break
		}
		locked++
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if err != nil || job.Step != StepSwapped {
		t.Fatalf("resume: %v %v", job, err)
	}
	t.Logf("refused %d times while the dead process's lock was fresh", locked)
	// 1000 orders in pages of 50 are 20 pages (+ one per slice); a restart would read them all.
	if n := h.src.pageCount() - pages; n >= 20+8-int(done/50)+8 {
		t.Errorf("resume read %d pages after %d docs were checkpointed: it restarted instead of resuming", n, done)
	}
	if job.Docs() != 1000 {
		t.Errorf("backfilled docs: got %d, want 1000", job.Docs())
	}
	h.mustVerify(ctx, h.alias)
}

// TestReindexChildProcess is the child of TestKilledProcessResumes.
func TestReindexChildProcess(t *testing.T) {
	if os.Getenv("REINDEX_CHILD") != "1" {
		t.Skip("child process of TestKilledProcessResumes")
	}
	client, err := esindex.NewClient(esindex.Config{URLs: []string{os.Getenv("REINDEX_CHILD_ES")}})
	if err != nil {
		t.Fatal(err)
	}
	table := os.Getenv("REINDEX_CHILD_TABLE")
	h := &harness{t: t, table: table}
	src := os.Getenv("REINDEX_CHILD_SOURCE")
	r, err := New(Config{
		ES: client, Orders: orders.NewClient(src, "", nil), Customers: customers.NewClient(src, "", nil),
		Alias: table, TargetsAlias: table + "_targets", JobsIndex: table + "-jobs",
		Slices: 8, Workers: 1, PageSize: 50, LeaseTTL: 2 * time.Second, CheckpointEvery: 20 * time.Millisecond,
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), h.mapping("orders_v2.json"), RunOptions{}); err != nil {
		t.Fatal(err)
	}
}
