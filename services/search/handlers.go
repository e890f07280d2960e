package search

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ordertable/ordertable/internal/apierror"
)

//go:embed web openapi.json
var assets embed.FS

func (s *Service) routes() {
	e := s.srv.Engine
	web, _ := fs.Sub(assets, "web")
	static := http.StripPrefix("/static/", http.FileServer(http.FS(web)))
	e.Use(securityHeaders)
	e.GET("/", func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.FileFromFS("/", http.FS(web)) // serves web/index.html
	})
	e.GET("/static/*file", func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		static.ServeHTTP(c.Writer, c.Request)
	})
	e.GET("/openapi.json", func(c *gin.Context) {
		b, _ := assets.ReadFile("openapi.json")
		c.Data(http.StatusOK, "application/json", b)
	})
	v1 := e.Group("/v1", s.limitURL, s.limitInFlight)
	v1.GET("/orders", s.handleOrders)
	v1.GET("/orders/columns", s.handleColumns)
	v1.GET("/orders/facets", s.handleFacets)
}

// securityHeaders keeps the page to its own scripts and styles and out of frames.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	c.Next()
}

// limitURL answers 414 for request targets over Limits.MaxURLLength.
func (s *Service) limitURL(c *gin.Context) {
	if n := len(c.Request.RequestURI); n > s.cfg.Limits.MaxURLLength {
		apierror.Write(c, apierror.New(http.StatusRequestURITooLong, "uri_too_long",
			fmt.Sprintf("the request URL is %d bytes; at most %d are accepted", n, s.cfg.Limits.MaxURLLength),
			apierror.Detail{Field: "url", Message: "shorten q, the filters or the cursor"}))
		return
	}
	c.Next()
}

// limitInFlight admits at most MaxInFlight /v1 requests at once; others wait up to QueueWait
// and then get 429, so a burst cannot queue unbounded work on Elasticsearch.
func (s *Service) limitInFlight(c *gin.Context) {
	t := time.NewTimer(s.cfg.QueueWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
	case <-t.C:
		c.Header("Retry-After", "1")
		apierror.Write(c, apierror.New(http.StatusTooManyRequests, "too_many_requests", "the search API is busy; retry in a moment"))
		return
	case <-c.Request.Context().Done():
		c.Abort()
		return
	}
	defer func() { <-s.slots }()
	c.Next()
}

// ordersResponse is one page of the table.
type ordersResponse struct {
	Index          string    `json:"index"`
	MappingVersion int       `json:"mapping_version"`
	Columns        []Column  `json:"columns"`
	Sort           []SortKey `json:"sort"`
	Items          pageItems `json:"items"`
	Total          total     `json:"total"`
	NextCursor     *string   `json:"next_cursor"`
	FreshAsOf      *string   `json:"fresh_as_of"`
}

type total struct {
	Value int64 `json:"value"`
	// Relation is "eq" for an exact count, "gte" when the count reached TotalHitsBound.
	Relation string `json:"relation"`
}

func (s *Service) handleOrders(c *gin.Context) {
	ctx := c.Request.Context()
	values, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		apierror.Write(c, apierror.BadRequest("the query string is malformed", apierror.Detail{Field: "query", Message: "not valid URL query encoding"}))
		return
	}
	p, err := parseParams(values, s.cfg.Limits)
	if err != nil {
		apierror.Write(c, err)
		return
	}
	var cur *cursor
	if p.cursor != "" {
		cc, err := s.codec.decode(p.cursor)
		if err != nil {
			apierror.Write(c, apierror.BadRequest("the cursor is not valid", apierror.Detail{Field: "cursor", Message: err.Error()}))
			return
		}
		cur = &cc
	}
	// A fresh query reads the index the alias names now. If that index vanishes between
	// resolving and searching (a reindex just finished), resolve once more.
	for attempt := 0; ; attempt++ {
		resp, err := s.page(ctx, p, cur)
		if err == nil {
			body, err := resp.appendJSON(make([]byte, 0, 32<<10))
			if err != nil {
				s.writeError(c, err, cur != nil)
				return
			}
			c.Data(http.StatusOK, "application/json; charset=utf-8", body)
			return
		}
		if errors.Is(err, errIndexGone) && cur == nil && attempt == 0 {
			continue
		}
		s.writeError(c, err, cur != nil)
		return
	}
}

