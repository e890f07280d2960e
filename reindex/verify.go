package reindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/mappings"
)

// Difference kinds.
const (
	Missing = "missing" // in the sources, not in the index
	Extra   = "extra"   // in the index, not in the sources
	Stale   = "stale"   // in both, but the index's document differs from the sources'
)

// Difference is one document where the index and the sources disagree.
type Difference struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Detail string `json:"detail,omitempty"`
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Index is the index or alias to check (default: the read alias).
	Index string
	// Mode is "full" (default: every order, side by side in id order), "sample" (SampleSize
	// orders in random windows) or "counts".
	Mode       string
	SampleSize int
	// Repair rewrites missing and stale documents from the sources and deletes extra ones.
	Repair bool
	// Report receives every difference that remains after settling (and repair).
	Report func(Difference)
}

// maxCandidates bounds the differences held for re-checking, keeping memory bounded.
const maxCandidates = 100_000

// ignoredFields are written by the indexer at write time and differ between any two writes.
var ignoredFields = map[string]bool{"indexed_at": true}

// Verify compares an index with the sources. The result's OK is false while differences
// remain; an error means the comparison itself could not be made.
func (r *Reindexer) Verify(ctx context.Context, opt VerifyOptions) (*VerifyResult, error) {
	if opt.Index == "" {
		opt.Index = r.cfg.Alias
	}
	if opt.Mode == "" {
		opt.Mode = "full"
	}
	if opt.SampleSize == 0 {
		opt.SampleSize = r.cfg.SampleSize
	}
	concrete, err := r.es.aliasIndices(ctx, opt.Index)
	if err != nil {
		return nil, err
	}
	index := opt.Index
	if len(concrete) == 1 {
		index = concrete[0]
	} else if len(concrete) > 1 {
		return nil, fmt.Errorf("verify: %s is an alias of %d indices; name one", opt.Index, len(concrete))
	}
	m, err := r.liveMapping(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	res, err := r.compare(ctx, index, "", m.fieldSet(), opt.Mode, opt.SampleSize, opt.Repair, opt.Report)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", index, err)
	}
	return res, nil
}

// verifyJob checks a job's new index: its count against the live index (always), then a
// sample or full comparison with the sources.
func (r *Reindexer) verifyJob(ctx context.Context, job *Job, m *Mapping) (*VerifyResult, error) {
	res := &VerifyResult{Mode: r.cfg.VerifyMode}
	if r.cfg.VerifyMode != "counts" {
		var err error
		res, err = r.compare(ctx, job.NewIndex, job.OldIndex, m.fieldSet(), r.cfg.VerifyMode, r.cfg.SampleSize, false, func(d Difference) {
			r.log.Warn("reindex: verify difference", "id", d.ID, "kind", d.Kind, "detail", d.Detail)
		})
		if err != nil {
			return nil, err
		}
	}
	if job.OldIndex == "" {
		res.OK = res.Missing+res.Extra+res.Stale == 0
		if res.OK {
			n, err := r.es.count(ctx, job.NewIndex)
			if err != nil {
				return nil, err
			}
			res.IndexCount = n
		}
		return res, nil
	}
	// Both indices receive the same live writes, so their counts agree up to the writes in
	// flight and not yet refreshed; poll until they are equal. Each index refreshes on its
	// own clock, so under a steady write load counts read between the two refreshes differ by
	// the writes of up to a refresh interval, possibly at every poll: from the second poll on,
	// both are refreshed back to back first, which narrows that window to the two refreshes.
	deadline := time.Now().Add(r.cfg.SettleTimeout)
	for poll := 0; ; poll++ {
		if poll > 0 {
			if err := r.es.refresh(ctx, job.NewIndex); err != nil {
				return nil, err
			}
			if err := r.es.refresh(ctx, job.OldIndex); err != nil {
				return nil, err
			}
		}
		n, err := r.es.count(ctx, job.NewIndex)
		if err != nil {
			return nil, err
		}
		live, err := r.es.count(ctx, job.OldIndex)
		if err != nil {
			return nil, err
		}
		res.IndexCount, res.LiveCount = n, live
		if n == live || r.cfg.VerifyMode == "full" || time.Now().After(deadline) {
			break
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return nil, err
		}
	}
	res.At = r.cfg.Now().UTC()
	// A full comparison with the sources is the stronger check: the live index may itself
	// miss documents, so its count only decides in counts and sample mode.
	countsDecide := r.cfg.VerifyMode != "full"
	res.OK = (!countsDecide || res.IndexCount == res.LiveCount) && res.Missing+res.Extra+res.Stale == 0
	var problems []string
	if res.IndexCount != res.LiveCount && !countsDecide {
		r.log.Warn("reindex: the live index's count differs from the new one's (the full comparison with the sources passed)",
			"new", res.IndexCount, "live", res.LiveCount)
	}
	if res.IndexCount != res.LiveCount && countsDecide {
		problems = append(problems, fmt.Sprintf("%s has %d documents, live %s has %d", job.NewIndex, res.IndexCount, job.OldIndex, res.LiveCount))
	}
	if n := res.Missing + res.Extra + res.Stale; n > 0 {
		problems = append(problems, fmt.Sprintf("%d missing, %d extra, %d stale of %d checked (e.g. %s)",
			res.Missing, res.Extra, res.Stale, res.Checked, strings.Join(res.Examples, ", ")))
	}
	res.Detail = strings.Join(problems, "; ")
	if res.OK {
		res.Detail = fmt.Sprintf("%d documents, %d compared with the sources (%s)", res.IndexCount, res.Checked, res.Mode)
	}
	return res, nil
}

