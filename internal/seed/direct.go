package seed

// Direct seeding: a bulk load that writes customers and orders straight into the two services'
// PostgreSQL databases with COPY, about a hundred times faster than the HTTP APIs. It exists
// for benchmarks and bulk loads (a 1,000,000-order table in a minute or two instead of hours).
//
// The rows are those the services would write: the same columns, UUIDv7 ids (whose time prefix
// is the creation time, which the reindex job's slicing relies on), version 1, created_at =
// updated_at at PostgreSQL's microsecond precision, order numbers PO-<year>-<n> from the orders
// database's own sequence, every order referring to a customer that exists. The generated
// values come from the same generator as the HTTP seeder, normalised like the services do.
//
// What it bypasses: the services' per-record transactions and, unless Outbox is set, the
// outbox. Without outbox rows no event reaches Kafka, so the indexer never learns about the
// seeded records: the search index must be built from the sources with
// `ordertable reindex run --mapping mappings/orders_v1.json` (before the first indexer start,
// when no alias exists) or repaired with `ordertable verify --repair`, and the indexer's join
// state stays without them, so a later change of a seeded customer is not fanned out to its
// seeded orders. With Outbox the created events are written too (in the same transaction as
// their rows, as the services do): the relays publish them and the indexer builds everything,
// at the pipeline's rate.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

