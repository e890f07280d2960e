package esembed

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	bmapping "github.com/blevesearch/bleve/v2/mapping"
)

// Checkpoint triggers: a checkpoint bounds the log replayed at start.
const (
	checkpointWALBytes = 64 << 20
	checkpointEvery    = 5 * time.Minute
)

// store persists the engine under DataDir:
//
//	LOCK                      flock held while the engine runs
//	catalog.json              indices (settings, mappings, counters) and aliases at the last checkpoint
//	indices/<uuid>/bleve/     the index's bleve (scorch) directory, fsynced at every refresh
//	indices/<uuid>/docs.snap  the real-time document table (versions, tombstones) at the checkpoint
//	wal-<gen>.log             every change since the checkpoint
type store struct {
	dir      string
	lock     *os.File
	wal      *wal
	walGen   int64
	lastCkpt time.Time
	ckptMu   sync.Mutex // one checkpoint at a time
	running  sync.Mutex // held by the background checkpoint goroutine
}

type catalogFile struct {
	WALGen  int64                             `json:"wal_gen"`
	Indices []catalogIndex                    `json:"indices"`
	Aliases map[string]map[string]*aliasProps `json:"aliases"`
}

type catalogIndex struct {
	Name     string            `json:"name"`
	UUID     string            `json:"uuid"`
	Created  int64             `json:"created"`
	Settings map[string]string `json:"settings"`
	Mapping  map[string]any    `json:"mapping"`
	SeqNo    int64             `json:"seq_no"`
}

type createRecord struct {
	Name     string            `json:"name"`
	UUID     string            `json:"uuid"`
	Created  int64             `json:"created"`
	Settings map[string]string `json:"settings"`
	Mapping  map[string]any    `json:"mapping"`
}

func openStore(e *Engine, dir string) (*store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "indices"), 0o755); err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = lf.Close()
		return nil, fmt.Errorf("data directory %s is in use by another engine: %w", dir, err)
	}
	s := &store{dir: dir, lock: lf}
	// Recovery runs before the engine serves: install the store so index creation knows
	// where bleve lives, without a WAL (replay must not log again).
	e.store = s
	start := time.Now()
	replayed, err := s.recover(e)
	if err != nil {
		_ = lf.Close()
		e.store = nil
		return nil, err
	}
	s.walGen++
	w, err := openWAL(s.walPath(s.walGen))
	if err != nil {
		_ = lf.Close()
		return nil, err
	}
	s.wal = w
	for _, ix := range e.indices {
		ix.wal.Store(w)
	}
	// Checkpoint at once so the replayed log is not replayed again next time.
	if err := s.checkpointLocked(e); err != nil {
		_ = w.close()
		_ = lf.Close()
		return nil, err
	}
	e.log.Info("esembed: recovered", "dir", dir, "indices", len(e.indices), "wal_records", replayed, "took", time.Since(start).String())
	return s, nil
}

func (s *store) walPath(gen int64) string {
	return filepath.Join(s.dir, fmt.Sprintf("wal-%08d.log", gen))
}

func (s *store) indexDir(uuid string) string { return filepath.Join(s.dir, "indices", uuid) }

// recover loads the last checkpoint and replays the log after it.
func (s *store) recover(e *Engine) (int, error) {
	var cat catalogFile
	raw, err := os.ReadFile(filepath.Join(s.dir, "catalog.json"))
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &cat); err != nil {
			return 0, fmt.Errorf("catalog.json: %w", err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return 0, err
	}
	for _, ci := range cat.Indices {
		m, err := parseMapping(numberify(ci.Mapping))
		if err != nil {
			return 0, fmt.Errorf("catalog: index %s mapping: %w", ci.Name, err)
		}
		ix, cerr := e.createIndexLocked(ci.Name, &createIndexRequest{settings: ci.Settings, mapping: m, restore: true}, ci.UUID, ci.Created)
		if cerr != nil {
			return 0, fmt.Errorf("catalog: index %s: %w", ci.Name, cerr)
		}
		ix.settings.Store(mustSettings(ci.Settings))
		ix.seqNo = ci.SeqNo
		if err := s.loadDocs(ix); err != nil {
			return 0, fmt.Errorf("index %s: %w", ci.Name, err)
		}
	}
	if cat.Aliases != nil {
		e.aliases = cat.Aliases
	}
	s.walGen = cat.WALGen
	// Replay every log from the checkpoint's generation on.
	gens, err := s.walGens()
	if err != nil {
		return 0, err
	}
	byUUID := map[string]*index{}
	for _, ix := range e.indices {
		byUUID[ix.uuid] = ix
	}
	n := 0
	for _, g := range gens {
		if g < cat.WALGen {
			continue
		}
		if g > s.walGen {
			s.walGen = g
		}
		path := s.walPath(g)
		end, err := readWAL(path, func(p []byte) error {
			n++
			return s.replay(e, byUUID, p)
		})
		if err != nil {
			return n, fmt.Errorf("replay %s: %w", path, err)
		}
		if st, err := os.Stat(path); err == nil && st.Size() > end {
			e.log.Warn("esembed: dropped a torn write-ahead log tail", "file", path, "bytes", st.Size()-end)
		}
	}
	for _, ix := range e.indices {
		if err := ix.refresh(); err != nil {
			return n, fmt.Errorf("index %s: refresh after replay: %w", ix.name, err)
		}
	}
	// Remove bleve directories no index owns (deleted indices whose removal was cut short).
	entries, _ := os.ReadDir(filepath.Join(s.dir, "indices"))
	for _, de := range entries {
		if _, ok := byUUID[de.Name()]; !ok {
			owned := false
			for _, ix := range e.indices {
				if ix.uuid == de.Name() {
					owned = true
				}
			}
			if !owned {
				_ = os.RemoveAll(filepath.Join(s.dir, "indices", de.Name()))
			}
		}
	}
	return n, nil
}

