// Package esembed is an embedded search engine that speaks the Elasticsearch 8 REST API,
// built on bleve. It serves development, tests and small single-machine installs where no
// Elasticsearch server can run; the official clients work against it unchanged.
//
// Each index keeps a real-time document table (id -> version, seq_no, tombstone, unflushed
// source) that serves GET and concurrency control, and a bleve (scorch) index. Writes are
// flushed into bleve in batches whenever a few thousand have piled up (a writer that finds
// the hard limit reached flushes before its write is recorded, which bounds memory and holds
// clients back to bleve's indexing rate, like Elasticsearch's indexing buffer), but searches
// read a scorch snapshot pinned at the last refresh (pinned.go), so search is near-real-time
// exactly like Elasticsearch, also with refresh_interval -1, and GET is real-time.
package esembed

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	bindex "github.com/blevesearch/bleve_index_api"
)

const (
	nodeID        = "esembed-node-0"
	clusterUUID   = "esembed-cluster"
	versionNumber = "8.15.0"
)

// Config configures an Engine.
type Config struct {
	// DataDir holds indices and the write-ahead log; empty keeps everything in memory (the
	// index files on tmpfs, removed at Close: memdir.go).
	DataDir string
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// ClusterName is reported by GET / and _cluster/health (default "ordertable").
	ClusterName string
	// NodeName is reported by GET / (default "esembed").
	NodeName string
	// SortCacheBytes bounds the memory of the decoded sort columns that make sorted searches
	// cheap (sortcache.go; default 256 MiB). Negative turns the cache off: sorted searches
	// then read every match's doc values, as bleve's own collector does.
	SortCacheBytes int64
	// MaxContentLength is the largest request body accepted, as Elasticsearch's
	// http.max_content_length (default 100 MiB); a larger one is answered 413 before it is
	// read, so one oversized bulk cannot exhaust the engine's memory.
	MaxContentLength int64
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ClusterName == "" {
		c.ClusterName = "ordertable"
	}
	if c.NodeName == "" {
		c.NodeName = "esembed"
	}
	if c.SortCacheBytes == 0 {
		c.SortCacheBytes = defaultSortCacheBytes
	}
	if c.MaxContentLength == 0 {
		c.MaxContentLength = defaultMaxContentLength
	}
}

// defaultMaxContentLength is Elasticsearch's default http.max_content_length.
const defaultMaxContentLength = 100 << 20

// Validate reports configuration problems.
func (c *Config) Validate() error {
	var errs []error
	if strings.ContainsRune(c.DataDir, 0) {
		errs = append(errs, errors.New("esembed: DataDir contains a NUL byte"))
	}
	if c.MaxContentLength < 0 {
		errs = append(errs, fmt.Errorf("esembed: MaxContentLength %d is negative", c.MaxContentLength))
	}
	return errors.Join(errs...)
}

// Engine is an embedded Elasticsearch-compatible engine.
type Engine struct {
	cfg Config
	log *slog.Logger
	an  *analyzers
	// respBufs pools the buffers responses are encoded into (*[]byte).
	respBufs sync.Pool
	// sortCache holds decoded sort columns (sortcache.go); nil when turned off. Atomic so
	// that tests can compare a search with and without it on the same snapshot.
	sortCache atomic.Pointer[sortCache]

	// mu guards the catalog: indices and their aliases. Alias changes take it exclusively,
	// so a search resolves names against one consistent catalog.
	mu      sync.RWMutex
	indices map[string]*index
	aliases map[string]map[string]*aliasProps // alias -> index -> props

	store *store // nil in memory
	// memDir holds the scorch files of an in-memory engine (memdir.go); "" with a store.
	// memLock holds its flock.
	memDir  string
	memLock *os.File
	// writeBarrier is held shared by every mutating request and exclusively by a checkpoint.
	writeBarrier sync.RWMutex

	stop    chan struct{}
	stopped sync.WaitGroup
	closeMu sync.Once
}

