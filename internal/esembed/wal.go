package esembed

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
)

// Write-ahead log record types.
const (
	recWrite    byte = 1
	recCreate   byte = 2
	recDelete   byte = 3
	recMapping  byte = 4
	recSettings byte = 5
	recAliases  byte = 6
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// wal is the engine's write-ahead log (Elasticsearch's translog): records are appended to
// a memory buffer in the order the engine applies them, and written and fsynced in groups,
// so concurrent requests share fsyncs.
type wal struct {
	mu     sync.Mutex // guards buf and end
	buf    []byte
	end    uint64     // logical bytes appended
	syncMu sync.Mutex // guards f, synced, size
	f      *os.File
	synced uint64
	size   int64
}

func openWAL(path string) (*wal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &wal{f: f, size: st.Size()}, nil
}

// add appends one framed record and returns the offset to sync to before acknowledging it.
func (w *wal) add(payload []byte) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(hdr[4:8], crc32.Checksum(payload, crcTable))
	w.buf = append(w.buf, hdr[:]...)
	w.buf = append(w.buf, payload...)
	w.end += uint64(len(hdr) + len(payload))
	return w.end
}

// position is the offset of everything appended so far.
func (w *wal) position() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.end
}

// syncTo makes every record up to off durable.
func (w *wal) syncTo(off uint64) error {
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	if w.synced >= off {
		return nil
	}
	w.mu.Lock()
	data := w.buf
	w.buf = nil
	end := w.end
	w.mu.Unlock()
	if len(data) > 0 {
		if _, err := w.f.Write(data); err != nil {
			return fmt.Errorf("wal: write: %w", err)
		}
		w.size += int64(len(data))
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("wal: fsync: %w", err)
	}
	w.synced = end
	return nil
}

func (w *wal) fileSize() int64 {
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	return w.size
}

func (w *wal) close() error {
	if err := w.syncTo(w.position()); err != nil {
		_ = w.f.Close()
		return err
	}
	return w.f.Close()
}

// readWAL calls fn for each intact record of the file. A torn or corrupt tail (a crash in the
// middle of a write) ends the log: everything before it was acknowledged, nothing after it was.
func readWAL(path string, fn func(payload []byte) error) (validEnd int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, nil
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		if n > 1<<30 {
			return off, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return off, nil
		}
		if crc32.Checksum(payload, crcTable) != sum {
			return off, nil
		}
		if err := fn(payload); err != nil {
			return off, err
		}
		off += int64(8 + n)
	}
}

// encodeWrite encodes a document write record.
func encodeWrite(uuid, id string, seq, version int64, deleted bool, deletedAt int64, src []byte) []byte {
	b := make([]byte, 0, 1+len(uuid)+len(id)+len(src)+40)
	b = append(b, recWrite)
	b = binary.AppendUvarint(b, uint64(len(uuid)))
	b = append(b, uuid...)
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	b = binary.AppendVarint(b, seq)
	b = binary.AppendVarint(b, version)
	if deleted {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, deletedAt)
	b = binary.AppendUvarint(b, uint64(len(src)))
	b = append(b, src...)
	return b
}

type walWrite struct {
	uuid, id     string
	seq, version int64
	deleted      bool
	deletedAt    int64
	src          []byte
}

var errBadRecord = errors.New("wal: malformed record")

func decodeWrite(b []byte) (walWrite, error) {
	var w walWrite
	b = b[1:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	vint := func() (int64, bool) {
		v, k := binary.Varint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	var ok bool
	if w.uuid, ok = str(); !ok {
		return w, errBadRecord
	}
	if w.id, ok = str(); !ok {
		return w, errBadRecord
	}
	if w.seq, ok = vint(); !ok {
		return w, errBadRecord
	}
	if w.version, ok = vint(); !ok {
		return w, errBadRecord
	}
	if len(b) < 1 {
		return w, errBadRecord
	}
	w.deleted = b[0] == 1
	b = b[1:]
	if w.deletedAt, ok = vint(); !ok {
		return w, errBadRecord
	}
	src, ok := str()
	if !ok {
		return w, errBadRecord
	}
	if len(src) > 0 {
		w.src = []byte(src)
	}
	return w, nil
}