// numberify turns float64s from a JSON round trip back into json.Number, as request bodies
// are decoded.
func numberify(m map[string]any) map[string]any {
	raw, err := json.Marshal(m)
	if err != nil {
		return m
	}
	out, err := parseSource(raw)
	if err != nil {
		return m
	}
	return out
}

func mustSettings(flat map[string]string) *indexSettings {
	s, err := buildSettings(flat)
	if err != nil {
		s, _ = buildSettings(map[string]string{})
		s.flat = flat
	}
	return s
}

func (s *store) walGens() ([]int64, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var gens []int64
	for _, de := range entries {
		name := de.Name()
		if !strings.HasPrefix(name, "wal-") || !strings.HasSuffix(name, ".log") {
			continue
		}
		g, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(name, "wal-"), ".log"), 10, 64)
		if err == nil {
			gens = append(gens, g)
		}
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i] < gens[j] })
	return gens, nil
}

// replay applies one log record during recovery.
func (s *store) replay(e *Engine, byUUID map[string]*index, p []byte) error {
	if len(p) == 0 {
		return errBadRecord
	}
	switch p[0] {
	case recWrite:
		w, err := decodeWrite(p)
		if err != nil {
			return err
		}
		ix := byUUID[w.uuid]
		if ix == nil {
			return nil // the index was deleted later in the log
		}
		return ix.replayWrite(w)
	case recCreate:
		var r createRecord
		if err := json.Unmarshal(p[1:], &r); err != nil {
			return err
		}
		if _, ok := byUUID[r.UUID]; ok {
			return nil
		}
		m, err := parseMapping(numberify(r.Mapping))
		if err != nil {
			return err
		}
		if old, ok := e.indices[r.Name]; ok {
			e.deleteIndexLocked(old.name)
			delete(byUUID, old.uuid)
		}
		ix, cerr := e.createIndexLocked(r.Name, &createIndexRequest{settings: r.Settings, mapping: m, restore: true}, r.UUID, r.Created)
		if cerr != nil {
			return cerr
		}
		ix.settings.Store(mustSettings(r.Settings))
		byUUID[r.UUID] = ix
	case recDelete:
		var r struct{ UUID string }
		if err := json.Unmarshal(p[1:], &r); err != nil {
			return err
		}
		if ix := byUUID[r.UUID]; ix != nil {
			e.deleteIndexLocked(ix.name)
			delete(byUUID, r.UUID)
		}
	case recMapping:
		var r struct {
			UUID    string
			Mapping map[string]any
		}
		if err := json.Unmarshal(p[1:], &r); err != nil {
			return err
		}
		if ix := byUUID[r.UUID]; ix != nil {
			m, err := parseMapping(numberify(r.Mapping))
			if err != nil {
				return err
			}
			ix.mapping.Store(m)
		}
	case recSettings:
		var r struct {
			UUID     string
			Settings map[string]string
		}
		if err := json.Unmarshal(p[1:], &r); err != nil {
			return err
		}
		if ix := byUUID[r.UUID]; ix != nil {
			ix.settings.Store(mustSettings(r.Settings))
		}
	case recAliases:
		var r struct {
			Aliases map[string]map[string]*aliasProps
		}
		if err := json.Unmarshal(p[1:], &r); err != nil {
			return err
		}
		if r.Aliases == nil {
			r.Aliases = map[string]map[string]*aliasProps{}
		}
		e.aliases = r.Aliases
	default:
		return fmt.Errorf("wal: unknown record type %d", p[0])
	}
	return nil
}