func (s *Service) page(ctx context.Context, p *params, cur *cursor) (*ordersResponse, error) {
	index := ""
	if cur != nil {
		index = cur.Index
	} else {
		var err error
		if index, err = s.store.liveIndex(ctx, s.cfg.Alias); err != nil {
			return nil, err
		}
	}
	t, err := s.table(ctx, index)
	if err != nil {
		return nil, err
	}
	q, err := bind(p, t, s.cfg.DefaultSort, s.cfg.Limits)
	if err != nil {
		return nil, err
	}
	var after []json.RawMessage
	if cur != nil {
		if !slices.Equal(cur.Sort, q.sortTokens()) || cur.Hash != q.hash() {
			return nil, apierror.BadRequest("the cursor belongs to another query",
				apierror.Detail{Field: "cursor", Message: "repeat the sort, q and filter parameters of the request that returned it, or drop the cursor to start over"})
		}
		after = cur.After
	}
	// The freshness indication runs beside the page query (usually from the cache).
	freshc := make(chan *string, 1)
	go func() { freshc <- s.freshness(ctx, t) }()
	res, err := s.store.search(ctx, index, searchBody(t, q, after, s.cfg.TotalHitsBound))
	if err != nil {
		if errors.Is(err, errIndexGone) {
			s.forget(index)
		}
		return nil, err
	}
	out := &ordersResponse{
		Index: index, MappingVersion: t.MappingVersion, Columns: t.Columns, Sort: q.sort,
		Items: pageItems{layout: t.itemLayout(), rows: make([][]json.RawMessage, 0, min(len(res.Hits.Hits), q.size))},
	}
	if tt := res.Hits.Total; tt != nil {
		out.Total = total{Value: tt.Value, Relation: tt.Relation}
	}
	hits := res.Hits.Hits
	if len(hits) > q.size {
		last := hits[q.size-1]
		if len(last.Sort) != len(q.sort) {
			return nil, fmt.Errorf("search %s: hit has %d sort values, want %d", index, len(last.Sort), len(q.sort))
		}
		next, err := s.codec.encode(cursor{Index: index, Sort: q.sortTokens(), Hash: q.hash(), After: last.Sort})
		if err != nil {
			return nil, err
		}
		out.NextCursor = &next
		hits = hits[:q.size]
	}
	for _, h := range hits {
		if err := out.Items.add(h.Source); err != nil {
			return nil, fmt.Errorf("search %s: document %s: %w", index, h.ID, err)
		}
	}
	out.FreshAsOf = <-freshc
	return out, nil
}

// writeError maps errors to statuses; withCursor tells a gone index from a missing alias.
func (s *Service) writeError(c *gin.Context, err error, withCursor bool) {
	var ae *apierror.Error
	switch {
	case errors.As(err, &ae):
		apierror.Write(c, ae)
	case errors.Is(err, errIndexGone) && withCursor:
		apierror.Write(c, apierror.New(http.StatusGone, "cursor_expired",
			"the index this cursor reads was deleted (a newer table version replaced it); start again without the cursor",
			apierror.Detail{Field: "cursor", Message: "its index no longer exists"}))
	case errors.Is(err, errNoLiveIndex), errors.Is(err, errIndexGone):
		s.log.WarnContext(c, "search: no live index", "err", err)
		apierror.Write(c, apierror.New(http.StatusServiceUnavailable, "index_unavailable",
			"the orders table is not available right now; try again shortly"))
	case errors.Is(err, context.Canceled):
		c.Abort()
	default:
		s.log.ErrorContext(c, "search: request failed", "err", err)
		apierror.Write(c, apierror.New(http.StatusBadGateway, "backend_error", "the search backend failed; see server logs"))
	}
}

// columnsResponse describes the live table.
type columnsResponse struct {
	Index          string   `json:"index"`
	Alias          string   `json:"alias"`
	MappingVersion int      `json:"mapping_version"`
	Columns        []Column `json:"columns"`
	FreshAsOf      *string  `json:"fresh_as_of"`
}

func (s *Service) handleColumns(c *gin.Context) {
	var out columnsResponse
	err := s.withLiveTable(c.Request.Context(), func(ctx context.Context, t *Table) error {
		out = columnsResponse{Index: t.Index, Alias: s.cfg.Alias, MappingVersion: t.MappingVersion, Columns: t.Columns, FreshAsOf: s.freshness(ctx, t)}
		return nil
	})
	if err != nil {
		s.writeError(c, err, false)
		return
	}
	c.Header("Cache-Control", "no-cache")
	c.JSON(http.StatusOK, out)
}

// withLiveTable runs f on the table of the index the alias names now. If that index vanishes
// meanwhile (a reindex just finished and cleaned up), it resolves the alias once more.
func (s *Service) withLiveTable(ctx context.Context, f func(ctx context.Context, t *Table) error) error {
	for attempt := 0; ; attempt++ {
		index, err := s.store.liveIndex(ctx, s.cfg.Alias)
		if err != nil {
			return err
		}
		t, err := s.table(ctx, index)
		if err == nil {
			err = f(ctx, t)
		}
		if errors.Is(err, errIndexGone) && attempt == 0 {
			continue
		}
		return err
	}
}

func jsonUnmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return errors.New("empty _source")
	}
	return json.Unmarshal(b, v)
}

// isSafeText reports whether a facet value can be shown as-is (no control characters).
func isSafeText(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