// Open creates an engine, recovering DataDir's indices and write-ahead log when set.
func Open(cfg Config) (*Engine, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, an: newAnalyzers(), indices: map[string]*index{},
		aliases: map[string]map[string]*aliasProps{}, stop: make(chan struct{})}
	if cfg.SortCacheBytes > 0 {
		e.sortCache.Store(newSortCache(cfg.SortCacheBytes))
	}
	if cfg.DataDir != "" {
		st, err := openStore(e, cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("esembed: open %s: %w", cfg.DataDir, err)
		}
		e.store = st
	} else {
		dir, lock, err := newMemDir()
		if err != nil {
			return nil, err
		}
		e.memDir, e.memLock = dir, lock
	}
	e.stopped.Add(1)
	go e.background()
	return e, nil
}

// Close stops background work and closes every index.
func (e *Engine) Close() error {
	var errs []error
	e.closeMu.Do(func() {
		close(e.stop)
		e.stopped.Wait()
		if e.store != nil {
			if err := e.store.checkpoint(e); err != nil {
				errs = append(errs, err)
			}
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, ix := range e.indices {
			if err := ix.bidx.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if e.store != nil {
			if err := e.store.close(); err != nil {
				errs = append(errs, err)
			}
		}
		if err := e.releaseMemDir(); err != nil {
			errs = append(errs, err)
		}
	})
	return errors.Join(errs...)
}

// Serve answers HTTP on ln until ctx is cancelled.
func (e *Engine) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 30 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// background runs periodic refreshes, flushes of piled-up writes and tombstone expiry.
func (e *Engine) background() {
	defer e.stopped.Done()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	lastGC := time.Now()
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C:
			for _, ix := range e.snapshotIndices() {
				if ix.needsRefresh(now) {
					if err := ix.refresh(); err != nil {
						e.log.Error("esembed: periodic refresh", "index", ix.name, "err", err)
					}
				} else if ix.needsFlush() {
					if err := ix.flush(); err != nil {
						e.log.Error("esembed: flush", "index", ix.name, "err", err)
					}
				}
			}
			if now.Sub(lastGC) >= time.Second {
				lastGC = now
				for _, ix := range e.snapshotIndices() {
					ix.expireTombstones(now)
				}
				if c := e.sortCache.Load(); c != nil {
					c.prune(now, sortColumnIdle)
				}
			}
			if e.store != nil {
				e.store.maybeCheckpoint(e)
			}
		}
	}
}

func (e *Engine) snapshotIndices() []*index {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]*index, 0, len(e.indices))
	for _, ix := range e.indices {
		out = append(out, ix)
	}
	return out
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:22]
}

// validateIndexName applies Elasticsearch's index naming rules.
func validateIndexName(name string) *esError {
	bad := func(reason string) *esError {
		return &esError{Status: 400, Type: "invalid_index_name_exception",
			Reason: "Invalid index name [" + name + "], " + reason, Index: name}
	}
	switch {
	case name == "":
		return bad("must not be empty")
	case name != strings.ToLower(name):
		return bad("must be lowercase")
	case name == "." || name == "..":
		return bad("must not be '.' or '..'")
	case strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "+"):
		return bad("must not start with '_', '-', or '+'")
	case len(name) > 255:
		return bad("index name is too long, (" + fmt.Sprint(len(name)) + " > 255)")
	case strings.ContainsAny(name, "\\/*?\"<>| ,#:"):
		return bad("must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]")
	}
	return nil
}

// createIndexRequest is the body of PUT /{index}.
type createIndexRequest struct {
	settings map[string]string
	mapping  *mapping
	aliases  map[string]*aliasProps
	restore  bool // recovering a persisted index: settings are trusted
}

func parseCreateIndexBody(body map[string]any) (*createIndexRequest, *esError) {
	req := &createIndexRequest{settings: map[string]string{}}
	for k, v := range body {
		switch k {
		case "settings":
			sm, ok := v.(map[string]any)
			if !ok {
				return nil, errParsing("Failed to parse [settings]: expected an object")
			}
			flat, err := flattenSettings(sm)
			if err != nil {
				return nil, errIllegalArgument("%v", err)
			}
			req.settings = flat
		case "mappings":
			mm, ok := v.(map[string]any)
			if !ok {
				return nil, errMapperParsing("Failed to parse mapping: mappings must be an object")
			}
			m, err := parseMapping(mm)
			if err != nil {
				return nil, asESError(err)
			}
			req.mapping = m
		case "aliases":
			am, ok := v.(map[string]any)
			if !ok {
				return nil, errParsing("Failed to parse [aliases]: expected an object")
			}
			req.aliases = map[string]*aliasProps{}
			for name, def := range am {
				p, err := parseAliasProps(def)
				if err != nil {
					return nil, err
				}
				resolved, derr := expandDateMath(name)
				if derr != nil {
					return nil, derr
				}
				req.aliases[resolved] = p
			}
		default:
			return nil, errParsing("unknown key [%s] for create index", k)
		}
	}
	return req, nil
}

