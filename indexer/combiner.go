package indexer

import (
	"context"
	"sync"

	"github.com/IBM/sarama"
)

// combiner merges the batches that partitions submit while earlier ones are being written into
// larger ones (group commit). At a low rate every batch is written as soon as it is complete; when
// Elasticsearch is the bottleneck, the batches of many partitions share one state write, one
// alias read, one customer read and one document write, instead of paying for them per
// partition.
//
// Ordering within a partition is untouched: its consumer submits a batch and waits for the
// result before collecting the next, so it marks offsets in order.
type combiner struct {
	ctx       context.Context // the instance's: a run outlives the session of any one submitter
	process   func(ctx context.Context, msgs []*sarama.ConsumerMessage) error
	maxRuns   int
	maxEvents int

	mu      sync.Mutex
	pending []*combineReq
	runs    int
}

type combineReq struct {
	msgs []*sarama.ConsumerMessage
	done chan error
}

// submit writes msgs (possibly together with other partitions' batches) and returns the
// result, or ctx's error if ctx ends first (the batch may still be written: harmless, every
// write is versioned).
func (c *combiner) submit(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
	req := &combineReq{msgs: msgs, done: make(chan error, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, req)
	start := c.runs < c.maxRuns
	if start {
		c.runs++
	}
	c.mu.Unlock()
	if start {
		go c.run()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *combiner) run() {
	for {
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.runs--
			c.mu.Unlock()
			return
		}
		n, events := 0, 0
		for n < len(c.pending) && (n == 0 || events+len(c.pending[n].msgs) <= c.maxEvents) {
			events += len(c.pending[n].msgs)
			n++
		}
		reqs := c.pending[:n:n]
		c.pending = c.pending[n:]
		c.mu.Unlock()

		all := make([]*sarama.ConsumerMessage, 0, events)
		for _, r := range reqs {
			all = append(all, r.msgs...)
		}
		err := c.process(c.ctx, all)
		for _, r := range reqs {
			r.done <- err
		}
	}
}
