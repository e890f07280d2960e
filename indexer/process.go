package indexer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/mappings"
)

// recheckAfter bounds the time between reading an order's state and having its document
// accepted, below which a "created" answer can't be a resurrection: a delete of that order
// processed in between left a version tombstone in the index that lives for index.gc_deletes
// (60 s by default, never lowered by ordertable's mappings), and would have answered 409.
// Writes slower than this re-read the order state (see README.md, "Deletes").
const recheckAfter = 20 * time.Second

// item is one consumed message and what became of it.
type item struct {
	msg *sarama.ConsumerMessage
	ev  events.Event
	ok  bool // decoded and valid
	// dlq collects the reasons this message goes to the dead letter topic.
	dlq []string
	// kind is the first reason's kind: decode, invalid, rejected.
	kind string
}

func (it *item) deadLetter(kind, reason string) {
	if it.kind == "" {
		it.kind = kind
	}
	it.dlq = append(it.dlq, reason)
}

// target is an index that receives writes and the fields it declares.
type target struct {
	index  string
	fields mappings.FieldSet
}

// process handles one batch of one partition. It returns nil once every event of the batch is
// either reflected in every target index (written, or already superseded: a 409) or sent to
// the dead letter topic; only then may the batch's offsets be committed.
func (ix *Indexer) process(ctx context.Context, topic string, msgs []*sarama.ConsumerMessage) error {
	items := make([]*item, len(msgs))
	latest := map[string]*item{} // entity id -> item with the highest version
	for i, m := range msgs {
		it := &item{msg: m}
		items[i] = it
		ev, err := events.Decode(m.Value)
		switch {
		case err != nil:
			it.deadLetter("decode", err.Error())
			continue
		case ev.Type.Topic() != topic:
			it.deadLetter("invalid", fmt.Sprintf("%s event on topic %s", ev.Type, topic))
			continue
		case ev.Version > MaxOrderVersion || (topic == events.TopicCustomers && ev.Version > MaxCustomerVersion):
			it.deadLetter("invalid", fmt.Sprintf("version %d does not fit the document version", ev.Version))
			continue
		}
		it.ev, it.ok = ev, true
		if cur, ok := latest[ev.EntityID]; !ok || ev.Version > cur.ev.Version {
			latest[ev.EntityID] = it
		}
	}
	batch := make([]*item, 0, len(latest))
	for _, it := range latest {
		batch = append(batch, it)
	}
	slices.SortFunc(batch, func(a, b *item) int { return strings.Compare(a.ev.EntityID, b.ev.EntityID) })

	var err error
	switch topic {
	case events.TopicOrders:
		err = ix.processOrders(ctx, batch)
	case events.TopicCustomers:
		err = ix.processCustomers(ctx, batch)
	default:
		err = fmt.Errorf("unexpected topic %s", topic)
	}
	if err != nil {
		return err
	}
	if err := ix.sendDeadLetters(ctx, items); err != nil {
		return err
	}
	now := time.Now()
	for _, it := range items {
		if len(it.dlq) > 0 {
			ix.m.events.WithLabelValues(topic, "dlq").Inc()
			continue
		}
		ix.m.events.WithLabelValues(topic, "indexed").Inc()
		ix.m.freshness.Observe(now.Sub(it.ev.Time).Seconds())
		if ix.cfg.ObserveFreshness != nil {
			ix.cfg.ObserveFreshness(topic, now.Sub(it.ev.Time))
		}
	}
	ix.m.batches.WithLabelValues(topic).Observe(float64(len(msgs)))
	return nil
}

// writeState writes the state documents of the batch and dead-letters the rejected ones. It
// returns the items whose state was accepted, and among them those whose write was applied
// (the others met a state as new or newer: a duplicate or a stale event).
func (ix *Indexer) writeState(ctx context.Context, batch []*item, op func(*events.Event) esindex.Op) (accepted []*item, applied map[*item]bool, err error) {
	ops := make([]esindex.Op, len(batch))
	for i, it := range batch {
		ops[i] = op(&it.ev)
	}
	res, err := ix.writer.Write(ctx, ops)
	if err != nil {
		return nil, nil, fmt.Errorf("write state: %w", err)
	}
	applied = make(map[*item]bool, len(batch))
	for i, r := range res {
		switch r.Outcome {
		case esindex.Rejected:
			batch[i].deadLetter("rejected", "state "+ops[i].Index+": "+r.Reason())
			continue
		case esindex.Applied:
			applied[batch[i]] = true
		}
		accepted = append(accepted, batch[i])
	}
	return accepted, applied, nil
}

