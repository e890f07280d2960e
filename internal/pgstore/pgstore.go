// Package pgstore is the PostgreSQL plumbing shared by the source services. At start it creates the database
// when missing, applies the service's embedded migrations with goose (under a session lock,
// so replicas starting together do not race) and opens the connection pool.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Options says what to prepare.
type Options struct {
	// DatabaseURL names the service database.
	DatabaseURL string
	// Migrations holds the SQL migrations (NNNNN_name.sql at its root).
	Migrations fs.FS
	// GoMigrations are registered beside the SQL ones (e.g. the outbox table).
	GoMigrations []*goose.Migration
	// MaxConns bounds the pool; 0 keeps pgx's default.
	MaxConns int32
	// Logger receives the migrations applied.
	Logger *slog.Logger
}

// Open creates the database if needed, migrates it and returns a pool on it.
func Open(ctx context.Context, o Options) (*pgxpool.Pool, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	pcfg, err := pgxpool.ParseConfig(o.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if o.MaxConns > 0 {
		pcfg.MaxConns = o.MaxConns
	}
	// Give idle connections back soon: a quiet service should not hold server slots.
	pcfg.MaxConnIdleTime = time.Minute
	if err := EnsureDatabase(ctx, o.DatabaseURL); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", Redact(o.DatabaseURL), err)
	}
	if err := migrate(ctx, pool, o); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool, o Options) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, o.Migrations,
		goose.WithGoMigrations(o.GoMigrations...), goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	for _, r := range res {
		o.Logger.Info("migration applied", "version", r.Source.Version, "path", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// EnsureDatabase creates the database named in rawURL when it does not exist, connecting to
// the server's "postgres" database to do so.
func EnsureDatabase(ctx context.Context, rawURL string) error {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	name := cfg.Database
	if name == "" {
		return errors.New("database url names no database")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("connect %s: %w", Redact(rawURL), err)
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	ac, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to create database %s: %w", name, err)
	}
	defer ac.Close(ctx)
	if _, err := ac.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: a replica won
			return nil
		}
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Redact hides the password of a database URL for logs and errors.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !strings.Contains(raw, "://") {
		return "<database url>"
	}
	return u.Redacted()
}
