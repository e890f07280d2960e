package bench

import (
	"math"
	"runtime/metrics"
	"time"
)

// schedSnapshot is the Go runtime's histogram of how long goroutines waited, runnable, for a
// scheduler thread (runtime/metrics /sched/latencies:seconds), read at one moment. Two of them
// tell how long the process's goroutines waited in between: the reindex figure reports it
// beside the searches' latency, since a search waits at every hop it makes between goroutines.
type schedSnapshot struct {
	counts  []uint64
	buckets []float64 // len(counts)+1 boundaries, in seconds
}

const schedLatencies = "/sched/latencies:seconds"

func readSched() schedSnapshot {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return schedSnapshot{}
	}
	h := s[0].Value.Float64Histogram()
	return schedSnapshot{counts: append([]uint64(nil), h.Counts...), buckets: h.Buckets}
}

// schedPercentile returns the p-th percentile (0 < p <= 100) of the waits recorded between
// from and to, as the upper bound of the bucket it falls in (the lower one for the last,
// unbounded bucket); 0 when none were recorded.
func schedPercentile(from, to schedSnapshot, p float64) time.Duration {
	if len(to.counts) == 0 || len(from.counts) != len(to.counts) {
		return 0
	}
	diff := make([]uint64, len(to.counts))
	var total uint64
	for i := range diff {
		diff[i] = to.counts[i] - from.counts[i]
		total += diff[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(total)))
	rank = max(rank, 1)
	var seen uint64
	for i, n := range diff {
		seen += n
		if seen < rank {
			continue
		}
		bound := to.buckets[i+1]
		if math.IsInf(bound, 1) {
			bound = to.buckets[i]
		}
		return time.Duration(bound * float64(time.Second))
	}
	return 0
}
