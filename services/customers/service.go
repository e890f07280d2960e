package customers

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net"
	"net/http"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/outbox"
	"github.com/ordertable/ordertable/internal/sourceservice"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Config configures the CustomerService.
type Config struct {
	// DatabaseURL of the customers database; it is created when missing.
	DatabaseURL string
	// Kafka reaches the brokers the outbox relay publishes to. With no brokers the relay is
	// off and events wait in the outbox.
	Kafka kafkaconfig.Config
	// AuthToken, when set, is required as "Authorization: Bearer <token>" on writes.
	AuthToken string
	// Relay tunes the outbox relay (batch size, poll interval, lag observer).
	Relay outbox.Config
	// Logger receives logs; nil discards.
	Logger *slog.Logger
}

// Service is a running CustomerService: database, HTTP API and outbox relay.
type Service struct {
	frame *sourceservice.Frame
	store *store
}

// New prepares the database (create, migrate) and builds the API. Call Serve to listen and
// publish, and Close after Serve returned.
func New(ctx context.Context, cfg Config) (*Service, error) {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	f, err := sourceservice.Open(ctx, sourceservice.Config{
		Name:          "customers",
		DatabaseURL:   cfg.DatabaseURL,
		Migrations:    migrations,
		OutboxVersion: 2,
		Topic:         events.TopicCustomers,
		Kafka:         cfg.Kafka,
		Relay:         cfg.Relay,
		AuthToken:     cfg.AuthToken,
		OpenAPI:       OpenAPI(),
		Logger:        cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	s := &Service{frame: f, store: &store{pool: f.Pool}}
	s.resource().Register(f.API, f.Auth)
	return s, nil
}

// Handler is the HTTP API (with /healthz, /readyz, /metrics and /openapi.json).
func (s *Service) Handler() http.Handler { return s.frame.HTTP.Engine }

// Serve serves the API on ln and runs the outbox relay until ctx is cancelled.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error { return s.frame.Serve(ctx, ln) }

// RunRelay runs only the outbox relay until ctx is cancelled (when serving Handler yourself).
func (s *Service) RunRelay(ctx context.Context) error { return s.frame.RunRelay(ctx) }

// Relay is the outbox relay, or nil without Kafka.
func (s *Service) Relay() *outbox.Relay { return s.frame.Relay }

// Close releases the database pool.
func (s *Service) Close() { s.frame.Close() }
