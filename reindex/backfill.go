package reindex

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/mappings"
)

// backfill copies every order from the sources into the new index, in parallel slices of the
// id space, checkpointing each slice's cursor in the job document.
func (r *Reindexer) backfill(ctx context.Context, job *Job, m *Mapping) error {
	if r.cfg.Orders == nil || r.cfg.Customers == nil {
		return errors.New("backfill needs the orders and customers services (--orders-url, --customers-url)")
	}
	// Registration must hold before the first source read (README.md, "why nothing is lost").
	targets, err := r.es.aliasIndices(ctx, r.cfg.TargetsAlias)
	if err != nil {
		return err
	}
	if !containsString(targets, job.NewIndex) {
		return fmt.Errorf("index %s is not in write-target alias %s; refusing to backfill before dual-write", job.NewIndex, r.cfg.TargetsAlias)
	}
	if len(job.Slices) == 0 {
		if job.Slices, err = r.planSlices(ctx); err != nil {
			return err
		}
		job.BackfillStart = r.cfg.Now().UTC()
		if job.OldIndex != "" {
			if n, err := r.es.count(ctx, job.OldIndex); err == nil {
				job.EstimatedDocs = n
			}
		}
		if err := r.store.put(ctx, job); err != nil {
			return err
		}
	}
	fields := m.fieldSet()
	var (
		mu      sync.Mutex // guards job.Slices and dirty
		dirty   bool
		pending = make(chan int, len(job.Slices))
	)
	for i, s := range job.Slices {
		if !s.Done {
			pending <- i
		}
	}
	close(pending)
	// The throttle's baseline is measured before this run writes anything.
	th := r.newThrottle(job.OldIndex)
	if err := th.calibrate(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.log.Warn("reindex: probe search on the read alias failed; backfill paced by --max-rate only", "alias", r.cfg.Alias, "err", err)
		th.disable()
	}
	if st := th.State(); st.Mode == ThrottleAdaptive {
		r.log.Info("reindex: backfill throttle", "baseline", st.Baseline, "target", st.Target, "start_rate", st.Rate, "max_rate", st.MaxRate)
	}
	prog := newProgress(r.cfg.Progress, r.cfg.ProgressTTY, job.EstimatedDocs, job.Docs(), 5*time.Second, func() string { return th.State().String() })
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	save := func(ctx context.Context) error {
		mu.Lock()
		if !dirty {
			mu.Unlock()
			return nil
		}
		snapshot := *job
		snapshot.Slices = append([]Slice(nil), job.Slices...)
		ts := th.State()
		snapshot.Throttle = &ts
		dirty = false
		mu.Unlock()
		snapshot.BackfillDocs = snapshot.Docs()
		return r.store.put(ctx, &snapshot)
	}
	var saverWG sync.WaitGroup
	saverDone := make(chan struct{})
	saverWG.Go(func() {
		t := time.NewTicker(r.cfg.CheckpointEvery)
		defer t.Stop()
		for {
			select {
			case <-saverDone:
				return
			case <-t.C:
				if err := save(ctx); err != nil && ctx.Err() == nil {
					r.log.Warn("reindex: save checkpoint", "err", err)
				}
			}
		}
	})
	bgCtx, stopBG := context.WithCancel(ctx)
	saverWG.Go(func() { th.run(bgCtx) })
	saverWG.Go(func() { r.refreshWhileWriting(bgCtx, job.NewIndex, th) })

	// Orders created since the backfill began (ids from this boundary on) are copied unpaced:
	// the indexer writes them too, and a throttled backfill that fell behind the live creation
	// rate would chase the open last slice forever.
	unpacedFrom := "~" // after every id: all paced
	if !job.BackfillStart.IsZero() {
		unpacedFrom = uuidBoundary(job.BackfillStart.UnixMilli())
	}
	var wg sync.WaitGroup
	for range r.cfg.Workers {
		wg.Go(func() {
			for i := range pending {
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				s := job.Slices[i]
				mu.Unlock()
				err := r.backfillSlice(ctx, job.NewIndex, fields, s, th, unpacedFrom, func(cursor string, n int64, done bool) {
					mu.Lock()
					job.Slices[i].Cursor = cursor
					job.Slices[i].Docs += n
					job.Slices[i].Done = done
					dirty = true
					mu.Unlock()
					prog.Add(n)
				})
				if err != nil {
					cancel(fmt.Errorf("slice %d (%s..%s): %w", i, s.After, s.Before, err))
					return
				}
			}
		})
	}
	wg.Wait()
	close(saverDone)
	stopBG()
	saverWG.Wait()
	prog.Finish()
	// A last checkpoint, even when cancelled: the work done is kept.
	if err := save(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	job.BackfillEnd = r.cfg.Now().UTC()
	job.BackfillDocs = job.Docs()
	ts := th.State()
	job.Throttle = &ts
	r.log.Info("reindex: backfill done", "docs", job.BackfillDocs, "took", job.BackfillEnd.Sub(job.BackfillStart).Round(time.Millisecond),
		"throttle_cuts", ts.Cuts)
	return nil
}

// refreshWhileWriting refreshes the new index every RefreshEvery while the backfill writes to
// it. The build settings disable periodic refresh; these refreshes make the new index's count
// follow the backfill (reindex status, Kibana) and leave the finish step's refresh little to
// publish. Neither engine needs them for memory: Elasticsearch and the embedded engine both
// flush unrefreshed writes by themselves.
func (r *Reindexer) refreshWhileWriting(ctx context.Context, index string, th *throttle) {
	if r.cfg.RefreshEvery < 0 {
		return
	}
	t := time.NewTicker(r.cfg.RefreshEvery)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n := th.written(); n != last {
			last = n
			if err := r.es.refresh(ctx, index); err != nil && ctx.Err() == nil {
				r.log.Warn("reindex: refresh during backfill", "index", index, "err", err)
			}
		}
	}
}

