package kafkaconfig

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"
)

// TopicSpec describes a topic to create when missing.
type TopicSpec struct {
	Name string
	// Partitions defaults to 6.
	Partitions int32
	// ReplicationFactor defaults to -1: the broker's default.replication.factor.
	ReplicationFactor int16
	// Compact sets cleanup.policy=compact (for snapshot topics keyed by entity id).
	Compact bool
}

// EnsureTopics creates each topic that does not exist yet; existing topics are left alone
// (their partition count is never changed, since that would move keys between partitions).
func EnsureTopics(ctx context.Context, c Config, topics ...TopicSpec) error {
	sc, err := c.Sarama()
	if err != nil {
		return err
	}
	admin, err := sarama.NewClusterAdmin(c.Brokers, sc)
	if err != nil {
		return fmt.Errorf("kafka: connect admin to %v: %w", c.Brokers, err)
	}
	defer admin.Close()
	existing, err := admin.ListTopics()
	if err != nil {
		return fmt.Errorf("kafka: list topics: %w", err)
	}
	for _, t := range topics {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, ok := existing[t.Name]; ok {
			continue
		}
		d := &sarama.TopicDetail{NumPartitions: t.Partitions, ReplicationFactor: t.ReplicationFactor}
		if d.NumPartitions == 0 {
			d.NumPartitions = 6
		}
		if d.ReplicationFactor == 0 {
			d.ReplicationFactor = -1
		}
		if t.Compact {
			compact := "compact"
			d.ConfigEntries = map[string]*string{"cleanup.policy": &compact}
		}
		if err := admin.CreateTopic(t.Name, d, false); err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", t.Name, err)
		}
	}
	return nil
}
