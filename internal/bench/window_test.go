package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ordertable/ordertable/reindex"
)

// The backfill-window recorders write a CPU profile and a trace between the backfill's start
// and the finish step, and nothing for the other steps.
func TestBackfillWindowRecordsTheBackfill(t *testing.T) {
	dir := t.TempDir()
	prof, tr := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "run.trace")
	t.Setenv("ORDERTABLE_BENCH_REINDEX_CPUPROFILE", prof)
	t.Setenv("ORDERTABLE_BENCH_REINDEX_TRACE", tr)
	w := newBackfillWindow()
	w.step(reindex.StepRegistered)
	if _, err := os.Stat(prof); err == nil {
		t.Fatal("a profile started before the backfill")
	}
	w.step(reindex.StepBackfilled)
	sum := 0
	for i := range 1_000_000 {
		sum += i % 7
	}
	_ = sum
	w.step(reindex.StepFinished)
	for _, p := range []string{prof, tr} {
		fi, err := os.Stat(p)
		if err != nil || fi.Size() == 0 {
			t.Fatalf("%s: %v, size %v", p, err, fi)
		}
	}
	for _, rec := range w.recs {
		if rec.file != nil {
			t.Fatalf("%s still recording", rec.env)
		}
	}
}

// A job that ends before its finish step leaves nothing recording once the window is closed.
func TestBackfillWindowCloseStopsRecording(t *testing.T) {
	t.Setenv("ORDERTABLE_BENCH_REINDEX_CPUPROFILE", filepath.Join(t.TempDir(), "cpu.prof"))
	w := newBackfillWindow()
	w.step(reindex.StepBackfilled)
	if w.recs[0].file == nil {
		t.Fatal("the CPU profile did not start with the backfill")
	}
	w.close()
	if w.recs[0].file != nil {
		t.Fatal("the CPU profile still records after close")
	}
}
