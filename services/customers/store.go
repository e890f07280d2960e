package customers

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

// store keeps customers in PostgreSQL; every change writes its event into the outbox in the
// same transaction (see pgstore.Table).
type store struct {
	pgstore.Table[Customer]
}

func newStore(pool *pgxpool.Pool) *store {
	return &store{pgstore.Table[Customer]{
		Pool:    pool,
		Name:    "customers",
		Columns: `id::text, name, email, country, created_at, updated_at, version`,
		Scan: func(row pgx.Row) (Customer, error) {
			var c Customer
			err := row.Scan(&c.ID, &c.Name, &c.Email, &c.Country, &c.CreatedAt, &c.UpdatedAt, &c.Version)
			c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
			return c, err
		},
		Event: func(t events.Type, c Customer, at time.Time) (events.Event, error) {
			id, err := uuid.NewV7()
			if err != nil {
				return events.Event{}, err
			}
			return events.Event{ID: id.String(), Type: t, Time: at, EntityID: c.ID, Version: c.Version, Customer: &c}, nil
		},
		Version: func(c Customer) int64 { return c.Version },
		Bump:    func(c Customer) Customer { c.Version++; return c },
		Created: events.CustomerCreated, Updated: events.CustomerUpdated, Deleted: events.CustomerDeleted,
	}}
}

func (s *store) create(ctx context.Context, c Customer) error {
	_, err := s.Insert(ctx, c.CreatedAt, func(ctx context.Context, tx pgx.Tx) (Customer, error) {
		_, err := tx.Exec(ctx, `INSERT INTO customers (id, name, email, country, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, c.ID, c.Name, c.Email, c.Country, c.CreatedAt, c.UpdatedAt, c.Version)
		if err != nil {
			return c, fmt.Errorf("insert customer: %w", err)
		}
		return c, nil
	})
	return err
}

func (s *store) update(ctx context.Context, id string, want int64, at time.Time, change func(Customer) (Customer, bool, error)) (Customer, error) {
	return s.Update(ctx, id, want, at, change, func(ctx context.Context, tx pgx.Tx, c Customer) error {
		_, err := tx.Exec(ctx, `UPDATE customers SET name = $2, email = $3, country = $4, updated_at = $5, version = $6
			WHERE id = $1`, c.ID, c.Name, c.Email, c.Country, c.UpdatedAt, c.Version)
		return err
	})
}
