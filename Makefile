# ordertable: the two set-up commands are `make dev` and `make test`.
GO        ?= go
BIN       ?= bin/ordertable
DATA      ?=
TEST_TIMEOUT ?= 40m

.PHONY: all build dev test test-short vet bench bench-quick chaos fuzz conformance clean

all: build

build: ## build the one binary into bin/ordertable
	$(GO) build -o $(BIN) ./cmd/ordertable

dev: build ## run the whole system on embedded Kafka and Elasticsearch (Ctrl-C stops it)
	./$(BIN) dev $(if $(DATA),--data $(DATA),)

test: ## everything a user needs to trust the project (real PostgreSQL, embedded Kafka and engine)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

test-short: ## the fast inner loop
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...

conformance: ## Elasticsearch YAML REST conformance of the embedded engine, with FAILURES.md
	$(GO) test -count=1 -run TestConformance -v ./internal/esembed/conformance/ -update

bench: build ## the full measurement run (about 15 minutes); writes bench.json and bench.svg
	./$(BIN) bench --out bench.json

bench-quick: build
	./$(BIN) bench --quick --out bench.json

# The 1,000,000-order figures (issues #5 and #6): seed directly, index, search, compose, add a
# column; every figure on a line and in scale.json. Around an hour on a 2-core machine. Heavy
# benchmarks on a shared machine take turns through the lock file when flock exists.
SCALE_ORDERS ?= 1000000
.PHONY: bench-1m
bench-1m: ## internal/bench/scale at SCALE_ORDERS orders (default 1,000,000); writes scale.json
	ORDERTABLE_SCALE_ORDERS=$(SCALE_ORDERS) ORDERTABLE_SCALE_OUT=$(CURDIR)/scale.json \
	  $(shell command -v flock >/dev/null 2>&1 && echo flock -o /tmp/ordertable-bench.lock) \
	  $(GO) test -count=1 -run '^TestScale$$' -v -timeout 180m ./internal/bench/scale

# The embedded engine against raw bleve over ENGINE_DOCS documents (issue #3): bulk docs/s, RSS
# while indexing (anonymous and file-backed), sorted top-50 p50/p99 with and without a filter,
# search_after page 1000 vs page 1. Around 40 minutes at 1,000,000 on a 2-core machine.
ENGINE_DOCS ?= 1000000
.PHONY: bench-engine-1m
bench-engine-1m: ## internal/esembed TestLargeScaleFigures at ENGINE_DOCS documents (default 1,000,000)
	ESEMBED_BENCH_DOCS=$(ENGINE_DOCS) \
	  $(shell command -v flock >/dev/null 2>&1 && echo flock -o /tmp/ordertable-bench.lock) \
	  $(GO) test -count=1 -run TestLargeScaleFigures -v -timeout 180m ./internal/esembed

chaos: ## the long fault-injection suite
	CHAOS=long $(GO) test -count=1 -timeout 60m -run 'Chaos|Convergence' -v ./...

fuzz: ## a short run of every fuzz target
	@for p in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$p 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$p $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$p || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
