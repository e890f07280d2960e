package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ordertable/ordertable/internal/seed"
)

func newSeedCmd(a *app) *cobra.Command {
	var cfg seed.Config
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Create realistic customers and orders through the services' HTTP APIs",
		Long: `Creates --customers customers and --orders orders (people and companies from 15 countries,
matching currencies, log-normal totals, a live status mix, placed dates over the last year)
through the HTTP APIs, concurrently, with a progress bar (plain lines when stdout is not a
terminal). With --customers 0, orders go to the existing customers. --seed makes the data
reproducible.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = a.logger
			cfg.Progress = cmd.OutOrStdout()
			cfg.Terminal = term.IsTerminal(int(os.Stdout.Fd()))
			res, err := seed.Run(cmd.Context(), cfg)
			if err != nil {
				return fmt.Errorf("%w (seed %d)", err, res.Seed)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %d customers (%.0f/s) and %d orders (%.0f/s); seed %d\n",
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
	return cmd
}