func parseAliasProps(def any) (*aliasProps, *esError) {
	p := &aliasProps{}
	m, ok := def.(map[string]any)
	if !ok {
		if def == nil {
			return p, nil
		}
		return nil, errParsing("alias definition must be an object")
	}
	for k, v := range m {
		switch k {
		case "is_write_index":
			b, ok := toBool(v)
			if !ok {
				return nil, errIllegalArgument("[is_write_index] must be a boolean")
			}
			p.IsWriteIndex = &b
		case "is_hidden":
			b, ok := toBool(v)
			if !ok {
				return nil, errIllegalArgument("[is_hidden] must be a boolean")
			}
			p.IsHidden = &b
		case "filter":
			f, ok := v.(map[string]any)
			if !ok {
				return nil, errParsing("[filter] must be an object")
			}
			p.Filter = f
		case "routing":
			p.IndexRouting, p.SearchRouting = jsonString(v), jsonString(v)
		case "index_routing":
			p.IndexRouting = jsonString(v)
		case "search_routing":
			p.SearchRouting = jsonString(v)
		default:
			return nil, errParsing("Unknown field [%s] in alias [%v]", k, def)
		}
	}
	return p, nil
}

func asESError(err error) *esError {
	if err == nil {
		return nil
	}
	var ee *esError
	if errors.As(err, &ee) {
		return ee
	}
	return &esError{Status: 500, Type: "exception", Reason: err.Error()}
}

// createIndex creates an index; it is called with e.mu held exclusively.
func (e *Engine) createIndexLocked(name string, req *createIndexRequest, uuid string, created int64) (*index, *esError) {
	if err := validateIndexName(name); err != nil {
		return nil, err
	}
	if ix, ok := e.indices[name]; ok {
		return nil, errAlreadyExists(name, ix.uuid)
	}
	if _, ok := e.aliases[name]; ok {
		return nil, &esError{Status: 400, Type: "invalid_index_name_exception",
			Reason: "Invalid index name [" + name + "], already exists as alias", Index: name}
	}
	if !req.restore {
		if verr := validateSettingNames(req.settings, false); verr != nil {
			return nil, verr
		}
	}
	flat := map[string]string{"index.number_of_shards": "1", "index.number_of_replicas": "1"}
	for k, v := range req.settings {
		flat[k] = v
	}
	if uuid == "" {
		uuid = newUUID()
	}
	if created == 0 {
		created = time.Now().UnixMilli()
	}
	flat["index.uuid"] = uuid
	flat["index.provided_name"] = name
	flat["index.creation_date"] = fmt.Sprint(created)
	flat["index.version.created"] = "8512000"
	s, serr := buildSettings(flat)
	if serr != nil {
		return nil, serr
	}
	m := req.mapping
	if m == nil {
		m = newMapping()
	}
	for alias, p := range req.aliases {
		if err := e.checkAliasName(alias, name); err != nil {
			return nil, err
		}
		_ = p
	}
	bidx, err := e.openBleve(uuid)
	if err != nil {
		return nil, &esError{Status: 500, Type: "exception", Reason: "create index [" + name + "]: " + err.Error()}
	}
	ix := newIndexState(name, uuid, created, e.an, m, s, bidx)
	ix.beforePublish = func(snap *scorch.IndexSnapshot) {
		if c := e.sortCache.Load(); c != nil {
			c.warm(uuid, snap)
		}
	}
	e.indices[name] = ix
	for alias, p := range req.aliases {
		e.putAliasLocked(alias, name, p)
	}
	return ix, nil
}

