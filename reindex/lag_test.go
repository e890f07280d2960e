package reindex

import (
	"context"
	"testing"

	"github.com/IBM/sarama"

	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/testenv"
)

// TestLagOfGroupThatNeverCommitted: a consumer group that has not committed yet (the indexer
// never ran: a bootstrap reindex) lags by every retained message of its topics, not an error.
func TestLagOfGroupThatNeverCommitted(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	topic := testenv.UniqueName("lagtopic")
	cfg := sarama.NewConfig()
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 7
	for i := 0; i < n; i++ {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("v")}); err != nil {
			t.Fatal(err)
		}
	}
	lag, err := NewKafkaLag(kafkaconfig.Config{Brokers: brokers}, testenv.UniqueName("never"), []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	defer lag.Close()
	got, err := lag.Lag(context.Background())
	if err != nil {
		t.Fatalf("lag of a group that never committed: %v", err)
	}
	if got != n {
		t.Fatalf("lag: got %d, want %d", got, n)
	}
}
