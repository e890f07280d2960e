package reindex

import (
	"context"

	"github.com/ordertable/ordertable/internal/events"
)

// OrderLister pages through the PurchaseOrderService's orders in id order
// (GET /v1/orders?after=&before=&limit=): after and before are exclusive and optional; next is
// "" on the last page.
type OrderLister interface {
	ListOrders(ctx context.Context, after, before string, limit int) (items []events.Order, next string, err error)
}

// CustomerGetter fetches customers by id (GET /v1/customers?ids=); unknown ids are absent.
type CustomerGetter interface {
	GetCustomers(ctx context.Context, ids []string) ([]events.Customer, error)
}

// maxIDsPerCall is the services' limit for ids per customers call and orders per page.
const maxIDsPerCall = 1000

// customersFor fetches the customers of a page of orders, in batches of at most 1000 ids.
func customersFor(ctx context.Context, cg CustomerGetter, orders []events.Order) (map[string]*events.Customer, error) {
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
		cs, err := cg.GetCustomers(ctx, batch)
		if err != nil {
			return nil, err
		}
		for i := range cs {
			seen[cs[i].ID] = &cs[i]
		}
	}
	return seen, nil
}
