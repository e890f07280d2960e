package indexer

import (
	"testing"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
)

// TestConsumerReadTimeoutOutlastsRebalance: a JoinGroup answer may take the whole rebalance
// timeout, so the read timeout must be longer, or every join that waits for a dead member is
// abandoned just as it completes and the group keeps rebalancing.
func TestConsumerReadTimeoutOutlastsRebalance(t *testing.T) {
	es, err := esindex.NewClient(esindex.Config{URLs: []string{"http://127.0.0.1:9"}})
	if err != nil {
		t.Fatal(err)
	}
	ix, err := New(Config{Kafka: kafkaconfig.Config{Brokers: []string{"127.0.0.1:9"}}, Group: "g", ESClient: es})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ix.consumerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if rt, rb := sc.Net.ReadTimeout, sc.Consumer.Group.Rebalance.Timeout; rt <= rb {
		t.Fatalf("read timeout %s, rebalance timeout %s: want the read timeout longer", rt, rb)
	}
}
