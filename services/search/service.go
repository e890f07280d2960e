// Package search is the order table's read side for people: a JSON API that sorts, filters
// and pages the orders read model through the Elasticsearch alias "orders", and the web page
// that uses it. It reads columns from the live index mapping, so a reindex that adds a column
// shows up without a deploy or restart.
package search

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/httpserver"
)

// Config configures the search API.
type Config struct {
	// ES configures the Elasticsearch connection (URLs, basic auth or API key, TLS). Ignored
	// when Client is set.
	ES esindex.Config
	// Client is an already configured connection to use instead of ES (in-process wiring).
	Client *esindex.Client
	// Alias is the read alias naming the live index. Default "orders".
	Alias string
	// CursorSecret signs cursors. Empty means a random key per process: cursors then die with
	// a restart, and several replicas behind one balancer must share a secret.
	CursorSecret string
	// DefaultSort applies when a request has no sort parameter. Default ["-placed_at"].
	DefaultSort []string
	// TotalHitsBound is passed as track_total_hits: totals are exact up to it and reported as
	// {"value": bound, "relation": "gte"} above. Default 10000.
	TotalHitsBound int
	// MappingTTL is how long a concrete index's parsed mapping is reused. Default 30s.
	MappingTTL time.Duration
	// FreshnessTTL is how long the newest indexed_at of an index is reused. Default 1s.
	FreshnessTTL time.Duration
	// FacetTTL is how long facet values of an index are reused. Default 30s.
	FacetTTL time.Duration
	// Limits bound request sizes.
	Limits Limits
	// MaxInFlight bounds concurrent /v1 requests (each costs Elasticsearch work); a request
	// that finds no slot within QueueWait gets 429. Default 64.
	MaxInFlight int
	// QueueWait is how long a request waits for a slot. Default 2s.
	QueueWait time.Duration
	// Logger receives request and error logs. Default: discard.
	Logger *slog.Logger
	// Registry receives HTTP metrics; nil creates a private one.
	Registry *prometheus.Registry
}

func (c *Config) setDefaults() {
	if c.Alias == "" {
		c.Alias = "orders"
	}
	if c.DefaultSort == nil {
		c.DefaultSort = []string{"-placed_at"}
	}
	if c.TotalHitsBound == 0 {
		c.TotalHitsBound = 10000
	}
	if c.MappingTTL == 0 {
		c.MappingTTL = 30 * time.Second
	}
	if c.FreshnessTTL == 0 {
		c.FreshnessTTL = time.Second
	}
	if c.FacetTTL == 0 {
		c.FacetTTL = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 64
	}
	if c.QueueWait == 0 {
		c.QueueWait = 2 * time.Second
	}
	c.Limits.setDefaults()
}

// Validate reports every configuration problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Client == nil {
		if err := c.ES.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.CursorSecret != "" && len(c.CursorSecret) < 16 {
		errs = append(errs, errors.New("CursorSecret must be at least 16 bytes"))
	}
	if c.MaxInFlight < 0 || c.QueueWait < 0 {
		errs = append(errs, errors.New("MaxInFlight and QueueWait must not be negative"))
	}
	if c.TotalHitsBound < 0 {
		errs = append(errs, errors.New("TotalHitsBound must not be negative"))
	}
	l := c.Limits
	if l.DefaultSize < 1 || l.DefaultSize > l.MaxSize {
		errs = append(errs, fmt.Errorf("Limits.DefaultSize %d must be within 1..MaxSize (%d)", l.DefaultSize, l.MaxSize))
	}
	for _, v := range []int{l.MaxSortColumns, l.MaxFilters, l.MaxFilterValues, l.MaxValueLength, l.MaxQueryLength, l.MaxCursorLength, l.MaxURLLength} {
		if v < 0 {
			errs = append(errs, errors.New("limits must not be negative"))
			break
		}
	}
	return errors.Join(errs...)
}

// Service is the search API and web page.
type Service struct {
	cfg   Config
	store *store
	codec cursorCodec
	srv   *httpserver.Server
	log   *slog.Logger
	slots chan struct{}

	mu     sync.Mutex
	tables map[string]cached[*Table]
	fresh  map[string]cached[*string]
	// freshBusy marks indices whose newest indexed_at is being looked up in the background.
	freshBusy map[string]bool
	facets    map[string]cached[map[string][]facetValue]
}

type cached[T any] struct {
	v  T
	at time.Time
}