func (e *Engine) openBleve(uuid string) (bleve.Index, error) {
	im := bleve.NewIndexMapping()
	im.StoreDynamic = false
	im.IndexDynamic = false
	im.DocValuesDynamic = false
	im.ScoringModel = bindex.BM25Scoring // Elasticsearch's default similarity
	var b bleve.Index
	var err error
	if e.store != nil {
		b, err = e.store.openBleve(uuid, im)
	} else {
		// bleve.NewMemOnly is the old upsidedown/gtreap index, orders of magnitude slower
		// than scorch; scorch without a path never merges (memdir.go).
		b, err = bleve.NewUsing(filepath.Join(e.memDir, uuid), im, pinnedIndexType, scorch.Name, memIndexConfig())
	}
	if err != nil {
		return nil, err
	}
	if pinnedOf(b) == nil {
		_ = b.Close()
		return nil, fmt.Errorf("bleve index %s is not of type %s", uuid, pinnedIndexType)
	}
	return b, nil
}

func (e *Engine) checkAliasName(alias, indexName string) *esError {
	if alias == indexName {
		return errIllegalArgument("index and alias names need to be unique, but the following duplicates were found [%s (alias of [%s])]", alias, indexName)
	}
	if _, ok := e.indices[alias]; ok && indexName != "" {
		return &esError{Status: 400, Type: "invalid_alias_name_exception", Reason: "Invalid alias name [" + alias + "]: an index or data stream exists with the same name as the alias", Index: alias}
	}
	if alias == "" || strings.HasPrefix(alias, "_") || strings.ContainsAny(alias, "\\/*?\"<>| ,#") {
		return &esError{Status: 400, Type: "invalid_alias_name_exception", Reason: "Invalid alias name [" + alias + "], must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]", Index: alias}
	}
	return nil
}

func (e *Engine) putAliasLocked(alias, indexName string, p *aliasProps) {
	m := e.aliases[alias]
	if m == nil {
		m = map[string]*aliasProps{}
		e.aliases[alias] = m
	}
	if p.IsWriteIndex != nil && *p.IsWriteIndex {
		for other, op := range m {
			if other != indexName && op.IsWriteIndex != nil && *op.IsWriteIndex {
				f := false
				c := *op
				c.IsWriteIndex = &f
				m[other] = &c
			}
		}
	}
	m[indexName] = p
}

// deleteIndexLocked removes an index and its aliases.
func (e *Engine) deleteIndexLocked(name string) {
	ix := e.indices[name]
	if ix == nil {
		return
	}
	delete(e.indices, name)
	for alias, m := range e.aliases {
		delete(m, name)
		if len(m) == 0 {
			delete(e.aliases, alias)
		}
	}
	if err := ix.bidx.Close(); err != nil {
		e.log.Warn("esembed: close deleted index", "index", name, "err", err)
	}
	if e.store != nil {
		e.store.removeBleve(ix.uuid)
	} else if e.memDir != "" {
		_ = os.RemoveAll(filepath.Join(e.memDir, ix.uuid))
	}
}

// resolveOptions control how index expressions resolve (the *_unavailable parameters).
type resolveOptions struct {
	ignoreUnavailable bool
	allowNoIndices    bool
	expandHidden      bool
	aliasesAllowed    bool
}