// backfillSlice copies one slice from its cursor, reporting each written page.
func (r *Reindexer) backfillSlice(ctx context.Context, index string, fields mappings.FieldSet, s Slice, th *throttle,
	unpacedFrom string, onPage func(cursor string, n int64, done bool)) error {
	cursor := s.After
	if s.Cursor != "" {
		cursor = s.Cursor
	}
	for {
		var orders []events.Order
		var next string
		err := retry(ctx, r.log, "list orders", func() error {
			var err error
			orders, next, err = listOrders(ctx, r.cfg.Orders, cursor, s.Before, r.cfg.PageSize)
			return err
		})
		if err != nil {
			return err
		}
		if len(orders) == 0 {
			onPage(cursor, 0, true)
			return nil
		}
		var customers map[string]*indexer.CustomerState
		if err := retry(ctx, r.log, "get customers", func() error {
			var err error
			customers, err = r.customersFor(ctx, orders)
			return err
		}); err != nil {
			return err
		}
		ops := make([]esindex.Op, 0, len(orders))
		now := time.Now()
		for _, o := range orders {
			doc, err := buildDoc(fields, o, customers[o.CustomerID], now)
			if err != nil {
				// The indexer dead-letters such an order too; verify reports it.
				r.log.Warn("reindex: order cannot be indexed, skipped", "order", o.ID, "err", err)
				continue
			}
			ops = append(ops, esindex.Op{Type: esindex.OpIndex, Index: index, ID: doc.ID, Version: doc.Version, Doc: doc.Fields})
		}
		// In chunks of what the throttle allows in a moment, so a slow rate is a steady trickle
		// rather than a whole page at once now and then.
		paced := orders[0].ID < unpacedFrom
		for len(ops) > 0 {
			k := len(ops)
			if paced {
				k = th.pacer.chunk(k)
				if err := th.pacer.wait(ctx, k); err != nil {
					return err
				}
			}
			if err := r.bulkWrite(ctx, ops[:k]); err != nil {
				return err
			}
			th.wrote(k)
			ops = ops[k:]
		}
		cursor = orders[len(orders)-1].ID
		done := next == "" || len(orders) < r.cfg.PageSize
		onPage(cursor, int64(len(orders)), done)
		if done {
			return nil
		}
	}
}

