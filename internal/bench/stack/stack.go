// Package stack assembles the whole ordertable system in one process from its real packages,
// for the bench and the fault-injection suite: PostgreSQL databases of its own, the embedded
// (or an external) Kafka and search engine, both source services with their outbox relays,
// indexer instances and the search API. Every component can be stopped and started on its own
// while the others keep running, which is what fault injection needs; the services talk to each
// other over TCP through their real clients exactly as in production.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordertable/ordertable/internal/esembed"
	"github.com/ordertable/ordertable/internal/esindex/faultproxy"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/kafkaembed"
	"github.com/ordertable/ordertable/internal/outbox"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

// Config configures a stack.
type Config struct {
	// ESURL is an external Elasticsearch; empty starts the embedded engine (restartable).
	ESURL string
	// KafkaBrokers are external brokers; empty starts the embedded broker (restartable).
	KafkaBrokers []string
	// AdminDatabaseURL may create databases; the stack creates two of its own and drops them
	// on Close. Default: the local server.
	AdminDatabaseURL string
	// WorkDir holds the embedded engines' data. Required.
	WorkDir string
	// PersistEngine keeps the embedded engine's data in WorkDir (write-ahead log, survives
	// StopEngine/StartEngine); false keeps it in memory.
	PersistEngine bool
	// Name prefixes the databases and the consumer group (default "stack").
	Name string
	// RelayBatchSize and RelayPollInterval tune both outbox relays (0: their defaults).
	RelayBatchSize    int
	RelayPollInterval time.Duration
	// ObserveRelayLag, when set, receives each event's commit-to-acknowledgement lag.
	ObserveRelayLag func(service string, lag time.Duration)
	// Logger receives the components' logs; nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.AdminDatabaseURL == "" {
		c.AdminDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	if c.Name == "" {
		c.Name = "stack"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.WorkDir == "" {
		errs = append(errs, errors.New("stack: WorkDir is required"))
	}
	if _, err := url.Parse(c.AdminDatabaseURL); err != nil {
		errs = append(errs, fmt.Errorf("stack: admin database URL: %w", err))
	}
	return errors.Join(errs...)
}

// Stack is a running system. Its exported URLs stay valid across restarts of a component:
// a restarted engine or broker comes back on the same port.
type Stack struct {
	cfg Config
	log *slog.Logger

	// ESURL is the search engine, direct (no fault proxy).
	ESURL string
	// Brokers are the Kafka bootstrap addresses.
	Brokers []string
	// CustomersURL and OrdersURL are the source services' base URLs.
	CustomersURL, OrdersURL string
	// CustomersDB and OrdersDB are the services' database URLs.
	CustomersDB, OrdersDB string
	// Customers and Orders are clients of the source services.
	Customers *customers.Client
	Orders    *orders.Client

	mu        sync.Mutex
	engine    *esembed.Engine
	engineRn  *Runner
	broker    *kafkaembed.Broker
	custSvc   *customers.Service
	ordSvc    *orders.Service
	relays    map[string]*Runner
	indexers  map[string]*Runner
	ixOpts    IndexerOptions
	ixRegs    map[string]*prometheus.Registry
	ixProcs   map[string]*exec.Cmd
	proxy     *faultproxy.Proxy
	searchURL string
	servers   []*Runner
	dbs       []string
	cleanups  []func()
}

// Start brings up databases, engines and both source services with their relays.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Stack{cfg: cfg, log: cfg.Logger, relays: map[string]*Runner{}, indexers: map[string]*Runner{}, ixRegs: map[string]*prometheus.Registry{}, ixProcs: map[string]*exec.Cmd{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.startEngine(ctx); err != nil {
		return nil, err
	}
	if s.proxy, err = faultproxy.Start(s.ESURL, uint64(time.Now().UnixNano())); err != nil {
		return nil, fmt.Errorf("stack: fault proxy: %w", err)
	}
	s.cleanups = append(s.cleanups, s.proxy.Close)
	if err := s.startBrokerFirst(); err != nil {
		return nil, err
	}
	suffix := randSuffix()
	if s.CustomersDB, err = s.createDB(ctx, cfg.Name+"_customers_"+suffix); err != nil {
		return nil, err
	}
	if s.OrdersDB, err = s.createDB(ctx, cfg.Name+"_orders_"+suffix); err != nil {
		return nil, err
	}
	kc := kafkaconfig.Config{Brokers: s.Brokers, ClientID: cfg.Name}
	cs, err := customers.New(ctx, customers.Config{DatabaseURL: s.CustomersDB, Kafka: kc, Relay: s.relayConfig("customers"), Logger: s.log.With("component", "customers")})
	if err != nil {
		return nil, fmt.Errorf("stack: customers: %w", err)
	}
	s.custSvc = cs
	s.cleanups = append(s.cleanups, cs.Close)
	if s.CustomersURL, err = s.serveHTTP("customers", cs.Handler()); err != nil {
		return nil, err
	}
	osvc, err := orders.New(ctx, orders.Config{DatabaseURL: s.OrdersDB, CustomersURL: s.CustomersURL, Kafka: kc, Relay: s.relayConfig("orders"), Logger: s.log.With("component", "orders")})
	if err != nil {
		return nil, fmt.Errorf("stack: orders: %w", err)
	}
	s.ordSvc = osvc
	s.cleanups = append(s.cleanups, osvc.Close)
	if s.OrdersURL, err = s.serveHTTP("orders", osvc.Handler()); err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	s.Customers = customers.NewClient(s.CustomersURL, "", hc)
	s.Orders = orders.NewClient(s.OrdersURL, "", hc)
	s.StartRelay("customers")
	s.StartRelay("orders")
	return s, nil
}

