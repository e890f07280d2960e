package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/bench/stack"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/mappings"
)

// outcome is the comparison of every index with the join of the source databases.
type outcome struct {
	Indices     []string
	Orders      int // live orders in the sources
	Missing     int // live order without document
	Stale       int // document differs from the join of the latest order and customer
	Resurrected int // document of an order the workload deleted
	Extra       int // document of an order the sources never had
	Duplicated  int // order_id present in more than one document of one index
	Examples    []string
}

func (o outcome) clean() bool {
	return o.Missing+o.Stale+o.Resurrected+o.Extra+o.Duplicated == 0
}

func (o outcome) String() string {
	s := fmt.Sprintf("indices %v: %d live orders; missing %d, stale %d, resurrected %d, extra %d, duplicated %d",
		o.Indices, o.Orders, o.Missing, o.Stale, o.Resurrected, o.Extra, o.Duplicated)
	if len(o.Examples) > 0 {
		s += "; e.g. " + strings.Join(o.Examples, "; ")
	}
	return s
}

// checker compares indices with the sources, independently of the indexer's and the reindex
// job's own code paths except the field catalog (indexer.BuildDocument), which defines what a
// document must contain.
type checker struct {
	st *stack.Stack
	es *elasticsearch.Client
	wl *workload
}

func newChecker(st *stack.Stack, wl *workload) (*checker, error) {
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{st.ESURL}})
	if err != nil {
		return nil, err
	}
	return &checker{st: st, es: es, wl: wl}, nil
}

// check reads all sources and every index that must be complete: the live index and every
// write target.
func (c *checker) check(ctx context.Context) (outcome, error) {
	var out outcome
	indices, err := c.indices(ctx)
	if err != nil {
		return out, err
	}
	out.Indices = indices
	custs := map[string]events.Customer{}
	if err := c.st.Customers.Each(ctx, 1000, func(page []events.Customer) error {
		for _, cu := range page {
			custs[cu.ID] = cu
		}
		return nil
	}); err != nil {
		return out, fmt.Errorf("list customers: %w", err)
	}
	var live []events.Order
	if err := c.st.Orders.Each(ctx, 1000, func(page []events.Order) error {
		live = append(live, page...)
		return nil
	}); err != nil {
		return out, fmt.Errorf("list orders: %w", err)
	}
	out.Orders = len(live)
	example := func(format string, args ...any) {
		if len(out.Examples) < 8 {
			out.Examples = append(out.Examples, fmt.Sprintf(format, args...))
		}
	}
	for _, index := range indices {
		fields, err := c.fields(ctx, index)
		if err != nil {
			return out, err
		}
		docs, dups, err := c.scan(ctx, index)
		if err != nil {
			return out, err
		}
		for _, id := range dups {
			out.Duplicated++
			example("%s: %s duplicated", index, id)
		}
		for _, o := range live {
			actual, ok := docs[o.ID]
			if !ok {
				out.Missing++
				example("%s: %s missing", index, o.ID)
				continue
			}
			delete(docs, o.ID)
			cu, ok := custs[o.CustomerID]
			var state *indexer.CustomerState
			if ok {
				state = &indexer.CustomerState{Customer: cu}
			}
			want, err := indexer.BuildDocument(o, state, fields, timeZero)
			if err != nil {
				return out, err
			}
			if diff := diffDoc(want.Fields, actual); diff != "" {
				out.Stale++
				example("%s: %s stale (%s)", index, o.ID, diff)
			}
		}
		for id := range docs {
			if c.wl != nil && c.wl.wasDeleted(id) {
				out.Resurrected++
				example("%s: deleted order %s resurrected", index, id)
			} else {
				out.Extra++
				example("%s: unknown order %s", index, id)
			}
		}
	}
	return out, nil
}

// diffDoc names the fields (other than indexed_at) where actual differs from want.
func diffDoc(want, actual map[string]any) string {
	norm := func(v any) any {
		b, _ := json.Marshal(v)
		var out any
		_ = json.Unmarshal(b, &out)
		return out
	}
	var bad []string
	for k, v := range want {
		if k == "indexed_at" {
			continue
		}
		if a, ok := actual[k]; !ok || !reflect.DeepEqual(norm(v), norm(a)) {
			bad = append(bad, fmt.Sprintf("%s: want %v, got %v", k, norm(v), actual[k]))
		}
	}
	for k := range actual {
		if _, ok := want[k]; !ok && k != "indexed_at" {
			bad = append(bad, k+": unexpected")
		}
	}
	sort.Strings(bad)
	return strings.Join(bad, ", ")
}

// indices returns the live index and every write target, deduplicated and sorted.
func (c *checker) indices(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	for _, alias := range []string{"orders", "orders_targets"} {
		var res map[string]any
		status, err := c.call(ctx, http.MethodGet, "/_alias/"+alias, nil, &res)
		if err != nil {
			return nil, err
		}
		if status == http.StatusNotFound {
			continue
		}
		for idx := range res {
			seen[idx] = true
		}
	}
	var out []string
	for idx := range seen {
		out = append(out, idx)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("no orders index yet")
	}
	return out, nil
}

func (c *checker) fields(ctx context.Context, index string) (mappings.FieldSet, error) {
	var res map[string]struct {
		Mappings json.RawMessage `json:"mappings"`
	}
	if _, err := c.call(ctx, http.MethodGet, "/"+index+"/_mapping", nil, &res); err != nil {
		return nil, err
	}
	m, ok := res[index]
	if !ok {
		return nil, fmt.Errorf("mapping of %s: not in the answer", index)
	}
	return mappings.ParseFields(m.Mappings)
}

// scan returns every document of index by _id, and the order ids found in more than one
// document (or under another _id).
func (c *checker) scan(ctx context.Context, index string) (map[string]map[string]any, []string, error) {
	if _, err := c.call(ctx, http.MethodPost, "/"+index+"/_refresh", nil, nil); err != nil {
		return nil, nil, err
	}
	docs := map[string]map[string]any{}
	owner := map[string]string{}
	var dups []string
	var after []any
	for {
		body := map[string]any{"size": 1000, "sort": []any{map[string]any{"order_id": "asc"}}, "query": map[string]any{"match_all": map[string]any{}}}
		if after != nil {
			body["search_after"] = after
		}
		var res struct {
			Hits struct {
				Hits []struct {
					ID     string         `json:"_id"`
					Source map[string]any `json:"_source"`
					Sort   []any          `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if _, err := c.call(ctx, http.MethodPost, "/"+index+"/_search", body, &res); err != nil {
			return nil, nil, err
		}
		hits := res.Hits.Hits
		for _, h := range hits {
			oid, _ := h.Source["order_id"].(string)
			if prev, seen := owner[oid]; seen || oid != h.ID {
				dups = append(dups, fmt.Sprintf("%s (docs %s and %s)", oid, prev, h.ID))
			}
			owner[oid] = h.ID
			docs[h.ID] = h.Source
		}
		if len(hits) < 1000 {
			return docs, dups, nil
		}
		after = hits[len(hits)-1].Sort
	}
}

// call sends one request; 404 is returned as a status, other non-2xx answers as errors.
func (c *checker) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return 0, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.es.Perform(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusNotFound {
		return res.StatusCode, nil
	}
	if res.StatusCode/100 != 2 {
		return res.StatusCode, fmt.Errorf("%s %s: HTTP %d: %.300s", method, path, res.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return res.StatusCode, nil
}
