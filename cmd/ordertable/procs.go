package main

import (
	"log/slog"
	"runtime"

	"github.com/spf13/cobra"
)

// The commands that serve searches and indexing from one process (es, dev, bench) run the Go
// scheduler with twice as many threads as CPUs. In production the search API, Elasticsearch,
// the indexer and the reindex job are separate processes and the kernel arbitrates between
// them, running a thread that wakes from a network wait ahead of threads that have been
// computing. In one Go process with one scheduler thread per CPU, a search that wakes while
// every thread is busy indexing waits for Go's 10 ms preemption slice at each hop (client,
// search API, engine), and those waits are the search p99 during a reindex's backfill. With
// more threads than CPUs, the woken search gets a thread at once and the kernel schedules it.
// Measured on two cores (docs/performance.md, "Scheduler threads"): the searches' p99 during a
// reindex backfill, median of the runs, fell from 26.9 ms at GOMAXPROCS=2 (7 runs) to 15.4 ms
// at 4 (15 runs), with no cost to bulk indexing; 3 (2 runs) and 8 (1 run) were in between.

// procsFactor is how many Go scheduler threads per CPU the combined commands use.
const procsFactor = 2

// addProcsFlag adds --gomaxprocs to a command that serves searches and indexing together.
func addProcsFlag(cmd *cobra.Command, n *int) {
	cmd.Flags().IntVar(n, "gomaxprocs", 0, "Go scheduler threads (0: twice the CPUs available; see docs/performance.md, \"Scheduler threads\")")
}

// applyProcs sets GOMAXPROCS to n, or to procsFactor times the CPUs the runtime found when n
// is 0, and logs it.
func applyProcs(log *slog.Logger, n int) {
	cpus := runtime.GOMAXPROCS(0)
	if n <= 0 {
		n = procsFactor * cpus
	}
	runtime.GOMAXPROCS(n)
	log.Debug("scheduler threads", "gomaxprocs", n, "default", cpus)
}
