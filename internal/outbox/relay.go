package outbox

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordertable/ordertable/internal/kafkaconfig"
)

// Config configures a relay.
type Config struct {
	// Name identifies the publishing service (e.g. "customers"). It labels metrics and logs
	// and derives the advisory-lock key, so exactly one relay per Name publishes at a time.
	Name string
	// DatabaseURL is the service database holding the outbox table. The relay keeps one
	// dedicated session on it: the advisory lock, LISTEN and the publish queries share it, so
	// losing the session loses the lock and stops publishing at the same moment.
	DatabaseURL string
	// Kafka says how to reach the brokers.
	Kafka kafkaconfig.Config
	// Topics are created at start (when missing) with Partitions partitions, compacted.
	Topics []string
	// Partitions of created topics. Default 6.
	Partitions int32
	// ReplicationFactor of created topics. Default -1 (the broker's default).
	ReplicationFactor int16
	// BatchSize bounds the rows read and published per round trip. Default 500.
	BatchSize int
	// PollInterval is the fallback poll when no notification arrives. Default 1s.
	PollInterval time.Duration
	// LockRetryInterval is how often a standby relay tries to take over. Default 1s.
	LockRetryInterval time.Duration
	// MaxBackoff caps the wait between retries after Kafka or database errors. Default 5s.
	MaxBackoff time.Duration
	// Logger receives state changes and errors; nil discards.
	Logger *slog.Logger
	// Registerer receives the relay metrics; nil skips registration.
	Registerer prometheus.Registerer
	// ObserveLag, when set, is called with each event's commit-to-acknowledgement lag
	// (benchmarks use it for exact percentiles; the histogram metric is always kept).
	ObserveLag func(time.Duration)
}

func (c *Config) setDefaults() {
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.LockRetryInterval == 0 {
		c.LockRetryInterval = time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("outbox relay: name is empty"))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("outbox relay: database URL is empty"))
	}
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("outbox relay: %w", err))
	}
	if c.BatchSize < 0 || c.Partitions < 0 {
		errs = append(errs, errors.New("outbox relay: batch size and partitions must be positive"))
	}
	return errors.Join(errs...)
}

// Relay publishes outbox rows to Kafka. Run it in every service replica: one holds the lock
// and publishes, the others wait to take over.
type Relay struct {
	cfg     Config
	log     *slog.Logger
	lockKey int64
	leader  atomic.Bool

	producer sarama.SyncProducer

	mPublished prometheus.Counter
	mErrors    *prometheus.CounterVec
	mLag       prometheus.Histogram
	mLeader    prometheus.Gauge
	mBatch     prometheus.Histogram
	mOldest    prometheus.Gauge
}

