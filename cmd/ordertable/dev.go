package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/devstack"
	"github.com/ordertable/ordertable/internal/esembed"
	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/kafkaembed"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
	"github.com/ordertable/ordertable/services/search"
)

func newDevCmd(a *app) *cobra.Command {
	var (
		dataDir, postgresURL, authToken            string
		customersDBName, ordersDBName              string
		kafkaListen, customersListen, ordersListen string
		procs                                      int
		esListen, indexerListen, searchListen      string
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole system locally on embedded engines (Elasticsearch, Kafka, services, indexer, search)",
		Long: `Runs everything on this machine: the embedded Elasticsearch-compatible engine (state in
DIR/es), the embedded Kafka broker (state in DIR/kafka), the CustomerService and the
PurchaseOrderService against the local PostgreSQL (databases "customers" and "orders", created
if missing), the indexer (which creates orders_v1 and the aliases on first start) and the search
API with its web page. Components start in dependency order; the URLs are printed once all are
healthy; Ctrl-C stops everything in reverse order. State in --data survives restarts, so no
undelivered event and no indexed document is lost.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			applyProcs(a.logger, procs)
			if dataDir == "" {
				d, err := defaultDataDir()
				if err != nil {
					return err
				}
				dataDir = d
			}
			kafkaDir := filepath.Join(dataDir, "kafka")
			esDir := filepath.Join(dataDir, "es")
			for _, d := range []string{kafkaDir, esDir} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return fmt.Errorf("dev: data dir: %w", err)
				}
			}
			customersDB, err := withDatabase(postgresURL, customersDBName)
			if err != nil {
				return err
			}
			ordersDB, err := withDatabase(postgresURL, ordersDBName)
			if err != nil {
				return err
			}
			kafka := kafkaconfig.Config{Brokers: []string{kafkaListen}}
			customersURL := "http://" + customersListen
			ordersURL := "http://" + ordersListen
			log := a.logger

			stack := devstack.New(devstack.Config{Out: cmd.OutOrStdout(), Logger: log,
				Banner: "ordertable dev stack is up (state in " + dataDir + "):"})
			esURL := "http://" + esListen
			stack.Add(
				&devstack.Runner{Name: "elasticsearch", URL: esURL + "  (embedded engine, ES_URL)",
					Run: func(ctx context.Context) error {
						ln, err := net.Listen("tcp", esListen)
						if err != nil {
							return fmt.Errorf("listen %s: %w", esListen, err)
						}
						eng, err := esembed.Open(esembed.Config{DataDir: esDir, Logger: log})
						if err != nil {
							ln.Close()
							return err
						}
						serveErr := eng.Serve(ctx, ln)
						return errors.Join(serveErr, eng.Close())
					},
					Check: devstack.HTTPHealth(esURL + "/_cluster/health")},
				&devstack.Runner{Name: "kafka", URL: kafkaListen + "  (KAFKA_BROKERS)",
					Run: func(ctx context.Context) error {
						b, err := kafkaembed.Start(kafkaembed.Config{Listen: kafkaListen, DataDir: kafkaDir, Logger: log,
							Topics: []string{events.TopicCustomers, events.TopicOrders, events.TopicDLQ}})
						if err != nil {
							return err
						}
						defer b.Close()
						<-ctx.Done()
						return nil
					},
					Check: devstack.TCPHealth(kafkaListen)},
				&devstack.Runner{Name: "customers", URL: customersURL + "  (API /v1/customers, docs /openapi.json)",
					Run: func(ctx context.Context) error {
						return runService(ctx, customersListen, func(ctx context.Context) (server, error) {
							return customers.New(ctx, customers.Config{DatabaseURL: customersDB, Kafka: kafka, AuthToken: authToken, Logger: log})
						})
					},
					Check: devstack.HTTPHealth(customersURL + "/readyz")},
				&devstack.Runner{Name: "orders", URL: ordersURL + "  (API /v1/orders, docs /openapi.json)",
					Run: func(ctx context.Context) error {
						return runService(ctx, ordersListen, func(ctx context.Context) (server, error) {
							return orders.New(ctx, orders.Config{DatabaseURL: ordersDB, CustomersURL: customersURL,
								CustomersToken: authToken, Kafka: kafka, AuthToken: authToken, Logger: log})
						})
					},
					Check: devstack.HTTPHealth(ordersURL + "/readyz")},
				&devstack.Runner{Name: "indexer", URL: "http://" + indexerListen + "/metrics",
					Run: func(ctx context.Context) error {
						ix, err := indexer.New(indexer.Config{Kafka: kafka, ES: esindex.Config{URLs: []string{esURL}},
							Listen: indexerListen, Logger: log})
						if err != nil {
							return err
						}
						return ix.Run(ctx)
					},
					Check: devstack.HTTPHealth("http://" + indexerListen + "/readyz")},
				&devstack.Runner{Name: "search", URL: "http://" + searchListen + "/  (web page; API /v1/orders, docs /openapi.json)",
					Run: func(ctx context.Context) error {
						svc, err := search.New(search.Config{ES: esindex.Config{URLs: []string{esURL}}, Logger: log})
						if err != nil {
							return err
						}
						return svc.ListenAndServe(ctx, searchListen)
					},
					Check: devstack.HTTPHealth("http://" + searchListen + "/readyz")},
			)
			return stack.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", "", "directory keeping the embedded engines' state (default: <user cache dir>/ordertable)")
	f.StringVar(&postgresURL, "database-url", localPostgres+"postgres?sslmode=disable", "PostgreSQL server URL; the services use its databases --customers-database and --orders-database")
	// Two stacks on one PostgreSQL server must not share the service databases: their relays
	// would act as replicas, and one stack's events would go to the other stack's broker.
	f.StringVar(&customersDBName, "customers-database", "customers", "database of the CustomerService (created if missing)")
	f.StringVar(&ordersDBName, "orders-database", "orders", "database of the PurchaseOrderService (created if missing)")
	f.StringVar(&authToken, "auth-token", "", "bearer token required on writes to both services (empty: no auth)")
	f.StringVar(&kafkaListen, "kafka-listen", defaultKafkaBrokers, "host:port of the embedded Kafka broker")
	f.StringVar(&customersListen, "customers-listen", defaultCustomersListen, "host:port of the CustomerService")
	f.StringVar(&ordersListen, "orders-listen", defaultOrdersListen, "host:port of the PurchaseOrderService")
	f.StringVar(&esListen, "es-listen", "127.0.0.1:9200", "host:port of the embedded Elasticsearch-compatible engine")
	f.StringVar(&indexerListen, "indexer-listen", "127.0.0.1:9102", "host:port of the indexer's /metrics, /healthz and /readyz")
	f.StringVar(&searchListen, "search-listen", "127.0.0.1:8080", "host:port of the search API and web page")
	addProcsFlag(cmd, &procs)
	return cmd
}

// server is what the dev stack needs of a service.
type server interface {
	Serve(ctx context.Context, ln net.Listener) error
	Close()
}

// runService listens first (so a busy port fails fast and clearly), then builds and serves.
func runService(ctx context.Context, addr string, build func(context.Context) (server, error)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	svc, err := build(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	defer svc.Close()
	return svc.Serve(ctx, ln)
}

// withDatabase returns the PostgreSQL server URL raw with its database set to name.
func withDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("--database-url: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}
