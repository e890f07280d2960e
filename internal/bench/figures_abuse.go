package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// abusePause is each attacking client's pause between hostile requests.
const abusePause = 20 * time.Millisecond

// abuseFigures measures the search API under hostile traffic: normal sorted first pages are
// timed alone (baseline), then again while two clients replay every AbuseCase in a loop. The
// figures are the share of hostile requests answered as they should be (goal 1: every one a
// 4xx, or a harmless 2xx for literal input), the slowest hostile answer, and the normal p99
// under abuse ÷ its baseline (goal ≤ 2).
func (r *run) abuseFigures(ctx context.Context) ([]Figure, error) {
	st, err := r.system(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := r.fillIndex(ctx, min(r.sizes.SearchDocs, 2000)); err != nil {
		return nil, err
	}
	base, err := st.StartSearch()
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	normal := func(ctx context.Context, i int) error {
		c := searchColumns[i%len(searchColumns)]
		_, err := apiGet(ctx, hc, base, "size=50&sort="+url.QueryEscape(c.sort), nil)
		return err
	}
	n := r.sizes.SearchSamples * 2
	measure := func() (*latencies, error) {
		l := &latencies{}
		start := time.Now()
		for i := range n {
			if i >= 10 && time.Since(start) > r.sizes.SampleFor {
				break
			}
			t := time.Now()
			if err := normal(ctx, i); err != nil {
				return nil, err
			}
			l.add(time.Since(t))
		}
		return l, nil
	}
	r.progress("abuse: %d normal requests alone", n)
	before, err := measure()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	cursor := r.cursor
	r.mu.Unlock()
	cases := AbuseCases(cursor)
	var sent, ok atomic.Int64
	var slowest atomic.Int64
	var failMu sync.Mutex
	var firstBad string
	actx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			ahc := &http.Client{Timeout: 30 * time.Second}
			for i := w; actx.Err() == nil; i++ {
				c := cases[i%len(cases)]
				status, took, err := c.Do(actx, ahc, base)
				if actx.Err() != nil {
					return
				}
				sent.Add(1)
				if d := int64(took); d > slowest.Load() {
					slowest.Store(d)
				}
				// A short pause per request: the attackers share this machine's two cores
				// with the server under test, which a remote attacker would not.
				select {
				case <-actx.Done():
				case <-time.After(abusePause):
				}
				if err == nil && c.Accepts(status) {
					ok.Add(1)
					continue
				}
				failMu.Lock()
				if firstBad == "" {
					firstBad = fmt.Sprintf("%s: status %d err %v", c.Name, status, err)
				}
				failMu.Unlock()
			}
		})
	}
	r.progress("abuse: %d normal requests while 2 clients replay %d hostile requests", n, len(cases))
	during, err := measure()
	stop()
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("normal request under abuse: %w", err)
	}
	share := 0.0
	if s := sent.Load(); s > 0 {
		share = float64(ok.Load()) / float64(s)
	}
	rej := plain("abuse", "abuse.answered_as_expected", share, "share", AtLeast(1))
	rej.Note = fmt.Sprintf("%d hostile requests (%d kinds: deep offsets, huge sizes, bad sorts, regex-like input, 10 MB bodies, bad cursors, thousands of filters)", sent.Load(), len(cases))
	if firstBad != "" {
		rej.Note += "; first unexpected: " + firstBad
	}
	slow := plain("abuse", "abuse.slowest_hostile_answer", ms(time.Duration(slowest.Load())), "ms", AtMost(5000))
	p99 := ratioOf("abuse", "abuse.normal_search_p99_during", ms(during.percentile(99)), "ms", ms(before.percentile(99)), "normal search p99 alone", AtMost(2))
	p99.Note = fmt.Sprintf("sorted first pages, %d sequential requests alone then %d under abuse (2 attacking clients, %s pause each); p50 %.1f ms vs %.1f ms alone", before.count(), during.count(), abusePause, ms(during.percentile(50)), ms(before.percentile(50)))
	return []Figure{rej, slow, p99}, nil
}
