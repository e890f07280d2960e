package esembed

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/index/scorch"
	bindex "github.com/blevesearch/bleve_index_api"
)

// docEntry is the real-time state of one document id: what GET, versioning and conflict
// checks read. src holds the latest source until a refresh has put it into bleve.
type docEntry struct {
	version   int64
	seqNo     int64
	deleted   bool
	deletedAt int64 // unix nanos, for tombstone expiry (index.gc_deletes)
	src       []byte
}

// pendingDoc is a write not yet flushed into bleve (doc nil: delete).
type pendingDoc struct {
	doc   *document.Document
	seqNo int64
	size  int // source bytes, for the flush thresholds
}

// Unrefreshed writes are flushed into bleve (still invisible to search: see pinnedScorch)
// when this many documents or source bytes have piled up since the last flush, by the
// engine's background loop; a writer that finds the hard limit reached flushes itself before
// its write is recorded, which holds clients back to the rate bleve indexes at, as
// Elasticsearch's indexing buffer does.
//
// bleve builds each batch as an in-memory segment that costs many times the documents' size
// while it is built, so a flush goes in batches of at most flushBatchDocs documents.
var (
	flushDocs      = 2000
	flushBytes     = 8 << 20
	flushHardDocs  = 8000
	flushHardBytes = 32 << 20
	flushBatchDocs = 2000
)

// aliasProps are an alias's properties on one index.
type aliasProps struct {
	IsWriteIndex  *bool          `json:"is_write_index,omitempty"`
	Filter        map[string]any `json:"filter,omitempty"`
	IndexRouting  string         `json:"index_routing,omitempty"`
	SearchRouting string         `json:"search_routing,omitempty"`
	IsHidden      *bool          `json:"is_hidden,omitempty"`
}

// index is one Elasticsearch index: a real-time document table in front of a bleve index that
// receives writes at refresh.
type index struct {
	name    string
	uuid    string
	created int64 // unix millis
	an      *analyzers

	mapping  atomic.Pointer[mapping]
	settings atomic.Pointer[indexSettings]

	mu          sync.Mutex // guards everything below
	docs        map[string]docEntry
	pending     map[string]pendingDoc // writes not flushed into bleve yet
	pendingSize int                   // their source bytes
	dirty       bool                  // writes since the last refresh
	tombstones  []tombstone           // in deletion order, for expiry
	seqNo       int64                 // last assigned
	liveCount   int64
	snapGen     uint64        // refresh snapshots taken
	doneGen     uint64        // refresh snapshots applied
	refreshed   chan struct{} // closed when doneGen advances
	lastRefresh time.Time

	wal atomic.Pointer[wal] // nil in memory

	refreshMu sync.Mutex // serialises refreshes
	bidx      bleve.Index
	pinned    *pinnedScorch // bidx's scorch: its latest state and the snapshot search reads
	// beforePublish, when set, sees each refresh's snapshot before searches do (the sort
	// cache warms it).
	beforePublish func(*scorch.IndexSnapshot)
	searchers     atomic.Int64 // in-flight searches (for _stats-like reporting)
}

type tombstone struct {
	id string
	at int64
}

func newIndexState(name, uuid string, created int64, an *analyzers, m *mapping, s *indexSettings, bidx bleve.Index) *index {
	ix := &index{name: name, uuid: uuid, created: created, an: an, docs: map[string]docEntry{},
		pending: map[string]pendingDoc{}, refreshed: make(chan struct{}), bidx: bidx, pinned: pinnedOf(bidx),
		lastRefresh: time.Now(), seqNo: -1}
	ix.mapping.Store(m)
	ix.settings.Store(s)
	return ix
}

// versionType is the index API's version_type.
type versionType int

const (
	versionInternal versionType = iota
	versionExternal
	versionExternalGTE
)

type opKind int

const (
	opIndex opKind = iota
	opCreate
	opDelete
)

// writeOp is one document write with its concurrency-control parameters.
type writeOp struct {
	kind          opKind
	id            string
	src           []byte
	parsed        map[string]any
	version       int64
	hasVersion    bool
	vtype         versionType
	ifSeqNo       int64
	ifPrimaryTerm int64
	hasIfSeqNo    bool
}

// writeResult is what the index/delete APIs report.
type writeResult struct {
	version int64
	seqNo   int64
	result  string // created, updated, deleted, not_found, noop
	status  int
	gen     uint64 // refresh generation that makes it visible
	walOff  uint64 // log offset to sync before acknowledging
}