// resolveLocked expands an index expression (names, aliases, wildcards, -exclusions,
// _all) into concrete indices, sorted by name. It also returns, per index, the alias filters
// that apply (nil when any part of the expression reaches the index unfiltered).
func (e *Engine) resolveLocked(expr string, opt resolveOptions) ([]*index, map[string][]map[string]any, *esError) {
	if expr == "" || expr == "_all" || expr == "*" {
		expr = "*"
	}
	selected := map[string]bool{}
	filters := map[string][]map[string]any{}
	unfiltered := map[string]bool{}
	var order []string
	add := func(name string, filter map[string]any) {
		if !selected[name] {
			selected[name] = true
			order = append(order, name)
		}
		if filter == nil {
			unfiltered[name] = true
		} else {
			filters[name] = append(filters[name], filter)
		}
	}
	parts := strings.Split(expr, ",")
	var remote []string
	for _, part := range parts {
		if strings.Contains(part, ":") {
			remote = append(remote, part)
		}
	}
	if len(remote) > 0 {
		return nil, nil, errIllegalArgument("Cross-cluster calls are not supported in this context but remote indices were requested: [%s]", strings.Join(remote, ", "))
	}
	for i, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if strings.HasPrefix(part, "-") && i > 0 {
			pat := part[1:]
			for name := range selected {
				if ok := wildcardMatch(pat, name); ok {
					delete(selected, name)
				}
			}
			continue
		}
		if part == "_all" {
			part = "*"
		}
		if strings.ContainsRune(part, '*') {
			matched := false
			for name := range e.indices {
				if ok := wildcardMatch(part, name); ok {
					if strings.HasPrefix(name, ".") && !strings.HasPrefix(part, ".") && !opt.expandHidden {
						continue
					}
					add(name, nil)
					matched = true
				}
			}
			for alias, m := range e.aliases {
				if ok := wildcardMatch(part, alias); ok {
					for name, p := range m {
						add(name, p.Filter)
						matched = true
					}
				}
			}
			_ = matched
			continue
		}
		if _, ok := e.indices[part]; ok {
			add(part, nil)
			continue
		}
		if m, ok := e.aliases[part]; ok {
			for name, p := range m {
				add(name, p.Filter)
			}
			continue
		}
		if opt.ignoreUnavailable {
			continue
		}
		return nil, nil, errIndexNotFound(part)
	}
	var out []*index
	for _, name := range order {
		if selected[name] {
			out = append(out, e.indices[name])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	for name := range unfiltered {
		delete(filters, name)
	}
	if len(out) == 0 && !opt.allowNoIndices {
		return nil, nil, errIndexNotFound(expr)
	}
	return out, filters, nil
}

// writeIndexLocked resolves a write target: an index, or an alias's write index.
func (e *Engine) writeIndexLocked(name string) (*index, *esError) {
	if ix, ok := e.indices[name]; ok {
		return ix, nil
	}
	if m, ok := e.aliases[name]; ok {
		var only string
		for idx, p := range m {
			if p.IsWriteIndex != nil && *p.IsWriteIndex {
				return e.indices[idx], nil
			}
			only = idx
		}
		if len(m) == 1 {
			if p := m[only]; p.IsWriteIndex == nil {
				return e.indices[only], nil
			}
		}
		return nil, errIllegalArgument("no write index is defined for alias [%s]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple indices without one being designated as a write index", name)
	}
	return nil, nil
}

// writeTarget resolves name for a document write, auto-creating a missing index as
// Elasticsearch does (action.auto_create_index defaults to true).
func (e *Engine) writeTarget(name string) (*index, *esError) {
	e.mu.RLock()
	ix, err := e.writeIndexLocked(name)
	e.mu.RUnlock()
	if ix != nil || err != nil {
		return ix, err
	}
	if strings.ContainsAny(name, "*,") {
		return nil, errIndexNotFound(name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if ix, err := e.writeIndexLocked(name); ix != nil || err != nil {
		return ix, err
	}
	ix, cerr := e.createIndexLocked(name, &createIndexRequest{settings: map[string]string{}}, "", 0)
	if cerr != nil {
		return nil, cerr
	}
	if e.store != nil {
		ix.wal.Store(e.store.wal)
		if err := e.store.logCreate(ix); err != nil {
			return nil, asESError(err)
		}
	}
	e.log.Info("esembed: auto-created index", "index", name)
	return ix, nil
}

// lookupIndex returns a concrete index (not an alias) or index_not_found_exception.
func (e *Engine) lookupIndex(name string) (*index, *esError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if ix, ok := e.indices[name]; ok {
		return ix, nil
	}
	return nil, errIndexNotFound(name)
}

// abandon stops background work and releases files without a checkpoint, leaving the data
// directory as a crash would (tests of recovery use it).
func (e *Engine) abandon() {
	e.closeMu.Do(func() {
		close(e.stop)
		e.stopped.Wait()
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, ix := range e.indices {
			_ = ix.bidx.Close()
		}
		if e.store != nil {
			_ = e.store.wal.f.Close()
			_ = e.store.lock.Close()
		}
		_ = e.releaseMemDir()
	})
}
