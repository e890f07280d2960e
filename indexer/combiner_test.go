package indexer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

func msgs(partition int32, n int) []*sarama.ConsumerMessage {
	out := make([]*sarama.ConsumerMessage, n)
	for i := range out {
		out[i] = &sarama.ConsumerMessage{Partition: partition, Offset: int64(i)}
	}
	return out
}

func TestCombinerMergesQueuedBatches(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var calls []int
	c := &combiner{
		ctx:       context.Background(),
		maxRuns:   1,
		maxEvents: 100,
		process: func(_ context.Context, m []*sarama.ConsumerMessage) error {
			mu.Lock()
			calls = append(calls, len(m))
			first := len(calls) == 1
			mu.Unlock()
			if first {
				<-release // hold the only run so that the others queue up
			}
			return nil
		},
	}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	wg.Go(func() { errs[0] = c.submit(context.Background(), msgs(0, 10)) })
	// Wait until the first batch is being processed.
	for {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for p := 1; p < 6; p++ {
		wg.Go(func() { errs[p] = c.submit(context.Background(), msgs(int32(p), 30)) })
	}
	// All five are queued before the run is released.
	for {
		c.mu.Lock()
		n := len(c.pending)
		c.mu.Unlock()
		if n == 5 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	// 10 alone, then 30+30+30 (100 max), then 30+30.
	mu.Lock()
	got := calls
	mu.Unlock()
	if len(got) != 3 || got[0] != 10 || got[1] != 90 || got[2] != 60 {
		t.Fatalf("process calls: got %v, want [10 90 60]", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		runs := c.runs
		c.mu.Unlock()
		if runs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs after idle: got %d, want 0", runs)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCombinerReturnsErrorsToEverySubmitter(t *testing.T) {
	boom := errors.New("es down")
	c := &combiner{ctx: context.Background(), maxRuns: 2, maxEvents: 10,
		process: func(context.Context, []*sarama.ConsumerMessage) error { return boom }}
	for p := range 4 {
		if err := c.submit(context.Background(), msgs(int32(p), 3)); !errors.Is(err, boom) {
			t.Fatalf("got %v, want %v", err, boom)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	block := &combiner{ctx: context.Background(), maxRuns: 1, maxEvents: 10,
		process: func(ctx context.Context, _ []*sarama.ConsumerMessage) error {
			time.Sleep(50 * time.Millisecond)
			return nil
		}}
	if err := block.submit(ctx, msgs(0, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled submitter: got %v, want context.Canceled", err)
	}
}

func TestCollect(t *testing.T) {
	ch := make(chan *sarama.ConsumerMessage, 10)
	for _, m := range msgs(0, 7) {
		ch <- m
	}
	batch, open := collect(context.Background(), ch, 5, time.Hour)
	if len(batch) != 5 || !open {
		t.Fatalf("full batch: got %d open=%v, want 5 true", len(batch), open)
	}
	start := time.Now()
	batch, open = collect(context.Background(), ch, 5, 30*time.Millisecond)
	if len(batch) != 2 || !open || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("flushed batch: got %d open=%v after %v, want 2 true after the flush interval", len(batch), open, time.Since(start))
	}
	ch <- msgs(0, 1)[0]
	close(ch)
	batch, open = collect(context.Background(), ch, 5, time.Hour)
	if len(batch) != 1 || open {
		t.Fatalf("closed channel: got %d open=%v, want 1 false", len(batch), open)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if batch, open := collect(ctx, make(chan *sarama.ConsumerMessage), 5, time.Hour); len(batch) != 0 || open {
		t.Fatalf("cancelled: got %d open=%v, want 0 false", len(batch), open)
	}
}