// primaryTerm is constant: the engine has a single, never-failing primary.
const primaryTerm = 1

// prepare builds the bleve document of an index/create op, extending the mapping when dynamic
// mapping finds new fields. It returns the mapping it used so the caller can log changes.
func (ix *index) prepare(op *writeOp) (*document.Document, bool, error) {
	changed := false
	for attempt := 0; attempt < 8; attempt++ {
		m := ix.mapping.Load()
		doc, added, err := buildDocLimited(m, ix.an, op.id, op.parsed, op.src, ix.settings.Load().arrayObjectsLimit)
		if err != nil {
			return nil, changed, err
		}
		if len(added) == 0 {
			return doc, changed, nil
		}
		ix.mu.Lock()
		if ix.mapping.Load() == m {
			nm := addDynamicFields(m, added)
			ix.mapping.Store(nm)
			if w := ix.wal.Load(); w != nil {
				// Logged under the lock, so the log has the mapping before any write using it.
				w.add(mappingRecord(ix, nm))
			}
			changed = true
		}
		ix.mu.Unlock()
	}
	return nil, changed, errIllegalArgument("mapping kept changing while indexing [%s]", op.id)
}

// apply runs the version checks and records the write in the document table and the pending
// refresh batch. doc is nil for deletes.
func (ix *index) apply(op *writeOp, doc *document.Document, now time.Time) (writeResult, *esError) {
	gc := ix.settings.Load().gcDeletes
	ix.mu.Lock()
	defer ix.mu.Unlock()
	cur, exists := ix.docs[op.id]
	if exists && cur.deleted && now.UnixNano()-cur.deletedAt > int64(gc) {
		exists = false
	}
	live := exists && !cur.deleted
	if op.hasIfSeqNo {
		if !live {
			return writeResult{}, errVersionConflict(ix, op.id, formatf("required seqNo [%d], primary term [%d]. but no document was found", op.ifSeqNo, op.ifPrimaryTerm))
		}
		if cur.seqNo != op.ifSeqNo || op.ifPrimaryTerm != primaryTerm {
			return writeResult{}, errVersionConflict(ix, op.id, formatf("required seqNo [%d], primary term [%d]. current document has seqNo [%d] and primary term [%d]", op.ifSeqNo, op.ifPrimaryTerm, cur.seqNo, primaryTerm))
		}
	}
	var newVersion int64
	switch op.vtype {
	case versionInternal:
		if op.kind == opCreate && live {
			return writeResult{}, errVersionConflict(ix, op.id, formatf("document already exists (current version [%d])", cur.version))
		}
		if op.hasVersion && exists && cur.version != op.version || op.hasVersion && !exists && op.kind != opCreate {
			cv := int64(-1)
			if exists {
				cv = cur.version
			}
			return writeResult{}, errVersionConflict(ix, op.id, formatf("current version [%d] is different than the one provided [%d]", cv, op.version))
		}
		newVersion = 1
		if exists {
			newVersion = cur.version + 1
		}
	case versionExternal:
		if exists && op.kind == opCreate && live {
			return writeResult{}, errVersionConflict(ix, op.id, formatf("document already exists (current version [%d])", cur.version))
		}
		if exists && op.version <= cur.version {
			return writeResult{}, errVersionConflict(ix, op.id, formatf("current version [%d] is higher or equal to the one provided [%d]", cur.version, op.version))
		}
		newVersion = op.version
	case versionExternalGTE:
		if exists && op.version < cur.version {
			return writeResult{}, errVersionConflict(ix, op.id, formatf("current version [%d] is higher than the one provided [%d]", cur.version, op.version))
		}
		newVersion = op.version
	}
	ix.seqNo++
	seq := ix.seqNo
	res := writeResult{version: newVersion, seqNo: seq, gen: ix.snapGen + 1}
	if op.kind == opDelete {
		if live {
			res.result, res.status = "deleted", 200
			ix.liveCount--
		} else {
			res.result, res.status = "not_found", 404
		}
		ix.docs[op.id] = docEntry{version: newVersion, seqNo: seq, deleted: true, deletedAt: now.UnixNano()}
		if w := ix.wal.Load(); w != nil {
			res.walOff = w.add(encodeWrite(ix.uuid, op.id, seq, newVersion, true, now.UnixNano(), nil))
		}
		ix.tombstones = append(ix.tombstones, tombstone{id: op.id, at: now.UnixNano()})
		ix.addPendingLocked(op.id, pendingDoc{seqNo: seq, size: len(op.id)})
		return res, nil
	}
	if live {
		res.result, res.status = "updated", 200
	} else {
		res.result, res.status = "created", 201
		ix.liveCount++
	}
	addMetaFields(doc, seq, newVersion)
	ix.docs[op.id] = docEntry{version: newVersion, seqNo: seq, src: op.src}
	if w := ix.wal.Load(); w != nil {
		res.walOff = w.add(encodeWrite(ix.uuid, op.id, seq, newVersion, false, 0, op.src))
	}
	ix.addPendingLocked(op.id, pendingDoc{doc: doc, seqNo: seq, size: len(op.id) + len(op.src)})
	return res, nil
}

