package main

import (
	"github.com/spf13/cobra"

	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/services/customers"
)

// Default endpoints of the local development stack.
const (
	defaultCustomersListen = "127.0.0.1:8081"
	defaultOrdersListen    = "127.0.0.1:8082"
	defaultKafkaBrokers    = "127.0.0.1:9092"
	defaultCustomersURL    = "http://127.0.0.1:8081"
	defaultOrdersURL       = "http://127.0.0.1:8082"
	localPostgres          = "postgres://postgres@127.0.0.1:5432/"
)

func newCustomersCmd(a *app) *cobra.Command {
	var (
		cfg    customers.Config
		listen string
	)
	cmd := &cobra.Command{
		Use:   "customers",
		Short: "Run the CustomerService (HTTP API under /v1/customers and its outbox relay to Kafka)",
		Long: `Runs the CustomerService: creates and migrates its PostgreSQL database when needed,
serves the API (OpenAPI document at /openapi.json) and publishes every change to the
"customers" Kafka topic through the transactional outbox.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = a.logger
			svc, err := customers.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer svc.Close()
			return serveOn(cmd.Context(), listen, svc.Serve)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", defaultCustomersListen, "host:port to serve the HTTP API on")
	f.StringVar(&cfg.DatabaseURL, "database-url", localPostgres+"customers?sslmode=disable", "PostgreSQL URL of the customers database (created if missing)")
	f.StringVar(&cfg.AuthToken, "auth-token", "", "bearer token required on POST/PATCH/DELETE (empty: no auth)")
	f.Int32Var(&cfg.MaxConns, "database-max-conns", 10, "size of the database connection pool")
	kafkaconfig.BindFlags(f, &cfg.Kafka, defaultKafkaBrokers)
	return cmd
}
