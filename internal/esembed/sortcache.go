package esembed

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/numeric"
	"github.com/blevesearch/bleve/v2/search"
	bindex "github.com/blevesearch/bleve_index_api"
)

// Sorted searches: a collector over cached sort columns.
//
// The table the search API serves is always sorted on a column (plus the order_id
// tiebreaker), and bleve's top-N collector computes every matching document's sort values
// from doc values: it decodes the doc-value chunk (snappy) and rebuilds the sort strings for
// every match on every search. Over 20,000 orders that is ~13 ms of CPU per page, most of
// the engine's CPU while a reindex backfill competes for the same two cores (see
// docs/performance.md). Lucene avoids that work with per-segment doc values it keeps
// decoded and by skipping documents that can't make the page; this file does both, the
// skipping for match_all (the table's usual query: searchMatchAll walks each segment in a
// cached sort order and stops early).
//
// A sort column is the sort value of every document of one immutable scorch segment, for
// one sort field configuration, exactly as bleve's SortField.Value would compute it. It is
// built once per segment and kept in sortCache (bounded by Config.SortCacheBytes, least
// recently used first out; columns of segments merged away age out). A sorted search then
// runs through bleve's own pipeline (query, searcher, pinned reader, total count) with a
// document-match handler of ours (bleve's search.MakeDocumentMatchHandlerKey hook) that
// looks sort values up instead of decoding them. Entries are named by index UUID and scorch
// segment id, which holds no segment in memory. Results are identical to bleve's collector,
// including ties (broken by hit order) and search_after; TestSortedCollectorMatchesBleve
// compares the two on random indices.

// defaultSortCacheBytes bounds the memory of cached sort columns.
const defaultSortCacheBytes = 256 << 20

// sortColumnIdle is how long an unused column stays cached (segments that were merged
// away are never used again).
const sortColumnIdle = 30 * time.Second

// sortCache holds sort columns of scorch segments.
type sortCache struct {
	max   int64
	mu    sync.Mutex
	cols  map[sortColumnKey]*sortColumn
	bytes int64                           // of built, cached columns
	hot   map[string]map[string]*warmSpec // index UUID → orderSig → a sort searched recently
	built atomic.Int64                    // columns and orders built (by searches or warming)
}

// warmSpec is a sort that searches used on an index recently. A refresh builds its columns
// (and its order, when a match_all search used it) over the new snapshot's segments before
// publishing the snapshot, as Elasticsearch loads eager global ordinals at refresh: the first
// search after a merge then doesn't pay for the merged segment's columns. Without it, that
// search took 10–15 ms more at 20,000 documents on two busy cores, and the cost grows with
// the segment.
type warmSpec struct {
	sorts    []*search.SortField // copies: only the fields that name the column and order
	order    bool
	lastUsed int64 // unix nanos
}

// maxWarmSpecs bounds the sorts remembered per index: every column of the table in both
// directions, with room to spare.
const maxWarmSpecs = 64

// sortColumnKey identifies a cache entry: a segment and what is computed over it, a column or
// an order (columnSig, orderSig). A segment is immutable and named by its index's UUID and
// scorch's segment id, which stays the same in every snapshot that holds the segment (the
// key holds no reference to the segment, so a merged-away segment's memory is not kept).
type sortColumnKey struct {
	index string
	seg   uint64
	sig   string
}

// columnSig names the parts of a bleve SortField that decide a document's sort value: field,
// type, mode, and whether a document without a value sorts as HighTerm (else LowTerm).
func columnSig(sf *search.SortField) string {
	return fmt.Sprintf("c|%d|%d|%t|%s", sf.Type, sf.Mode, missingHigh(sf), sf.Field)
}

// orderSig names a sort order: its columns and directions.
func orderSig(sorts []*search.SortField) string {
	var b strings.Builder
	b.WriteString("o")
	for _, sf := range sorts {
		col := columnSig(sf)
		fmt.Fprintf(&b, "|%t|%d:%s", sf.Desc, len(col), col)
	}
	return b.String()
}

func missingHigh(sf *search.SortField) bool {
	return (sf.Missing == search.SortFieldMissingLast) != sf.Desc
}