// addPendingLocked records a write for the next flush; ix.mu is held.
func (ix *index) addPendingLocked(id string, p pendingDoc) {
	if old, ok := ix.pending[id]; ok {
		ix.pendingSize -= old.size
	}
	ix.pending[id] = p
	ix.pendingSize += p.size
	ix.dirty = true
}

// waitCapacity is called by a writer before recording its write: when flushing has fallen
// behind (the hard limit is reached) it flushes itself. It must not be called with the
// engine's mu held.
func (ix *index) waitCapacity() error {
	ix.mu.Lock()
	full := len(ix.pending) >= flushHardDocs || ix.pendingSize >= flushHardBytes
	ix.mu.Unlock()
	if !full {
		return nil
	}
	return ix.flush()
}

// needsFlush reports whether enough writes have piled up to flush them.
func (ix *index) needsFlush() bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return len(ix.pending) >= flushDocs || ix.pendingSize >= flushBytes
}

// addMetaFields adds the fields that carry a document's sequence number (the index order
// that "_doc" sorts by) and version.
func addMetaFields(doc *document.Document, seq, version int64) {
	doc.AddField(document.NewNumericFieldWithIndexingOptions(fieldSeqNo, nil, longKey(seq), bindex.StoreField|bindex.IndexField|bindex.DocValues))
	doc.AddField(document.NewNumericFieldWithIndexingOptions(fieldVersion, nil, longKey(version), bindex.StoreField))
}

// getResult is a real-time GET.
type getResult struct {
	found   bool
	version int64
	seqNo   int64
	src     []byte
}

func (ix *index) get(id string) (getResult, error) {
	ix.mu.Lock()
	cur, ok := ix.docs[id]
	ix.mu.Unlock()
	if !ok || cur.deleted {
		return getResult{}, nil
	}
	if cur.src != nil {
		return getResult{found: true, version: cur.version, seqNo: cur.seqNo, src: cur.src}, nil
	}
	// Flushed: bleve's latest state has it, refreshed or not.
	r, err := ix.pinned.latest()
	if err != nil {
		return getResult{}, err
	}
	defer r.Close()
	d, err := r.Document(id)
	if err != nil || d == nil {
		return getResult{}, err
	}
	return storedFields(d), nil
}

// getSearchable reads a document as search sees it (the last refresh): GET with
// realtime=false, and GET of refreshed documents, whose stored fields hold the source and
// the version that goes with it.
func (ix *index) getSearchable(id string) (getResult, error) {
	d, err := ix.bidx.Document(id)
	if err != nil {
		return getResult{}, err
	}
	if d == nil {
		return getResult{}, nil
	}
	return storedFields(d), nil
}

// storedFields reads the source, version and sequence number a bleve document stores.
func storedFields(d bindex.Document) getResult {
	r := getResult{found: true}
	d.VisitFields(func(f bindex.Field) {
		switch f.Name() {
		case fieldSource:
			r.src = append([]byte(nil), f.Value()...)
		case fieldVersion:
			if nf, ok := f.(bindex.NumericField); ok {
				v, _ := nf.Number()
				r.version = fromLongKey(v)
			}
		case fieldSeqNo:
			if nf, ok := f.(bindex.NumericField); ok {
				v, _ := nf.Number()
				r.seqNo = fromLongKey(v)
			}
		}
	})
	return r
}

