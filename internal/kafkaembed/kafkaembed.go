// Package kafkaembed runs an in-process Kafka broker (franz-go's kfake) that speaks the real
// wire protocol, for development, tests and CI where no Kafka server exists. Production talks
// to a real Kafka cluster through the same clients; nothing in ordertable depends on this
// package except the dev stack and test set-up.
package kafkaembed

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Config configures the embedded broker.
type Config struct {
	// Listen is the host:port to serve on; port 0 picks a free one. Default 127.0.0.1:0.
	Listen string
	// DataDir, when set, persists the log and committed offsets there (fsynced on every
	// produce), so a restart loses no acknowledged record. Empty keeps everything in memory.
	DataDir string
	// Partitions is the default partition count of auto-created topics. Default 6.
	Partitions int32
	// Topics are created at start (if missing) with Partitions partitions each.
	Topics []string
	// Logger receives the broker's warnings; nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if c.Partitions == 0 {
		c.Partitions = 6
	}
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); c.Listen != "" && err != nil {
		errs = append(errs, fmt.Errorf("listen %q: %w", c.Listen, err))
	}
	if c.Partitions < 0 {
		errs = append(errs, fmt.Errorf("partitions %d < 0", c.Partitions))
	}
	return errors.Join(errs...)
}

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// Start starts a single-broker cluster.
func Start(cfg Config) (*Broker, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafkaembed: %w", err)
	}
	host, portStr, _ := net.SplitHostPort(cfg.Listen)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("kafkaembed: port %q: %w", portStr, err)
	}
	opts := []kfake.Opt{
		kfake.Ports(port),
		kfake.ClusterID("ordertable-embedded"),
		kfake.DefaultNumPartitions(int(cfg.Partitions)),
		kfake.AllowAutoTopicCreation(),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			ln, err := net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				return nil, err
			}
			return holdListener{ln}, nil // see hold.go
		}),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir), kfake.SyncWrites())
	}
	if cfg.Logger != nil {
		opts = append(opts, kfake.WithLogger(slogLogger{cfg.Logger}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafkaembed: start broker on %s: %w", cfg.Listen, err)
	}
	b := &Broker{cluster: c, addr: c.ListenAddrs()[0]}
	for _, t := range cfg.Topics {
		if c.TopicInfo(t) != nil {
			continue
		}
		if err := c.CreateTopic(t, cfg.Partitions, map[string]string{"cleanup.policy": "compact"}); err != nil {
			c.Close()
			return nil, fmt.Errorf("kafkaembed: create topic %s: %w", t, err)
		}
	}
	return b, nil
}

// Addr is the broker's host:port, the value for KAFKA_BROKERS.
func (b *Broker) Addr() string { return b.addr }

// Cluster exposes the kfake cluster for fault injection in tests.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Close stops the broker, flushing persisted state.
func (b *Broker) Close() { b.cluster.Close() }

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	text := fmt.Sprintf(msg, args...)
	switch level {
	case kfake.LogLevelError:
		s.l.Error(text, "component", "kafka")
	case kfake.LogLevelWarn:
		s.l.Warn(text, "component", "kafka")
	default:
		s.l.Debug(text, "component", "kafka")
	}
}