// DirectConfig configures a direct bulk load into the services' databases.
type DirectConfig struct {
	// CustomersDatabaseURL and OrdersDatabaseURL are the services' databases; they are created
	// and migrated when missing, exactly as the services do on start.
	CustomersDatabaseURL, OrdersDatabaseURL string
	// Customers and Orders are how many records to write. With Customers 0 the orders go to
	// the customers already in the customers database.
	Customers, Orders int
	// Seed makes the generated values reproducible; 0 picks a random one (reported in Result).
	// Ids are random either way.
	Seed uint64
	// Backdate spreads the creation times evenly over [start-Backdate, start], as if the
	// orders had been created over that period (customers in the tenth of it before the first
	// order). 0 stamps every record with the wall clock when its batch is written, as the API
	// would.
	Backdate time.Duration
	// Outbox also writes each record's created event into the service's outbox, so the relays
	// publish them and the indexer indexes them like API writes.
	Outbox bool
	// BatchSize is the number of rows per COPY and transaction (default 5000); Workers the
	// batches written at the same time (default 2).
	BatchSize, Workers int
	// Progress receives the progress display; nil shows nothing. Terminal selects a bar.
	Progress io.Writer
	Terminal bool
	// Logger receives warnings; nil discards.
	Logger *slog.Logger
	// Written, when set, receives every batch after its transaction committed (tests, and
	// callers that need to know what was written without reading it back).
	Written func(cs []events.Customer, os []events.Order)
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c *DirectConfig) setDefaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 5000
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	if c.Seed == 0 {
		c.Seed = randomSeed()
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every problem with the configuration.
func (c DirectConfig) Validate() error {
	var errs []error
	if c.Customers < 0 || c.Orders < 0 {
		errs = append(errs, errors.New("seed: counts must not be negative"))
	}
	if c.CustomersDatabaseURL == "" {
		errs = append(errs, errors.New("seed: customers database URL is empty"))
	}
	if c.Orders > 0 && c.OrdersDatabaseURL == "" {
		errs = append(errs, errors.New("seed: orders database URL is empty"))
	}
	if c.BatchSize < 0 || c.Workers < 0 || c.Backdate < 0 {
		errs = append(errs, errors.New("seed: batch size, workers and backdate must not be negative"))
	}
	return errors.Join(errs...)
}

// noDirectory stands in for the CustomerService: the orders service is opened only to
// create and migrate its database, never to create orders.
type noDirectory struct{}

func (noDirectory) CustomerExists(context.Context, string) (bool, error) {
	return false, errors.New("seed: no customer directory in a direct load")
}

var _ orders.CustomerDirectory = noDirectory{}

// RunDirect writes the records. Each batch is one transaction, so a failure leaves whole
// batches behind (consistent: no order without its customer, which are written first).
func RunDirect(ctx context.Context, cfg DirectConfig) (Result, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{Seed: cfg.Seed}, err
	}
	res := Result{Seed: cfg.Seed}
	// Opening the services prepares the databases exactly as a service start does (create,
	// goose migrations, outbox table); no relay runs without Kafka brokers.
	conns := int32(cfg.Workers + 1)
	cs, err := customers.New(ctx, customers.Config{DatabaseURL: cfg.CustomersDatabaseURL, MaxConns: conns})
	if err != nil {
		return res, fmt.Errorf("seed: customers database: %w", err)
	}
	defer cs.Close()
	start := cfg.Now()
	t0 := start.Add(-cfg.Backdate)
	l := &loader{cfg: cfg}

	var refs []customerRef
	if cfg.Customers > 0 {
		refs = make([]customerRef, cfg.Customers)
		// Customers come into being in the tenth of the period before the first order.
		clock := spread(t0.Add(-cfg.Backdate/10), cfg.Backdate/10, cfg.Customers, cfg.Backdate == 0, cfg.Now)
		began := time.Now()
		err := l.batches(ctx, "customers", cfg.Customers, func(ctx context.Context, b, lo, hi int) error {
			return l.customerBatch(ctx, cs.Pool(), b, lo, hi, clock, refs)
		})
		res.Customers, res.CustomerTime = cfg.Customers, time.Since(began)
		if err != nil {
			return res, fmt.Errorf("seed customers: %w", err)
		}
		if _, err := cs.Pool().Exec(ctx, `ANALYZE customers`); err != nil {
			return res, fmt.Errorf("seed customers: analyze: %w", err)
		}
	}
	if cfg.Orders == 0 {
		return rates(res), nil
	}
	if len(refs) == 0 {
		if refs, err = existingCustomers(ctx, cs.Pool()); err != nil {
			return res, fmt.Errorf("seed orders: read existing customers: %w", err)
		}
		if len(refs) == 0 {
			return res, errors.New("seed orders: there are no customers; seed some with --customers")
		}
	}
	osvc, err := orders.New(ctx, orders.Config{DatabaseURL: cfg.OrdersDatabaseURL, Customers: noDirectory{}, MaxConns: conns})
	if err != nil {
		return res, fmt.Errorf("seed: orders database: %w", err)
	}
	defer osvc.Close()
	clock := spread(t0, cfg.Backdate, cfg.Orders, cfg.Backdate == 0, cfg.Now)
	began := time.Now()
	err = l.batches(ctx, "orders", cfg.Orders, func(ctx context.Context, b, lo, hi int) error {
		return l.orderBatch(ctx, osvc.Pool(), b, lo, hi, clock, refs, start)
	})
	res.Orders, res.OrderTime = cfg.Orders, time.Since(began)
	if err != nil {
		return res, fmt.Errorf("seed orders: %w", err)
	}
	if _, err := osvc.Pool().Exec(ctx, `ANALYZE orders`); err != nil {
		return res, fmt.Errorf("seed orders: analyze: %w", err)
	}
	return rates(res), nil
}

// spread returns the creation time of record i of n: evenly over [from, from+span], or the
// wall clock when live is set. Times are UTC at microsecond precision, as the services store.
func spread(from time.Time, span time.Duration, n int, live bool, now func() time.Time) func(i int) time.Time {
	return func(i int) time.Time {
		t := from.Add(time.Duration(float64(span) * float64(i) / float64(max(1, n))))
		if live {
			t = now()
		}
		return t.UTC().Truncate(time.Microsecond)
	}
}

// loader runs the batches of one direct load.
type loader struct {
	cfg DirectConfig
}

