package main

import (
	"context"
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/services/orders"
)

func newOrdersCmd(a *app) *cobra.Command {
	var (
		cfg    orders.Config
		listen string
	)
	cmd := &cobra.Command{
		Use:   "orders",
		Short: "Run the PurchaseOrderService (HTTP API under /v1/orders and its outbox relay to Kafka)",
		Long: `Runs the PurchaseOrderService: creates and migrates its PostgreSQL database when needed,
serves the API (OpenAPI document at /openapi.json), checks customers against the
CustomerService and publishes every change to the "orders" Kafka topic through the
transactional outbox.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = a.logger
			if cfg.CustomersToken == "" {
				cfg.CustomersToken = cfg.AuthToken
			}
			svc, err := orders.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer svc.Close()
			return serveOn(cmd.Context(), listen, svc.Serve)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", defaultOrdersListen, "host:port to serve the HTTP API on")
	f.StringVar(&cfg.DatabaseURL, "database-url", localPostgres+"orders?sslmode=disable", "PostgreSQL URL of the orders database (created if missing)")
	f.StringVar(&cfg.CustomersURL, "customers-url", defaultCustomersURL, "base URL of the CustomerService")
	f.StringVar(&cfg.CustomersToken, "customers-token", "", "bearer token for the CustomerService (default: --auth-token)")
	f.StringVar(&cfg.AuthToken, "auth-token", "", "bearer token required on POST/PATCH/DELETE (empty: no auth)")
	f.Int32Var(&cfg.MaxConns, "database-max-conns", 10, "size of the database connection pool")
	kafkaconfig.BindFlags(f, &cfg.Kafka, defaultKafkaBrokers)
	return cmd
}

// serveOn listens on addr and runs serve until ctx is cancelled.
func serveOn(ctx context.Context, addr string, serve func(context.Context, net.Listener) error) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	return serve(ctx, ln)
}