// compare streams sources and index side by side, settles and optionally repairs.
func (r *Reindexer) compare(ctx context.Context, index, ref string, fields mappings.FieldSet, mode string, sample int,
	repair bool, report func(Difference)) (*VerifyResult, error) {
	if r.cfg.Orders == nil || r.cfg.Customers == nil {
		return nil, errors.New("verify needs the orders and customers services (--orders-url, --customers-url)")
	}
	// No refresh first: documents written but not yet searchable show up as missing in the
	// stream, and the re-check reads them with the real-time _mget.
	res := &VerifyResult{Mode: mode}
	cands := map[string]string{}
	var overflow int64
	onDiff := func(d Difference) {
		if len(cands) < maxCandidates {
			cands[d.ID] = d.Kind
		} else {
			overflow++
		}
	}
	switch mode {
	case "counts":
	case "full":
		n, err := r.compareRange(ctx, index, fields, "", "", onDiff)
		if err != nil {
			return nil, err
		}
		res.Checked = n
	case "sample":
		n, err := r.compareSample(ctx, index, fields, sample, onDiff)
		if err != nil {
			return nil, err
		}
		res.Checked = n
	default:
		return nil, fmt.Errorf("verify mode %q: want counts, sample or full", mode)
	}
	diffs, err := r.settle(ctx, index, ref, fields, cands)
	if err != nil {
		return nil, err
	}
	if repair && len(diffs) > 0 {
		if err := r.repair(ctx, index, fields, diffs); err != nil {
			return nil, err
		}
		ids := map[string]string{}
		for _, d := range diffs {
			ids[d.ID] = d.Kind
		}
		if diffs, err = r.settle(ctx, index, ref, fields, ids); err != nil {
			return nil, err
		}
	}
	for _, d := range diffs {
		switch d.Kind {
		case Missing:
			res.Missing++
		case Extra:
			res.Extra++
		default:
			res.Stale++
		}
		if len(res.Examples) < 5 {
			res.Examples = append(res.Examples, d.Kind+" "+d.ID)
		}
		if report != nil {
			report(d)
		}
	}
	if overflow > 0 {
		res.Stale += overflow
		res.Detail = fmt.Sprintf("%d more differences were not re-checked (more than %d)", overflow, maxCandidates)
	}
	if mode == "full" {
		n, err := r.es.count(ctx, index)
		if err != nil {
			return nil, err
		}
		res.IndexCount = n
	}
	res.At = r.cfg.Now().UTC()
	res.OK = res.Missing+res.Extra+res.Stale == 0
	if res.Detail == "" {
		res.Detail = fmt.Sprintf("%d missing, %d extra, %d stale of %d checked", res.Missing, res.Extra, res.Stale, res.Checked)
	}
	return res, nil
}

