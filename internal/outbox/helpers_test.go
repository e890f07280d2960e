package outbox_test

import (
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaembed"
)

func startBroker(addr, dir string) (*kafkaembed.Broker, error) {
	return kafkaembed.Start(kafkaembed.Config{Listen: addr, DataDir: dir,
		Topics: []string{events.TopicCustomers, events.TopicOrders, events.TopicDLQ}})
}
