// Package indexer keeps the orders table in Elasticsearch: it consumes the customers and orders
// topics with a Kafka consumer group and maintains one document per live order, joined with its
// customer, in every index behind the write-target alias. See README.md for the protocol and
// why it converges whatever the order, duplication and interleaving of events.
package indexer