// refresh makes every write so far visible to search: it flushes what is left and pins the
// new state for readers, in one step for searchers (they see the old pin until the new one).
//
// The new snapshot is prepared (beforePublish: the sort cache warms it) after refreshMu is
// released, so flushes and later refreshes don't wait for it; a later refresh that publishes
// first wins, and its snapshot holds every write this one took.
func (ix *index) refresh() error {
	ix.refreshMu.Lock()
	ix.mu.Lock()
	pend := ix.takePendingLocked()
	ix.dirty = false
	ix.snapGen++
	gen := ix.snapGen
	ix.mu.Unlock()
	err := ix.applyPending(pend)
	var r bindex.IndexReader
	if err == nil {
		r, err = ix.pinned.snapshot()
	}
	ix.refreshMu.Unlock()
	if err != nil {
		return err
	}
	if snap, ok := r.(*scorch.IndexSnapshot); ok && ix.beforePublish != nil {
		ix.beforePublish(snap)
	}
	if err := ix.pinned.publish(r, gen); err != nil {
		return err
	}
	ix.mu.Lock()
	if gen > ix.doneGen {
		ix.doneGen = gen
		close(ix.refreshed)
		ix.refreshed = make(chan struct{})
	}
	ix.lastRefresh = time.Now()
	ix.mu.Unlock()
	return nil
}

// flush writes the pending writes into bleve without making them visible to search (GET
// by id reads them from bleve's latest state from then on).
func (ix *index) flush() error {
	ix.refreshMu.Lock()
	defer ix.refreshMu.Unlock()
	ix.mu.Lock()
	pend := ix.takePendingLocked()
	ix.mu.Unlock()
	return ix.applyPending(pend)
}

func (ix *index) takePendingLocked() map[string]pendingDoc {
	pend := ix.pending
	ix.pending = make(map[string]pendingDoc, min(len(pend), flushHardDocs))
	ix.pendingSize = 0
	return pend
}

// applyPending writes taken pending writes into bleve; refreshMu is held.
func (ix *index) applyPending(pend map[string]pendingDoc) error {
	if len(pend) == 0 {
		return nil
	}
	if w := ix.wal.Load(); w != nil {
		// Nothing reaches bleve before the log holds it, so a crash never leaves a document
		// in bleve that GET and versioning don't know.
		if err := w.syncTo(w.position()); err != nil {
			return err
		}
	}
	b := ix.bidx.NewBatch()
	for id, p := range pend {
		if p.doc == nil {
			b.Delete(id)
		} else if err := b.IndexAdvanced(p.doc); err != nil {
			return err
		}
		if b.Size() >= flushBatchDocs {
			if err := ix.bidx.Batch(b); err != nil {
				return err
			}
			// A new batch, not b.Reset(): scorch's Batch returns once every document is
			// analysed, while the goroutine that queued them may still be ranging over b's
			// operations (the deletes after the last document); clearing the map under it is
			// a data race (seen by -race in TestFlushedWritesStayInvisibleUntilRefresh).
			b = ix.bidx.NewBatch()
		}
	}
	if b.Size() > 0 {
		if err := ix.bidx.Batch(b); err != nil {
			return err
		}
	}
	ix.mu.Lock()
	for id, p := range pend {
		if e, ok := ix.docs[id]; ok && e.seqNo == p.seqNo && e.src != nil {
			e.src = nil
			ix.docs[id] = e
		}
	}
	ix.mu.Unlock()
	return nil
}

// waitRefreshed blocks until the refresh of generation gen has been applied.
func (ix *index) waitRefreshed(done <-chan struct{}, gen uint64) bool {
	for {
		ix.mu.Lock()
		if ix.doneGen >= gen {
			ix.mu.Unlock()
			return true
		}
		ch := ix.refreshed
		ix.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			return false
		}
	}
}

// needsRefresh reports whether the periodic refresh is due.
func (ix *index) needsRefresh(now time.Time) bool {
	iv := ix.settings.Load().refreshInterval
	if iv <= 0 {
		return false
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.dirty && now.Sub(ix.lastRefresh) >= iv
}

// expireTombstones forgets deletes older than index.gc_deletes.
func (ix *index) expireTombstones(now time.Time) {
	gc := int64(ix.settings.Load().gcDeletes)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := 0
	for _, t := range ix.tombstones {
		if now.UnixNano()-t.at <= gc {
			break
		}
		if e, ok := ix.docs[t.id]; ok && e.deleted && e.deletedAt == t.at {
			delete(ix.docs, t.id)
		}
		n++
	}
	if n > 0 {
		ix.tombstones = append(ix.tombstones[:0:0], ix.tombstones[n:]...)
	}
}

func (ix *index) docCount() int64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.liveCount
}
