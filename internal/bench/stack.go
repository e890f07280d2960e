package bench

import (
	"context"
	"errors"
)

// stack is the system under measurement: the engines (embedded or external) and, once started,
// the services, relays, indexer and search API.
type stack struct {
	esURL string
	es    esConn
	stops []func()
}

func (s *stack) close() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

// engine returns a connection to the search engine, starting the embedded one on first use.
func (r *run) engine(ctx context.Context) (esConn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stack == nil {
		r.stack = &stack{}
	}
	if r.stack.esURL != "" {
		return r.stack.es, nil
	}
	url := r.cfg.ESURL
	if url == "" {
		return esConn{}, errors.New("embedded engine (internal/esembed) not available yet; set ES_URL")
	}
	es, err := newESConn(url)
	if err != nil {
		return esConn{}, err
	}
	r.stack.esURL, r.stack.es = url, es
	return es, nil
}
