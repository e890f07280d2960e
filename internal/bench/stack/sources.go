package stack

import (
	"context"

	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

// Sources is the reindex job's view of the source services. It offers both the clients' own
// methods (List, BatchGet) and the page-tuple form (ListOrders, GetCustomers), so it satisfies
// the reindex package's source interfaces whichever shape they have.
type Sources struct {
	Orders    *orders.Client
	Customers *customers.Client
}

// List returns one keyset page of orders with after < id < before.
func (s Sources) List(ctx context.Context, after, before string, limit int) (entityapi.Page[events.Order], error) {
	return s.Orders.List(ctx, after, before, limit)
}

// ListOrders is List as (items, next id or "").
func (s Sources) ListOrders(ctx context.Context, after, before string, limit int) ([]events.Order, string, error) {
	p, err := s.Orders.List(ctx, after, before, limit)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if p.Next != nil {
		next = *p.Next
	}
	return p.Items, next, nil
}

// BatchGet returns the existing customers among ids.
func (s Sources) BatchGet(ctx context.Context, ids []string) ([]events.Customer, error) {
	return s.Customers.BatchGet(ctx, ids)
}

// GetCustomers is BatchGet.
func (s Sources) GetCustomers(ctx context.Context, ids []string) ([]events.Customer, error) {
	return s.Customers.BatchGet(ctx, ids)
}

// Sources returns the reindex job's view of the stack's services.
func (s *Stack) Sources() Sources { return Sources{Orders: s.Orders, Customers: s.Customers} }