// NewRelay validates cfg and registers the relay's metrics. It does not connect; Run does.
func NewRelay(cfg Config) (*Relay, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write([]byte("ordertable.outbox." + cfg.Name))
	labels := prometheus.Labels{"service": cfg.Name}
	r := &Relay{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "outbox-relay", "service", cfg.Name),
		lockKey: int64(h.Sum64() & math.MaxInt64),
		mPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ordertable_outbox_published_total", Help: "Outbox events acknowledged by Kafka.", ConstLabels: labels}),
		mErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordertable_outbox_errors_total", Help: "Relay errors by kind (kafka, database).", ConstLabels: labels}, []string{"kind"}),
		mLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ordertable_outbox_lag_seconds", Help: "Time from an outbox row's commit to Kafka's acknowledgement.",
			ConstLabels: labels, Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .2, .5, 1, 2.5, 5, 10, 30, 60}}),
		mLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ordertable_outbox_leader", Help: "1 while this replica holds the relay lock and publishes.", ConstLabels: labels}),
		mOldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ordertable_outbox_oldest_age_seconds", Help: "Age of the oldest unpublished outbox row (0 when empty); alert when it grows.", ConstLabels: labels}),
		mBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ordertable_outbox_batch_size", Help: "Rows published per batch.", ConstLabels: labels,
			Buckets: prometheus.ExponentialBuckets(1, 4, 7)}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{r.mPublished, r.mErrors, r.mLag, r.mLeader, r.mBatch, r.mOldest} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("outbox relay: register metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Leader reports whether this relay currently holds the publishing lock.
func (r *Relay) Leader() bool { return r.leader.Load() }

// ApplicationName is the PostgreSQL application_name of the relay session of a service.
func ApplicationName(service string) string { return "ordertable-outbox-relay-" + service }

// errKafka marks failures on the Kafka side, which keep the database session (and the lock).
type errKafka struct{ err error }

func (e errKafka) Error() string { return "kafka: " + e.err.Error() }
func (e errKafka) Unwrap() error { return e.err }

// Run publishes until ctx is cancelled, surviving database and Kafka outages. It returns nil
// after cancellation.
func (r *Relay) Run(ctx context.Context) error {
	defer r.closeProducer()
	backoff := newBackoff(100*time.Millisecond, r.cfg.MaxBackoff)
	for ctx.Err() == nil {
		led, err := r.session(ctx)
		if ctx.Err() != nil {
			break
		}
		if led { // a session that worked for a while starts the backoff afresh
			backoff.reset()
		}
		r.mErrors.WithLabelValues("database").Inc()
		d := backoff.next()
		r.log.Warn("outbox relay: database session ended; reconnecting", "err", err, "retry_in", d)
		sleep(ctx, d)
	}
	return nil
}

// session holds one database connection: it takes the lock, then publishes until the
// connection fails or ctx ends. led reports whether it got the lock.
func (r *Relay) session(ctx context.Context) (led bool, err error) {
	pcfg, err := pgx.ParseConfig(r.cfg.DatabaseURL)
	if err != nil {
		return false, fmt.Errorf("database url: %w", err)
	}
	// Named so operators can see (and tests can find) the session holding the relay lock.
	pcfg.RuntimeParams["application_name"] = ApplicationName(r.cfg.Name)
	conn, err := pgx.ConnectConfig(ctx, pcfg)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = conn.Close(cctx) // closing the session releases the advisory lock
	}()
	waiting := false
	for {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, r.lockKey).Scan(&got); err != nil {
			return false, fmt.Errorf("try advisory lock: %w", err)
		}
		if got {
			break
		}
		if !waiting {
			r.log.Info("outbox relay: another replica publishes; standing by")
			waiting = true
		}
		if !sleep(ctx, r.cfg.LockRetryInterval) {
			return false, ctx.Err()
		}
	}
	r.leader.Store(true)
	r.mLeader.Set(1)
	defer func() { r.leader.Store(false); r.mLeader.Set(0) }()
	r.log.Info("outbox relay: publishing")
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return true, fmt.Errorf("listen: %w", err)
	}
	kafkaBackoff := newBackoff(100*time.Millisecond, r.cfg.MaxBackoff)
	for {
		// Connect to Kafka (creating the topics) as soon as publishing starts, not only when
		// the first event waits, so a misconfigured or unreachable broker shows up at once.
		var err error
		if _, perr := r.getProducer(ctx); perr != nil {
			err = errKafka{perr}
		} else {
			err = r.drain(ctx, conn)
		}
		var ke errKafka
		switch {
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.As(err, &ke):
			r.mErrors.WithLabelValues("kafka").Inc()
			r.sampleOldest(ctx, conn)
			r.closeProducer()
			d := kafkaBackoff.next()
			r.log.Warn("outbox relay: Kafka unavailable; events wait in the outbox", "err", err, "retry_in", d)
			if !sleep(ctx, d) {
				return true, ctx.Err()
			}
			continue
		case err != nil:
			return true, err
		}
		kafkaBackoff.reset()
		wctx, cancel := context.WithTimeout(ctx, r.cfg.PollInterval)
		_, err = conn.WaitForNotification(wctx)
		cancel()
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return true, fmt.Errorf("wait for notification: %w", err)
		}
		// Notifications that piled up while publishing are all answered by the next drain.
		r.discardNotifications(conn)
	}
}

// sampleOldest updates the oldest-row gauge while nothing can be published.
func (r *Relay) sampleOldest(ctx context.Context, conn *pgx.Conn) {
	var age float64
	err := conn.QueryRow(ctx, `SELECT coalesce((SELECT extract(epoch FROM clock_timestamp() - created_at)::float8
		FROM outbox ORDER BY id LIMIT 1), 0)`).Scan(&age)
	if err == nil {
		r.mOldest.Set(age)
	}
}

func (r *Relay) discardNotifications(conn *pgx.Conn) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		if n, _ := conn.WaitForNotification(done); n == nil {
			return
		}
	}
}

type row struct {
	id      int64
	topic   string
	key     string
	payload []byte
	age     float64 // seconds since commit when read
}