// sortColumn is a cache entry: a column (vals) or an order (perm).
type sortColumn struct {
	once     sync.Once
	vals     []string // a column: the sort value by segment-local document number
	perm     []uint32 // an order: the segment's local document numbers, best first
	err      error
	size     int64
	lastUsed atomic.Int64 // unix nanos
	cached   bool         // counted in sortCache.bytes (guarded by sortCache.mu)
}

func newSortCache(max int64) *sortCache {
	return &sortCache{max: max, cols: map[sortColumnKey]*sortColumn{}, hot: map[string]map[string]*warmSpec{}}
}

// noteUse remembers that a search on index sorted by sorts (walking its order when order is
// true: match_all), for warm.
func (c *sortCache) noteUse(index string, sorts []*search.SortField, order bool) {
	sig := orderSig(sorts)
	now := time.Now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	specs := c.hot[index]
	if specs == nil {
		specs = map[string]*warmSpec{}
		c.hot[index] = specs
	}
	if sp := specs[sig]; sp != nil {
		sp.lastUsed = now
		sp.order = sp.order || order
		return
	}
	if len(specs) >= maxWarmSpecs {
		oldest := ""
		for k, sp := range specs {
			if oldest == "" || sp.lastUsed < specs[oldest].lastUsed {
				oldest = k
			}
		}
		delete(specs, oldest)
	}
	cp := make([]*search.SortField, len(sorts))
	for i, sf := range sorts {
		cp[i] = &search.SortField{Field: sf.Field, Desc: sf.Desc, Type: sf.Type, Mode: sf.Mode, Missing: sf.Missing}
	}
	specs[sig] = &warmSpec{sorts: cp, order: order, lastUsed: now}
}

// warm builds, over every segment of snap, the columns and orders of the sorts searched on
// index within the last sortColumnIdle. Segments already built cost a map lookup. It only
// fills free room: past nine tenths of the budget it stops, so warming never evicts what
// searches use (the searches then build what they need, as without warming). Errors are left
// to the searches, which build again and report them.
func (c *sortCache) warm(index string, snap *scorch.IndexSnapshot) {
	cut := time.Now().Add(-sortColumnIdle).UnixNano()
	var specs []warmSpec
	c.mu.Lock()
	for _, sp := range c.hot[index] {
		if sp.lastUsed >= cut {
			specs = append(specs, *sp)
		}
	}
	c.mu.Unlock()
	if len(specs) == 0 {
		return
	}
	offsets := segmentOffsets(snap)
	for i, ss := range snap.Segments() {
		if ss.Count() == 0 {
			continue
		}
		segOffset := offsets[i]
		for _, sp := range specs {
			if c.nearlyFull() {
				return
			}
			if sp.order {
				_, _ = c.order(index, snap, i, segOffset, sp.sorts)
			} else {
				_, _ = c.columns(index, snap, i, segOffset, sp.sorts)
			}
		}
	}
}

// column returns the sort values of segment segIdx of snap (its documents start at global
// number offset), building and caching them on first use.
func (c *sortCache) column(index string, snap *scorch.IndexSnapshot, segIdx int, offset uint64, sf *search.SortField) ([]string, error) {
	ss := snap.Segments()[segIdx]
	key := sortColumnKey{index: index, seg: ss.Id(), sig: columnSig(sf)}
	col := c.entry(key)
	col.once.Do(func() {
		c.built.Add(1)
		col.vals, col.err = buildSortColumn(snap, offset, uint64(ss.FullSize()), sf)
		col.size = int64(len(col.vals)) * 16
		for _, v := range col.vals {
			if v != search.HighTerm && v != search.LowTerm {
				col.size += int64(len(v))
			}
		}
		c.admit(key, col)
	})
	return col.vals, col.err
}

// columns returns the columns of sorts over segment segIdx of snap, in sorts' order.
func (c *sortCache) columns(index string, snap *scorch.IndexSnapshot, segIdx int, offset uint64, sorts []*search.SortField) ([][]string, error) {
	cols := make([][]string, len(sorts))
	for k, sf := range sorts {
		col, err := c.column(index, snap, segIdx, offset, sf)
		if err != nil {
			return nil, err
		}
		cols[k] = col
	}
	return cols, nil
}

// order returns the local document numbers of segment segIdx of snap sorted by sorts (ties in
// document order, as bleve breaks them), building and caching it on first use.
func (c *sortCache) order(index string, snap *scorch.IndexSnapshot, segIdx int, offset uint64, sorts []*search.SortField) ([]uint32, error) {
	ss := snap.Segments()[segIdx]
	key := sortColumnKey{index: index, seg: ss.Id(), sig: orderSig(sorts)}
	ent := c.entry(key)
	ent.once.Do(func() {
		var cols [][]string
		if cols, ent.err = c.columns(index, snap, segIdx, offset, sorts); ent.err != nil {
			c.admit(key, ent)
			return
		}
		c.built.Add(1)
		perm := make([]uint32, ss.FullSize())
		for i := range perm {
			perm[i] = uint32(i)
		}
		slices.SortFunc(perm, func(a, b uint32) int {
			for k, sf := range sorts {
				d := strings.Compare(cols[k][a], cols[k][b])
				if d == 0 {
					continue
				}
				if sf.Desc {
					d = -d
				}
				return d
			}
			return cmp.Compare(a, b)
		})
		ent.perm, ent.size = perm, int64(len(perm))*4
		c.admit(key, ent)
	})
	return ent.perm, ent.err
}

// entry returns the cache entry of key, adding an empty one.
func (c *sortCache) entry(key sortColumnKey) *sortColumn {
	c.mu.Lock()
	ent := c.cols[key]
	if ent == nil {
		ent = &sortColumn{}
		c.cols[key] = ent
	}
	c.mu.Unlock()
	ent.lastUsed.Store(time.Now().UnixNano())
	return ent
}

