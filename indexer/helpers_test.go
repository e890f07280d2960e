package indexer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/mappings"
)

// stack is an engine and a broker for one test. The tests rely on the contract's alias and
// topic names, so they need an engine and a broker of their own: the embedded ones unless
// ES_URL / KAFKA_BROKERS point to dedicated ones.
type stack struct {
	esURL   string
	es      *esindex.Client
	brokers []string
	group   string
	prod    sarama.SyncProducer
}

func newStack(t testing.TB) *stack {
	t.Helper()
	s := &stack{esURL: testenv.ESURL(t), brokers: testenv.KafkaBrokers(t), group: testenv.UniqueName("indexer")}
	s.es = newESClient(t, s.esURL)
	pc, err := kafkaconfig.Config{Brokers: s.brokers}.Producer()
	if err != nil {
		t.Fatal(err)
	}
	s.prod, err = sarama.NewSyncProducer(s.brokers, pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.prod.Close() })
	return s
}

func newESClient(t testing.TB, url string) *esindex.Client {
	t.Helper()
	c, err := esindex.NewClient(esindex.Config{URLs: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("INDEXER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// running is an indexer instance started by a test.
type running struct {
	ix     *Indexer
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// stop cancels the instance and waits for Run to return.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("indexer Run: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("indexer did not stop within 60 s")
		}
	})
}

func (s *stack) config(name string, t testing.TB) Config {
	return Config{
		Kafka:         kafkaconfig.Config{Brokers: s.brokers},
		Group:         s.group,
		ESClient:      s.es,
		BulkSize:      200,
		FlushInterval: 20 * time.Millisecond,
		FanoutChunk:   50,
		Backoff:       esindex.Backoff{Base: 20 * time.Millisecond, Max: 500 * time.Millisecond},
		InstanceID:    name,
		Logger:        testLogger(t),
	}
}

func (s *stack) start(t testing.TB, cfg Config) *running {
	t.Helper()
	ix, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s.run(t, ix)
}

// run runs an instance built by New (tests that set hooks on it first).
func (s *stack) run(t testing.TB, ix *Indexer) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{ix: ix, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- ix.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (s *stack) produce(t testing.TB, evs ...events.Event) {
	t.Helper()
	msgs := make([]*sarama.ProducerMessage, len(evs))
	for i, e := range evs {
		b, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = &sarama.ProducerMessage{Topic: e.Type.Topic(), Key: sarama.StringEncoder(e.EntityID), Value: sarama.ByteEncoder(b)}
	}
	if err := s.prod.SendMessages(msgs); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) produceRaw(t testing.TB, topic, key string, value []byte) {
	t.Helper()
	if _, _, err := s.prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(value)}); err != nil {
		t.Fatal(err)
	}
}

// docs returns every document of index by id (refreshing first).
func docs(ctx context.Context, c *esindex.Client, index string) (map[string]map[string]any, error) {
	if err := c.Refresh(ctx, index); err != nil {
		return nil, err
	}
	out := map[string]map[string]any{}
	var after []any
	for {
		q := map[string]any{"size": 1000, "sort": []any{map[string]any{"order_id": "asc"}}, "query": map[string]any{"match_all": map[string]any{}}}
		if after != nil {
			q["search_after"] = after
		}
		body, _ := json.Marshal(q)
		_, data, err := c.Do(ctx, http.MethodPost, "/"+index+"/_search", body)
		if err != nil {
			return nil, err
		}
		var res struct {
			Hits struct {
				Hits []struct {
					ID     string         `json:"_id"`
					Source map[string]any `json:"_source"`
					Sort   []any          `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(data, &res); err != nil {
			return nil, err
		}
		for _, h := range res.Hits.Hits {
			out[h.ID] = h.Source
		}
		if len(res.Hits.Hits) < 1000 {
			return out, nil
		}
		after = res.Hits.Hits[len(res.Hits.Hits)-1].Sort
	}
}

// eventually polls check until it returns nil or the timeout passes, then fails with its last
// error.
func eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reached within %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Event builders.

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func custEvent(typ events.Type, id string, v int64, name, country string) events.Event {
	c := events.Customer{ID: id, Name: name, Email: id + "@example.com", Country: country, CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(v) * time.Second), Version: v}
	return events.Event{ID: fmt.Sprintf("ev-%s-%d", id, v), Type: typ, Time: time.Now().UTC(), EntityID: id, Version: v, Customer: &c}
}

func orderEvent(typ events.Type, id string, v int64, customer, total string) events.Event {
	placed := t0.Add(time.Hour)
	o := events.Order{ID: id, OrderNumber: "PO-" + id, CustomerID: customer, Status: "placed", Total: total, Currency: "EUR",
		PlacedAt: &placed, CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(v) * time.Second), Version: v}
	return events.Event{ID: fmt.Sprintf("ev-%s-%d", id, v), Type: typ, Time: time.Now().UTC(), EntityID: id, Version: v, Order: &o}
}

// dlqMessage is one record of the dead letter topic.
type dlqMessage struct {
	key, value string
	headers    map[string]string
}

// readDLQ returns every record of the DLQ topic so far, by key.
func readDLQ(t testing.TB, brokers []string) []dlqMessage {
	t.Helper()
	var out []dlqMessage
	for _, m := range readTopic(t, brokers, events.TopicDLQ) {
		h := map[string]string{}
		for _, rh := range m.Headers {
			h[string(rh.Key)] = string(rh.Value)
		}
		out = append(out, dlqMessage{key: string(m.Key), value: string(m.Value), headers: h})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// testClient is a plain client of the brokers, closed when the test ends.
func testClient(t testing.TB, brokers []string) sarama.Client {
	t.Helper()
	cfg, err := kafkaconfig.Config{Brokers: brokers}.Sarama()
	if err != nil {
		t.Fatal(err)
	}
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// readTopic returns every record of topic up to its current end.
func readTopic(t testing.TB, brokers []string, topic string) []*sarama.ConsumerMessage {
	t.Helper()
	client := testClient(t, brokers)
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []*sarama.ConsumerMessage
	for _, p := range parts {
		hw, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		if hw == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		for m := range pc.Messages() {
			out = append(out, m)
			if m.Offset >= hw-1 {
				break
			}
		}
		_ = pc.Close()
	}
	return out
}

func metricValue(t testing.TB, ix *Indexer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := ix.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

var errNotYet = errors.New("not yet")

func mustFirst(t testing.TB) *mappings.Mapping {
	t.Helper()
	m, err := mappings.First()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tap records every message of some topics as they are produced, so tests can deliver old
// ones again.
type tap struct {
	mu   sync.Mutex
	msgs []*sarama.ConsumerMessage
}

func startTap(t testing.TB, brokers []string, topics ...string) *tap {
	t.Helper()
	cfg, err := kafkaconfig.Config{Brokers: brokers}.Sarama()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Consumer.MaxWaitTime = 20 * time.Millisecond
	consumer, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{}
	var wg sync.WaitGroup
	var pcs []sarama.PartitionConsumer
	for _, topic := range topics {
		parts, err := consumer.Partitions(topic)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				for m := range pc.Messages() {
					tp.mu.Lock()
					tp.msgs = append(tp.msgs, m)
					tp.mu.Unlock()
				}
			})
			pcs = append(pcs, pc)
		}
	}
	t.Cleanup(func() {
		for _, pc := range pcs {
			pc.AsyncClose()
		}
		wg.Wait()
		_ = consumer.Close()
	})
	return tp
}

func (tp *tap) snapshot() []*sarama.ConsumerMessage {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return slices.Clone(tp.msgs)
}
