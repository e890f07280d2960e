package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaembed"
)

func newKafkaCmd(a *app) *cobra.Command {
	var (
		listen     string
		dataDir    string
		partitions int32
	)
	cmd := &cobra.Command{
		Use:   "kafka",
		Short: "Run the embedded Kafka broker alone (kfake, real wire protocol, persisted in --data)",
		Long: `Runs a single embedded Kafka broker for development and tests, with the ordertable topics
(customers, orders, ordertable.dlq) created compacted. Its log and committed offsets persist
in --data, fsynced on every produce, so a restart loses no acknowledged record. Not for
production: point --kafka-brokers at a real cluster there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				d, err := defaultDataDir()
				if err != nil {
					return err
				}
				dataDir = filepath.Join(d, "kafka")
			}
			if err := os.MkdirAll(dataDir, 0o755); err != nil {
				return fmt.Errorf("kafka: data dir: %w", err)
			}
			b, err := kafkaembed.Start(kafkaembed.Config{
				Listen: listen, DataDir: dataDir, Partitions: partitions, Logger: a.logger,
				Topics: []string{events.TopicCustomers, events.TopicOrders, events.TopicDLQ},
			})
			if err != nil {
				return err
			}
			defer b.Close()
			a.logger.Info("embedded Kafka broker running", "addr", b.Addr(), "data", dataDir)
			fmt.Fprintf(cmd.OutOrStdout(), "Kafka broker: %s (KAFKA_BROKERS=%s), data in %s\n", b.Addr(), b.Addr(), dataDir)
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", defaultKafkaBrokers, "host:port the broker listens on")
	f.StringVar(&dataDir, "data", "", "directory persisting the broker log and offsets (default: <user cache dir>/ordertable/kafka)")
	f.Int32Var(&partitions, "partitions", 6, "partitions of the created topics")
	return cmd
}

// defaultDataDir is where the embedded engines keep their state by default.
func defaultDataDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no --data given and no user cache directory: %w", err)
	}
	return filepath.Join(d, "ordertable"), nil
}
