// Command ordertable runs every part of the ordertable system: the two source services, the
// indexer, the search API, the reindex job and the embedded development engines. Each
// subcommand only reads configuration and wires packages together.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ordertable/ordertable/internal/cliflags"
)

// app holds what every subcommand shares.
type app struct {
	logger   *slog.Logger
	logLevel string
	logJSON  bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ordertable:", err)
		stop()
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	a := &app{}
	root := &cobra.Command{
		Use:           "ordertable",
		Short:         "A sortable purchase-order table in Elasticsearch, fed by two microservices",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// Environment fallbacks for the command's own and inherited flags.
			if err := cliflags.BindEnv(cmd.Flags()); err != nil {
				return err
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			opts := &slog.HandlerOptions{Level: lvl}
			if a.logJSON {
				a.logger = slog.New(slog.NewJSONHandler(os.Stderr, opts))
			} else {
				a.logger = slog.New(slog.NewTextHandler(os.Stderr, opts))
			}
			return nil
		},
	}
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().BoolVar(&a.logJSON, "log-json", false, "log as JSON lines instead of text")
	root.AddCommand(
		newCustomersCmd(a),
		newOrdersCmd(a),
		newKafkaCmd(a),
		newESCmd(a),
		newIndexerCmd(a),
		newSearchCmd(a),
		newReindexCmd(a),
		newVerifyCmd(a),
		newSeedCmd(a),
		newDevCmd(a),
		newBenchCmd(a),
	)
	// Usage text names each flag's environment variable.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		_ = cliflags.BindEnvUsage(c.Flags())
		_ = cliflags.BindEnvUsage(c.PersistentFlags())
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}