// processOrders: write each order's state, then write the joined documents of the latest
// state of each order with the latest state of its customer (GET is real-time). When the state
// write was applied, the latest state is the event's snapshot; when it met a newer or equal
// state (409: a duplicate or stale event), the stored state is read back and used instead, so
// stale and duplicate events rewrite the newest document (and get 409) rather than an old one.
func (ix *Indexer) processOrders(ctx context.Context, batch []*item) error {
	if err := ix.sched.acquireBatch(ctx, events.TopicOrders); err != nil {
		return err
	}
	defer ix.sched.releaseBatch(events.TopicOrders)
	readAt := time.Now()
	accepted, applied, err := ix.writeState(ctx, batch, ix.state.orderOp)
	if err != nil || len(accepted) == 0 {
		return err
	}
	blame := make(map[string]*item, len(accepted))
	var reread []string
	for _, it := range accepted {
		blame[it.ev.EntityID] = it
		if !applied[it] {
			reread = append(reread, it.ev.EntityID)
		}
	}
	states, err := ix.state.getOrders(ctx, reread)
	if err != nil {
		return err
	}
	orders := make([]*orderState, 0, len(accepted))
	for _, it := range accepted {
		if applied[it] {
			st := ix.state.orderOp(&it.ev).Doc.(orderState)
			orders = append(orders, &st)
			continue
		}
		st, ok := states[it.ev.EntityID]
		if !ok {
			return fmt.Errorf("order state %s missing after a version conflict on it", it.ev.EntityID)
		}
		orders = append(orders, st)
	}
	return ix.writeDocs(ctx, orders, readAt, func(orderID string) *item { return blame[orderID] }, nil)
}

// processCustomers: write each customer's state, refresh the order state, then rewrite the
// documents of every live order of these customers (fan-out), chunk by chunk.
func (ix *Indexer) processCustomers(ctx context.Context, batch []*item) error {
	if err := ix.sched.acquireBatch(ctx, events.TopicCustomers); err != nil {
		return err
	}
	accepted, _, err := ix.writeState(ctx, batch, ix.state.customerOp)
	// The search below sees the order states as of the refresh, so that is when they were read.
	readAt := time.Now()
	if err == nil && len(accepted) > 0 {
		// The refresh comes after the customer-state writes: an order event whose GET of the
		// customer state missed them wrote its order state before that GET, hence before this
		// refresh, so the search below finds the order (README.md, "Fan-out").
		err = ix.state.refreshOrders(ctx)
	}
	ix.sched.releaseBatch(events.TopicCustomers)
	if err != nil || len(accepted) == 0 {
		return err
	}
	start := time.Now()
	blame := make(map[string]*item, len(accepted))
	ids := make([]string, len(accepted))
	for i, it := range accepted {
		ids[i] = it.ev.EntityID
		blame[it.ev.EntityID] = it
	}
	// The search for the next chunk runs while the current one is written.
	type page struct {
		orders []*orderState
		err    error
	}
	fetch := func(after string) <-chan page {
		ch := make(chan page, 1)
		go func() {
			o, err := ix.state.ordersOf(ctx, ids, after, ix.cfg.FanoutChunk)
			ch <- page{o, err}
		}()
		return ch
	}
	next := fetch("")
	for {
		p := <-next
		if p.err != nil {
			return p.err
		}
		if len(p.orders) == 0 {
			break
		}
		full := len(p.orders) == ix.cfg.FanoutChunk
		if full {
			next = fetch(p.orders[len(p.orders)-1].OrderID)
		}
		if err := ix.fanoutChunk(ctx, p.orders, readAt, blame); err != nil {
			if full {
				<-next
			}
			return err
		}
		if !full {
			break
		}
	}
	ix.m.fanoutTime.Observe(time.Since(start).Seconds())
	return nil
}

// fanoutChunk rewrites the documents of one chunk of the changed customers' orders. Each chunk
// waits for its turn in the scheduler: a fan-out token (the fan-out's own budget, not a batch
// slot), then a moment when no batch is being written, or FanoutMaxWait (see scheduler).
func (ix *Indexer) fanoutChunk(ctx context.Context, orders []*orderState, readAt time.Time, blame map[string]*item) error {
	waited, forced, err := ix.sched.acquireFanout(ctx)
	if err != nil {
		return err
	}
	defer ix.sched.releaseFanout()
	ix.m.fanoutWait.Observe(waited.Seconds())
	start := "idle"
	if forced {
		start = "forced"
	}
	ix.m.fanoutChunks.WithLabelValues(start).Inc()
	customerOf := make(map[string]string, len(orders))
	for _, o := range orders {
		customerOf[o.OrderID] = o.CustomerID
	}
	byOrder := func(orderID string) *item { return blame[customerOf[orderID]] }
	return ix.writeDocs(ctx, orders, readAt, byOrder, ix.m.fanout)
}

