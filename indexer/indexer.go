package indexer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/httpserver"
	"github.com/ordertable/ordertable/mappings"
)

// Indexer is one instance of the indexer. Create it with New and start it with Run.
type Indexer struct {
	cfg          Config
	log          *slog.Logger
	es           *esindex.Client
	writer       *esindex.BulkWriter
	state        *stateStore
	reg          *prometheus.Registry
	m            *metrics
	sched        *scheduler
	warned       sync.Map // index -> warned about unknown fields
	recheckAfter time.Duration
	dlq          *deadLetters
	orders       *combiner // order batches of all partitions (customers go partition by partition)

	joined  atomic.Bool // a consumer-group session is active
	running atomic.Bool
}

// New validates the configuration and builds an instance. It does not contact Kafka or
// Elasticsearch; Run does.
func New(cfg Config) (*Indexer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("indexer: %w", err)
	}
	if cfg.InstanceID == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		cfg.InstanceID = hex.EncodeToString(b)
	}
	es := cfg.ESClient
	if es == nil {
		var err error
		if es, err = esindex.NewClient(cfg.ES); err != nil {
			return nil, fmt.Errorf("indexer: %w", err)
		}
	}
	reg := cfg.Registry
	if reg == nil {
		reg = newRegistry()
	}
	ix := &Indexer{
		cfg:          cfg,
		log:          cfg.Logger.With("component", "indexer", "instance", cfg.InstanceID),
		es:           es,
		state:        newStateStore(es, cfg.StatePrefix),
		reg:          reg,
		m:            newMetrics(reg),
		sched:        newScheduler(cfg.Workers, cfg.FanoutWorkers, cfg.FanoutMaxWait),
		recheckAfter: recheckAfter,
	}
	ix.writer = es.NewBulkWriter(esindex.BulkOptions{
		Backoff: cfg.Backoff,
		OnRequest: func(d time.Duration, _ int, _ error) {
			ix.m.bulkLatency.Observe(d.Seconds())
		},
		OnRetry: func(reason string, n int) { ix.m.retries.WithLabelValues(reason).Add(float64(n)) },
	})
	return ix, nil
}

// Registry is the registry holding the instance's metrics.
func (ix *Indexer) Registry() *prometheus.Registry { return ix.reg }

// Ready reports whether the instance is doing useful work: Elasticsearch answers and the
// instance is a member of its consumer group.
func (ix *Indexer) Ready(ctx context.Context) error {
	if !ix.running.Load() {
		return errors.New("not running")
	}
	if err := ix.es.Ping(ctx); err != nil {
		return fmt.Errorf("elasticsearch: %w", err)
	}
	if !ix.joined.Load() {
		return errors.New("not a member of the consumer group yet")
	}
	return nil
}

