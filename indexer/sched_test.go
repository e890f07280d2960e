package indexer

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// schedLog records a scheduler's steps.
type schedLog struct {
	mu  sync.Mutex
	evs []schedEvent
}

func (l *schedLog) observe(ev schedEvent) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

func (l *schedLog) snapshot() []schedEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}

func (l *schedLog) count(match func(schedEvent) bool) int {
	n := 0
	for _, ev := range l.snapshot() {
		if match(ev) {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds (the scheduler's goroutines have no other signal).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if !cond() {
			return errors.New(what)
		}
		return nil
	})
}

// A batch is granted at once while a fan-out chunk is in flight and more are queued (before,
// batches and chunks shared one FIFO of slots and a batch waited for every chunk queued ahead of
// it), and a queued chunk waits for the batch to finish before it starts.
func TestSchedulerBatchesFirst(t *testing.T) {
	ctx := context.Background()
	log := &schedLog{}
	s := newScheduler(1, 1, time.Hour)
	s.observe = log.observe

	if _, forced, err := s.acquireFanout(ctx); err != nil || forced {
		t.Fatalf("first chunk: forced %v, err %v; want granted at once", forced, err)
	}
	const queued = 5
	granted := make(chan bool, queued)
	for range queued {
		go func() {
			_, forced, err := s.acquireFanout(ctx)
			if err != nil {
				t.Error(err)
			}
			granted <- forced
			s.releaseFanout()
		}()
	}
	waitFor(t, "chunks queued", func() bool {
		return log.count(func(ev schedEvent) bool { return ev.fanout && ev.op == "request" }) == 1+queued
	})

	batch := make(chan error, 1)
	go func() { batch <- s.acquireBatch(ctx, "orders") }()
	select {
	case err := <-batch:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a batch waited behind the fan-out chunks in flight and queued")
	}

	// The chunk in flight finishes; the next one takes the token and waits for the batch.
	s.releaseFanout()
	select {
	case <-granted:
		t.Fatal("a chunk started while a batch was being written")
	case <-time.After(50 * time.Millisecond):
	}
	s.releaseBatch("orders")
	for i := range queued {
		select {
		case forced := <-granted:
			if forced {
				t.Errorf("chunk %d: forced, want started because no batch was in flight", i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("chunk %d never started", i)
		}
	}

	// In the log, no chunk was granted between the batch's grant and its release.
	evs := log.snapshot()
	from := slices.IndexFunc(evs, func(ev schedEvent) bool { return !ev.fanout && ev.op == "grant" })
	to := slices.IndexFunc(evs, func(ev schedEvent) bool { return !ev.fanout && ev.op == "release" })
	for _, ev := range evs[from:to] {
		if ev.fanout && ev.op == "grant" {
			t.Errorf("a chunk was granted while the batch held its slot: %v", evs)
		}
	}
}

// A steady stream of batches doesn't starve a fan-out: a chunk starts after the max wait.
func TestSchedulerFanoutProgress(t *testing.T) {
	ctx := context.Background()
	s := newScheduler(2, 1, 20*time.Millisecond)
	// A batch in flight the whole time: the scheduler is never idle.
	if err := s.acquireBatch(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	defer s.releaseBatch("orders")
	for i := range 3 {
		done := make(chan bool, 1)
		go func() {
			_, forced, err := s.acquireFanout(ctx)
			if err != nil {
				t.Error(err)
			}
			done <- forced
			s.releaseFanout()
		}()
		select {
		case forced := <-done:
			if !forced {
				t.Errorf("chunk %d: got started as idle, want forced (a batch is in flight)", i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("chunk %d starved by a batch in flight", i)
		}
	}
}

// Cancelling a waiting request gives back what it held.
func TestSchedulerCancel(t *testing.T) {
	s := newScheduler(1, 1, time.Hour)
	bg := context.Background()
	if err := s.acquireBatch(bg, "orders"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := s.acquireBatch(ctx, "orders"); !errors.Is(err, context.Canceled) {
		t.Fatalf("batch: got %v, want context.Canceled", err)
	}
	// The chunk waits for the batch in flight (max wait an hour) and is cancelled.
	if _, _, err := s.acquireFanout(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("chunk: got %v, want context.Canceled", err)
	}
	s.releaseBatch("orders")
	// Nothing leaked: no batch counted, the token is free, a chunk starts as idle.
	if _, forced, err := s.acquireFanout(bg); err != nil || forced {
		t.Fatalf("after cancel: forced %v, err %v; want started as idle", forced, err)
	}
	s.releaseFanout()
}
