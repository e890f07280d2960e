// Package scale holds the measurement at table sizes the bench's time budgets never reach:
// the 1,000,000-order figures of issues #5 (time to add a column, end to end) and #6 (sorted
// first pages and page 1000 by cursor, API composition against the search API at 10k, 100k and
// 1M orders).
//
// It is one test, TestScale, gated by ORDERTABLE_SCALE_ORDERS (skipped otherwise, so `make
// test` stays fast): `make bench-1m` runs it at 1,000,000 orders. It starts the whole system in
// process (internal/bench/stack: PostgreSQL databases of its own, the embedded broker, the
// embedded engine persistent on a temporary data directory, both services with their relays),
// loads the sources with the direct seeder (internal/seed, COPY into the services' databases:
// it bypasses the outbox), builds orders_v1 from the services' list APIs with `reindex run`
// (the bootstrap of a table that has no alias yet), starts the indexer and the search API,
// measures, then times `reindex run` to orders_v2 with the indexer running and verifies the
// result. Every figure is logged as a line and written as JSON to ORDERTABLE_SCALE_OUT.
//
// Knobs (environment): ORDERTABLE_SCALE_ORDERS (N), ORDERTABLE_SCALE_OUT (JSON file),
// ORDERTABLE_SCALE_SAMPLES (requests per latency figure, default 50, cut to at least 10 by
// ORDERTABLE_SCALE_SAMPLE_SECONDS, default 120, per figure),
// ORDERTABLE_SCALE_COMPOSITION_SIZES (default "10000,100000,N", sizes above N dropped),
// ORDERTABLE_SCALE_COMPOSITION_RUNS (composition repetitions at N, default 3; 5 below),
// ORDERTABLE_SCALE_SEED (generated values; default random, logged), ORDERTABLE_SCALE_FIGURES
// (all, or add_column: only the bootstrap and the column addition).
package scale