// retry runs op until it succeeds or ctx ends, logging and counting failures. Elasticsearch
// being down, a refused request or a broken batch never loses work: the batch is retried and
// its offsets stay uncommitted meanwhile.
func (ix *Indexer) retry(ctx context.Context, what string, op func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		lvl := slog.LevelWarn
		if attempt > 5 {
			lvl = slog.LevelError
		}
		ix.log.Log(ctx, lvl, what+" failed; retrying", "attempt", attempt, "err", err)
		ix.m.retries.WithLabelValues(what).Inc()
		t := time.NewTimer(ix.cfg.Backoff.Delay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Run consumes until ctx ends, then leaves the group (committing the offsets of finished
// batches) and returns nil. It first makes sure the table and the state indices exist (waiting
// for Elasticsearch if it is down), and serves Config.Listen when set.
func (ix *Indexer) Run(ctx context.Context) error {
	ix.running.Store(true)
	defer ix.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	serveErr := make(chan error, 1)
	if ix.cfg.Listen != "" {
		srv := httpserver.New(httpserver.Config{Name: "indexer", Logger: ix.log, Ready: ix.Ready, Registry: ix.reg})
		wg.Go(func() {
			if err := srv.ListenAndServe(ctx, ix.cfg.Listen); err != nil {
				serveErr <- err
				cancel()
			}
		})
	}
	err := ix.retry(ctx, "setup", func(ctx context.Context) error {
		if !ix.cfg.NoBootstrap {
			m, err := mappings.First()
			if err != nil {
				return err
			}
			changed, err := ix.es.Bootstrap(ctx, m)
			if err != nil {
				return err
			}
			if changed {
				ix.log.Info("bootstrapped the orders table", "index", m.Index, "aliases", []string{esindex.AliasRead, esindex.AliasTargets})
			}
		}
		return ix.state.ensure(ctx)
	})
	if err != nil {
		return ix.exitErr(ctx, serveErr, err)
	}

	sc, err := consumerConfig(ix.cfg)
	if err != nil {
		return fmt.Errorf("indexer: %w", err)
	}

	pc, err := ix.cfg.Kafka.Producer()
	if err != nil {
		return fmt.Errorf("indexer: %w", err)
	}
	pc.ClientID = sc.ClientID + "-dlq"
	var producer sarama.SyncProducer
	err = ix.retry(ctx, "kafka_connect", func(context.Context) error {
		p, err := sarama.NewSyncProducer(ix.cfg.Kafka.Brokers, pc)
		producer = p
		return err
	})
	if err != nil {
		return ix.exitErr(ctx, serveErr, err)
	}
	defer producer.Close()
	dlq := &deadLetters{producer: producer, instance: ix.cfg.InstanceID}
	ix.dlq = dlq

	var group sarama.ConsumerGroup
	err = ix.retry(ctx, "kafka_connect", func(context.Context) error {
		g, err := sarama.NewConsumerGroup(ix.cfg.Kafka.Brokers, ix.cfg.Group, sc)
		group = g
		return err
	})
	if err != nil {
		return ix.exitErr(ctx, serveErr, err)
	}
	wg.Go(func() {
		for err := range group.Errors() {
			ix.log.Warn("consumer group error", "err", err)
		}
	})
	ix.log.Info("indexer started", "group", ix.cfg.Group, "brokers", strings.Join(ix.cfg.Kafka.Brokers, ","),
		"bulk_size", ix.cfg.BulkSize, "flush_interval", ix.cfg.FlushInterval, "workers", ix.cfg.Workers)
	ix.orders = &combiner{
		ctx: ctx,
		process: func(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
			return ix.process(ctx, events.TopicOrders, msgs)
		},
		maxRuns:   ix.cfg.Workers,
		maxEvents: 4 * ix.cfg.BulkSize,
	}
	h := &handler{ix: ix}
	topics := []string{events.TopicCustomers, events.TopicOrders}
	for attempt := 1; ctx.Err() == nil; {
		err := group.Consume(ctx, topics, h)
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, sarama.ErrClosedConsumerGroup):
			cancel()
		case err != nil:
			ix.log.Warn("consumer group session failed; rejoining", "err", err, "attempt", attempt)
			ix.m.retries.WithLabelValues("kafka_session").Inc()
			select {
			case <-ctx.Done():
			case <-time.After(ix.cfg.Backoff.Delay(attempt)):
			}
			attempt++
		default:
			attempt = 1
		}
	}
	if err := group.Close(); err != nil {
		ix.log.Warn("closing consumer group", "err", err)
	}
	ix.log.Info("indexer stopped")
	return ix.exitErr(ctx, serveErr, nil)
}

// joinReadMargin is how much longer than the rebalance timeout the consumer waits for the answer
// to a JoinGroup.
const joinReadMargin = 10 * time.Second

// consumerConfig is the sarama configuration of the instance's consumer-group member.
func consumerConfig(cfg Config) (*sarama.Config, error) {
	sc, err := cfg.Kafka.Sarama()
	if err != nil {
		return nil, err
	}
	sc.ClientID = "ordertable-indexer-" + cfg.InstanceID
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Consumer.Offsets.AutoCommit.Enable = true
	sc.Consumer.Offsets.AutoCommit.Interval = time.Second
	sc.Consumer.Return.Errors = true
	sc.Consumer.MaxWaitTime = 50 * time.Millisecond
	sc.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRoundRobin()}
	sc.Consumer.Group.Session.Timeout = 10 * time.Second
	sc.Consumer.Group.Heartbeat.Interval = time.Second
	// A JoinGroup is answered when every member has rejoined or, at the latest, when the
	// rebalance timeout runs out; sarama waits for it no longer than Net.ReadTimeout. With the
	// two equal (both were 30s) a join that waited the full rebalance timeout was given up just
	// as the answer came, the member rejoined, and its rejoin started the next full-length
	// rebalance: a group that kept rebalancing for minutes. The read timeout outlasts the
	// rebalance timeout by a margin, as the Java client's join timeout does
	// (TestGroupJoinOutlastsRebalanceTimeout).
	sc.Consumer.Group.Rebalance.Timeout = 20 * time.Second
	sc.Net.ReadTimeout = sc.Consumer.Group.Rebalance.Timeout + joinReadMargin
	sc.ChannelBufferSize = max(256, cfg.BulkSize)
	return sc, nil
}

func (ix *Indexer) exitErr(ctx context.Context, serveErr chan error, err error) error {
	select {
	case e := <-serveErr:
		return fmt.Errorf("indexer: metrics server: %w", e)
	default:
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("indexer: %w", err)
	}
	return nil
}

