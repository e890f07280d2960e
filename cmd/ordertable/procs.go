package main

import (
	"log/slog"
	"runtime"

	"github.com/spf13/cobra"
)

// --gomaxprocs on the commands that serve searches and indexing from one process (es, dev,
// bench) trades the pipeline's throughput for the searches' tail while the engine indexes hard.
//
// In one Go process with one scheduler thread per CPU (Go's default), a search that wakes while
// every thread is busy indexing waits for Go's 10 ms preemption slice at each hop (client, search
// API, engine). With twice as many threads as CPUs the woken search gets a thread at once and
// the kernel arbitrates, as it does between the separate processes of a production set-up.
// Measured on two cores with PostgreSQL on the same machine (docs/performance.md, "Scheduler
// threads"): during a reindex backfill the searches' p99 fell from a median of 26.9 ms (7 runs)
// to 15.4 ms (15 runs) at GOMAXPROCS=4; but the same setting took 16 % off the indexer's
// events/s and pushed the freshness p99 from 2.0 s to 2.3–3.9 s (its target is 2.2 s), since
// the Go process then outcompetes PostgreSQL for the cores. So the default stays Go's.
// Since pages became cheaper (0.6 ms instead of 2 ms through the search API), the tail is
// 8–9 ms at GOMAXPROCS=4 against 8–12 ms at 2: what is left is GC and CPU saturation, which
// more threads don't remove (docs/performance.md, "Cheaper pages").

// addProcsFlag adds --gomaxprocs to a command that serves searches and indexing together.
func addProcsFlag(cmd *cobra.Command, n *int) {
	cmd.Flags().IntVar(n, "gomaxprocs", 0, "Go scheduler threads (0: Go's default, the CPUs available); more threads than CPUs can shorten searches' tail under heavy indexing, at some cost to write throughput (docs/performance.md, \"Scheduler threads\", \"Cheaper pages\")")
}

// applyProcs sets GOMAXPROCS to n when n > 0 and logs the value in use.
func applyProcs(log *slog.Logger, n int) {
	if n > 0 {
		runtime.GOMAXPROCS(n)
	}
	log.Debug("scheduler threads", "gomaxprocs", runtime.GOMAXPROCS(0))
}
