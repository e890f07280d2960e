package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ordertable/ordertable/internal/bench/stack"
	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

// created is one order created through the API, with the time its create returned (the
// commit is before that, so latencies measured from it are slightly optimistic, by the API's
// response time).
type created struct {
	ID         string
	CustomerID string
	At         time.Time
}

// seedCustomers creates n customers through the API with workers concurrent clients.
func seedCustomers(ctx context.Context, st *stack.Stack, n, workers int, seed uint64, retried *atomic.Int64) ([]customers.Customer, error) {
	out := make([]customers.Customer, n)
	g := newDocGen(seed, n)
	err := parallel(ctx, n, workers, 0, func(ctx context.Context, i int) error {
		c, err := retry5xx(ctx, retried, func() (customers.Customer, error) {
			return st.Customers.Create(ctx, customers.CreateInput{
				Name:    g.customerName(i),
				Email:   fmt.Sprintf("buyer%d.%d@example.com", i, seed%100000),
				Country: benchCountries[i%len(benchCountries)],
			})
		})
		if err != nil {
			return fmt.Errorf("create customer: %w", err)
		}
		out[i] = c
		return nil
	})
	return out, err
}

// orderInput is a realistic new order for one of custs.
func orderInput(rng *rand.Rand, custs []customers.Customer) orders.CreateInput {
	placed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(300 * 24 * time.Hour)))).Truncate(time.Millisecond)
	return orders.CreateInput{
		CustomerID: custs[rng.IntN(len(custs))].ID,
		Status:     benchStatuses[1+rng.IntN(len(benchStatuses)-1)],
		Total:      fmt.Sprintf("%d.%02d", rng.IntN(50_000), rng.IntN(100)),
		Currency:   benchCurrencies[rng.IntN(len(benchCurrencies))],
		PlacedAt:   &placed,
	}
}

// createOrders creates n orders through the API, at most perSec per second when perSec > 0.
func createOrders(ctx context.Context, st *stack.Stack, custs []customers.Customer, n, workers int, perSec float64, seed uint64, retried *atomic.Int64) ([]created, error) {
	return createOrdersNotify(ctx, st, custs, n, workers, perSec, seed, retried, nil)
}

// createOrdersNotify is createOrders calling notify (when non-nil) as each create returns.
func createOrdersNotify(ctx context.Context, st *stack.Stack, custs []customers.Customer, n, workers int, perSec float64, seed uint64, retried *atomic.Int64, notify func(created)) ([]created, error) {
	var out []created
	if notify == nil {
		out = make([]created, n)
	}
	err := parallel(ctx, n, workers, perSec, func(ctx context.Context, i int) error {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		in := orderInput(rng, custs)
		o, err := retry5xx(ctx, retried, func() (orders.Order, error) { return st.Orders.Create(ctx, in) })
		if err != nil {
			return fmt.Errorf("create order: %w", err)
		}
		c := created{ID: o.ID, CustomerID: o.CustomerID, At: time.Now()}
		if notify != nil {
			notify(c)
		} else {
			out[i] = c
		}
		return nil
	})
	return out, err
}

// retry5xx retries a call that failed with a server error (5xx or unreachable) up to twice:
// the load generator must not lose a figure to one overloaded moment; the retries are counted
// and reported.
func retry5xx[T any](ctx context.Context, retried *atomic.Int64, call func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := call()
		if err == nil || attempt == 3 || ctx.Err() != nil {
			return v, err
		}
		if st := entityapi.StatusOf(err); st < 500 && !errors.Is(err, entityapi.ErrUnavailable) {
			return v, err
		}
		retried.Add(1)
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
}

// parallel runs fn for 0..n-1 on workers goroutines, paced to perSec calls per second overall
// when perSec > 0. The first error stops the rest.
func parallel(ctx context.Context, n, workers int, perSec float64, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if perSec > 0 {
					due := start.Add(time.Duration(float64(i) / perSec * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(d):
						}
					}
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && err != context.Canceled {
		return err
	}
	return ctx.Err()
}

// waitFor polls cond every interval until it reports true, fails, or timeout passes.
func waitFor(ctx context.Context, timeout, interval time.Duration, what string, cond func(ctx context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond(ctx)
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("%s: not within %s (last error: %w)", what, timeout, last)
			}
			return fmt.Errorf("%s: not within %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