// admit accounts a freshly built column and evicts the least recently used ones past the
// budget. A column larger than the whole budget (or one that failed) is not kept: the
// search that built it still uses it.
func (c *sortCache) admit(key sortColumnKey, col *sortColumn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if col.err != nil || col.size > c.max {
		if c.cols[key] == col {
			delete(c.cols, key)
		}
		return
	}
	if c.cols[key] != col {
		return // evicted or pruned while it was being built
	}
	col.cached = true
	c.bytes += col.size
	if c.bytes <= c.max {
		return
	}
	type aged struct {
		key  sortColumnKey
		used int64
	}
	var all []aged
	for k, v := range c.cols {
		if v.cached && v != col {
			all = append(all, aged{k, v.lastUsed.Load()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used < all[j].used })
	for _, a := range all {
		if c.bytes <= c.max {
			break
		}
		c.dropLocked(a.key)
	}
}

func (c *sortCache) dropLocked(k sortColumnKey) {
	v := c.cols[k]
	if v == nil {
		return
	}
	if v.cached {
		c.bytes -= v.size
	}
	delete(c.cols, k)
}

// prune drops the columns unused since idle before now.
func (c *sortCache) prune(now time.Time, idle time.Duration) {
	cut := now.Add(-idle).UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.cols {
		if v.cached && v.lastUsed.Load() < cut {
			c.dropLocked(k)
		}
	}
	for index, specs := range c.hot {
		for sig, sp := range specs {
			if sp.lastUsed < cut {
				delete(specs, sig)
			}
		}
		if len(specs) == 0 {
			delete(c.hot, index)
		}
	}
}

func (c *sortCache) nearlyFull() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes >= c.max/10*9
}

// stats reports the number of cached columns and their bytes.
func (c *sortCache) stats() (columns int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.cols {
		if v.cached {
			columns++
		}
	}
	return columns, c.bytes
}

// buildSortColumn computes the sort value of every document of one segment through the
// snapshot's doc-value reader (the same path bleve's collector takes, including fields
// without doc values, which scorch uninverts).
func buildSortColumn(snap *scorch.IndexSnapshot, offset, n uint64, spec *search.SortField) ([]string, error) {
	// The value does not depend on the direction, only on which end a missing value takes.
	sf := &search.SortField{Field: spec.Field, Type: spec.Type, Mode: spec.Mode,
		Missing: search.SortFieldMissingLast, Desc: !missingHigh(spec)}
	dvr, err := snap.DocValueReader([]string{sf.Field})
	if err != nil {
		return nil, err
	}
	vals := make([]string, n)
	visit := func(field string, term []byte) { sf.UpdateVisitor(field, term) }
	var id bindex.IndexInternalID
	for local := uint64(0); local < n; local++ {
		id = bindex.NewIndexInternalID(id, offset+local)
		if err := dvr.VisitDocValues(id, visit); err != nil {
			return nil, fmt.Errorf("sort column %s: %w", sf.Field, err)
		}
		vals[local] = sf.Value(nil)
	}
	return vals, nil
}

// sortedCollector collects the top from+size hits of a sorted search from sort columns.
// Install it with withCollector; after the search, hits holds the page.
type sortedCollector struct {
	cache  *sortCache
	index  string // the index's UUID: the cache's name for it
	sorts  []*search.SortField
	after  []string // search_after values; nil when none
	keep   int      // from + size
	skip   int      // from
	fields []string // stored fields to load for each hit

	hits []*search.DocumentMatch
}

// sortedHit is a collected candidate.
type sortedHit struct {
	num  uint64 // global document number in the snapshot
	hit  uint64 // bleve's hit number: the tiebreaker of equal sort values
	vals []string
}

// sortedFields returns the SortFields of order when a sortedCollector can serve it: every
// criterion sorts on a field (not on score, id or geo distance).
func sortedFields(order search.SortOrder) []*search.SortField {
	if len(order) == 0 {
		return nil
	}
	out := make([]*search.SortField, len(order))
	for i, s := range order {
		sf, ok := s.(*search.SortField)
		if !ok {
			return nil
		}
		out[i] = sf
	}
	return out
}

// withCollector returns ctx installing sc as the document-match handler of bleve's top-N
// collector.
func (sc *sortedCollector) withCollector(ctx context.Context) context.Context {
	return context.WithValue(ctx, search.MakeDocumentMatchHandlerKey, search.MakeDocumentMatchHandler(sc.makeHandler))
}

func (sc *sortedCollector) compare(a, b *sortedHit) int {
	for k, sf := range sc.sorts {
		av, bv := a.vals[k], b.vals[k]
		if av == bv {
			continue
		}
		c := 1
		if av < bv {
			c = -1
		}
		if sf.Desc {
			c = -c
		}
		return c
	}
	switch {
	case a.hit < b.hit:
		return -1
	case a.hit > b.hit:
		return 1
	}
	return 0
}

// afterCursor reports whether vals sort strictly after the search_after values.
func (sc *sortedCollector) afterCursor(vals []string) bool {
	for k, sf := range sc.sorts {
		v, a := vals[k], sc.after[k]
		if v == a {
			continue
		}
		return (v > a) != sf.Desc
	}
	return false
}

// topHits keeps the best keep hits offered.
type topHits struct {
	sc    *sortedCollector
	h     hitHeap
	spare *sortedHit
}

func newTopHits(sc *sortedCollector) *topHits {
	return &topHits{sc: sc, h: hitHeap{sc: sc}}
}

// offer adds a copy of c if it is among the best keep hits so far, and reports whether it was.
func (t *topHits) offer(c *sortedHit) bool {
	if t.sc.keep == 0 {
		return false
	}
	if len(t.h.hits) == t.sc.keep {
		if t.sc.compare(c, t.h.hits[0]) >= 0 {
			return false
		}
		t.spare = heap.Pop(&t.h).(*sortedHit)
	}
	in := t.spare
	if in == nil {
		in = &sortedHit{vals: make([]string, len(t.sc.sorts))}
	}
	t.spare = nil
	in.num, in.hit = c.num, c.hit
	copy(in.vals, c.vals)
	heap.Push(&t.h, in)
	return true
}

// hitHeap keeps the worst collected hit on top.
type hitHeap struct {
	sc   *sortedCollector
	hits []*sortedHit
}

func (h *hitHeap) Len() int           { return len(h.hits) }
func (h *hitHeap) Less(i, j int) bool { return h.sc.compare(h.hits[i], h.hits[j]) > 0 }
func (h *hitHeap) Swap(i, j int)      { h.hits[i], h.hits[j] = h.hits[j], h.hits[i] }
func (h *hitHeap) Push(x any)         { h.hits = append(h.hits, x.(*sortedHit)) }
func (h *hitHeap) Pop() any {
	n := len(h.hits) - 1
	x := h.hits[n]
	h.hits = h.hits[:n]
	return x
}

// columnSource reads cached columns of a scorch snapshot.
type columnSource struct {
	sc      *sortedCollector
	snap    *scorch.IndexSnapshot
	offsets []uint64 // first global number of each segment, plus the end
	cols    [][][]string
	cur     int // segment of the last lookup (matches mostly come in document order)
}

func newColumnSource(sc *sortedCollector, snap *scorch.IndexSnapshot) *columnSource {
	segs := snap.Segments()
	return &columnSource{sc: sc, snap: snap, offsets: segmentOffsets(snap), cols: make([][][]string, len(segs))}
}

// segmentOffsets returns the global number of the first document of each segment of snap,
// plus the end.
func segmentOffsets(snap *scorch.IndexSnapshot) []uint64 {
	segs := snap.Segments()
	offsets := make([]uint64, len(segs)+1)
	for i, ss := range segs {
		offsets[i+1] = offsets[i] + uint64(ss.FullSize())
	}
	return offsets
}

// segmentOf returns the segment holding the document whose snapshot-wide number is num, by
// the offsets of segmentOffsets.
func segmentOf(offsets []uint64, num uint64) (int, error) {
	i := sort.Search(len(offsets), func(i int) bool { return offsets[i] > num }) - 1
	if i < 0 || i >= len(offsets)-1 {
		return 0, fmt.Errorf("document %d outside the snapshot's %d documents", num, offsets[len(offsets)-1])
	}
	return i, nil
}

func (s *columnSource) values(num uint64, dst []string) error {
	if num < s.offsets[s.cur] || num >= s.offsets[s.cur+1] {
		i, err := segmentOf(s.offsets, num)
		if err != nil {
			return err
		}
		s.cur = i
	}
	cols := s.cols[s.cur]
	if cols == nil {
		var err error
		if cols, err = s.sc.cache.columns(s.sc.index, s.snap, s.cur, s.offsets[s.cur], s.sc.sorts); err != nil {
			return err
		}
		s.cols[s.cur] = cols
	}
	local := num - s.offsets[s.cur]
	for k := range dst {
		dst[k] = cols[k][local]
	}
	return nil
}

// makeHandler is a search.MakeDocumentMatchHandler.
func (sc *sortedCollector) makeHandler(sctx *search.SearchContext) (search.DocumentMatchHandler, bool, error) {
	r := sctx.IndexReader
	// The engine's indices are pinned scorch (runSearch collects through here only for them),
	// whose readers are snapshots.
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		return nil, false, fmt.Errorf("sorted search: reader %T is not a scorch snapshot", r)
	}
	src := newColumnSource(sc, snap)
	top := newTopHits(sc)
	scratch := &sortedHit{vals: make([]string, len(sc.sorts))}
	handler := func(d *search.DocumentMatch) error {
		if d == nil {
			return sc.finish(snap, top)
		}
		scratch.num, scratch.hit = d.IndexInternalID.Value(), d.HitNumber
		sctx.DocumentMatchPool.Put(d)
		if sc.keep == 0 {
			return nil
		}
		if err := src.values(scratch.num, scratch.vals); err != nil {
			return err
		}
		if sc.after != nil && !sc.afterCursor(scratch.vals) {
			return nil
		}
		top.offer(scratch)
		return nil
	}
	return handler, false, nil
}