func (s *Stack) relayConfig(service string) outbox.Config {
	rc := outbox.Config{BatchSize: s.cfg.RelayBatchSize, PollInterval: s.cfg.RelayPollInterval}
	if f := s.cfg.ObserveRelayLag; f != nil {
		rc.ObserveLag = func(d time.Duration) { f(service, d) }
	}
	return rc
}

// serveHTTP serves h on a fresh local port until Close.
func (s *Stack) serveHTTP(name string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("stack: %s listen: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	r := Go(name+" http", s.log, func(ctx context.Context) error {
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	s.mu.Lock()
	s.servers = append(s.servers, r)
	s.mu.Unlock()
	return "http://" + ln.Addr().String(), nil
}

// ---- search engine ----

func (s *Stack) startEngine(ctx context.Context) error {
	if s.cfg.ESURL != "" {
		s.ESURL = s.cfg.ESURL
		return nil
	}
	addr := "127.0.0.1:0"
	if s.ESURL != "" {
		u, _ := url.Parse(s.ESURL)
		addr = u.Host
	}
	ecfg := esembed.Config{Logger: s.log.With("component", "es")}
	if s.cfg.PersistEngine {
		ecfg.DataDir = filepath.Join(s.cfg.WorkDir, "es")
	}
	e, err := esembed.Open(ecfg)
	if err != nil {
		return fmt.Errorf("stack: engine: %w", err)
	}
	ln, err := listenRetry(ctx, addr)
	if err != nil {
		_ = e.Close()
		return fmt.Errorf("stack: engine: %w", err)
	}
	s.mu.Lock()
	s.engine = e
	s.ESURL = "http://" + ln.Addr().String()
	s.engineRn = Go("es", s.log, func(ctx context.Context) error { return e.Serve(ctx, ln) })
	s.mu.Unlock()
	return nil
}

// Embedded reports whether the engine and broker are the embedded, restartable ones.
func (s *Stack) Embedded() (engine, broker bool) {
	return s.cfg.ESURL == "", len(s.cfg.KafkaBrokers) == 0
}

// StopEngine stops the embedded engine (its data stays in WorkDir).
func (s *Stack) StopEngine() error {
	s.mu.Lock()
	e, rn := s.engine, s.engineRn
	s.engine, s.engineRn = nil, nil
	s.mu.Unlock()
	if e == nil {
		return errors.New("stack: no embedded engine running")
	}
	rn.Stop()
	return e.Close()
}

// StartEngine restarts the embedded engine on its previous port.
func (s *Stack) StartEngine(ctx context.Context) error { return s.startEngine(ctx) }

// ---- Kafka ----

func (s *Stack) startBrokerFirst() error {
	if len(s.cfg.KafkaBrokers) > 0 {
		s.Brokers = s.cfg.KafkaBrokers
		return nil
	}
	return s.StartBroker(context.Background())
}

// StartBroker starts the embedded broker, on its previous port after a stop, with its data.
func (s *Stack) StartBroker(ctx context.Context) error {
	addr := "127.0.0.1:0"
	if len(s.Brokers) > 0 {
		addr = s.Brokers[0]
	}
	var b *kafkaembed.Broker
	err := poll(ctx, 15*time.Second, func() error {
		var err error
		b, err = kafkaembed.Start(kafkaembed.Config{Listen: addr, DataDir: filepath.Join(s.cfg.WorkDir, "kafka"),
			Topics: []string{events.TopicCustomers, events.TopicOrders, events.TopicDLQ}})
		return err
	})
	if err != nil {
		return fmt.Errorf("stack: broker: %w", err)
	}
	s.mu.Lock()
	s.broker = b
	s.Brokers = []string{b.Addr()}
	s.mu.Unlock()
	return nil
}

// StopBroker stops the embedded broker; its log and offsets stay in WorkDir.
func (s *Stack) StopBroker() error {
	s.mu.Lock()
	b := s.broker
	s.broker = nil
	s.mu.Unlock()
	if b == nil {
		return errors.New("stack: no embedded broker running")
	}
	b.Close()
	return nil
}

// Broker is the embedded broker (nil when external or stopped), for kfake fault injection.
func (s *Stack) Broker() *kafkaembed.Broker {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broker
}

// ---- relays ----

// StartRelay starts the outbox relay of "customers" or "orders" (no-op when running).
func (s *Stack) StartRelay(service string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.relays[service]; r != nil && r.Running() {
		return
	}
	run := s.custSvc.RunRelay
	if service == "orders" {
		run = s.ordSvc.RunRelay
	}
	s.relays[service] = Go(service+" relay", s.log, run)
}

// KillRelay stops a relay abruptly: its context is cancelled wherever it is (between publish
// and mark, mid-batch, ...); nothing waits for it to tidy up beyond returning.
func (s *Stack) KillRelay(service string) {
	s.mu.Lock()
	r := s.relays[service]
	delete(s.relays, service)
	s.mu.Unlock()
	if r != nil {
		r.Stop()
	}
}

// ---- databases ----

func (s *Stack) createDB(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, s.cfg.AdminDatabaseURL)
	if err != nil {
		return "", fmt.Errorf("stack: connect admin database: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("stack: create database %s: %w", name, err)
	}
	s.dbs = append(s.dbs, name)
	u, _ := url.Parse(s.cfg.AdminDatabaseURL)
	u.Path = "/" + name
	return u.String(), nil
}

func (s *Stack) dropDBs() {
	if len(s.dbs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.cfg.AdminDatabaseURL)
	if err != nil {
		s.log.Warn("stack: drop databases", "err", err)
		return
	}
	defer conn.Close(ctx)
	for _, name := range s.dbs {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			s.log.Warn("stack: drop database", "db", name, "err", err)
		}
	}
	s.dbs = nil
}

