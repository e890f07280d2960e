package orders

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ordertable/ordertable/internal/apierror"
	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/services/customers"
)

// CustomerDirectory answers whether a customer exists. The CustomerService client is the
// production implementation; an error means the answer is unknown.
type CustomerDirectory interface {
	CustomerExists(ctx context.Context, id string) (bool, error)
}

// ErrCustomersUnavailable means the CustomerService could not be asked.
var ErrCustomersUnavailable = errors.New("customer service unavailable")

// customerService asks the CustomerService API.
type customerService struct {
	client *customers.Client
	url    string
}

var _ CustomerDirectory = (*customerService)(nil)

func (c *customerService) CustomerExists(ctx context.Context, id string) (bool, error) {
	_, err := c.client.Get(ctx, id)
	switch {
	case err == nil:
		return true, nil
	case entityapi.IsNotFound(err):
		return false, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	}
	return false, fmt.Errorf("%w: cannot verify customer %s at %s: %w", ErrCustomersUnavailable, id, c.url, err)
}

// checkCustomer turns the directory's answer into API errors: 422 for an unknown customer,
// 503 when the CustomerService cannot be reached.
func checkCustomer(ctx context.Context, dir CustomerDirectory, id string) error {
	ok, err := dir.CustomerExists(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return apierror.New(http.StatusServiceUnavailable, "customers_unavailable",
			"cannot verify the customer because the CustomerService is unreachable; nothing was changed, retry later ("+err.Error()+")")
	}
	if !ok {
		return apierror.Invalid("request has invalid fields", apierror.Detail{Field: "customer_id", Message: "no customer with this id exists"})
	}
	return nil
}
