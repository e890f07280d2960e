package orders

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/outbox"
	"github.com/ordertable/ordertable/internal/sourceservice"
	"github.com/ordertable/ordertable/services/customers"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Config configures the PurchaseOrderService.
type Config struct {
	// DatabaseURL of the orders database; it is created when missing.
	DatabaseURL string
	// CustomersURL is the CustomerService base URL, asked whether customers exist.
	CustomersURL string
	// CustomersToken is sent to the CustomerService as a bearer token (reads need none by
	// default; set it when that service requires one).
	CustomersToken string
	// Customers replaces the CustomerService client (tests); CustomersURL is then ignored.
	Customers CustomerDirectory
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

// Service is a running PurchaseOrderService: database, HTTP API and outbox relay.
type Service struct {
	frame     *sourceservice.Frame
	store     *store
	customers CustomerDirectory
}

// New prepares the database (create, migrate) and builds the API. Call Serve to listen and
// publish, and Close after Serve returned.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Customers == nil && cfg.CustomersURL == "" {
		return nil, errors.New("orders: the CustomerService URL is empty (--customers-url / CUSTOMERS_URL)")
	}
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	f, err := sourceservice.Open(ctx, sourceservice.Config{
		Name:          "orders",
		DatabaseURL:   cfg.DatabaseURL,
		Migrations:    migrations,
		OutboxVersion: 2,
		Topic:         events.TopicOrders,
		Kafka:         cfg.Kafka,
		Relay:         cfg.Relay,
		AuthToken:     cfg.AuthToken,
		OpenAPI:       OpenAPI(),
		Logger:        cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	dir := cfg.Customers
	if dir == nil {
		hc := entityapi.DefaultHTTPClient()
		hc.Timeout = 5 * time.Second
		dir = &customerService{client: customers.NewClient(cfg.CustomersURL, cfg.CustomersToken, hc), url: cfg.CustomersURL}
	}
	s := &Service{frame: f, store: &store{pool: f.Pool}, customers: dir}
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
