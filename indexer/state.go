package indexer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
)

// The join state lives in Elasticsearch, in two indices written with external versions (the
// entity version), so that every instance of the group sees the same state, a stale event can't
// overwrite a newer snapshot, and a restart or rebalance needs no warm-up.
//
// Deleted entities stay as tombstone documents forever (deleted=true, the last snapshot, the
// delete's version): Elasticsearch forgets deleted documents after index.gc_deletes (60 s by
// default), after which a stale event could resurrect them; a state document never goes away.

// orderState is a document of the order-state index.
type orderState struct {
	OrderID    string       `json:"order_id"`
	CustomerID string       `json:"customer_id"`
	Deleted    bool         `json:"deleted"`
	Version    int64        `json:"version"`
	Order      events.Order `json:"order"`
}

// customerState is a document of the customer-state index.
type customerState struct {
	CustomerID string          `json:"customer_id"`
	Deleted    bool            `json:"deleted"`
	Version    int64           `json:"version"`
	Customer   events.Customer `json:"customer"`
}

func (c *customerState) join() *CustomerState {
	if c == nil {
		return nil
	}
	return &CustomerState{Customer: c.Customer, Deleted: c.Deleted}
}

// Bodies of the state indices. Only what is searched is indexed (dynamic: false keeps the
// snapshots in _source without indexing them): the order state is searched by customer for the
// fan-out, the customer state is only read by id. Refreshes are explicit (the fan-out refreshes
// the order state before searching it), so no periodic refresh is needed.
const (
	orderStateBody = `{"settings":{"number_of_shards":1,"number_of_replicas":0,"refresh_interval":"-1"},
"mappings":{"dynamic":false,"properties":{"order_id":{"type":"keyword"},"customer_id":{"type":"keyword"},"deleted":{"type":"boolean"}}}}`
	customerStateBody = `{"settings":{"number_of_shards":1,"number_of_replicas":0,"refresh_interval":"-1"},
"mappings":{"dynamic":false,"properties":{"customer_id":{"type":"keyword"},"deleted":{"type":"boolean"}}}}`
)

// stateStore reads and writes the join state.
type stateStore struct {
	c         *esindex.Client
	orders    string
	customers string
}

func newStateStore(c *esindex.Client, prefix string) *stateStore {
	return &stateStore{c: c, orders: prefix + "-orders", customers: prefix + "-customers"}
}

// ensure creates the state indices if they are missing.
func (s *stateStore) ensure(ctx context.Context) error {
	for _, ix := range []struct{ name, body string }{{s.orders, orderStateBody}, {s.customers, customerStateBody}} {
		if _, err := s.c.CreateIndex(ctx, ix.name, []byte(ix.body)); err != nil {
			return fmt.Errorf("state index: %w", err)
		}
	}
	return nil
}

func (s *stateStore) orderOp(e *events.Event) esindex.Op {
	return esindex.Op{Type: esindex.OpIndex, Index: s.orders, ID: e.EntityID, Version: e.Version, Doc: orderState{
		OrderID: e.EntityID, CustomerID: e.Order.CustomerID, Deleted: e.Type.Deleted(), Version: e.Version, Order: *e.Order,
	}}
}

func (s *stateStore) customerOp(e *events.Event) esindex.Op {
	return esindex.Op{Type: esindex.OpIndex, Index: s.customers, ID: e.EntityID, Version: e.Version, Doc: customerState{
		CustomerID: e.EntityID, Deleted: e.Type.Deleted(), Version: e.Version, Customer: *e.Customer,
	}}
}

