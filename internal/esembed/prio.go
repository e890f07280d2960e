package esembed

import (
	"os"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	bindex "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	zapv16 "github.com/blevesearch/zapx/v16"
	zapv17 "github.com/blevesearch/zapx/v17"
)

// Searches come before indexing on the CPU.
//
// Elasticsearch keeps searches fast under heavy indexing with separate thread pools for
// writes and searches, sized to the machine's cores. Go has no thread priorities, so the
// engine does the same with a budget: the CPU-heavy part of indexing, the analysis of each
// document (tokenising, building its terms and doc values), runs in at most procs workers,
// and in one fewer for each search in flight, down to one. A search then shares the CPU with
// at most that one indexing worker instead of bleve's four, and indexing still always makes
// progress. Without searches, indexing has every core, so bulk throughput is what it was.
//
// The budget is per process, like the CPU it shares out: every engine (and index) in the
// process analyses through one queue.
type cpuPrio struct {
	mu       sync.Mutex
	cond     *sync.Cond
	procs    int // indexing workers allowed while no search runs
	searches int // searches in flight
	running  int // indexing workers analysing a document now
	analysed atomic.Int64 // documents analysed through the budget
	built    atomic.Int64 // segments built or merged through the budget

	queue *bindex.AnalysisQueue // what scorch queues analysis work on
}

// prio is the process's budget. Its queue is nil when bleve's queue can't be taken over
// (a bleve version whose AnalysisQueue has another layout); scorch then uses bleve's own
// queue and searches get no priority.
// ESEMBED_SEARCH_PRIORITY=off turns it off, =analysis leaves segment building and merging out
// of the budget (for comparisons).
var (
	prioMode = os.Getenv("ESEMBED_SEARCH_PRIORITY")
	prio     = newCPUPrio(runtime.GOMAXPROCS(0), prioMode != "off")
)

// The other CPU-heavy parts of indexing, building a batch's segment and merging segments, go
// through the budget too: scorch's zap plugins are replaced (same type and version, so the
// files are the same) by ones that take a slot for each segment they build or merge. Merges
// keep a slot for as long as they run, so a long merge leaves searches one indexing worker
// fewer to share the CPU with, and throttles analysis while searches run, as Elasticsearch
// throttles indexing when merges fall behind.
func init() {
	if prio.queue == nil || prioMode == "analysis" {
		return
	}
	scorch.RegisterSegmentPlugin(budgeted{&zapv16.ZapPlugin{}}, false)
	scorch.RegisterSegmentPlugin(budgeted{&zapv17.ZapPlugin{}}, true)
}

// budgeted is a segment plugin whose segment builds and merges run within the budget.
type budgeted struct{ scorch.SegmentPlugin }

func (b budgeted) New(results []bindex.Document) (segment.Segment, uint64, error) {
	prio.acquire()
	defer prio.release()
	prio.built.Add(1)
	return b.SegmentPlugin.New(results)
}

func (b budgeted) NewUsing(results []bindex.Document, config map[string]any) (segment.Segment, uint64, error) {
	prio.acquire()
	defer prio.release()
	prio.built.Add(1)
	return b.SegmentPlugin.NewUsing(results, config)
}

func (b budgeted) Merge(segs []segment.Segment, drops []*roaring.Bitmap, path string, closeCh chan struct{}, s segment.StatsReporter) ([][]uint64, uint64, error) {
	prio.acquire()
	defer prio.release()
	prio.built.Add(1)
	return b.SegmentPlugin.Merge(segs, drops, path, closeCh, s)
}

func (b budgeted) MergeUsing(segs []segment.Segment, drops []*roaring.Bitmap, path string, closeCh chan struct{}, s segment.StatsReporter, config map[string]any) ([][]uint64, uint64, error) {
	prio.acquire()
	defer prio.release()
	prio.built.Add(1)
	return b.SegmentPlugin.MergeUsing(segs, drops, path, closeCh, s, config)
}

func newCPUPrio(procs int, on bool) *cpuPrio {
	p := &cpuPrio{procs: max(procs, 1)}
	p.cond = sync.NewCond(&p.mu)
	if !on {
		return p
	}
	q := bindex.NewAnalysisQueue(0)
	work, ok := analysisQueueChan(q)
	if !ok {
		return p
	}
	p.queue = q
	// Workers beyond procs only wait: the budget decides how many analyse at once.
	for range max(p.procs, 2) {
		go p.worker(work)
	}
	return p
}

// analysisQueueChan returns the channel a bleve AnalysisQueue's workers read, which bleve
// does not export. The layout is checked with reflection first, so a bleve upgrade that
// changes it turns priority off instead of corrupting memory.
func analysisQueueChan(q *bindex.AnalysisQueue) (chan bindex.AnalysisWork, bool) {
	t := reflect.TypeFor[bindex.AnalysisQueue]()
	if t.NumField() < 1 {
		return nil, false
	}
	f := t.Field(0)
	if f.Name != "queue" || f.Offset != 0 || f.Type != reflect.TypeFor[chan bindex.AnalysisWork]() {
		return nil, false
	}
	return *(*chan bindex.AnalysisWork)(unsafe.Pointer(q)), true
}

// worker analyses queued documents, one at a time, each within the budget. Workers live as
// long as the process, like bleve's own.
func (p *cpuPrio) worker(work <-chan bindex.AnalysisWork) {
	for w := range work {
		p.acquire()
		w()
		p.release()
		p.analysed.Add(1)
	}
}

// limitLocked is how many indexing workers may run now.
func (p *cpuPrio) limitLocked() int { return max(p.procs-p.searches, 1) }

func (p *cpuPrio) acquire() {
	p.mu.Lock()
	for p.running >= p.limitLocked() {
		p.cond.Wait()
	}
	p.running++
	p.mu.Unlock()
}

func (p *cpuPrio) release() {
	p.mu.Lock()
	p.running--
	p.mu.Unlock()
	p.cond.Signal()
}

// search marks a search in flight until the returned function is called. A worker already
// analysing finishes its document (a fraction of a millisecond); no new one starts past the
// lowered budget.
func (p *cpuPrio) search() (done func()) {
	p.mu.Lock()
	p.searches++
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		p.searches--
		p.mu.Unlock()
		p.cond.Broadcast()
	}
}

// analysisQueue is the queue scorch indices are opened with: the budgeted one, or bleve's.
func (p *cpuPrio) analysisQueue(bleves *bindex.AnalysisQueue) *bindex.AnalysisQueue {
	if p.queue == nil {
		return bleves
	}
	return p.queue
}

// stats reports the budget's state (for tests and _nodes/stats-like output).
func (p *cpuPrio) stats() (searches, running, limit int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.searches, p.running, p.limitLocked()
}
