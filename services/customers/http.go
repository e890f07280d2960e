package customers

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ordertable/ordertable/internal/entityapi"
)

// now is the timestamp of a change, at PostgreSQL's microsecond precision so the stored row,
// the API answer and the event snapshot are identical.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// resource maps the /v1/customers routes to the store and the business rules.
func (s *Service) resource() entityapi.Resource[Customer] {
	return entityapi.Resource[Customer]{
		Kind:     "customer",
		Path:     "/customers",
		ID:       func(c Customer) string { return c.ID },
		Version:  func(c Customer) int64 { return c.Version },
		Get:      s.store.Get,
		List:     s.store.List,
		BatchGet: s.store.BatchGet,
		Create: func(c *gin.Context) (Customer, error) {
			var in CreateInput
			if err := entityapi.DecodeJSON(c, &in); err != nil {
				return Customer{}, err
			}
			cu, err := newCustomer(in, now())
			if err != nil {
				return Customer{}, err
			}
			return cu, s.store.create(c, cu)
		},
		Update: func(c *gin.Context, id string, want int64) (Customer, error) {
			var p Patch
			if err := entityapi.DecodeJSON(c, &p); err != nil {
				return Customer{}, err
			}
			at := now()
			return s.store.update(c, id, want, at, func(cur Customer) (Customer, bool, error) {
				return applyPatch(cur, p, at)
			})
		},
		Delete: func(ctx context.Context, id string, want int64) error {
			return s.store.Delete(ctx, id, want, now())
		},
	}
}
