package customers

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

// store keeps customers in PostgreSQL. Every change writes the row and its event into the
// outbox in one transaction; updates and deletes lock the row first, which serialises the
// changes of one customer and so orders its events.
type store struct {
	pool *pgxpool.Pool
}

const customerColumns = `id::text, name, email, country, created_at, updated_at, version`

func scanCustomer(row pgx.Row) (Customer, error) {
	var c Customer
	err := row.Scan(&c.ID, &c.Name, &c.Email, &c.Country, &c.CreatedAt, &c.UpdatedAt, &c.Version)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

func event(t events.Type, c Customer, at time.Time) (events.Event, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return events.Event{}, err
	}
	return events.Event{ID: id.String(), Type: t, Time: at, EntityID: c.ID, Version: c.Version, Customer: &c}, nil
}

func (s *store) create(ctx context.Context, c Customer) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO customers (id, name, email, country, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, c.ID, c.Name, c.Email, c.Country, c.CreatedAt, c.UpdatedAt, c.Version); err != nil {
			return fmt.Errorf("insert customer: %w", err)
		}
		e, err := event(events.CustomerCreated, c, c.CreatedAt)
		if err != nil {
			return err
		}
		return outbox.Append(ctx, tx, e)
	})
}

func (s *store) get(ctx context.Context, id string) (Customer, error) {
	c, err := scanCustomer(s.pool.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Customer{}, entity.ErrNotFound
	}
	if err != nil {
		return Customer{}, fmt.Errorf("get customer: %w", err)
	}
	return c, nil
}

// lock reads the customer for update within tx and checks the expected version.
func lockCustomer(ctx context.Context, tx pgx.Tx, id string, want int64) (Customer, error) {
	c, err := scanCustomer(tx.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Customer{}, entity.ErrNotFound
	}
	if err != nil {
		return Customer{}, fmt.Errorf("lock customer: %w", err)
	}
	return c, entity.CheckVersion(want, c.Version)
}

// update applies change to the current customer under its row lock. When change reports no
// difference nothing is written and no event is emitted.
func (s *store) update(ctx context.Context, id string, want int64, change func(Customer) (Customer, bool, error)) (Customer, error) {
	var out Customer
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := lockCustomer(ctx, tx, id, want)
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
		if _, err := tx.Exec(ctx, `UPDATE customers SET name = $2, email = $3, country = $4, updated_at = $5, version = $6
			WHERE id = $1`, id, next.Name, next.Email, next.Country, next.UpdatedAt, next.Version); err != nil {
			return fmt.Errorf("update customer: %w", err)
		}
		e, err := event(events.CustomerUpdated, next, next.UpdatedAt)
		if err != nil {
			return err
		}
		return outbox.Append(ctx, tx, e)
	})
	return out, err
}

// remove deletes the customer; its event carries the last snapshot at version+1.
func (s *store) remove(ctx context.Context, id string, want int64, now time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := lockCustomer(ctx, tx, id, want)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM customers WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete customer: %w", err)
		}
		cur.Version++
		e, err := event(events.CustomerDeleted, cur, now)
		if err != nil {
			return err
		}
		return outbox.Append(ctx, tx, e)
	})
}

// list returns up to limit customers with after < id < before, by id: one index range scan.
func (s *store) list(ctx context.Context, after, before string, limit int) ([]Customer, error) {
	q, args := pgstore.KeysetQuery(`SELECT `+customerColumns+` FROM customers`, after, before, limit)
	return s.query(ctx, q, args...)
}

func (s *store) batchGet(ctx context.Context, ids []string) ([]Customer, error) {
	return s.query(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = ANY($1::uuid[]) ORDER BY id`, ids)
}

func (s *store) query(ctx context.Context, q string, args ...any) ([]Customer, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query customers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Customer, error) { return scanCustomer(r) })
	if err != nil {
		return nil, fmt.Errorf("query customers: %w", err)
	}
	return out, nil
}
