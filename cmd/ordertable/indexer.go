package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
)

func newIndexerCmd(a *app) *cobra.Command {
	var cfg indexer.Config
	cmd := &cobra.Command{
		Use:   "indexer",
		Short: "Run the indexer: customers and orders topics -> one joined document per order in Elasticsearch",
		Long: `Consumes the "customers" and "orders" Kafka topics in a consumer group (run several
instances with the same --kafka-group to share the partitions) and keeps one document per live
order, joined with its customer, in every index behind the alias "orders_targets". Creates
orders_v1 and the aliases "orders" and "orders_targets" on first start. Serves /metrics,
/healthz and /readyz on --listen. Unprocessable events go to the "ordertable.dlq" topic.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = a.logger
			ix, err := indexer.New(cfg)
			if err != nil {
				return err
			}
			return ix.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	kafkaconfig.BindFlags(f, &cfg.Kafka, defaultKafkaBrokers)
	f.StringVar(&cfg.Group, "kafka-group", "ordertable-indexer", "Kafka consumer group shared by the indexer instances")
	esindex.BindFlags(f, &cfg.ES, "http://127.0.0.1:9200")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:9102", "host:port for /metrics, /healthz and /readyz (empty: none)")
	f.IntVar(&cfg.BulkSize, "bulk-size", 500, "most events per partition batch")
	f.DurationVar(&cfg.FlushInterval, "flush-interval", 100*time.Millisecond, "longest wait for a batch to fill after its first event")
	f.IntVar(&cfg.Workers, "workers", 4, "batches written to Elasticsearch at the same time (fan-out chunks have their own budget)")
	f.IntVar(&cfg.FanoutChunk, "fanout-chunk", 250, "orders rewritten per step when a customer changes")
	f.IntVar(&cfg.FanoutWorkers, "fanout-workers", 1, "fan-out chunks written to Elasticsearch at the same time")
	f.DurationVar(&cfg.FanoutMaxWait, "fanout-max-wait", 50*time.Millisecond, "longest a fan-out chunk waits for the batches in flight before it is written anyway")
	f.StringVar(&cfg.StatePrefix, "state-prefix", "ordertable-state", "name prefix of the join-state indices (<prefix>-customers, <prefix>-orders)")
	f.BoolVar(&cfg.NoBootstrap, "no-bootstrap", false, "don't create orders_v1 and the aliases when the table is missing")
	f.StringVar(&cfg.InstanceID, "instance-id", "", "name of this instance in logs and dead letters (default: random)")
	return cmd
}
