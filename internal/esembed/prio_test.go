package esembed

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The process's budget took bleve's analysis queue over: if a bleve upgrade changed its
// layout, searches would silently lose their priority.
func TestAnalysisQueueTakenOver(t *testing.T) {
	if prio.queue == nil {
		t.Fatal("bleve's AnalysisQueue layout is not the one analysisQueueChan knows: searches have no priority over indexing")
	}
	ts := newTestServer(t)
	before, builtBefore := prio.analysed.Load(), prio.built.Load()
	const n = 50
	var body []byte
	for i := range n {
		body = fmt.Appendf(body, "{\"index\":{\"_index\":\"prio\",\"_id\":\"%d\"}}\n{\"title\":\"doc %d\"}\n", i, i)
	}
	if res := ts.must(200, "POST", "/_bulk?refresh=true", string(body)); res["errors"] != false {
		t.Fatalf("bulk: %v", res)
	}
	if got := prio.analysed.Load() - before; got < n {
		t.Fatalf("%d documents analysed through the budget, want at least %d: the engine's indices use another queue", got, n)
	}
	if got := prio.built.Load() - builtBefore; got < 1 {
		t.Fatal("no segment built through the budget: scorch uses zap plugins of its own")
	}
	if c := str(get(ts.must(200, "GET", "/prio/_count", nil), "count")); c != fmt.Sprint(n) {
		t.Fatalf("count %s, want %d", c, n)
	}
}

// While a search is in flight, indexing analyses in procs-1 workers (at least one); with none,
// in procs.
func TestSearchesComeBeforeIndexing(t *testing.T) {
	p := newCPUPrio(3, true)
	if p.queue == nil {
		t.Fatal("no queue")
	}
	var running, peak atomic.Int64
	gate := make(chan struct{})
	var wg sync.WaitGroup
	queue := func(k int) {
		for range k {
			wg.Add(1)
			go p.queue.Queue(func() {
				defer wg.Done()
				n := running.Add(1)
				for {
					m := peak.Load()
					if n <= m || peak.CompareAndSwap(m, n) {
						break
					}
				}
				<-gate
				running.Add(-1)
			})
		}
	}
	waitRunning := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for running.Load() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%d analysing, want %d", running.Load(), want)
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // would a worker past the budget start?
		if got := running.Load(); got != want {
			t.Fatalf("%d analysing, want %d", got, want)
		}
	}
	release := func(k int) {
		for range k {
			gate <- struct{}{}
		}
	}

	// Two searches in flight: 3-2 = 1 worker.
	done1, done2 := p.search(), p.search()
	queue(6)
	waitRunning(1)
	if s, r, l := p.stats(); s != 2 || r != 1 || l != 1 {
		t.Fatalf("stats: %d searches, %d running, limit %d", s, r, l)
	}
	// Three searches: still one, indexing is never stopped.
	done3 := p.search()
	release(1)
	waitRunning(1)
	done3()
	done2()
	waitRunning(2)
	done1()
	waitRunning(3)
	if peak.Load() != 3 {
		t.Fatalf("peak %d, want 3", peak.Load())
	}
	release(2) // the 6 items: 1 released before, 2 now, 3 left running
	waitRunning(3)
	release(3)
	wg.Wait()
	if r := running.Load(); r != 0 {
		t.Fatalf("%d still running", r)
	}
}