// replayWrite re-applies a logged write to the document table and the pending batch.
func (ix *index) replayWrite(w walWrite) error {
	ix.mu.Lock()
	cur, exists := ix.docs[w.id]
	ix.mu.Unlock()
	if exists && cur.seqNo >= w.seq {
		return nil // already in the checkpoint
	}
	var doc *pendingDoc
	if !w.deleted {
		parsed, err := parseSource(w.src)
		if err != nil {
			return err
		}
		op := &writeOp{kind: opIndex, id: w.id, src: w.src, parsed: parsed}
		d, _, err := ix.prepare(op)
		if err != nil {
			return err
		}
		addMetaFields(d, w.seq, w.version)
		doc = &pendingDoc{doc: d, seqNo: w.seq}
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	live := exists && !cur.deleted
	if w.deleted {
		if live {
			ix.liveCount--
		}
		ix.docs[w.id] = docEntry{version: w.version, seqNo: w.seq, deleted: true, deletedAt: w.deletedAt}
		ix.tombstones = append(ix.tombstones, tombstone{id: w.id, at: w.deletedAt})
		ix.addPendingLocked(w.id, pendingDoc{seqNo: w.seq, size: len(w.id)})
	} else {
		if !live {
			ix.liveCount++
		}
		ix.docs[w.id] = docEntry{version: w.version, seqNo: w.seq, src: w.src}
		doc.size = len(w.id) + len(w.src)
		ix.addPendingLocked(w.id, *doc)
	}
	if w.seq > ix.seqNo {
		ix.seqNo = w.seq
	}
	return nil
}

// openBleve opens (or creates) an index's bleve directory.
func (s *store) openBleve(uuid string, im *bmapping.IndexMappingImpl) (bleve.Index, error) {
	p := filepath.Join(s.indexDir(uuid), "bleve")
	if _, err := os.Stat(p); err == nil {
		if err := usePinnedType(p); err != nil {
			return nil, err
		}
		return bleve.Open(p)
	}
	if err := os.MkdirAll(s.indexDir(uuid), 0o755); err != nil {
		return nil, err
	}
	return bleve.NewUsing(p, im, pinnedIndexType, scorch.Name, nil)
}

func (s *store) removeBleve(uuid string) {
	_ = os.RemoveAll(s.indexDir(uuid))
}

func (s *store) logJSON(typ byte, v any) error {
	if s.wal == nil {
		return nil // recovering
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.wal.syncTo(s.wal.add(append([]byte{typ}, b...)))
}

func (s *store) logCreate(ix *index) error {
	return s.logJSON(recCreate, createRecord{Name: ix.name, UUID: ix.uuid, Created: ix.created,
		Settings: ix.settings.Load().flat, Mapping: ix.mapping.Load().render()})
}

func (s *store) logDelete(ix *index) error {
	return s.logJSON(recDelete, map[string]string{"UUID": ix.uuid})
}

func (s *store) logMapping(ix *index) error {
	return s.logJSON(recMapping, map[string]any{"UUID": ix.uuid, "Mapping": ix.mapping.Load().render()})
}

func mappingRecord(ix *index, m *mapping) []byte {
	b, _ := json.Marshal(map[string]any{"UUID": ix.uuid, "Mapping": m.render()})
	return append([]byte{recMapping}, b...)
}

func (s *store) logSettings(ix *index) error {
	return s.logJSON(recSettings, map[string]any{"UUID": ix.uuid, "Settings": ix.settings.Load().flat})
}

func (s *store) logAliases(e *Engine) error {
	return s.logJSON(recAliases, map[string]any{"Aliases": e.aliases})
}

// syncTo acknowledges writes: it returns once the log holds them on disk.
func (s *store) syncTo(off uint64) error {
	if s.wal == nil || off == 0 {
		return nil
	}
	return s.wal.syncTo(off)
}

// maybeCheckpoint starts a checkpoint in the background when the log has grown.
func (s *store) maybeCheckpoint(e *Engine) {
	if s.wal == nil {
		return
	}
	size := s.wal.fileSize()
	if size < checkpointWALBytes && (size == 0 || time.Since(s.lastCkpt) < checkpointEvery) {
		return
	}
	if !s.running.TryLock() {
		return
	}
	e.stopped.Add(1)
	go func() {
		defer e.stopped.Done()
		defer s.running.Unlock()
		if err := s.checkpoint(e); err != nil {
			e.log.Error("esembed: checkpoint", "err", err)
		}
	}()
}

// checkpoint makes the state durable without the log: it blocks writes, flushes every
// index into bleve (bleve fsyncs each batch), snapshots document tables and the catalog, and
// starts a new log.
func (s *store) checkpoint(e *Engine) error {
	e.writeBarrier.Lock()
	defer e.writeBarrier.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	return s.checkpointLocked(e)
}

func (s *store) checkpointLocked(e *Engine) error {
	s.ckptMu.Lock()
	defer s.ckptMu.Unlock()
	cat := catalogFile{WALGen: s.walGen + 1, Aliases: e.aliases}
	for _, ix := range e.indices {
		// A flush, not a refresh: bleve then holds every write (and fsynced it), without
		// making unrefreshed writes visible to search.
		if err := ix.flush(); err != nil {
			return fmt.Errorf("checkpoint %s: flush: %w", ix.name, err)
		}
		if err := s.saveDocs(ix); err != nil {
			return fmt.Errorf("checkpoint %s: %w", ix.name, err)
		}
		ix.mu.Lock()
		seq := ix.seqNo
		ix.mu.Unlock()
		cat.Indices = append(cat.Indices, catalogIndex{Name: ix.name, UUID: ix.uuid, Created: ix.created,
			Settings: ix.settings.Load().flat, Mapping: ix.mapping.Load().render(), SeqNo: seq})
	}
	sort.Slice(cat.Indices, func(i, j int) bool { return cat.Indices[i].Name < cat.Indices[j].Name })
	raw, err := json.Marshal(cat)
	if err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(s.dir, "catalog.json"), raw); err != nil {
		return err
	}
	// The catalog now covers every log up to walGen: start the next one and drop the old.
	old := s.walGen
	nw, err := openWAL(s.walPath(old + 1))
	if err != nil {
		return err
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	if s.wal != nil {
		if err := s.wal.close(); err != nil {
			return err
		}
	}
	s.wal = nw
	s.walGen = old + 1
	for _, ix := range e.indices {
		ix.wal.Store(nw)
	}
	gens, _ := s.walGens()
	for _, g := range gens {
		if g <= old {
			_ = os.Remove(s.walPath(g))
		}
	}
	s.lastCkpt = time.Now()
	return nil
}

func writeFileSync(path string, data []byte) error {
	return writeFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeFileAtomic replaces path with what fill writes (buffered), durably: a temporary file,
// fsynced, renamed over path, and the directory fsynced.
func writeFileAtomic(path string, fill func(w io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := fill(w); err != nil {
		_ = f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// saveDocs writes the document table (flushed, so without sources).
func (s *store) saveDocs(ix *index) error {
	return writeFileAtomic(filepath.Join(s.indexDir(ix.uuid), "docs.snap"), func(w io.Writer) error {
		ix.mu.Lock()
		defer ix.mu.Unlock()
		var buf []byte
		buf = binary.AppendUvarint(buf[:0], uint64(len(ix.docs)))
		_, _ = w.Write(buf)
		for id, d := range ix.docs {
			buf = buf[:0]
			buf = binary.AppendUvarint(buf, uint64(len(id)))
			buf = append(buf, id...)
			buf = binary.AppendVarint(buf, d.version)
			buf = binary.AppendVarint(buf, d.seqNo)
			if d.deleted {
				buf = append(buf, 1)
			} else {
				buf = append(buf, 0)
			}
			buf = binary.AppendVarint(buf, d.deletedAt)
			_, _ = w.Write(buf)
		}
		return nil
	})
}

func (s *store) loadDocs(ix *index) error {
	f, err := os.Open(filepath.Join(s.indexDir(ix.uuid), "docs.snap"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return fmt.Errorf("docs.snap: %w", err)
	}
	var tombs []tombstone
	for i := uint64(0); i < n; i++ {
		l, err := binary.ReadUvarint(r)
		if err != nil {
			return fmt.Errorf("docs.snap: %w", err)
		}
		idb := make([]byte, l)
		if _, err := io.ReadFull(r, idb); err != nil {
			return fmt.Errorf("docs.snap: %w", err)
		}
		var d docEntry
		if d.version, err = binary.ReadVarint(r); err != nil {
			return fmt.Errorf("docs.snap: %w", err)
		}
		if d.seqNo, err = binary.ReadVarint(r); err != nil {
			return fmt.Errorf("docs.snap: %w", err)
		}
		del, err := r.ReadByte()
		if err != nil {
			return fmt.Errorf("docs.snap: %w", err)
		}
		d.deleted = del == 1
		if d.deletedAt, err = binary.ReadVarint(r); err != nil {
			return fmt.Errorf("docs.snap: %w", err)
		}
		id := string(idb)
		ix.docs[id] = d
		if d.deleted {
			tombs = append(tombs, tombstone{id: id, at: d.deletedAt})
		} else {
			ix.liveCount++
		}
	}
	sort.Slice(tombs, func(i, j int) bool { return tombs[i].at < tombs[j].at })
	ix.tombstones = tombs
	return nil
}

func (s *store) close() error {
	var errs []error
	if s.wal != nil {
		errs = append(errs, s.wal.close())
	}
	errs = append(errs, s.lock.Close())
	return errors.Join(errs...)
}