// AddCleanup registers fn to run on Close, before the stack's own components stop.
func (s *Stack) AddCleanup(fn func()) {
	s.mu.Lock()
	s.cleanups = append(s.cleanups, fn)
	s.mu.Unlock()
}

// Close stops everything and drops the databases.
func (s *Stack) Close() {
	s.mu.Lock()
	relays := s.relays
	s.relays = map[string]*Runner{}
	indexers := s.indexers
	s.indexers = map[string]*Runner{}
	procs := s.ixProcs
	s.ixProcs = map[string]*exec.Cmd{}
	servers := s.servers
	s.servers = nil
	cleanups := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for _, r := range indexers {
		r.Stop()
	}
	for _, p := range procs {
		if p.Process != nil {
			_ = p.Process.Kill()
		}
	}
	for _, r := range relays {
		r.Stop()
	}
	for _, r := range servers {
		r.Stop()
	}
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	if s.engineRn != nil {
		_ = s.StopEngine()
	}
	if s.broker != nil {
		_ = s.StopBroker()
	}
	s.dropDBs()
}

// ---- helpers ----

// Runner is a component running in a goroutine until stopped.
type Runner struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Go runs fn until Stop; an early return is logged.
func Go(name string, log *slog.Logger, fn func(ctx context.Context) error) *Runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{name: name, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = fn(ctx)
		if r.err != nil && ctx.Err() == nil {
			log.Warn("stack: component stopped on its own", "component", name, "err", r.err)
		}
	}()
	return r
}

// Running reports whether the component has not returned yet.
func (r *Runner) Running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// Stop cancels the component and waits (at most 30s) for it to return.
func (r *Runner) Stop() {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
	}
}

// Err is what the component returned (nil while running).
func (r *Runner) Err() error {
	if r.Running() {
		return nil
	}
	return r.err
}

func listenRetry(ctx context.Context, addr string) (net.Listener, error) {
	var ln net.Listener
	err := poll(ctx, 15*time.Second, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

// poll retries fn every 100ms until it succeeds or timeout passes.
func poll(ctx context.Context, timeout time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func randSuffix() string {
	return fmt.Sprintf("%x_%d", time.Now().UnixNano()&0xffffff, os.Getpid()%10000)
}