// handler is the sarama consumer-group handler: one ConsumeClaim goroutine per partition, so
// partitions progress independently (a customer fan-out holds back only its own partition);
// order batches of several partitions are merged when they queue up (see combiner).
type handler struct{ ix *Indexer }

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	h.ix.joined.Store(true)
	h.ix.log.Info("partitions assigned", "generation", s.GenerationID(), "claims", fmt.Sprint(s.Claims()))
	return nil
}

func (h *handler) Cleanup(sarama.ConsumerGroupSession) error {
	h.ix.joined.Store(false)
	return nil
}

func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ix := h.ix
	ctx := sess.Context()
	topic, part := claim.Topic(), partitionLabel(claim.Partition())
	lag := ix.m.lag.WithLabelValues(topic, part)
	defer ix.m.lag.DeleteLabelValues(topic, part)
	if hw := claim.HighWaterMarkOffset(); hw > 0 {
		lag.Set(float64(hw - claim.InitialOffset()))
	}
	msgs := claim.Messages()
	for {
		batch, open := collect(ctx, msgs, ix.cfg.BulkSize, ix.cfg.FlushInterval)
		if len(batch) > 0 {
			err := ix.retry(ctx, "batch", func(ctx context.Context) error {
				if topic == events.TopicOrders {
					return ix.orders.submit(ctx, batch)
				}
				// Customer batches stay per partition: a long fan-out then holds back only the
				// partition it belongs to.
				return ix.process(ctx, topic, batch)
			})
			if err != nil {
				// The session ended (rebalance or shutdown): the batch's offsets stay
				// uncommitted and the partition's next owner processes it again.
				return nil
			}
			last := batch[len(batch)-1]
			sess.MarkMessage(last, "")
			lag.Set(float64(max(0, claim.HighWaterMarkOffset()-last.Offset-1)))
		}
		if !open {
			return nil
		}
	}
}

// collect waits for a first message, then gathers more until the batch is full or the flush
// interval since the first one has passed. open is false once msgs is closed or ctx ended.
func collect(ctx context.Context, msgs <-chan *sarama.ConsumerMessage, size int, flush time.Duration) (batch []*sarama.ConsumerMessage, open bool) {
	select {
	case <-ctx.Done():
		return nil, false
	case m, ok := <-msgs:
		if !ok {
			return nil, false
		}
		batch = append(batch, m)
	}
	timer := time.NewTimer(flush)
	defer timer.Stop()
	for len(batch) < size {
		select {
		case <-ctx.Done():
			return batch, false
		case m, ok := <-msgs:
			if !ok {
				return batch, false
			}
			batch = append(batch, m)
		case <-timer.C:
			return batch, true
		}
	}
	return batch, true
}

// deadLetters sends unprocessable events to events.TopicDLQ.
type deadLetters struct {
	producer sarama.SyncProducer
	instance string
}

// DLQ headers. The value and key are the original message's.
const (
	HeaderReason    = "dlq.reason"
	HeaderKind      = "dlq.kind"
	HeaderTopic     = "dlq.topic"
	HeaderPartition = "dlq.partition"
	HeaderOffset    = "dlq.offset"
	HeaderInstance  = "dlq.instance"
	HeaderTime      = "dlq.time"
)

func (ix *Indexer) sendDeadLetters(ctx context.Context, items []*item) error {
	var out []*sarama.ProducerMessage
	for _, it := range items {
		if len(it.dlq) == 0 {
			continue
		}
		m := it.msg
		reason := strings.Join(it.dlq, "; ")
		ix.log.Warn("event sent to the dead letter topic", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "kind", it.kind, "reason", reason)
		ix.m.dlq.WithLabelValues(it.kind).Inc()
		hdr := func(k, v string) sarama.RecordHeader { return sarama.RecordHeader{Key: []byte(k), Value: []byte(v)} }
		out = append(out, &sarama.ProducerMessage{
			Topic: events.TopicDLQ,
			Key:   sarama.ByteEncoder(m.Key),
			Value: sarama.ByteEncoder(m.Value),
			Headers: []sarama.RecordHeader{
				hdr(HeaderReason, reason), hdr(HeaderKind, it.kind), hdr(HeaderTopic, m.Topic),
				hdr(HeaderPartition, strconv.Itoa(int(m.Partition))), hdr(HeaderOffset, strconv.FormatInt(m.Offset, 10)),
				hdr(HeaderInstance, ix.dlq.instance), hdr(HeaderTime, time.Now().UTC().Format(time.RFC3339Nano)),
			},
		})
	}
	if len(out) == 0 {
		return nil
	}
	if err := ix.dlq.producer.SendMessages(out); err != nil {
		return fmt.Errorf("send %d dead letters: %w", len(out), err)
	}
	return nil
}
