package esembed

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/registry"
	bindex "github.com/blevesearch/bleve_index_api"
)

// pinnedIndexType is the bleve index type of every engine index: scorch whose readers see a
// pinned snapshot instead of the latest one.
//
// Elasticsearch separates writing from visibility: a write goes into Lucene's indexing buffer
// and is flushed into segments whenever the buffer fills, but searches only see what the last
// refresh published. Plain scorch has no such split (a batch is searchable as soon as it is
// introduced), so the engine used to keep every unrefreshed write in memory until the next
// refresh, and an index with refresh_interval -1 (a reindex build) held its whole backfill in
// memory. With a pinned reader the engine flushes writes into scorch whenever enough have
// piled up (memory stays bounded, and writers are held back when flushing falls behind),
// while search, counts and aggregations keep reading the snapshot pinned at the last refresh.
const pinnedIndexType = "esembed_scorch"

func init() {
	if err := registry.RegisterIndexType(pinnedIndexType, newPinnedScorch); err != nil {
		panic(err)
	}
}

// pinnedScorch is scorch with a pinned reader. Embedding *scorch.Scorch keeps every optional
// interface bleve looks for (copying, callbacks, updates).
type pinnedScorch struct {
	*scorch.Scorch
	mu     sync.Mutex
	pinned bindex.IndexReader // nil: nothing pinned yet, readers see the latest state
	seq    uint64             // the refresh generation of pinned
	closed bool
}

func newPinnedScorch(storeName string, config map[string]any, q *bindex.AnalysisQueue) (bindex.Index, error) {
	in, err := scorch.NewScorch(storeName, config, q)
	if err != nil {
		return nil, err
	}
	s, ok := in.(*scorch.Scorch)
	if !ok {
		return nil, fmt.Errorf("esembed: scorch constructor returned %T", in)
	}
	return &pinnedScorch{Scorch: s}, nil
}

type refCounted interface{ AddRef() }

// Reader returns the pinned snapshot (what the last refresh published); before the first
// pin, the latest state.
func (p *pinnedScorch) Reader() (bindex.IndexReader, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pinned != nil {
		if rc, ok := p.pinned.(refCounted); ok {
			rc.AddRef()
			return p.pinned, nil
		}
	}
	return p.Scorch.Reader()
}

// latest returns a reader over everything written so far, refreshed or not (real-time GET).
func (p *pinnedScorch) latest() (bindex.IndexReader, error) { return p.Scorch.Reader() }

// snapshot returns a reader over the current state, to publish.
func (p *pinnedScorch) snapshot() (bindex.IndexReader, error) {
	r, err := p.Scorch.Reader()
	if err != nil {
		return nil, err
	}
	if _, ok := r.(refCounted); !ok {
		_ = r.Close()
		return nil, fmt.Errorf("esembed: scorch reader %T cannot be pinned", r)
	}
	return r, nil
}

// publish makes r, the snapshot of refresh generation seq, what Reader returns, unless a
// later generation was published already (refreshes prepare their snapshots concurrently) or
// the index was closed; then r is closed.
func (p *pinnedScorch) publish(r bindex.IndexReader, seq uint64) error {
	p.mu.Lock()
	if p.closed || seq < p.seq {
		p.mu.Unlock()
		return r.Close()
	}
	old := p.pinned
	p.pinned, p.seq = r, seq
	p.mu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

func (p *pinnedScorch) Close() error {
	p.mu.Lock()
	old := p.pinned
	p.pinned, p.closed = nil, true
	p.mu.Unlock()
	var err error
	if old != nil {
		err = old.Close()
	}
	return errors.Join(err, p.Scorch.Close())
}

// pinnedOf returns the pinned scorch under a bleve index (nil for another index type).
func pinnedOf(b bleve.Index) *pinnedScorch {
	if b == nil {
		return nil
	}
	adv, err := b.Advanced()
	if err != nil {
		return nil
	}
	p, _ := adv.(*pinnedScorch)
	return p
}

// usePinnedType rewrites the index type of a bleve directory written by an older engine
// (plain "scorch": same files) so it opens as the pinned type.
func usePinnedType(dir string) error {
	path := filepath.Join(dir, "index_meta.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var meta map[string]any
	if err := json.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if meta["index_type"] != scorch.Name {
		return nil
	}
	meta["index_type"] = pinnedIndexType
	out, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return writeFileSync(path, out)
}
