package bench

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/ordertable/ordertable/mappings"
)

// engineFigures measures figure 2: bulk docs/s of order documents straight into the engine,
// against raw bleve batches of the same documents (the engine issue's baseline, goal ≥ 0.8).
func (r *run) engineFigures(ctx context.Context) ([]Figure, error) {
	m, err := mappings.First()
	if err != nil {
		return nil, err
	}
	ids, versions, bodies, err := newDocGen(r.cfg.Seed, r.sizes.Customers).docs(r.sizes.EngineDocs, m)
	if err != nil {
		return nil, err
	}
	es, err := r.engine(ctx)
	if err != nil {
		return nil, err
	}
	// A probe sizes the run to the budget.
	probe := min(500, len(ids))
	r.progress("engine: probing with %d documents", probe)
	est, err := engineBulkDocsPerSec(ctx, es, fmt.Sprintf("bench_probe_%d", r.cfg.Seed%100000), m, ids[:probe], versions[:probe], bodies[:probe], 2)
	_ = es.do(context.WithoutCancel(ctx), http.MethodDelete, fmt.Sprintf("/bench_probe_%d", r.cfg.Seed%100000), nil, nil)
	if err != nil {
		return nil, err
	}
	n := budgeted(len(ids), est, r.sizes.Budget, 1000)
	ids, versions, bodies = ids[:n], versions[:n], bodies[:n]
	r.progress("engine: raw bleve batch baseline, %d docs", n)
	raw, err := rawBleveDocsPerSec(ctx, filepath.Join(r.work, "rawbleve"), m, ids, bodies, 1000)
	if err != nil {
		return nil, err
	}
	r.progress("engine: raw bleve %.0f docs/s; now bulk through HTTP", raw)
	index := fmt.Sprintf("bench_engine_%d", r.cfg.Seed%100000)
	got, err := engineBulkDocsPerSec(ctx, es, index, m, ids, versions, bodies, 2)
	_ = es.do(context.WithoutCancel(ctx), http.MethodDelete, "/"+index, nil, nil)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.rawDocsS = got
	r.mu.Unlock()
	f := ratioOf("engine", "engine.bulk_docs_per_s", got, "docs/s", raw, "raw bleve batches, same docs", AtLeast(0.8))
	f.Note = fmt.Sprintf("%d order documents (~%d B), esutil.BulkIndexer 2 workers, 400 KB requests, external versions, clock stops after _refresh", n, avgLen(bodies))
	return []Figure{f}, nil
}

func avgLen(b [][]byte) int {
	if len(b) == 0 {
		return 0
	}
	t := 0
	for _, x := range b {
		t += len(x)
	}
	return t / len(b)
}