// mget reads documents by id, in real time (GET sees every acknowledged write, refreshed or
// not). Missing ids are absent from the result.
func mget[T any](ctx context.Context, c *esindex.Client, index string, ids []string) (map[string]*T, error) {
	out := make(map[string]*T, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	body, err := json.Marshal(map[string]any{"ids": ids})
	if err != nil {
		return nil, err
	}
	_, data, err := c.Do(ctx, http.MethodPost, "/"+url.PathEscape(index)+"/_mget", body)
	if err != nil {
		return nil, fmt.Errorf("mget %s: %w", index, err)
	}
	var res struct {
		Docs []struct {
			ID     string          `json:"_id"`
			Found  bool            `json:"found"`
			Source json.RawMessage `json:"_source"`
			Error  json.RawMessage `json:"error"`
		} `json:"docs"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("mget %s: decode: %w", index, err)
	}
	for _, d := range res.Docs {
		if len(d.Error) > 0 {
			return nil, fmt.Errorf("mget %s: %s: %s", index, d.ID, d.Error)
		}
		if !d.Found {
			continue
		}
		v := new(T)
		if err := json.Unmarshal(d.Source, v); err != nil {
			return nil, fmt.Errorf("mget %s: %s: decode: %w", index, d.ID, err)
		}
		out[d.ID] = v
	}
	return out, nil
}

func (s *stateStore) getOrders(ctx context.Context, ids []string) (map[string]*orderState, error) {
	return mget[orderState](ctx, s.c, s.orders, ids)
}

func (s *stateStore) getCustomers(ctx context.Context, ids []string) (map[string]*customerState, error) {
	return mget[customerState](ctx, s.c, s.customers, ids)
}

// refreshOrders makes every acknowledged order-state write visible to search.
func (s *stateStore) refreshOrders(ctx context.Context) error {
	if err := s.c.Refresh(ctx, s.orders); err != nil {
		return fmt.Errorf("refresh %s: %w", s.orders, err)
	}
	return nil
}

// ordersOf returns up to size live orders of the customers, by ascending order id after
// `after` (search_after paging: stable and bounded however many orders a customer has).
func (s *stateStore) ordersOf(ctx context.Context, customerIDs []string, after string, size int) ([]*orderState, error) {
	q := map[string]any{
		"size":             size,
		"track_total_hits": false,
		"query": map[string]any{"bool": map[string]any{"filter": []any{
			map[string]any{"terms": map[string]any{"customer_id": customerIDs}},
			map[string]any{"term": map[string]any{"deleted": false}},
		}}},
		"sort": []any{map[string]any{"order_id": "asc"}},
	}
	if after != "" {
		q["search_after"] = []any{after}
	}
	body, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	_, data, err := s.c.Do(ctx, http.MethodPost, "/"+url.PathEscape(s.orders)+"/_search", body)
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", s.orders, err)
	}
	var res struct {
		Hits struct {
			Hits []struct {
				Source orderState `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("search %s: decode: %w", s.orders, err)
	}
	out := make([]*orderState, len(res.Hits.Hits))
	for i := range res.Hits.Hits {
		out[i] = &res.Hits.Hits[i].Source
	}
	return out, nil
}

// DeletedCustomers returns, for those of ids whose customer the indexer has seen deleted, the
// join state it keeps for them (the last snapshot, Deleted set). The reindex job and verify need
// it: a deleted customer is gone from the CustomerService, yet the indexer keeps its orders
// visible with its last data and customer_deleted=true, and a rebuilt or verified document must
// be the same document. A missing state index (no indexer ran yet) means no known deletions.
func DeletedCustomers(ctx context.Context, c *esindex.Client, statePrefix string, ids []string) (map[string]*CustomerState, error) {
	if statePrefix == "" {
		statePrefix = DefaultStatePrefix
	}
	out := make(map[string]*CustomerState)
	states, err := mget[customerState](ctx, c, statePrefix+"-customers", ids)
	if err != nil {
		if esindex.StatusOf(err) == http.StatusNotFound {
			return out, nil
		}
		return nil, fmt.Errorf("deleted customers: %w", err)
	}
	for id, s := range states {
		if s.Deleted {
			out[id] = s.join()
		}
	}
	return out, nil
}
