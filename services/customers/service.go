package customers

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"

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
	// MaxConns bounds the database pool. Default 10.
	MaxConns int32
	// Relay tunes the outbox relay (batch size, poll interval, lag observer).
	Relay outbox.Config
	// Logger receives logs; nil discards.
	Logger *slog.Logger
}

// Service is a running CustomerService: database, HTTP API and outbox relay. Its Handler,
// Serve, RunRelay, Relay and Close come from the shared source-service frame.
type Service struct {
	*sourceservice.Frame
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
		MaxConns:      cfg.MaxConns,
		OpenAPI:       OpenAPI(),
		Logger:        cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	s := &Service{Frame: f, store: newStore(f.Pool())}
	f.Routes(s.resource().Register)
	return s, nil
}