// compareSample compares random windows of consecutive orders, about sample orders in all.
func (r *Reindexer) compareSample(ctx context.Context, index string, fields mappings.FieldSet, sample int, onDiff func(Difference)) (int64, error) {
	first, _, err := listOrders(ctx, r.cfg.Orders, "", "", 1)
	if err != nil || len(first) == 0 {
		return 0, err
	}
	t0, ok := uuidv7Millis(first[0].ID)
	if !ok {
		return r.compareRange(ctx, index, fields, "", "", onDiff)
	}
	const windows = 10
	per := max(1, sample/windows)
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, seed))
	r.log.Info("reindex: sample verification", "orders", sample, "windows", windows, "seed", seed)
	var checked int64
	span := r.cfg.Now().UnixMilli() - t0 + 1
	for range windows {
		after := uuidBoundary(t0 + rng.Int64N(span))
		page, _, err := listOrders(ctx, r.cfg.Orders, after, "", min(per, maxIDsPerCall))
		if err != nil {
			return checked, err
		}
		if len(page) == 0 {
			continue
		}
		before := uuidNext(page[len(page)-1].ID)
		n, err := r.compareRange(ctx, index, fields, after, before, onDiff)
		if err != nil {
			return checked, err
		}
		checked += n
	}
	return checked, nil
}

// indexDoc is one document read from the index.
type indexDoc struct {
	ID     string
	Source map[string]any
}

// compareRange merges the sources' orders in (after, before) with the index's documents in
// the same range, both in id order, and reports every candidate difference.
func (r *Reindexer) compareRange(ctx context.Context, index string, fields mappings.FieldSet, after, before string,
	onDiff func(Difference)) (int64, error) {
	src := &sourceStream{r: r, after: after, before: before}
	idx := &indexStream{r: r, index: index, after: after, before: before}
	var checked int64
	s, err := src.next(ctx)
	if err != nil {
		return 0, err
	}
	d, err := idx.next(ctx)
	if err != nil {
		return 0, err
	}
	for s != nil || d != nil {
		switch {
		case d == nil || (s != nil && s.order.ID < d.ID):
			onDiff(Difference{ID: s.order.ID, Kind: Missing})
			checked++
			if s, err = src.next(ctx); err != nil {
				return checked, err
			}
		case s == nil || d.ID < s.order.ID:
			onDiff(Difference{ID: d.ID, Kind: Extra})
			if d, err = idx.next(ctx); err != nil {
				return checked, err
			}
		default:
			if detail := docDifference(fields, s.order, s.customer, d.Source); detail != "" {
				onDiff(Difference{ID: d.ID, Kind: Stale, Detail: detail})
			}
			checked++
			if s, err = src.next(ctx); err != nil {
				return checked, err
			}
			if d, err = idx.next(ctx); err != nil {
				return checked, err
			}
		}
	}
	return checked, nil
}

// docDifference describes how an index document differs from the one the sources give ("" if
// it does not).
func docDifference(fields mappings.FieldSet, o events.Order, c *indexer.CustomerState, actual map[string]any) string {
	want, err := buildDoc(fields, o, c, time.Time{})
	if err != nil {
		return "the source order cannot be indexed: " + err.Error()
	}
	wantN := canonical(want.Fields).(map[string]any)
	gotN, _ := canonical(actual).(map[string]any)
	var diffs []string
	keys := make([]string, 0, len(fields))
	for f := range fields {
		keys = append(keys, f)
	}
	slices.Sort(keys)
	for _, f := range keys {
		if ignoredFields[f] {
			continue
		}
		w, g := wantN[f], gotN[f]
		if !jsonEqual(w, g) {
			diffs = append(diffs, fmt.Sprintf("%s: index %v, source %v", f, g, w))
		}
	}
	for f := range gotN {
		if !fields.Has(f) {
			diffs = append(diffs, fmt.Sprintf("%s: not in the mapping", f))
		}
	}
	return strings.Join(diffs, "; ")
}

