package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordertable/ordertable/internal/entity"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/outbox"
)

// Table stores one entity kind in a table keyed by a uuid "id" and writes an outbox event in
// the same transaction as every change. Updates and deletes lock the row first, which
// serialises the changes of one entity and so orders its events.
type Table[T any] struct {
	Pool *pgxpool.Pool
	// Name is the table name (a trusted constant).
	Name string
	// Columns is the select list that Scan reads.
	Columns string
	// Scan reads one row selected with Columns.
	Scan func(pgx.Row) (T, error)
	// Event wraps a snapshot into an event of the given type at the given time.
	Event func(t events.Type, v T, at time.Time) (events.Event, error)
	// Version reads an entity's version; Bump returns it with version+1 (for deletions).
	Version func(T) int64
	Bump    func(T) T
	// Created, Updated and Deleted are the entity's event types.
	Created, Updated, Deleted events.Type
}

// Insert runs write (which inserts the row and returns the stored entity) and appends the
// created event at at, in one transaction.
func (t Table[T]) Insert(ctx context.Context, at time.Time, write func(ctx context.Context, tx pgx.Tx) (T, error)) (T, error) {
	var out T
	err := pgx.BeginFunc(ctx, t.Pool, func(tx pgx.Tx) error {
		v, err := write(ctx, tx)
		if err != nil {
			return err
		}
		out = v
		return t.appendEvent(ctx, tx, t.Created, v, at)
	})
	return out, err
}

// Get returns the entity or entity.ErrNotFound.
func (t Table[T]) Get(ctx context.Context, id string) (T, error) {
	v, err := t.Scan(t.Pool.QueryRow(ctx, `SELECT `+t.Columns+` FROM `+t.Name+` WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, entity.ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("get from %s: %w", t.Name, err)
	}
	return v, nil
}

func (t Table[T]) lock(ctx context.Context, tx pgx.Tx, id string, want int64) (T, error) {
	v, err := t.Scan(tx.QueryRow(ctx, `SELECT `+t.Columns+` FROM `+t.Name+` WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, entity.ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("lock in %s: %w", t.Name, err)
	}
	return v, entity.CheckVersion(want, t.Version(v))
}

// Update locks the entity, checks the expected version (want > 0), applies change and, when
// it reports a difference, runs write and appends the updated event at at. Without a
// difference nothing is written and no event is emitted.
func (t Table[T]) Update(ctx context.Context, id string, want int64, at time.Time,
	change func(cur T) (T, bool, error), write func(ctx context.Context, tx pgx.Tx, next T) error) (T, error) {
	var out T
	err := pgx.BeginFunc(ctx, t.Pool, func(tx pgx.Tx) error {
		cur, err := t.lock(ctx, tx, id, want)
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
		if err := write(ctx, tx, next); err != nil {
			return fmt.Errorf("update %s: %w", t.Name, err)
		}
		return t.appendEvent(ctx, tx, t.Updated, next, at)
	})
	return out, err
}

// Delete locks the entity, checks the expected version (want > 0), deletes it and appends the
// deleted event carrying the last snapshot at version+1.
func (t Table[T]) Delete(ctx context.Context, id string, want int64, at time.Time) error {
	return pgx.BeginFunc(ctx, t.Pool, func(tx pgx.Tx) error {
		cur, err := t.lock(ctx, tx, id, want)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+t.Name+` WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete from %s: %w", t.Name, err)
		}
		return t.appendEvent(ctx, tx, t.Deleted, t.Bump(cur), at)
	})
}

func (t Table[T]) appendEvent(ctx context.Context, tx pgx.Tx, typ events.Type, v T, at time.Time) error {
	e, err := t.Event(typ, v, at)
	if err != nil {
		return err
	}
	return outbox.Append(ctx, tx, e)
}

// List returns up to limit entities with after < id < before, by id: one index range scan.
func (t Table[T]) List(ctx context.Context, after, before string, limit int) ([]T, error) {
	q, args := KeysetQuery(`SELECT `+t.Columns+` FROM `+t.Name, after, before, limit)
	return t.query(ctx, q, args...)
}

// BatchGet returns the entities among ids that exist, by id.
func (t Table[T]) BatchGet(ctx context.Context, ids []string) ([]T, error) {
	return t.query(ctx, `SELECT `+t.Columns+` FROM `+t.Name+` WHERE id = ANY($1::uuid[]) ORDER BY id`, ids)
}

func (t Table[T]) query(ctx context.Context, q string, args ...any) ([]T, error) {
	rows, err := t.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", t.Name, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return t.Scan(r) })
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", t.Name, err)
	}
	return out, nil
}
