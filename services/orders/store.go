package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/pgstore"
)

// store keeps orders in PostgreSQL; every change writes its event into the outbox in the
// same transaction (see pgstore.Table).
type store struct {
	pgstore.Table[Order]
}

func newStore(pool *pgxpool.Pool) *store {
	return &store{pgstore.Table[Order]{
		Pool: pool,
		Name: "orders",
		Columns: `id::text, order_number, customer_id::text, status, total::text, currency,
			placed_at, created_at, updated_at, version`,
		Scan: func(row pgx.Row) (Order, error) {
			var o Order
			err := row.Scan(&o.ID, &o.OrderNumber, &o.CustomerID, &o.Status, &o.Total, &o.Currency,
				&o.PlacedAt, &o.CreatedAt, &o.UpdatedAt, &o.Version)
			o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
			if o.PlacedAt != nil {
				t := o.PlacedAt.UTC()
				o.PlacedAt = &t
			}
			return o, err
		},
		Event: func(t events.Type, o Order, at time.Time) (events.Event, error) {
			id, err := uuid.NewV7()
			if err != nil {
				return events.Event{}, err
			}
			return events.Event{ID: id.String(), Type: t, Time: at, EntityID: o.ID, Version: o.Version, Order: &o}, nil
		},
		Version: func(o Order) int64 { return o.Version },
		Bump:    func(o Order) Order { o.Version++; return o },
		Created: events.OrderCreated, Updated: events.OrderUpdated, Deleted: events.OrderDeleted,
	}}
}

// create assigns the order number and inserts o. Numbers come from a sequence: unique and
// increasing, with gaps where a transaction rolled back.
func (s *store) create(ctx context.Context, o Order) (Order, error) {
	return s.Insert(ctx, o.CreatedAt, func(ctx context.Context, tx pgx.Tx) (Order, error) {
		var seq int64
		if err := tx.QueryRow(ctx, `SELECT nextval('order_number_seq')`).Scan(&seq); err != nil {
			return o, fmt.Errorf("order number: %w", err)
		}
		o.OrderNumber = fmt.Sprintf("PO-%d-%06d", o.CreatedAt.Year(), seq)
		if _, err := tx.Exec(ctx, `INSERT INTO orders (id, order_number, customer_id, status, total, currency,
				placed_at, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8, $9, $10)`,
			o.ID, o.OrderNumber, o.CustomerID, o.Status, o.Total, o.Currency, o.PlacedAt, o.CreatedAt, o.UpdatedAt, o.Version); err != nil {
			return o, fmt.Errorf("insert order: %w", err)
		}
		return o, nil
	})
}

func (s *store) update(ctx context.Context, id string, want int64, at time.Time, change func(Order) (Order, bool, error)) (Order, error) {
	return s.Update(ctx, id, want, at, change, func(ctx context.Context, tx pgx.Tx, o Order) error {
		_, err := tx.Exec(ctx, `UPDATE orders SET customer_id = $2, status = $3, total = $4::numeric, currency = $5,
				placed_at = $6, updated_at = $7, version = $8 WHERE id = $1`,
			o.ID, o.CustomerID, o.Status, o.Total, o.Currency, o.PlacedAt, o.UpdatedAt, o.Version)
		return err
	})
}
