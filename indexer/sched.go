package indexer

import (
	"context"
	"sync"
	"time"
)

// scheduler decides when a piece of work may touch Elasticsearch. There are two kinds:
//
//   - batches (order batches, customer-state writes): up to `workers` at a time;
//   - fan-out chunks (rewriting the orders of changed customers): a budget of their own, up to
//     `fanout` at a time across all partitions, never taken from the batches' slots.
//
// Batches go first: a fan-out chunk starts only once no batch is being written or waiting for a
// slot, so a fan-out doesn't compete with normal traffic for Elasticsearch (on a busy engine
// the competition is for its CPU, not for our slots). So that a stream of batches can't starve
// a fan-out either, a chunk waits for that moment at most `maxWait`, then starts anyway. Hence
// a batch never waits behind queued chunks, it overlaps at most `fanout` chunks in flight, and
// each chunk starts within maxWait of having its fan-out token.
type scheduler struct {
	slots   chan struct{} // batch slots
	fanout  chan struct{} // fan-out chunk tokens
	maxWait time.Duration

	mu      sync.Mutex
	batches int           // batches holding or waiting for a slot
	idle    chan struct{} // closed while batches == 0

	// observe, when set, is told about every grant and release (tests check the order).
	observe func(ev schedEvent)
}

// schedEvent is a step of the scheduler, for tests.
type schedEvent struct {
	op     string // request, grant, release
	fanout bool   // a fan-out chunk (else a batch)
	label  string // what the batch is: orders, customers; empty for chunks
	forced bool   // a chunk granted because it waited maxWait, not because batches were idle
}

func newScheduler(workers, fanout int, maxWait time.Duration) *scheduler {
	s := &scheduler{
		slots:   make(chan struct{}, workers),
		fanout:  make(chan struct{}, fanout),
		maxWait: maxWait,
		idle:    make(chan struct{}),
	}
	close(s.idle)
	return s
}

func (s *scheduler) note(ev schedEvent) {
	if s.observe != nil {
		s.observe(ev)
	}
}

// acquireBatch takes a batch slot; label says what the batch is (for tests). Release it with
// releaseBatch.
func (s *scheduler) acquireBatch(ctx context.Context, label string) error {
	s.mu.Lock()
	if s.batches == 0 {
		s.idle = make(chan struct{})
	}
	s.batches++
	s.mu.Unlock()
	s.note(schedEvent{op: "request", label: label})
	select {
	case s.slots <- struct{}{}:
		s.note(schedEvent{op: "grant", label: label})
		return nil
	case <-ctx.Done():
		s.batchDone()
		return ctx.Err()
	}
}

func (s *scheduler) releaseBatch(label string) {
	<-s.slots
	s.note(schedEvent{op: "release", label: label})
	s.batchDone()
}

func (s *scheduler) batchDone() {
	s.mu.Lock()
	s.batches--
	if s.batches == 0 {
		close(s.idle)
	}
	s.mu.Unlock()
}

// acquireFanout takes a fan-out token, then waits until no batch is being written or waiting,
// or maxWait has passed, whichever comes first. It returns how long it waited for its turn
// after taking the token and whether maxWait ran out. Release it with releaseFanout.
func (s *scheduler) acquireFanout(ctx context.Context) (waited time.Duration, forced bool, err error) {
	s.note(schedEvent{op: "request", fanout: true})
	select {
	case s.fanout <- struct{}{}:
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
	start := time.Now()
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
	default:
		t := time.NewTimer(s.maxWait)
		select {
		case <-idle:
		case <-t.C:
			forced = true
		case <-ctx.Done():
			t.Stop()
			<-s.fanout
			return 0, false, ctx.Err()
		}
		t.Stop()
	}
	s.note(schedEvent{op: "grant", fanout: true, forced: forced})
	return time.Since(start), forced, nil
}

func (s *scheduler) releaseFanout() {
	<-s.fanout
	s.note(schedEvent{op: "release", fanout: true})
}
