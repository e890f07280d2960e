package indexer

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the indexer's Prometheus series.
type metrics struct {
	events      *prometheus.CounterVec   // topic, result: indexed|stale|dlq
	docs        *prometheus.CounterVec   // index, op: index|delete
	conflicts   *prometheus.CounterVec   // index
	retries     *prometheus.CounterVec   // reason
	dlq         *prometheus.CounterVec   // reason kind
	bulkLatency prometheus.Histogram     // seconds per _bulk request
	lag         *prometheus.GaugeVec     // topic, partition
	freshness   prometheus.Histogram     // event time -> write accepted
	fanout      *prometheus.CounterVec   // docs rewritten by customer fan-outs
	batches     *prometheus.HistogramVec // topic; events per batch
	fanoutTime  prometheus.Histogram     // seconds per customer batch fan-out
	// fanoutWait is how long fan-out chunks waited for batches to finish; fanoutChunks counts
	// the chunks by how they started (idle: no batch in flight; forced: after FanoutMaxWait).
	fanoutWait   prometheus.Histogram
	fanoutChunks *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordertable_indexer_events_total", Help: "Events processed, by topic and result (indexed, dlq).",
		}, []string{"topic", "result"}),
		docs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordertable_indexer_docs_written_total", Help: "Order documents written (applied), by index and operation.",
		}, []string{"index", "op"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordertable_indexer_version_conflicts_total", Help: "Writes answered 409 (a newer version was already stored; counted as success), by index.",
		}, []string{"index"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordertable_indexer_retries_total", Help: "Retried Elasticsearch or Kafka work, by reason.",
		}, []string{"reason"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordertable_indexer_dlq_total", Help: "Events sent to the dead letter topic, by reason kind.",
		}, []string{"kind"}),
		bulkLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ordertable_indexer_bulk_duration_seconds", Help: "Latency of one _bulk request.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ordertable_indexer_consumer_lag", Help: "Messages behind the partition's high watermark after the last processed batch.",
		}, []string{"topic", "partition"}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ordertable_indexer_freshness_seconds", Help: "Time from the event's commit at the source to its documents being accepted by Elasticsearch.",
			Buckets: []float64{.01, .025, .05, .1, .2, .3, .5, .75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300},
		}),
		fanout: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordertable_indexer_fanout_docs_total", Help: "Order documents rewritten because their customer changed, by index.",
		}, []string{"index"}),
		batches: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ordertable_indexer_batch_events", Help: "Events per processed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}, []string{"topic"}),
		fanoutTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ordertable_indexer_fanout_duration_seconds", Help: "Time to rewrite the orders of one batch of changed customers.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		fanoutWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ordertable_indexer_fanout_wait_seconds", Help: "Time a fan-out chunk waited for the batches in flight to finish (at most the fan-out max wait).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 12),
		}),
		fanoutChunks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordertable_indexer_fanout_chunks_total", Help: "Fan-out chunks written, by how they started: idle (no batch in flight) or forced (the max wait ran out).",
		}, []string{"start"}),
	}
	reg.MustRegister(m.events, m.docs, m.conflicts, m.retries, m.dlq, m.bulkLatency, m.lag,
		m.freshness, m.fanout, m.batches, m.fanoutTime, m.fanoutWait, m.fanoutChunks)
	return m
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func partitionLabel(p int32) string { return strconv.FormatInt(int64(p), 10) }