// drain publishes batches until the outbox is empty.
func (r *Relay) drain(ctx context.Context, conn *pgx.Conn) error {
	batch := make([]row, 0, r.cfg.BatchSize)
	for {
		batch = batch[:0]
		read := time.Now()
		rows, err := conn.Query(ctx, `SELECT id, topic, msg_key, payload,
				extract(epoch FROM clock_timestamp() - created_at)::float8
			FROM outbox ORDER BY id LIMIT $1`, r.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		for rows.Next() {
			var rw row
			if err := rows.Scan(&rw.id, &rw.topic, &rw.key, &rw.payload, &rw.age); err != nil {
				rows.Close()
				return fmt.Errorf("read outbox: %w", err)
			}
			batch = append(batch, rw)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		if len(batch) == 0 {
			r.mOldest.Set(0)
			return nil
		}
		r.mOldest.Set(batch[0].age)
		done, pubErr := r.publish(ctx, batch)
		acked := time.Since(read).Seconds() // lag is commit to acknowledgement
		if len(done) > 0 {
			// Kafka has these events: finish the bookkeeping even when shutting down, so a
			// clean stop does not re-send them.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_, err := conn.Exec(dctx, `DELETE FROM outbox WHERE id = ANY($1)`, done)
			cancel()
			if err != nil {
				// Kafka has these events; they are published again after reconnecting, which
				// at-least-once delivery allows.
				return fmt.Errorf("delete published rows: %w", err)
			}
			published := make(map[int64]bool, len(done))
			for _, id := range done {
				published[id] = true
			}
			for _, rw := range batch {
				if !published[rw.id] {
					continue
				}
				lag := rw.age + acked
				r.mLag.Observe(lag)
				if r.cfg.ObserveLag != nil {
					r.cfg.ObserveLag(time.Duration(lag * float64(time.Second)))
				}
			}
			r.mPublished.Add(float64(len(done)))
			r.mBatch.Observe(float64(len(done)))
		}
		if pubErr != nil {
			return pubErr
		}
		if len(batch) < r.cfg.BatchSize {
			return nil
		}
	}
}

// publish sends the batch and returns the ids that may be deleted: every acknowledged row
// except those following a failed row of the same key, so a retry never lets an older
// snapshot of an entity overtake a newer one.
func (r *Relay) publish(ctx context.Context, batch []row) ([]int64, error) {
	p, err := r.getProducer(ctx)
	if err != nil {
		return nil, errKafka{err}
	}
	msgs := make([]*sarama.ProducerMessage, len(batch))
	for i, rw := range batch {
		msgs[i] = &sarama.ProducerMessage{
			Topic:    rw.topic,
			Key:      sarama.StringEncoder(rw.key),
			Value:    sarama.ByteEncoder(rw.payload),
			Metadata: i,
		}
	}
	sendErr := p.SendMessages(msgs)
	failed := make(map[int]bool)
	if sendErr != nil {
		var perrs sarama.ProducerErrors
		if !errors.As(sendErr, &perrs) {
			return nil, errKafka{sendErr}
		}
		for _, pe := range perrs {
			if i, ok := pe.Msg.Metadata.(int); ok {
				failed[i] = true
			}
		}
	}
	done := make([]int64, 0, len(batch))
	blocked := make(map[string]bool)
	for i, rw := range batch {
		if failed[i] {
			blocked[rw.key] = true
			continue
		}
		if !blocked[rw.key] {
			done = append(done, rw.id)
		}
	}
	if sendErr != nil {
		return done, errKafka{fmt.Errorf("%d of %d events not acknowledged: %w", len(failed), len(batch), sendErr)}
	}
	return done, nil
}

// getProducer returns the producer, creating it (and the topics) on first use or after a
// failure closed it.
func (r *Relay) getProducer(ctx context.Context) (sarama.SyncProducer, error) {
	if r.producer != nil {
		return r.producer, nil
	}
	specs := make([]kafkaconfig.TopicSpec, len(r.cfg.Topics))
	for i, t := range r.cfg.Topics {
		specs[i] = kafkaconfig.TopicSpec{Name: t, Partitions: r.cfg.Partitions, ReplicationFactor: r.cfg.ReplicationFactor, Compact: true}
	}
	if err := kafkaconfig.EnsureTopics(ctx, r.cfg.Kafka, specs...); err != nil {
		return nil, err
	}
	sc, err := r.cfg.Kafka.Producer()
	if err != nil {
		return nil, err
	}
	sc.ClientID = "ordertable-outbox-" + r.cfg.Name
	p, err := sarama.NewSyncProducer(r.cfg.Kafka.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("connect producer to %v: %w", r.cfg.Kafka.Brokers, err)
	}
	r.producer = p
	r.log.Info("outbox relay: connected to Kafka", "brokers", r.cfg.Kafka.Brokers)
	return p, nil
}

func (r *Relay) closeProducer() {
	if r.producer != nil {
		if err := r.producer.Close(); err != nil {
			r.log.Debug("outbox relay: close producer", "err", err)
		}
		r.producer = nil
	}
}

// sleep waits d or until ctx ends; it reports whether the full wait elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type backoff struct{ cur, min, max time.Duration }

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }
