// Package seed fills the source services with realistic customers and orders through their
// HTTP APIs (so every record also flows through the outbox, Kafka and the indexer like real
// traffic), concurrently, with a progress display.
package seed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

// Config configures a seeding run.
type Config struct {
	// CustomersURL and OrdersURL are the service base URLs.
	CustomersURL, OrdersURL string
	// Token is the bearer token of both services (empty when auth is off).
	Token string
	// Customers and Orders are how many records to create. Orders go to the new customers,
	// or to existing ones (read from the CustomerService) when Customers is 0.
	Customers, Orders int
	// Concurrency is the number of parallel requests. Default 16.
	Concurrency int
	// Seed makes the generated data reproducible; 0 picks a random one (reported in Result).
	Seed uint64
	// Progress receives the progress display; nil shows nothing.
	Progress io.Writer
	// Terminal selects an interactive progress bar; otherwise plain lines are printed.
	Terminal bool
	// Logger receives retries; nil discards.
	Logger *slog.Logger
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Customers < 0 || c.Orders < 0 {
		errs = append(errs, errors.New("seed: counts must not be negative"))
	}
	if c.Customers > 0 || c.Orders > 0 {
		if c.CustomersURL == "" {
			errs = append(errs, errors.New("seed: customers URL is empty"))
		}
	}
	if c.Orders > 0 && c.OrdersURL == "" {
		errs = append(errs, errors.New("seed: orders URL is empty"))
	}
	if c.Concurrency < 0 {
		errs = append(errs, errors.New("seed: concurrency must not be negative"))
	}
	return errors.Join(errs...)
}

// Result summarises a run.
type Result struct {
	Seed                      uint64
	Customers, Orders         int
	CustomerTime, OrderTime   time.Duration
	CustomersPerS, OrdersPerS float64
}

type customerRef struct{ id, country string }

// Run creates the records. It stops at the first error that survives retries.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 16
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	hc := entityapi.DefaultHTTPClient()
	cc := customers.NewClient(cfg.CustomersURL, cfg.Token, hc)
	oc := orders.NewClient(cfg.OrdersURL, cfg.Token, hc)
	res := Result{Seed: cfg.Seed}
	now := time.Now()

	refs := make([]customerRef, cfg.Customers)
	start := time.Now()
	err := parallel(ctx, cfg, "customers", cfg.Customers, func(ctx context.Context, worker, i int, g *generator) error {
		c, err := cc.Create(ctx, g.customer())
		if err != nil {
			return err
		}
		refs[i] = customerRef{c.ID, c.Country}
		return nil
	}, now)
	res.Customers, res.CustomerTime = cfg.Customers, time.Since(start)
	if err != nil {
		return res, fmt.Errorf("seed customers: %w", err)
	}
	if cfg.Orders == 0 {
		return rates(res), nil
	}
	if len(refs) == 0 {
		err := cc.Each(ctx, 1000, func(page []customers.Customer) error {
			for _, c := range page {
				refs = append(refs, customerRef{c.ID, c.Country})
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("seed orders: read existing customers: %w", err)
		}
		if len(refs) == 0 {
			return res, errors.New("seed orders: there are no customers; seed some with --customers")
		}
	}
	start = time.Now()
	err = parallel(ctx, cfg, "orders", cfg.Orders, func(ctx context.Context, worker, i int, g *generator) error {
		// A skewed pick: a few customers place many orders, like real accounts.
		ref := refs[int(float64(len(refs))*g.rng.Float64()*g.rng.Float64())]
		_, err := oc.Create(ctx, g.order(ref.id, ref.country))
		return err
	}, now)
	res.Orders, res.OrderTime = cfg.Orders, time.Since(start)
	if err != nil {
		return res, fmt.Errorf("seed orders: %w", err)
	}
	return rates(res), nil
}

func rates(r Result) Result {
	if r.CustomerTime > 0 {
		r.CustomersPerS = float64(r.Customers) / r.CustomerTime.Seconds()
	}
	if r.OrderTime > 0 {
		r.OrdersPerS = float64(r.Orders) / r.OrderTime.Seconds()
	}
	return r
}

// parallel runs fn for i in [0, n) on cfg.Concurrency workers, each with its own
// reproducible generator, retrying transient failures, and shows progress.
func parallel(ctx context.Context, cfg Config, what string, n int, fn func(ctx context.Context, worker, i int, g *generator) error, now time.Time) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	bar := newProgress(cfg.Progress, cfg.Terminal, what, n)
	defer bar.Finish()
	var next atomic.Int64
	var wg sync.WaitGroup
	stream := uint64(0)
	if what == "orders" {
		stream = 1 << 32
	}
	for w := range min(cfg.Concurrency, n) {
		g := newGenerator(cfg.Seed, stream+uint64(w), now)
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := retry(ctx, cfg.Logger, func() error { return fn(ctx, w, i, g) }); err != nil {
					cancel(err)
					return
				}
				bar.Add(1)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// retry repeats fn on transient failures (unreachable service, 5xx) with backoff.
func retry(ctx context.Context, log *slog.Logger, fn func() error) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || ctx.Err() != nil {
			return err
		}
		transient := errors.Is(err, entityapi.ErrUnavailable) || entityapi.StatusOf(err) >= http.StatusInternalServerError
		if !transient || attempt == 5 {
			return err
		}
		log.Warn("seed: retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}