type sourceItem struct {
	order    events.Order
	customer *indexer.CustomerState
}

// sourceStream pages through the orders of a range with their customers.
type sourceStream struct {
	r             *Reindexer
	after, before string
	buf           []sourceItem
	pos           int
	done          bool
}

func (s *sourceStream) next(ctx context.Context) (*sourceItem, error) {
	if s.pos < len(s.buf) {
		s.pos++
		return &s.buf[s.pos-1], nil
	}
	if s.done {
		return nil, nil
	}
	var orders []events.Order
	var next string
	if err := retry(ctx, s.r.log, "list orders", func() error {
		var err error
		orders, next, err = listOrders(ctx, s.r.cfg.Orders, s.after, s.before, s.r.cfg.PageSize)
		return err
	}); err != nil {
		return nil, err
	}
	var customers map[string]*indexer.CustomerState
	if err := retry(ctx, s.r.log, "get customers", func() error {
		var err error
		customers, err = s.r.customersFor(ctx, orders)
		return err
	}); err != nil {
		return nil, err
	}
	s.buf, s.pos = s.buf[:0], 0
	for _, o := range orders {
		s.buf = append(s.buf, sourceItem{order: o, customer: customers[o.CustomerID]})
	}
	if len(orders) == 0 || next == "" || len(orders) < s.r.cfg.PageSize {
		s.done = true
	}
	if len(orders) > 0 {
		s.after = orders[len(orders)-1].ID
	}
	return s.next(ctx)
}

// indexStream pages through an index's documents of a range, sorted by order_id.
type indexStream struct {
	r             *Reindexer
	index         string
	after, before string
	buf           []indexDoc
	pos           int
	done          bool
}

