package reindex

import (
	"context"
	"fmt"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/internal/events"
)

// OrderLister pages through the PurchaseOrderService's orders in id order
// (GET /v1/orders?after=&before=&limit=): after and before are exclusive and optional; Next is
// nil on the last page. orders.Client satisfies it.
type OrderLister interface {
	List(ctx context.Context, after, before string, limit int) (entityapi.Page[events.Order], error)
}

// CustomerGetter fetches customers by id (GET /v1/customers?ids=); unknown ids are absent.
// customers.Client satisfies it.
type CustomerGetter interface {
	BatchGet(ctx context.Context, ids []string) ([]events.Customer, error)
}

// listOrders reads one page and its continuation id ("" on the last page).
func listOrders(ctx context.Context, ol OrderLister, after, before string, limit int) ([]events.Order, string, error) {
	p, err := ol.List(ctx, after, before, limit)
	if err != nil {
		return nil, "", fmt.Errorf("list orders after %q before %q: %w", after, before, err)
	}
	next := ""
	if p.Next != nil {
		next = *p.Next
	}
	return p.Items, next, nil
}

// maxIDsPerCall is the services' limit for ids per customers call and orders per page.
const maxIDsPerCall = 1000

// customersFor fetches the customers of a page of orders, in batches of at most 1000 ids, as the
// indexer's join state: a customer the CustomerService no longer has was deleted, and for those
// the indexer's tombstone (last snapshot, deleted) is used, so the document equals the indexer's.
func (r *Reindexer) customersFor(ctx context.Context, orders []events.Order) (map[string]*indexer.CustomerState, error) {
	found, err := fetchCustomers(ctx, r.cfg.Customers, orders)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*indexer.CustomerState, len(found))
	var gone []string
	for id, c := range found {
		if c == nil {
			gone = append(gone, id)
			continue
		}
		out[id] = &indexer.CustomerState{Customer: *c}
	}
	if len(gone) > 0 {
		deleted, err := indexer.DeletedCustomers(ctx, r.cfg.ES, r.cfg.StatePrefix, gone)
		if err != nil {
			return nil, err
		}
		for id, s := range deleted {
			out[id] = s
		}
	}
	return out, nil
}

// fetchCustomers fetches the customers of a page of orders from the CustomerService; unknown
// ids map to nil.
func fetchCustomers(ctx context.Context, cg CustomerGetter, orders []events.Order) (map[string]*events.Customer, error) {
	seen := make(map[string]*events.Customer, len(orders))
	ids := make([]string, 0, len(orders))
	for _, o := range orders {
		if _, ok := seen[o.CustomerID]; !ok {
			seen[o.CustomerID] = nil
			ids = append(ids, o.CustomerID)
		}
	}
	for start := 0; start < len(ids); start += maxIDsPerCall {
		batch := ids[start:min(start+maxIDsPerCall, len(ids))]
		cs, err := cg.BatchGet(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("get %d customers: %w", len(batch), err)
		}
		for i := range cs {
			seen[cs[i].ID] = &cs[i]
		}
	}
	return seen, nil
}
