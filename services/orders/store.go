package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordertable/ordertable/internal/entity"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/outbox"
	"github.com/ordertable/ordertable/internal/pgstore"
)

// store keeps orders in PostgreSQL. Every change writes the row and its event into the outbox
// in one transaction; updates and deletes lock the row first, which serialises the changes of
// one order and so orders its events.
type store struct {
	pool *pgxpool.Pool
}

const orderColumns = `id::text, order_number, customer_id::text, status, total::text, currency,
	placed_at, created_at, updated_at, version`

func scanOrder(row pgx.Row) (Order, error) {
	var o Order
	err := row.Scan(&o.ID, &o.OrderNumber, &o.CustomerID, &o.Status, &o.Total, &o.Currency,
		&o.PlacedAt, &o.CreatedAt, &o.UpdatedAt, &o.Version)
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	if o.PlacedAt != nil {
		t := o.PlacedAt.UTC()
		o.PlacedAt = &t
	}
	return o, err
}

func event(t events.Type, o Order, at time.Time) (events.Event, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return events.Event{}, err
	}
	return events.Event{ID: id.String(), Type: t, Time: at, EntityID: o.ID, Version: o.Version, Order: &o}, nil
}

// create assigns the order number and inserts o with its event. Numbers come from a sequence:
// unique and increasing, with gaps where a transaction rolled back.
func (s *store) create(ctx context.Context, o Order) (Order, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var seq int64
		if err := tx.QueryRow(ctx, `SELECT nextval('order_number_seq')`).Scan(&seq); err != nil {
			return fmt.Errorf("order number: %w", err)
		}
		o.OrderNumber = fmt.Sprintf("PO-%d-%06d", o.CreatedAt.Year(), seq)
		if _, err := tx.Exec(ctx, `INSERT INTO orders (id, order_number, customer_id, status, total, currency,
				placed_at, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8, $9, $10)`,
			o.ID, o.OrderNumber, o.CustomerID, o.Status, o.Total, o.Currency, o.PlacedAt, o.CreatedAt, o.UpdatedAt, o.Version); err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		e, err := event(events.OrderCreated, o, o.CreatedAt)
		if err != nil {
			return err
		}
		return outbox.Append(ctx, tx, e)
	})
	return o, err
}

func (s *store) get(ctx context.Context, id string) (Order, error) {
	o, err := scanOrder(s.pool.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, entity.ErrNotFound
	}
	if err != nil {
		return Order{}, fmt.Errorf("get order: %w", err)
	}
	return o, nil
}

func lockOrder(ctx context.Context, tx pgx.Tx, id string, want int64) (Order, error) {
	o, err := scanOrder(tx.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, entity.ErrNotFound
	}
	if err != nil {
		return Order{}, fmt.Errorf("lock order: %w", err)
	}
	return o, entity.CheckVersion(want, o.Version)
}

// update applies change to the current order under its row lock. When change reports no
// difference nothing is written and no event is emitted.
func (s *store) update(ctx context.Context, id string, want int64, change func(Order) (Order, bool, error)) (Order, error) {
	var out Order
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := lockOrder(ctx, tx, id, want)
		if err != nil {
			return err
		}
		next, changed, err := change(cur)
		if err != nil {
			return err
		}
		out = next
		if !changed {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE orders SET customer_id = $2, status = $3, total = $4::numeric, currency = $5,
				placed_at = $6, updated_at = $7, version = $8 WHERE id = $1`,
			id, next.CustomerID, next.Status, next.Total, next.Currency, next.PlacedAt, next.UpdatedAt, next.Version); err != nil {
			return fmt.Errorf("update order: %w", err)
		}
		e, err := event(events.OrderUpdated, next, next.UpdatedAt)
		if err != nil {
			return err
		}
		return outbox.Append(ctx, tx, e)
	})
	return out, err
}

// remove deletes the order; its event carries the last snapshot at version+1.
func (s *store) remove(ctx context.Context, id string, want int64, now time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := lockOrder(ctx, tx, id, want)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM orders WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete order: %w", err)
		}
		cur.Version++
		e, err := event(events.OrderDeleted, cur, now)
		if err != nil {
			return err
		}
		return outbox.Append(ctx, tx, e)
	})
}

// list returns up to limit orders with after < id < before, by id: one index range scan.
func (s *store) list(ctx context.Context, after, before string, limit int) ([]Order, error) {
	q, args := pgstore.KeysetQuery(`SELECT `+orderColumns+` FROM orders`, after, before, limit)
	return s.query(ctx, q, args...)
}

func (s *store) batchGet(ctx context.Context, ids []string) ([]Order, error) {
	return s.query(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = ANY($1::uuid[]) ORDER BY id`, ids)
}

func (s *store) query(ctx context.Context, q string, args ...any) ([]Order, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query orders: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Order, error) { return scanOrder(r) })
	if err != nil {
		return nil, fmt.Errorf("query orders: %w", err)
	}
	return out, nil
}