// New builds the service; it does not contact Elasticsearch until the first request.
func New(cfg Config) (*Service, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("search: config: %w", err)
	}
	client := cfg.Client
	if client == nil {
		var err error
		if client, err = esindex.NewClient(cfg.ES); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
	}
	key := []byte(cfg.CursorSecret)
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	}
	s := &Service{
		cfg: cfg, store: &store{client: client, es: client.ES}, codec: cursorCodec{key: key}, log: cfg.Logger,
		tables: map[string]cached[*Table]{}, fresh: map[string]cached[*string]{}, freshBusy: map[string]bool{},
		facets: map[string]cached[map[string][]facetValue]{},
		slots:  make(chan struct{}, cfg.MaxInFlight),
	}
	s.srv = httpserver.New(httpserver.Config{
		Name: "search", Logger: cfg.Logger, Registry: cfg.Registry,
		Ready: func(ctx context.Context) error {
			_, err := s.store.liveIndex(ctx, cfg.Alias)
			return err
		},
	})
	s.routes()
	return s, nil
}

// Handler is the HTTP handler (API, web page, /openapi.json, health and metrics).
func (s *Service) Handler() http.Handler { return s.srv.Engine }

// Serve serves on ln until ctx is cancelled, then shuts down gracefully.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error { return s.srv.Serve(ctx, ln) }

// ListenAndServe listens on addr (e.g. 127.0.0.1:8080) and serves until ctx is cancelled.
func (s *Service) ListenAndServe(ctx context.Context, addr string) error {
	return s.srv.ListenAndServe(ctx, addr)
}

// table returns the parsed mapping of a concrete index, cached for MappingTTL.
func (s *Service) table(ctx context.Context, index string) (*Table, error) {
	now := time.Now()
	s.mu.Lock()
	e, ok := s.tables[index]
	s.mu.Unlock()
	if ok && now.Sub(e.at) < s.cfg.MappingTTL {
		return e.v, nil
	}
	raw, err := s.store.mapping(ctx, index)
	if err != nil {
		if errors.Is(err, errIndexGone) {
			s.forget(index)
		}
		return nil, err
	}
	t, err := parseMapping(index, raw)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.tables { // bounded: old indices drop out after a TTL
		if now.Sub(v.at) >= s.cfg.MappingTTL {
			delete(s.tables, k)
		}
	}
	s.tables[index] = cached[*Table]{v: t, at: now}
	return t, nil
}

// forget drops everything cached about an index that turned out to be gone.
func (s *Service) forget(index string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tables, index)
	delete(s.fresh, index)
	delete(s.facets, index)
}

// freshness returns the newest indexed_at of the index (nil when unknown), cached for
// FreshnessTTL and then served stale while a background lookup renews it.
func (s *Service) freshness(ctx context.Context, t *Table) *string {
	if t.FreshnessField == "" {
		return nil
	}
	now := time.Now()
	s.mu.Lock()
	e, ok := s.fresh[t.Index]
	if ok && now.Sub(e.at) >= s.cfg.FreshnessTTL && !s.freshBusy[t.Index] {
		// Stale: answer with it and look the newest indexed_at up in the background (one
		// lookup per index at a time), so no page waits for that extra search over the whole
		// index: on a large table it costs as much as the page itself.
		s.freshBusy[t.Index] = true
		go func() {
			bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			s.lookupFreshness(bg, t)
			s.mu.Lock()
			delete(s.freshBusy, t.Index)
			s.mu.Unlock()
		}()
	}
	s.mu.Unlock()
	if ok {
		return e.v
	}
	return s.lookupFreshness(ctx, t)
}

// lookupFreshness searches the newest indexed_at of an index and caches it.
func (s *Service) lookupFreshness(ctx context.Context, t *Table) *string {
	now := time.Now()
	res, err := s.store.search(ctx, t.Index, map[string]any{
		"size":             1,
		"track_total_hits": false,
		"query":            map[string]any{"match_all": map[string]any{}},
		"sort":             []any{map[string]any{t.FreshnessField: map[string]any{"order": "desc", "missing": "_last"}}},
	})
	if err != nil {
		s.log.WarnContext(ctx, "search: freshness", "index", t.Index, "err", err)
		return nil
	}
	var v *string
	if len(res.Hits.Hits) > 0 {
		var src map[string]any
		if err := jsonUnmarshal(res.Hits.Hits[0].Source, &src); err == nil {
			if ts, ok := src[t.FreshnessField].(string); ok {
				v = &ts
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.fresh {
		if now.Sub(old.at) >= time.Minute {
			delete(s.fresh, k)
		}
	}
	s.fresh[t.Index] = cached[*string]{v: v, at: now}
	return v
}
