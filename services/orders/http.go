package orders

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ordertable/ordertable/internal/entityapi"
)

// now is the timestamp of a change, at PostgreSQL's microsecond precision so the stored row,
// the API answer and the event snapshot are identical.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// resource maps the /v1/orders routes to the store, the business rules and the customer
// check.
func (s *Service) resource() entityapi.Resource[Order] {
	return entityapi.Resource[Order]{
		Kind:     "order",
		Path:     "/orders",
		ID:       func(o Order) string { return o.ID },
		Version:  func(o Order) int64 { return o.Version },
		Get:      s.store.Get,
		List:     s.store.List,
		BatchGet: s.store.BatchGet,
		Create: func(c *gin.Context) (Order, error) {
			var in CreateInput
			if err := entityapi.DecodeJSON(c, &in); err != nil {
				return Order{}, err
			}
			o, err := newOrder(in, now())
			if err != nil {
				return Order{}, err
			}
			if err := checkCustomer(c, s.customers, o.CustomerID); err != nil {
				return Order{}, err
			}
			return s.store.create(c, o)
		},
		Update: func(c *gin.Context, id string, want int64) (Order, error) {
			var p Patch
			if err := entityapi.DecodeJSON(c, &p); err != nil {
				return Order{}, err
			}
			at := now()
			// The customer is checked outside the transaction so no row lock is held during
			// an HTTP call; the check runs only when the customer actually changes.
			if p.CustomerID.Set && !p.CustomerID.Null {
				cur, err := s.store.Get(c, id)
				if err != nil {
					return Order{}, err
				}
				next, changed, err := applyPatch(cur, p, at)
				if err != nil {
					return Order{}, err
				}
				if changed && next.CustomerID != cur.CustomerID {
					if err := checkCustomer(c, s.customers, next.CustomerID); err != nil {
						return Order{}, err
					}
				}
			}
			return s.store.update(c, id, want, at, func(cur Order) (Order, bool, error) {
				return applyPatch(cur, p, at)
			})
		},
		Delete: func(ctx context.Context, id string, want int64) error {
			return s.store.Delete(ctx, id, want, now())
		},
	}
}
