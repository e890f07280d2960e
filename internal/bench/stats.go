package bench

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// latencies collects durations from many goroutines and answers percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// percentile returns the p-th percentile (0 < p <= 100) by nearest rank, 0 when empty.
func (l *latencies) percentile(p float64) time.Duration {
	l.mu.Lock()
	s := slices.Clone(l.d)
	l.mu.Unlock()
	return percentileOf(s, p)
}

// distribution is a progress line's summary: "p50 15.2ms, p90 22ms, p99 33.1ms, max 56.7ms (600)".
func (l *latencies) distribution() string {
	q := func(p float64) time.Duration { return l.percentile(p).Round(100 * time.Microsecond) }
	return fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s (%d)", q(50), q(90), q(99), q(100), l.count())
}

func percentileOf(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rate returns n per second over d.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
