package reindex

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"

	"github.com/ordertable/ordertable/internal/kafkaconfig"
)

// LagReader reports how many events the indexer's consumer group still has to process.
type LagReader interface {
	Lag(ctx context.Context) (int64, error)
}

// KafkaLag measures a consumer group's lag with sarama's ClusterAdmin: for every partition of
// the topics, the newest offset minus the group's committed offset.
type KafkaLag struct {
	client sarama.Client
	admin  sarama.ClusterAdmin
	group  string
	topics []string
}

var _ LagReader = (*KafkaLag)(nil)

// NewKafkaLag connects to the brokers. Close it after use.
func NewKafkaLag(kc kafkaconfig.Config, group string, topics []string) (*KafkaLag, error) {
	if group == "" || len(topics) == 0 {
		return nil, errors.New("kafka lag: group and topics are required")
	}
	cfg, err := kc.Sarama()
	if err != nil {
		return nil, fmt.Errorf("kafka lag: %w", err)
	}
	cfg.ClientID = "ordertable-reindex"
	c, err := sarama.NewClient(kc.Brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("kafka lag: connect %v: %w", kc.Brokers, err)
	}
	admin, err := sarama.NewClusterAdminFromClient(c)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("kafka lag: admin: %w", err)
	}
	return &KafkaLag{client: c, admin: admin, group: group, topics: topics}, nil
}

// Lag returns the total lag of the group over its topics. A partition the group never
// committed counts from the oldest retained offset.
func (k *KafkaLag) Lag(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := k.client.RefreshMetadata(k.topics...); err != nil {
		return 0, fmt.Errorf("kafka lag: metadata: %w", err)
	}
	parts := map[string][]int32{}
	for _, t := range k.topics {
		ps, err := k.client.Partitions(t)
		if err != nil {
			return 0, fmt.Errorf("kafka lag: partitions of %s: %w", t, err)
		}
		parts[t] = ps
	}
	// A group that never committed: Kafka answers offsets -1, some brokers (the embedded one)
	// GROUP_ID_NOT_FOUND; either way every partition counts from its oldest offset.
	res, err := k.admin.ListConsumerGroupOffsets(k.group, parts)
	notFound := errors.Is(err, sarama.ErrGroupIDNotFound) || (res != nil && res.Err == sarama.ErrGroupIDNotFound)
	if err != nil && !notFound {
		return 0, fmt.Errorf("kafka lag: offsets of group %s: %w", k.group, err)
	}
	if res == nil {
		res = &sarama.OffsetFetchResponse{}
	}
	if res.Err != sarama.ErrNoError && !notFound {
		return 0, fmt.Errorf("kafka lag: offsets of group %s: %w", k.group, res.Err)
	}
	neverCommitted := false
	if notFound {
		// Not found must mean "never existed": a coordinator that answers it for a live group
		// (while it restarts or reloads its groups) would otherwise make the lag jump to the
		// whole topic and hold the reindex's catch-up wait until it times out.
		exists, err := k.groupExists()
		if err != nil {
			return 0, fmt.Errorf("kafka lag: describe group %s: %w", k.group, err)
		}
		if exists {
			return 0, fmt.Errorf("kafka lag: offsets of group %s: %w (the group exists: its coordinator is not ready yet)", k.group, sarama.ErrGroupIDNotFound)
		}
		neverCommitted = true
	}
	var total int64
	for t, ps := range parts {
		for _, p := range ps {
			newest, err := k.client.GetOffset(t, p, sarama.OffsetNewest)
			if err != nil {
				return 0, fmt.Errorf("kafka lag: newest offset %s/%d: %w", t, p, err)
			}
			committed := int64(-1)
			if b := res.GetBlock(t, p); b != nil && !neverCommitted {
				if b.Err != sarama.ErrNoError && b.Err != sarama.ErrGroupIDNotFound {
					return 0, fmt.Errorf("kafka lag: committed offset %s/%d: %w", t, p, b.Err)
				}
				if b.Err == sarama.ErrNoError {
					committed = b.Offset
				}
			}
			if committed < 0 {
				if committed, err = k.client.GetOffset(t, p, sarama.OffsetOldest); err != nil {
					return 0, fmt.Errorf("kafka lag: oldest offset %s/%d: %w", t, p, err)
				}
			}
			if newest > committed {
				total += newest - committed
			}
		}
	}
	return total, nil
}

// groupExists asks the coordinator to describe the group: a group that has members or
// committed offsets is in a state other than Dead.
func (k *KafkaLag) groupExists() (bool, error) {
	ds, err := k.admin.DescribeConsumerGroups([]string{k.group})
	if err != nil {
		return false, err
	}
	for _, d := range ds {
		if d.GroupId != k.group {
			continue
		}
		switch {
		case d.Err == sarama.ErrGroupIDNotFound:
			return false, nil
		case d.Err != sarama.ErrNoError:
			return false, d.Err
		}
		return d.State != "" && d.State != "Dead", nil
	}
	return false, nil
}

// Close releases the connections.
func (k *KafkaLag) Close() error { return k.admin.Close() }
