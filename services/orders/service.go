package orders

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
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
	// MaxConns bounds the database pool. Default 10.
	MaxConns int32
	// Relay tunes the outbox relay (batch size, poll interval, lag observer).
	Relay outbox.Config
	// Logger receives logs; nil discards.
	Logger *slog.Logger
}

// Validate reports the problems New would otherwise find one by one (the database and Kafka
// settings are checked by the shared frame).
func (c Config) Validate() error {
	var errs []error
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("orders: the database URL is empty (--database-url / DATABASE_URL)"))
	}
	if c.Customers == nil {
		u, err := url.Parse(c.CustomersURL)
		if c.CustomersURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("orders: the CustomerService URL %q is not an http(s) URL (--customers-url / CUSTOMERS_URL)", c.CustomersURL))
		}
	}
	return errors.Join(errs...)
}

// Service is a running PurchaseOrderService: database, HTTP API and outbox relay. Its
// Handler, Serve, RunRelay, Relay and Close come from the shared source-service frame.
type Service struct {
	*sourceservice.Frame
	store     *store
	customers CustomerDirectory
}

// New prepares the database (create, migrate) and builds the API. Call Serve to listen and
// publish, and Close after Serve returned.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
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
		MaxConns:      cfg.MaxConns,
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
	s := &Service{Frame: f, store: newStore(f.Pool()), customers: dir}
	f.Routes(s.resource().Register)
	return s, nil
}