// searchMatchAll answers a match_all query without visiting every document: each segment's
// documents, in sort order (sortCache.order), are offered best first, from the search_after
// cursor on, until one is not among the best so far. It reports false when the index's reader
// is not a scorch snapshot (the caller then searches through bleve).
func (sc *sortedCollector) searchMatchAll(p *pinnedScorch) (*bleve.SearchResult, bool, error) {
	r, err := p.Reader()
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		return nil, false, nil
	}
	top := newTopHits(sc)
	scratch := &sortedHit{vals: make([]string, len(sc.sorts))}
	var total uint64
	offsets := segmentOffsets(snap)
	for i, ss := range snap.Segments() {
		total += ss.Count()
		segOffset := offsets[i]
		if sc.keep == 0 || ss.Count() == 0 {
			continue
		}
		perm, err := sc.cache.order(sc.index, snap, i, segOffset, sc.sorts)
		if err != nil {
			return nil, false, err
		}
		cols, err := sc.cache.columns(sc.index, snap, i, segOffset, sc.sorts)
		if err != nil {
			return nil, false, err
		}
		fill := func(local uint32) {
			for k := range cols {
				scratch.vals[k] = cols[k][local]
			}
		}
		start := 0
		if sc.after != nil {
			start = sort.Search(len(perm), func(j int) bool {
				fill(perm[j])
				return sc.afterCursor(scratch.vals)
			})
		}
		del := ss.Deleted()
		for _, local := range perm[start:] {
			if del != nil && del.Contains(local) {
				continue
			}
			fill(local)
			// The global document number orders ties as bleve's hit number does.
			scratch.num = segOffset + uint64(local)
			scratch.hit = scratch.num
			if !top.offer(scratch) {
				break // the rest of this segment sorts after it
			}
		}
	}
	if err := sc.finish(snap, top); err != nil {
		return nil, false, err
	}
	return &bleve.SearchResult{Total: total, Hits: sc.hits}, true, nil
}

