package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ordertable/ordertable/reindex"
)

// The backfill-window recorders write a CPU profile and a trace between the backfill's start
// and the finish step, and nothing for the other steps.
func TestTraceStepRecordsTheBackfillWindow(t *testing.T) {
	dir := t.TempDir()
	prof, tr := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "run.trace")
	t.Setenv("ORDERTABLE_BENCH_REINDEX_CPUPROFILE", prof)
	t.Setenv("ORDERTABLE_BENCH_REINDEX_TRACE", tr)
	traceStep(reindex.StepRegistered)
	if _, err := os.Stat(prof); err == nil {
		t.Fatal("a profile started before the backfill")
	}
	traceStep(reindex.StepBackfilled)
	sum := 0
	for i := range 1_000_000 {
		sum += i % 7
	}
	_ = sum
	traceStep(reindex.StepFinished)
	for _, p := range []string{prof, tr} {
		fi, err := os.Stat(p)
		if err != nil || fi.Size() == 0 {
			t.Fatalf("%s: %v, size %v", p, err, fi)
		}
	}
	for i := range windowRecorders {
		if windowRecorders[i].file != nil {
			t.Fatalf("%s still recording", windowRecorders[i].env)
		}
	}
}
