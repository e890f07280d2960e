package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ordertable/ordertable/internal/seed"
)

func newSeedCmd(a *app) *cobra.Command {
	var (
		cfg                           seed.Config
		direct                        bool
		dcfg                          seed.DirectConfig
		postgresURL, custDB, ordersDB string
	)
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Create realistic customers and orders through the services' HTTP APIs (or --direct into their databases)",
		Long: `Creates --customers customers and --orders orders (people and companies from 15 countries,
matching currencies, log-normal totals, a live status mix, placed dates over the last year)
through the HTTP APIs, concurrently, with a progress bar (plain lines when stdout is not a
terminal). With --customers 0, orders go to the existing customers. --seed makes the data
reproducible.

--direct is a bulk load for benchmarks: it writes the same records with COPY straight into the
services' PostgreSQL databases (--database-url server, --customers-database, --orders-database,
as "ordertable dev" uses them), a hundred times faster than the APIs. It BYPASSES THE OUTBOX:
no event reaches Kafka, so the indexer never sees these records. Build the search index from
the sources afterwards, before the first indexer start (when the alias "orders" doesn't exist
yet): "ordertable reindex run --mapping mappings/orders_v1.json"; on an existing table,
"ordertable verify --repair". The indexer's join state stays without them, so later changes of
seeded customers are not fanned out to seeded orders. --outbox writes the created events too,
so the relays publish them and the indexer indexes them like API writes (at the pipeline's
rate). --backdate spreads the creation times (and UUIDv7 ids) over a past period, as if the
table had grown over it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			terminal := term.IsTerminal(int(os.Stdout.Fd()))
			if direct {
				var err error
				if dcfg.CustomersDatabaseURL, err = withDatabase(postgresURL, custDB); err != nil {
					return err
				}
				if dcfg.OrdersDatabaseURL, err = withDatabase(postgresURL, ordersDB); err != nil {
					return err
				}
				dcfg.Customers, dcfg.Orders, dcfg.Seed = cfg.Customers, cfg.Orders, cfg.Seed
				dcfg.Logger, dcfg.Progress, dcfg.Terminal = a.logger, out, terminal
				res, err := seed.RunDirect(cmd.Context(), dcfg)
				if err != nil {
					return fmt.Errorf("%w (seed %d)", err, res.Seed)
				}
				fmt.Fprintf(out, "wrote %d customers (%.0f/s) and %d orders (%.0f/s) directly into the databases; seed %d\n",
					res.Customers, res.CustomersPerS, res.Orders, res.OrdersPerS, res.Seed)
				if !dcfg.Outbox {
					fmt.Fprintln(out, "no events were published: build the index with `ordertable reindex run --mapping mappings/orders_v1.json` (no alias yet) or `ordertable verify --repair`")
				}
				return nil
			}
			cfg.Logger = a.logger
			cfg.Progress = out
			cfg.Terminal = terminal
			res, err := seed.Run(cmd.Context(), cfg)
			if err != nil {
				return fmt.Errorf("%w (seed %d)", err, res.Seed)
			}
			fmt.Fprintf(out, "created %d customers (%.0f/s) and %d orders (%.0f/s); seed %d\n",
				res.Customers, res.CustomersPerS, res.Orders, res.OrdersPerS, res.Seed)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Customers, "customers", 100, "customers to create")
	f.IntVar(&cfg.Orders, "orders", 1000, "orders to create")
	f.IntVar(&cfg.Concurrency, "concurrency", 16, "parallel requests")
	f.Uint64Var(&cfg.Seed, "seed", 0, "random seed for reproducible data (0: random)")
	f.StringVar(&cfg.CustomersURL, "customers-url", defaultCustomersURL, "CustomerService base URL")
	f.StringVar(&cfg.OrdersURL, "orders-url", defaultOrdersURL, "PurchaseOrderService base URL")
	f.StringVar(&cfg.Token, "auth-token", "", "bearer token of the services' write endpoints")
	f.BoolVar(&direct, "direct", false, "bulk-load with COPY straight into the services' databases, bypassing the APIs and the outbox (benchmarks and bulk loads only)")
	f.StringVar(&postgresURL, "database-url", localPostgres+"postgres?sslmode=disable", "with --direct: PostgreSQL server URL holding --customers-database and --orders-database")
	f.StringVar(&custDB, "customers-database", "customers", "with --direct: database of the CustomerService (created and migrated if missing)")
	f.StringVar(&ordersDB, "orders-database", "orders", "with --direct: database of the PurchaseOrderService (created and migrated if missing)")
	f.BoolVar(&dcfg.Outbox, "outbox", false, "with --direct: also write each record's created event into the outbox (the relays publish them)")
	f.DurationVar(&dcfg.Backdate, "backdate", 0, "with --direct: spread creation times over this past period (e.g. 8760h); 0 stamps the load's own time")
	f.IntVar(&dcfg.BatchSize, "direct-batch", 5000, "with --direct: rows per COPY and transaction")
	f.IntVar(&dcfg.Workers, "direct-workers", 2, "with --direct: batches written in parallel")
	return cmd
}