// finish turns the collected hits into bleve document matches, loading their stored fields
// while the reader is still open.
func (sc *sortedCollector) finish(snap *scorch.IndexSnapshot, top *topHits) error {
	hits := top.h.hits
	sort.Slice(hits, func(i, j int) bool { return sc.compare(hits[i], hits[j]) < 0 })
	if sc.skip >= len(hits) {
		hits = nil
	} else {
		hits = hits[sc.skip:]
	}
	sc.hits = make([]*search.DocumentMatch, 0, len(hits))
	if len(hits) == 0 {
		return nil
	}
	ld := newStoredLoader(snap, sc.fields)
	for _, c := range hits {
		dm := &search.DocumentMatch{IndexInternalID: bindex.NewIndexInternalID(nil, c.num), HitNumber: c.hit, Sort: c.vals}
		if err := ld.load(c.num, dm); err != nil {
			return fmt.Errorf("sorted search: %w", err)
		}
		sc.hits = append(sc.hits, dm)
	}
	return nil
}

// storedLoader reads a hit's id and stored fields with one visit of its segment's stored
// document. bleve's way (ExternalID, then LoadAndHighlightFields) decompresses the stored
// document twice, looks the id up again in the _id term dictionary of every segment
// (IndexSnapshot.Document) and builds a document.Field for every stored field.
type storedLoader struct {
	segs    []*scorch.SegmentSnapshot
	offsets []uint64
	want    map[string]bool // stored fields to load: text as string (the source as storedSource), numeric as float64
}

func newStoredLoader(snap *scorch.IndexSnapshot, fields []string) *storedLoader {
	l := &storedLoader{segs: snap.Segments(), offsets: segmentOffsets(snap), want: make(map[string]bool, len(fields))}
	for _, f := range fields {
		l.want[f] = true
	}
	return l
}

// load sets dm.ID and dm.Fields for the document whose snapshot-wide number is num.
func (l *storedLoader) load(num uint64, dm *search.DocumentMatch) error {
	i, err := segmentOf(l.offsets, num)
	if err != nil {
		return err
	}
	local := num - l.offsets[i]
	if len(l.want) == 0 {
		id, err := l.segs[i].DocID(local) // reads the id alone
		if err != nil || id == nil {
			return fmt.Errorf("id of document %d: %w", num, cmp.Or(err, errors.New("not stored")))
		}
		dm.ID = string(id)
		return nil
	}
	var ferr error
	err = l.segs[i].VisitDocument(local, func(name string, typ byte, val []byte, _ []uint64) bool {
		if name == "_id" {
			dm.ID = string(val)
			return true
		}
		if !l.want[name] {
			return true
		}
		var v any
		switch typ {
		case 't':
			if name == fieldSource {
				v = storedSource(bytes.Clone(val)) // written into the response as it is
			} else {
				v = string(val)
			}
		case 'n':
			i64, err := numeric.PrefixCoded(val).Int64()
			if err != nil {
				ferr = fmt.Errorf("stored field %s: %w", name, err)
				return false
			}
			v = numeric.Int64ToFloat64(i64)
		default:
			return true // the engine stores only text and numeric fields
		}
		if dm.Fields == nil {
			dm.Fields = make(map[string]any, len(l.want))
		}
		dm.Fields[name] = v
		return true
	})
	switch {
	case err != nil:
		return fmt.Errorf("fields of document %d: %w", num, err)
	case ferr != nil:
		return fmt.Errorf("fields of document %d: %w", num, ferr)
	case dm.ID == "":
		return fmt.Errorf("document %d has no stored id", num)
	}
	return nil
}
