// Package sourceservice is the process frame shared by the source services (customers and
// orders): it prepares the database (create, migrate, pool), builds the HTTP server with the
// /v1 API group and /openapi.json, and runs the outbox relay beside the server.
package sourceservice

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"

	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/internal/httpserver"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/outbox"
	"github.com/ordertable/ordertable/internal/pgstore"
)

// Config configures the frame.
type Config struct {
	// Name of the service ("customers"), for logs, metrics and the relay lock.
	Name string
	// DatabaseURL of the service database (created when missing).
	DatabaseURL string
	// Migrations holds the service's SQL migrations; OutboxVersion is the version at which
	// the outbox table migration is registered.
	Migrations    fs.FS
	OutboxVersion int64
	// Topic the service publishes to.
	Topic string
	// Kafka reaches the brokers. With no brokers the relay is off and events wait in the
	// outbox (useful for API-only tests).
	Kafka kafkaconfig.Config
	// Relay tunes the outbox relay (Name, DatabaseURL, Kafka, Topics and Logger are filled in).
	Relay outbox.Config
	// AuthToken, when set, is required as a bearer token on writes.
	AuthToken string
	// OpenAPI is the service's OpenAPI document, served at /openapi.json.
	OpenAPI []byte
	// MaxConns bounds the database pool (plus one session for the relay). Default 10: a
	// write holds a connection for a few milliseconds, and PostgreSQL servers are shared.
	MaxConns int32
	// Logger receives logs; nil discards.
	Logger *slog.Logger
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("database URL is empty (--database-url / DATABASE_URL)"))
	}
	if c.Migrations == nil {
		errs = append(errs, errors.New("no migrations"))
	}
	if len(c.Kafka.Brokers) > 0 {
		if err := c.Kafka.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Frame is a prepared service: database pool, HTTP server and relay. Services embed it, so
// its exported methods (Handler, Serve, RunRelay, Relay, Close) are theirs.
type Frame struct {
	pool  *pgxpool.Pool
	http  *httpserver.Server
	api   *gin.RouterGroup
	auth  gin.HandlerFunc
	relay *outbox.Relay // nil when Kafka is not configured
	log   *slog.Logger
	name  string
}

// Open prepares the database and builds the server; it does not listen yet.
func Open(ctx context.Context, cfg Config) (*Frame, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 10
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Name, err)
	}
	log := cfg.Logger.With("service", cfg.Name)
	pool, err := pgstore.Open(ctx, pgstore.Options{
		DatabaseURL:  cfg.DatabaseURL,
		Migrations:   cfg.Migrations,
		GoMigrations: []*goose.Migration{outbox.Migration(cfg.OutboxVersion)},
		MaxConns:     cfg.MaxConns,
		Logger:       log,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: database: %w", cfg.Name, err)
	}
	srv := httpserver.New(httpserver.Config{
		Name:   cfg.Name,
		Logger: log,
		Ready: func(ctx context.Context) error {
			if err := pool.Ping(ctx); err != nil {
				return fmt.Errorf("database: %w", err)
			}
			return nil
		},
	})
	f := &Frame{pool: pool, http: srv, api: srv.Engine.Group("/v1"), auth: entityapi.RequireToken(cfg.AuthToken), log: log, name: cfg.Name}
	if len(cfg.OpenAPI) > 0 {
		doc := cfg.OpenAPI
		srv.Engine.GET("/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", doc) })
	}
	if len(cfg.Kafka.Brokers) > 0 {
		rc := cfg.Relay
		rc.Name, rc.DatabaseURL, rc.Kafka, rc.Topics, rc.Logger = cfg.Name, cfg.DatabaseURL, cfg.Kafka, []string{cfg.Topic}, log
		if rc.Registerer == nil {
			rc.Registerer = srv.Registry
		}
		if f.relay, err = outbox.NewRelay(rc); err != nil {
			pool.Close()
			return nil, fmt.Errorf("%s: %w", cfg.Name, err)
		}
	} else {
		log.Warn("no Kafka brokers configured: the outbox relay is off and events stay in the outbox")
	}
	return f, nil
}

// Pool is the service's database pool (for the service's store).
func (f *Frame) Pool() *pgxpool.Pool { return f.pool }

// Routes registers the service's API under /v1; auth guards the write routes.
func (f *Frame) Routes(register func(api gin.IRouter, auth gin.HandlerFunc)) { register(f.api, f.auth) }

// Handler is the HTTP API (with /healthz, /readyz, /metrics and /openapi.json), for serving
// it yourself (e.g. httptest) together with RunRelay.
func (f *Frame) Handler() http.Handler { return f.http.Engine }

// Relay is the outbox relay, or nil without Kafka brokers.
func (f *Frame) Relay() *outbox.Relay { return f.relay }

// Serve serves the API on ln and runs the outbox relay until ctx is cancelled; it returns the
// first failure, after stopping both.
func (f *Frame) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if f.relay != nil {
		wg.Go(func() { _ = f.relay.Run(ctx) })
	}
	f.log.Info("serving", "addr", "http://"+ln.Addr().String())
	err := f.http.Serve(ctx, ln)
	cancel()
	wg.Wait()
	return err
}

// RunRelay runs only the outbox relay until ctx is cancelled (when serving Handler yourself).
func (f *Frame) RunRelay(ctx context.Context) error {
	if f.relay == nil {
		return errors.New(f.name + ": no Kafka brokers configured")
	}
	return f.relay.Run(ctx)
}

// Close releases the database pool. Call it after Serve returned.
func (f *Frame) Close() {
	done := make(chan struct{})
	go func() { f.pool.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		f.log.Warn("database pool did not close within 10s")
	}
}