// targets reads the write-target alias (never cached: a reindex may have registered a new
// index since the last batch) and the fields of each target.
func (ix *Indexer) targets(ctx context.Context) ([]target, error) {
	names, err := ix.es.Targets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]target, 0, len(names))
	for _, name := range names {
		fs, err := ix.es.Fields(ctx, name)
		if err != nil {
			return nil, err
		}
		if err := CheckFields(fs); err != nil {
			// A mapping with a column the catalog can't compute: write the others and say so
			// (once per index); the reindex job refuses to build such an index in the first place.
			if _, warned := ix.warned.LoadOrStore(name, true); !warned {
				ix.log.Error("target index declares fields the indexer can't compute; they stay empty", "index", name, "err", err)
			}
			known := make(mappings.FieldSet, len(fs))
			for n, f := range fs {
				if _, found := slices.BinarySearch(catalogFields, n); found {
					known[n] = f
				}
			}
			fs = known
		}
		out = append(out, target{index: name, fields: fs})
	}
	return out, nil
}

// writeDocs writes the documents of orders, joined with the current customer states, to every
// target. blame names the item to dead-letter when an order's document is rejected. readAt is
// when the order states were read.
func (ix *Indexer) writeDocs(ctx context.Context, orders []*orderState, readAt time.Time, blame func(orderID string) *item, counter *prometheus.CounterVec) error {
	var custIDs []string
	seen := map[string]bool{}
	for _, o := range orders {
		if !o.Deleted && !seen[o.CustomerID] {
			seen[o.CustomerID] = true
			custIDs = append(custIDs, o.CustomerID)
		}
	}
	custs, err := ix.state.getCustomers(ctx, custIDs)
	if err != nil {
		return err
	}
	targets, err := ix.targets(ctx)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	ops := make([]esindex.Op, 0, len(orders)*len(targets))
	for _, t := range targets {
		for _, o := range orders {
			if o.Deleted {
				v, err := DeleteVersion(o.Version)
				if err != nil {
					blame(o.OrderID).deadLetter("invalid", err.Error())
					continue
				}
				ops = append(ops, esindex.Op{Type: esindex.OpDelete, Index: t.index, ID: o.OrderID, Version: v})
				continue
			}
			doc, err := BuildDocument(o.Order, custs[o.CustomerID].join(), t.fields, now)
			if err != nil {
				blame(o.OrderID).deadLetter("invalid", err.Error())
				continue
			}
			ops = append(ops, esindex.Op{Type: esindex.OpIndex, Index: t.index, ID: doc.ID, Version: doc.Version, Doc: doc.Fields})
		}
	}
	res, err := ix.writer.Write(ctx, ops)
	if err != nil {
		return fmt.Errorf("write documents: %w", err)
	}
	slow := time.Since(readAt) >= ix.recheckAfter
	var created []string
	gone := map[string]bool{}
	defer func() {
		for index := range gone {
			ix.log.Info("target index is gone; skipped it", "index", index)
			ix.es.ForgetFields(index)
		}
	}()
	for i, r := range res {
		op := ops[i]
		switch r.Outcome {
		case esindex.Rejected:
			if r.ErrType == "index_not_found_exception" {
				// The target was deleted after we read the alias (a reindex dropped it after
				// its grace period): nothing to keep up to date there any more.
				gone[op.Index] = true
				continue
			}
			blame(op.ID).deadLetter("rejected", fmt.Sprintf("order %s in %s: %s", op.ID, op.Index, r.Reason()))
		case esindex.Conflict:
			ix.m.conflicts.WithLabelValues(op.Index).Inc()
		case esindex.Applied:
			ix.m.docs.WithLabelValues(op.Index, string(op.Type)).Inc()
			if counter != nil {
				counter.WithLabelValues(op.Index).Inc()
			}
			if slow && op.Type == esindex.OpIndex && r.Result == "created" {
				created = append(created, op.ID)
			}
		}
	}
	if len(created) > 0 {
		return ix.undoResurrections(ctx, created, targets)
	}
	return nil
}

// undoResurrections re-reads the state of orders whose document a slow write created and
// deletes those that are deleted: the delete ran between our read and our write, and
// Elasticsearch had already forgotten its tombstone (README.md, "Deletes").
func (ix *Indexer) undoResurrections(ctx context.Context, ids []string, targets []target) error {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	states, err := ix.state.getOrders(ctx, ids)
	if err != nil {
		return err
	}
	var ops []esindex.Op
	for _, id := range ids {
		s := states[id]
		if s == nil || !s.Deleted {
			continue
		}
		v, err := DeleteVersion(s.Version)
		if err != nil {
			continue
		}
		for _, t := range targets {
			ops = append(ops, esindex.Op{Type: esindex.OpDelete, Index: t.index, ID: id, Version: v})
		}
	}
	if len(ops) == 0 {
		return nil
	}
	ix.log.Warn("deleting documents resurrected by a slow write", "orders", len(ops)/max(1, len(targets)))
	res, err := ix.writer.Write(ctx, ops)
	if err != nil {
		return fmt.Errorf("undo resurrections: %w", err)
	}
	var errs []error
	for i, r := range res {
		if r.Outcome == esindex.Rejected {
			errs = append(errs, fmt.Errorf("delete %s/%s: %s", ops[i].Index, ops[i].ID, r.Reason()))
		}
	}
	return errors.Join(errs...)
}