// batches runs write(batch, lo, hi) for consecutive ranges of n records on cfg.Workers
// goroutines, with progress, stopping at the first error.
func (l *loader) batches(ctx context.Context, what string, n int, write func(ctx context.Context, b, lo, hi int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	bar := newProgress(l.cfg.Progress, l.cfg.Terminal, what, n)
	defer bar.Finish()
	size := l.cfg.BatchSize
	nb := (n + size - 1) / size
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(l.cfg.Workers, nb) {
		wg.Go(func() {
			for ctx.Err() == nil {
				b := int(next.Add(1) - 1)
				if b >= nb {
					return
				}
				lo, hi := b*size, min(n, (b+1)*size)
				if err := write(ctx, b, lo, hi); err != nil {
					cancel(err)
					return
				}
				bar.Add(hi - lo)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// Generator streams: one per batch, so a seed gives the same values whatever the scheduling.
const (
	customerStream = 1 << 40
	orderStream    = 2 << 40
)

func (l *loader) customerBatch(ctx context.Context, pool *pgxpool.Pool, b, lo, hi int, clock func(int) time.Time, refs []customerRef) error {
	g := newGenerator(l.cfg.Seed, customerStream+uint64(b), l.cfg.Now())
	batch := make([]events.Customer, 0, hi-lo)
	rows := make([][]any, 0, hi-lo)
	for i := lo; i < hi; i++ {
		in := g.customer()
		at := clock(i)
		id := newV7(at)
		c := events.Customer{ID: id.String(), Name: strings.TrimSpace(in.Name), Email: strings.TrimSpace(in.Email),
			Country: strings.ToUpper(strings.TrimSpace(in.Country)), CreatedAt: at, UpdatedAt: at, Version: 1}
		batch = append(batch, c)
		rows = append(rows, []any{[16]byte(id), c.Name, c.Email, c.Country, c.CreatedAt, c.UpdatedAt, c.Version})
		refs[i] = customerRef{c.ID, c.Country}
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"customers"},
			[]string{"id", "name", "email", "country", "created_at", "updated_at", "version"}, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy customers: %w", err)
		}
		if !l.cfg.Outbox {
			return nil
		}
		evs := make([]events.Event, len(batch))
		for i := range batch {
			evs[i] = events.Event{Type: events.CustomerCreated, Time: batch[i].CreatedAt, EntityID: batch[i].ID, Version: 1, Customer: &batch[i]}
		}
		return copyOutbox(ctx, tx, evs)
	})
	if err != nil {
		return err
	}
	if l.cfg.Written != nil {
		l.cfg.Written(batch, nil)
	}
	return nil
}

func (l *loader) orderBatch(ctx context.Context, pool *pgxpool.Pool, b, lo, hi int, clock func(int) time.Time, refs []customerRef, now time.Time) error {
	g := newGenerator(l.cfg.Seed, orderStream+uint64(b), now)
	batch := make([]events.Order, 0, hi-lo)
	for i := lo; i < hi; i++ {
		// The same skewed pick as the HTTP seeder: a few customers place many orders.
		ref := refs[int(float64(len(refs))*g.rng.Float64()*g.rng.Float64())]
		in := g.order(ref.id, ref.country)
		at := clock(i)
		o := events.Order{ID: newV7(at).String(), CustomerID: strings.ToLower(ref.id), Status: strings.ToLower(in.Status),
			Total: strings.TrimSpace(in.Total), Currency: strings.ToUpper(in.Currency), CreatedAt: at, UpdatedAt: at, Version: 1}
		if in.PlacedAt != nil {
			p := in.PlacedAt.UTC().Truncate(time.Microsecond)
			o.PlacedAt = &p
		} else if o.Status == orders.StatusPlaced || o.Status == orders.StatusPaid || o.Status == orders.StatusShipped {
			o.PlacedAt = &at // what the service stamps when a placed order comes without placed_at
		}
		batch = append(batch, o)
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// Numbers from the service's own sequence, so orders created through the API later
		// never collide with these; ascending within the batch like creation order.
		seq := make([]int64, 0, len(batch))
		r, err := tx.Query(ctx, `SELECT nextval('order_number_seq') FROM generate_series(1, $1)`, len(batch))
		if err != nil {
			return fmt.Errorf("order numbers: %w", err)
		}
		if seq, err = pgx.AppendRows(seq, r, pgx.RowTo[int64]); err != nil {
			return fmt.Errorf("order numbers: %w", err)
		}
		slices.Sort(seq)
		rows := make([][]any, len(batch))
		for i := range batch {
			o := &batch[i]
			o.OrderNumber = fmt.Sprintf("PO-%d-%06d", o.CreatedAt.Year(), seq[i])
			var total pgtype.Numeric
			if err := total.Scan(o.Total); err != nil {
				return fmt.Errorf("order %s: total %q: %w", o.ID, o.Total, err)
			}
			id, _ := uuid.Parse(o.ID)
			cid, err := uuid.Parse(o.CustomerID)
			if err != nil {
				return fmt.Errorf("order %s: customer id: %w", o.ID, err)
			}
			rows[i] = []any{[16]byte(id), o.OrderNumber, [16]byte(cid), o.Status, total, o.Currency, o.PlacedAt, o.CreatedAt, o.UpdatedAt, o.Version}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"orders"},
			[]string{"id", "order_number", "customer_id", "status", "total", "currency", "placed_at", "created_at", "updated_at", "version"},
			pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy orders: %w", err)
		}
		if !l.cfg.Outbox {
			return nil
		}
		evs := make([]events.Event, len(batch))
		for i := range batch {
			evs[i] = events.Event{Type: events.OrderCreated, Time: batch[i].CreatedAt, EntityID: batch[i].ID, Version: 1, Order: &batch[i]}
		}
		return copyOutbox(ctx, tx, evs)
	})
	if err != nil {
		return err
	}
	if l.cfg.Written != nil {
		l.cfg.Written(nil, batch)
	}
	return nil
}

// copyOutbox writes the events into the outbox within tx, as outbox.Append does one by one:
// the topic from the event type, the entity id as the message key, the encoded event. COPY
// fires the outbox's statement trigger, so the relay wakes at commit.
func copyOutbox(ctx context.Context, tx pgx.Tx, evs []events.Event) error {
	rows := make([][]any, len(evs))
	for i, e := range evs {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		e.ID = id.String()
		payload, err := events.Encode(e)
		if err != nil {
			return fmt.Errorf("outbox: encode %s %s: %w", e.Type, e.EntityID, err)
		}
		rows[i] = []any{e.Type.Topic(), e.EntityID, payload}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"outbox"}, []string{"topic", "msg_key", "payload"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy outbox: %w", err)
	}
	return nil
}

func existingCustomers(ctx context.Context, pool *pgxpool.Pool) ([]customerRef, error) {
	rows, err := pool.Query(ctx, `SELECT id::text, country FROM customers ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (customerRef, error) {
		var c customerRef
		err := r.Scan(&c.id, &c.country)
		c.country = strings.TrimSpace(c.country)
		return c, err
	})
}

// newV7 returns a UUIDv7 (RFC 9562) for time t: 48 bits of Unix milliseconds, then 12 bits of
// the sub-millisecond fraction (so ids of one millisecond still sort by time, method 3 of the
// RFC), then 62 random bits.
func newV7(t time.Time) uuid.UUID {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	frac := uint64(t.Sub(time.UnixMilli(int64(ms))).Nanoseconds()) * 4096 / 1_000_000
	binary.BigEndian.PutUint64(u[0:8], ms<<16|0x7000|frac&0x0fff)
	_, _ = rand.Read(u[8:])
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return u
}

func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) | 1
}
