package bench

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/ordertable/ordertable/internal/bench/stack"
	"github.com/ordertable/ordertable/services/customers"
)

// system returns the running stack, starting it on first use.
func (r *run) system(ctx context.Context) (*stack.Stack, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st != nil {
		return r.st, nil
	}
	r.progressLocked("stack: starting PostgreSQL databases, Kafka (%s), engine (%s), services", endpointKind(strings.Join(r.cfg.KafkaBrokers, ",")), endpointKind(r.cfg.ESURL))
	st, err := stack.Start(ctx, stack.Config{
		ESURL:            r.cfg.ESURL,
		KafkaBrokers:     r.cfg.KafkaBrokers,
		AdminDatabaseURL: r.cfg.DatabaseURL,
		WorkDir:          filepath.Join(r.work, "stack"),
		PersistEngine:    true, // as `ordertable dev --data`: write-ahead log and indices on disk
		Name:             "bench",
		ObserveRelayLag:  r.observeRelay,
		Logger:           r.cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	es, err := newESConn(st.ESURL)
	if err != nil {
		st.Close()
		return nil, err
	}
	r.st, r.es = st, es
	return st, nil
}

// engine returns a connection to the stack's search engine.
func (r *run) engine(ctx context.Context) (esConn, error) {
	if _, err := r.system(ctx); err != nil {
		return esConn{}, err
	}
	return r.es, nil
}

// customers returns the run's customers, creating them on first use.
func (r *run) customers(ctx context.Context) ([]customers.Customer, error) {
	r.mu.Lock()
	cs := r.custs
	r.mu.Unlock()
	if cs != nil {
		return cs, nil
	}
	st, err := r.system(ctx)
	if err != nil {
		return nil, err
	}
	r.progress("stack: creating %d customers", r.sizes.Customers)
	cs, err = seedCustomers(ctx, st, r.sizes.Customers, 16, r.cfg.Seed, &r.retried)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.custs = cs
	r.mu.Unlock()
	return cs, nil
}

// watchRelay starts a fresh collection of the service relay's per-event lags.
func (r *run) watchRelay(service string) *latencies {
	l := &latencies{}
	r.mu.Lock()
	r.relayLag[service] = l
	r.mu.Unlock()
	return l
}

func (r *run) observeRelay(service string, d time.Duration) {
	r.mu.Lock()
	l := r.relayLag[service]
	r.mu.Unlock()
	if l != nil {
		l.add(d)
	}
}

func (r *run) setAPIRate(v float64) {
	r.mu.Lock()
	r.apiRate = v
	r.mu.Unlock()
}