// bulkWrite performs ops with the project's bulk writer, which retries throttling and server
// errors. A conflict (409) means the index already holds a newer version (a live write or a
// delete tombstone won), which is success; a rejected item is a permanent error.
func (r *Reindexer) bulkWrite(ctx context.Context, ops []esindex.Op) error {
	if len(ops) == 0 {
		return nil
	}
	res, err := r.bulk.Write(ctx, ops)
	if err != nil {
		return err
	}
	for i, it := range res {
		if it.Outcome == esindex.Rejected {
			return fmt.Errorf("bulk %s %s/%s: %s", ops[i].Type, ops[i].Index, ops[i].ID, it.Reason())
		}
	}
	return nil
}

// planSlices splits the id space into time ranges: ids are UUIDv7, whose first 48 bits are
// the creation time in milliseconds, so a boundary "tttttttt-tttt-0000-..." sorts before every
// id created in millisecond t and after every earlier one. The first and last slices are open,
// so orders created during the build land in the last one.
func (r *Reindexer) planSlices(ctx context.Context) ([]Slice, error) {
	var first []events.Order
	if err := retry(ctx, r.log, "list orders", func() error {
		var err error
		first, _, err = listOrders(ctx, r.cfg.Orders, "", "", 1)
		return err
	}); err != nil {
		return nil, err
	}
	if len(first) == 0 {
		return []Slice{{}}, nil
	}
	t0, ok := uuidv7Millis(first[0].ID)
	t1 := r.cfg.Now().UnixMilli() + 1
	if !ok || t1-t0 < int64(r.cfg.Slices) || r.cfg.Slices == 1 {
		return []Slice{{}}, nil
	}
	step := (t1 - t0) / int64(r.cfg.Slices)
	out := make([]Slice, 0, r.cfg.Slices)
	prev := ""
	for i := 1; i < r.cfg.Slices; i++ {
		b := uuidBoundary(t0 + int64(i)*step)
		out = append(out, Slice{After: prev, Before: b})
		// The next slice starts at b inclusive: b itself is never an id (version nibble 0).
		prev = b
	}
	return append(out, Slice{After: prev}), nil
}

// uuidv7Millis extracts the millisecond timestamp of a UUIDv7.
func uuidv7Millis(id string) (int64, bool) {
	h := strings.ReplaceAll(id, "-", "")
	if len(h) != 32 || h[12] != '7' {
		return 0, false
	}
	b, err := hex.DecodeString(h[:12])
	if err != nil {
		return 0, false
	}
	var ms int64
	for _, c := range b {
		ms = ms<<8 | int64(c)
	}
	return ms, true
}

// uuidBoundary is the smallest UUID string with the given millisecond prefix.
func uuidBoundary(ms int64) string {
	return fmt.Sprintf("%08x-%04x-0000-0000-000000000000", uint64(ms)>>16, uint64(ms)&0xffff)
}

// permanentError marks an error retry must not repeat.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

func permanent(err error) error { return permanentError{err} }

// retry runs fn up to 6 times with exponential backoff while it fails transiently.
func retry(ctx context.Context, log interface {
	Warn(string, ...any)
}, op string, fn func() error) error {
	delay := 100 * time.Millisecond
	var err error
	for attempt := 1; ; attempt++ {
		err = fn()
		var perm permanentError
		st := esindex.StatusOf(err)
		clientErr := st >= 400 && st < 500 && st != http.StatusTooManyRequests
		if err == nil || errors.As(err, &perm) || clientErr || ctx.Err() != nil || attempt == 6 {
			break
		}
		log.Warn("reindex: retrying", "op", op, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
