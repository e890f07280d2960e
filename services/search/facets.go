package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// maxFacetValues bounds the values listed per facet column; facets are for low-cardinality
// columns (status, currency, country), so more means the column is not one.
const maxFacetValues = 50

// facetValue is one distinct value of a facet column. Count is nil when the engine could
// not count (see distinctBySkipScan).
type facetValue struct {
	Value string `json:"value"`
	Count *int64 `json:"count"`
}

type facetsResponse struct {
	Index  string                  `json:"index"`
	Facets map[string][]facetValue `json:"facets"`
}

func (s *Service) handleFacets(c *gin.Context) {
	var out facetsResponse
	err := s.withLiveTable(c.Request.Context(), func(ctx context.Context, t *Table) (err error) {
		out = facetsResponse{Index: t.Index}
		out.Facets, err = s.facetValues(ctx, t)
		return err
	})
	if err != nil {
		s.writeError(c, err, false)
		return
	}
	c.JSON(http.StatusOK, out)
}

// facetValues lists the values of every facet column of t, cached for FacetTTL.
func (s *Service) facetValues(ctx context.Context, t *Table) (map[string][]facetValue, error) {
	now := time.Now()
	s.mu.Lock()
	e, ok := s.facets[t.Index]
	s.mu.Unlock()
	if ok && now.Sub(e.at) < s.cfg.FacetTTL {
		return e.v, nil
	}
	out := map[string][]facetValue{}
	var cols []Column
	aggs := map[string]any{}
	for _, c := range t.Columns {
		if c.Facet && c.Filterable && c.Kind == "string" {
			cols = append(cols, c)
			aggs[c.Name] = map[string]any{"terms": map[string]any{"field": c.sortField, "size": maxFacetValues}}
		}
	}
	if len(cols) == 0 {
		return out, nil
	}
	res, err := s.store.search(ctx, t.Index, map[string]any{"size": 0, "track_total_hits": false, "aggs": aggs})
	if errors.Is(err, errIndexGone) {
		return nil, err
	}
	for _, c := range cols {
		if err == nil && res.Aggregations != nil {
			if agg, ok := res.Aggregations[c.Name]; ok {
				vals := make([]facetValue, 0, len(agg.Buckets))
				for _, b := range agg.Buckets {
					var v string
					if json.Unmarshal(b.Key, &v) == nil && isSafeText(v) {
						n := b.DocCount
						vals = append(vals, facetValue{Value: v, Count: &n})
					}
				}
				out[c.Name] = vals
				continue
			}
		}
		// The engine did not aggregate (the embedded one may not): fall back to sort order.
		vals, serr := s.distinctBySkipScan(ctx, t.Index, c)
		if serr != nil {
			return nil, serr
		}
		out[c.Name] = vals
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.facets {
		if now.Sub(old.at) >= s.cfg.FacetTTL {
			delete(s.facets, k)
		}
	}
	s.facets[t.Index] = cached[map[string][]facetValue]{v: out, at: now}
	return out, nil
}

// distinctBySkipScan finds the distinct values of a keyword column with one sorted size-1
// search per value ("the smallest value greater than the last one"), using only sort and
// range, which every engine has. It stops at maxFacetValues.
func (s *Service) distinctBySkipScan(ctx context.Context, index string, c Column) ([]facetValue, error) {
	var vals []facetValue
	var last *string
	for len(vals) < maxFacetValues {
		q := map[string]any{"exists": map[string]any{"field": c.sortField}}
		if last != nil {
			q = map[string]any{"range": map[string]any{c.sortField: map[string]any{"gt": *last}}}
		}
		res, err := s.store.search(ctx, index, map[string]any{
			"size": 1, "track_total_hits": false, "query": q,
			"sort": []any{map[string]any{c.sortField: map[string]any{"order": "asc"}}},
		})
		if err != nil {
			return nil, fmt.Errorf("facet %s: %w", c.Name, err)
		}
		if len(res.Hits.Hits) == 0 || len(res.Hits.Hits[0].Sort) == 0 {
			break
		}
		var v string
		if err := json.Unmarshal(res.Hits.Hits[0].Sort[0], &v); err != nil {
			break // a missing value sorts last as null: no more values
		}
		if last != nil && v <= *last {
			break // an engine ignoring the range would loop forever
		}
		if isSafeText(v) {
			vals = append(vals, facetValue{Value: v})
		}
		last = &v
	}
	return vals, nil
}
