package indexer

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
)

// Config configures one indexer instance. Several instances with the same Group share the work.
// DefaultStatePrefix names the join-state indices: <prefix>-customers, <prefix>-orders.
const DefaultStatePrefix = "ordertable-state"

// Config configures an indexer instance.
type Config struct {
	// Kafka says how to reach the brokers (addresses, SASL, TLS). Required.
	Kafka kafkaconfig.Config
	// Group is the Kafka consumer group. Default "ordertable-indexer".
	Group string
	// ES says how to reach Elasticsearch. Ignored when ESClient is set.
	ES esindex.Config
	// ESClient, when set, is used instead of a client built from ES (tests share one).
	ESClient *esindex.Client
	// BulkSize is the most events one partition's batch holds. Default 500.
	BulkSize int
	// FlushInterval is how long a partition waits for a batch to fill after its first event.
	// Default 100 ms: freshness is bounded by this plus the index refresh interval.
	FlushInterval time.Duration
	// Workers bounds the batches written to Elasticsearch at the same time, across all
	// partitions of this instance. Default 4. Fan-out chunks have their own budget
	// (FanoutWorkers) and never take these slots.
	Workers int
	// FanoutChunk is how many orders of a changed customer are rewritten per step (one search
	// page, one bulk write). Default 250: a step overlaps the batches that arrive while it is
	// written, so its size bounds what a fan-out adds to their latency.
	FanoutChunk int
	// FanoutWorkers bounds the fan-out chunks written at the same time, across all partitions
	// of this instance. Default 1.
	FanoutWorkers int
	// FanoutMaxWait is the longest a fan-out chunk waits for the batches in flight to finish
	// before it is written anyway (batches go first; this keeps a steady stream of batches from
	// starving a fan-out). Default 50 ms.
	FanoutMaxWait time.Duration
	// StatePrefix names the join-state indices: <prefix>-customers, <prefix>-orders.
	// Default "ordertable-state".
	StatePrefix string
	// Listen, when set, serves /metrics, /healthz and /readyz there (e.g. ":9102").
	Listen string
	// NoBootstrap disables creating orders_v1 and the aliases when the table doesn't exist.
	NoBootstrap bool
	// Backoff paces retries of Elasticsearch and DLQ writes. Default esindex.DefaultBackoff().
	Backoff esindex.Backoff
	// InstanceID names this instance in logs, DLQ headers and the Kafka client id. Default: a
	// random id.
	InstanceID string
	// Logger receives the instance's logs. Default: discard.
	Logger *slog.Logger
	// Registry receives the metrics. Default: a new registry with Go and process collectors.
	Registry *prometheus.Registry
	// ObserveFreshness, when set, is called with each indexed event's topic and freshness
	// (event time to documents accepted); benchmarks use it for exact percentiles, the
	// histogram metric is always kept.
	ObserveFreshness func(topic string, d time.Duration)
}

func (c *Config) setDefaults() {
	if c.Group == "" {
		c.Group = "ordertable-indexer"
	}
	if c.BulkSize == 0 {
		c.BulkSize = 500
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 100 * time.Millisecond
	}
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.FanoutChunk == 0 {
		c.FanoutChunk = 250
	}
	if c.FanoutWorkers == 0 {
		c.FanoutWorkers = 1
	}
	if c.FanoutMaxWait == 0 {
		c.FanoutMaxWait = 50 * time.Millisecond
	}
	if c.StatePrefix == "" {
		c.StatePrefix = DefaultStatePrefix
	}
	if c.Backoff == (esindex.Backoff{}) {
		c.Backoff = esindex.DefaultBackoff()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.ESClient == nil {
		if err := c.ES.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.BulkSize < 1 || c.BulkSize > 100_000 {
		errs = append(errs, fmt.Errorf("bulk size %d not in [1, 100000]", c.BulkSize))
	}
	if c.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("flush interval %v < 0", c.FlushInterval))
	}
	if c.Workers < 1 || c.Workers > 256 {
		errs = append(errs, fmt.Errorf("workers %d not in [1, 256]", c.Workers))
	}
	if c.FanoutChunk < 1 || c.FanoutChunk > 10_000 {
		errs = append(errs, fmt.Errorf("fan-out chunk %d not in [1, 10000]", c.FanoutChunk))
	}
	if c.FanoutWorkers < 1 || c.FanoutWorkers > 256 {
		errs = append(errs, fmt.Errorf("fan-out workers %d not in [1, 256]", c.FanoutWorkers))
	}
	if c.FanoutMaxWait < 0 {
		errs = append(errs, fmt.Errorf("fan-out max wait %v < 0", c.FanoutMaxWait))
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen %q: %w", c.Listen, err))
		}
	}
	return errors.Join(errs...)
}