func (s *indexStream) next(ctx context.Context) (*indexDoc, error) {
	if s.pos < len(s.buf) {
		s.pos++
		return &s.buf[s.pos-1], nil
	}
	if s.done {
		return nil, nil
	}
	rng := map[string]any{}
	if s.after != "" {
		rng["gt"] = s.after
	}
	if s.before != "" {
		rng["lt"] = s.before
	}
	query := map[string]any{"match_all": map[string]any{}}
	if len(rng) > 0 {
		query = map[string]any{"range": map[string]any{"order_id": rng}}
	}
	body := map[string]any{
		"size":             s.r.cfg.PageSize,
		"sort":             []any{map[string]any{"order_id": "asc"}},
		"query":            query,
		"track_total_hits": false,
	}
	var out struct {
		Hits struct {
			Hits []struct {
				ID     string         `json:"_id"`
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := retry(ctx, s.r.log, "search index", func() error {
		return s.r.es.do(ctx, http.MethodPost, "/"+url.PathEscape(s.index)+"/_search", body, &out)
	}); err != nil {
		return nil, err
	}
	s.buf, s.pos = s.buf[:0], 0
	for _, h := range out.Hits.Hits {
		id := h.ID
		if v, ok := h.Source["order_id"].(string); ok && v != "" {
			id = v
		}
		s.buf = append(s.buf, indexDoc{ID: id, Source: h.Source})
	}
	if len(s.buf) < s.r.cfg.PageSize {
		s.done = true
	}
	if len(s.buf) > 0 {
		// Keyset on order_id (the document id) instead of search_after: the same cursor the
		// sources use, and supported by any engine with range queries.
		s.after = s.buf[len(s.buf)-1].ID
	}
	return s.next(ctx)
}

// settle re-checks candidate differences until they resolve (writes in flight land) or
// SettleTimeout passes, and returns the ones that remain.
func (r *Reindexer) settle(ctx context.Context, index, ref string, fields mappings.FieldSet, cands map[string]string) ([]Difference, error) {
	deadline := time.Now().Add(r.cfg.SettleTimeout)
	var remaining []Difference
	for {
		if len(cands) == 0 {
			return nil, nil
		}
		remaining = remaining[:0]
		ids := make([]string, 0, len(cands))
		for id := range cands {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for start := 0; start < len(ids); start += maxIDsPerCall {
			batch := ids[start:min(start+maxIDsPerCall, len(ids))]
			diffs, err := r.checkIDs(ctx, index, ref, fields, batch)
			if err != nil {
				return nil, err
			}
			remaining = append(remaining, diffs...)
		}
		next := map[string]string{}
		for _, d := range remaining {
			next[d.ID] = d.Kind
		}
		cands = next
		if len(cands) == 0 || time.Now().After(deadline) {
			return remaining, nil
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// checkIDs compares a sorted batch of ids one by one: the source order, its customer and the
// index document.
func (r *Reindexer) checkIDs(ctx context.Context, index, ref string, fields mappings.FieldSet, ids []string) ([]Difference, error) {
	orders := make(map[string]events.Order, len(ids))
	for _, id := range ids {
		page, _, err := listOrders(ctx, r.cfg.Orders, uuidPrev(id), uuidNext(id), 1)
		if err != nil {
			return nil, fmt.Errorf("re-read order %s: %w", id, err)
		}
		if len(page) == 1 && page[0].ID == id {
			orders[id] = page[0]
		}
	}
	list := make([]events.Order, 0, len(orders))
	for _, o := range orders {
		list = append(list, o)
	}
	customers, err := r.customersFor(ctx, list)
	if err != nil {
		return nil, err
	}
	// The sources were read first: once the indexer has processed what was committed before
	// that read, the index must hold the same versions or newer ones. Wait for that briefly.
	if r.cfg.Lag != nil {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		for {
			lag, err := r.cfg.Lag.Lag(wctx)
			if err != nil || lag <= r.cfg.MaxLag || sleepCtx(wctx, 100*time.Millisecond) != nil {
				break
			}
		}
		cancel()
	}
	// _mget is real-time: no refresh needed.
	docs, err := r.mget(ctx, index, ids)
	if err != nil {
		return nil, err
	}
	var refDocs map[string]map[string]any
	if ref != "" {
		if refDocs, err = r.mget(ctx, ref, ids); err != nil {
			return nil, err
		}
	}
	var out []Difference
	for _, id := range ids {
		o, inSource := orders[id]
		doc, inIndex := docs[id]
		refDoc, inRef := refDocs[id]
		switch {
		case inSource && !inIndex:
			if ref != "" && !inRef {
				continue // not indexed anywhere yet: the indexer is behind, not the build
			}
			out = append(out, Difference{ID: id, Kind: Missing})
		case !inSource && inIndex:
			if inRef && docVersionOf(refDoc) <= docVersionOf(doc) {
				continue // the delete isn't indexed in the live index either
			}
			out = append(out, Difference{ID: id, Kind: Extra})
		case inSource && inIndex:
			c := customers[o.CustomerID]
			want, err := buildDoc(fields, o, c, time.Time{})
			if err == nil && docVersionOf(doc) > want.Version {
				continue // the index already holds a newer change than the one read from the source
			}
			if err == nil && docVersionOf(doc) < want.Version && inRef && docVersionOf(refDoc) <= docVersionOf(doc) {
				// Behind the source, but not behind the live index: the indexer is lagging on
				// a hot entity, which the swap doesn't make worse. Equal versions with other
				// values are never excused: that would be a wrong document.
				continue
			}
			if detail := docDifference(fields, o, c, doc); detail != "" {
				out = append(out, Difference{ID: id, Kind: Stale, Detail: detail})
			}
		}
	}
	return out, nil
}

// mget reads documents by id.
func (r *Reindexer) mget(ctx context.Context, index string, ids []string) (map[string]map[string]any, error) {
	var out struct {
		Docs []struct {
			ID     string         `json:"_id"`
			Found  bool           `json:"found"`
			Source map[string]any `json:"_source"`
		} `json:"docs"`
	}
	if err := r.es.do(ctx, http.MethodPost, "/"+url.PathEscape(index)+"/_mget", map[string]any{"ids": ids}, &out); err != nil {
		return nil, fmt.Errorf("mget %s: %w", index, err)
	}
	docs := make(map[string]map[string]any, len(out.Docs))
	for _, d := range out.Docs {
		if d.Found {
			docs[d.ID] = d.Source
		}
	}
	return docs, nil
}

// repair rewrites missing and stale documents from the sources with their external versions
// (a 409 means a newer write already landed) and deletes extra ones.
func (r *Reindexer) repair(ctx context.Context, index string, fields mappings.FieldSet, diffs []Difference) error {
	for start := 0; start < len(diffs); start += maxIDsPerCall {
		batch := diffs[start:min(start+maxIDsPerCall, len(diffs))]
		var ops []esindex.Op
		var extra []string
		var list []events.Order
		for _, d := range batch {
			if d.Kind == Extra {
				extra = append(extra, d.ID)
				continue
			}
			page, _, err := listOrders(ctx, r.cfg.Orders, uuidPrev(d.ID), uuidNext(d.ID), 1)
			if err != nil {
				return fmt.Errorf("repair: read order %s: %w", d.ID, err)
			}
			if len(page) == 1 && page[0].ID == d.ID {
				list = append(list, page[0])
			}
		}
		customers, err := r.customersFor(ctx, list)
		if err != nil {
			return fmt.Errorf("repair: %w", err)
		}
		now := time.Now()
		stale := map[string]bool{}
		for _, d := range batch {
			stale[d.ID] = d.Kind == Stale
		}
		for _, o := range list {
			doc, err := buildDoc(fields, o, customers[o.CustomerID], now)
			if err != nil {
				r.log.Warn("reindex: repair: order cannot be indexed", "order", o.ID, "err", err)
				continue
			}
			if stale[o.ID] {
				// A stale document may carry the source's version with wrong values: rewrite it
				// at the same version (external_gte); a newer one still wins.
				q := url.Values{"version": {strconv.FormatInt(doc.Version, 10)}, "version_type": {"external_gte"}}
				if _, err := r.es.putDoc(ctx, index, doc.ID, doc.Fields, q); err != nil && !errors.Is(err, ErrConflict) {
					return fmt.Errorf("repair %s: %w", doc.ID, err)
				}
				continue
			}
			ops = append(ops, esindex.Op{Type: esindex.OpIndex, Index: index, ID: doc.ID, Version: doc.Version, Doc: doc.Fields})
		}
		if len(extra) > 0 {
			docs, err := r.mget(ctx, index, extra)
			if err != nil {
				return err
			}
			for id, doc := range docs {
				// A delete with a version above the document's leaves a tombstone that a late
				// stale write cannot get past.
				ops = append(ops, esindex.Op{Type: esindex.OpDelete, Index: index, ID: id, Version: docVersionOf(doc) + 1})
			}
		}
		if err := r.bulkWrite(ctx, ops); err != nil {
			return fmt.Errorf("repair: %w", err)
		}
		r.log.Info("reindex: repaired", "index", index, "rewritten", len(list), "deleted", len(extra))
	}
	return nil
}

func asInt(v any) int64 {
	switch t := v.(type) {
	case float64:
		return int64(t)
	case json.Number:
		n, _ := t.Int64()
		return n
	case string:
		var n int64
		_, _ = fmt.Sscan(t, &n)
		return n
	}
	return 0
}

// uuidNext and uuidPrev are the UUID strings right after and before id, so the exclusive
// after/before bounds of the list API select exactly one id.
func uuidNext(id string) string { return uuidAdd(id, 1) }
func uuidPrev(id string) string { return uuidAdd(id, -1) }

func uuidAdd(id string, delta int64) string {
	h := strings.ReplaceAll(id, "-", "")
	n, ok := new(big.Int).SetString(h, 16)
	if !ok || len(h) != 32 {
		return id
	}
	n.Add(n, big.NewInt(delta))
	if n.Sign() < 0 {
		n.SetInt64(0)
	}
	s := fmt.Sprintf("%032x", n)
	if len(s) > 32 {
		s = strings.Repeat("f", 32)
	}
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
