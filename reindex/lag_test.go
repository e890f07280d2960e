package reindex

import (
	"context"
	"errors"
	"testing"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/kafkaembed"
	"github.com/ordertable/ordertable/internal/testenv"
)

// TestLagOfGroupThatNeverCommitted: a consumer group that has not committed yet (the indexer
// never ran: a bootstrap reindex) lags by every retained message of its topics, not an error.
func TestLagOfGroupThatNeverCommitted(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	topic := testenv.UniqueName("lagtopic")
	const n = 7
	produce(t, brokers, topic, n)
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

// TestLagOfGroupTheCoordinatorDoesNotFind: a coordinator that answers GROUP_ID_NOT_FOUND for a
// group that exists (as one does while it restarts and reloads its groups) must give an error
// the catch-up wait retries, not the lag of a group that never committed (the whole topic).
func TestLagOfGroupTheCoordinatorDoesNotFind(t *testing.T) {
	b, err := kafkaembed.Start(kafkaembed.Config{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	brokers := []string{b.Addr()}
	topic := testenv.UniqueName("lagtopic")
	const n, committed = 9, 4
	client := produce(t, brokers, topic, n)
	group := testenv.UniqueName("live")
	// A commit outside any generation (a simple consumer) creates the group with its offset.
	coord, err := client.Coordinator(group)
	if err != nil {
		t.Fatal(err)
	}
	req := &sarama.OffsetCommitRequest{Version: 2, ConsumerGroup: group, ConsumerGroupGeneration: -1, RetentionTime: -1}
	req.AddBlock(topic, 0, committed, 0, "")
	cresp, err := coord.CommitOffset(req)
	if err != nil {
		t.Fatal(err)
	}
	if e := cresp.Errors[topic][0]; e != sarama.ErrNoError {
		t.Fatalf("commit: %v", e)
	}

	lag, err := NewKafkaLag(kafkaconfig.Config{Brokers: brokers}, group, []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	defer lag.Close()
	ctx := context.Background()
	if got, err := lag.Lag(ctx); err != nil || got != n-committed {
		t.Fatalf("lag of a group that committed %d of %d: got %d, %v; want %d", committed, n, got, err, n-committed)
	}

	b.Cluster().ControlKey(kmsg.OffsetFetch.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.Cluster().KeepControl()
		resp := req.(*kmsg.OffsetFetchRequest).ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		for _, g := range req.(*kmsg.OffsetFetchRequest).Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group = g.Group
			rg.ErrorCode = kerr.GroupIDNotFound.Code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp, nil, true
	})
	got, err := lag.Lag(ctx)
	if err == nil {
		t.Fatalf("lag while the coordinator does not find a group that exists: got %d and no error, want an error", got)
	}
	if !errors.Is(err, sarama.ErrGroupIDNotFound) {
		t.Fatalf("lag while the coordinator does not find a group that exists: %v, want GROUP_ID_NOT_FOUND", err)
	}
	b.Cluster().DropControl()
}

// produce writes n records to topic and returns the producer's client (closed when the test
// ends).
func produce(t *testing.T, brokers []string, topic string, n int) sarama.Client {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	p, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() }) // before the client's: cleanups run last first
	for range n {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("v")}); err != nil {
			t.Fatal(err)
		}
	}
	return client
}
