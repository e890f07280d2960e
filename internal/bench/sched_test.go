package bench

import (
	"math"
	"testing"
	"time"
)

func TestSchedPercentile(t *testing.T) {
	buckets := []float64{0, 0.001, 0.002, 0.010, math.Inf(1)}
	from := schedSnapshot{counts: []uint64{5, 5, 5, 5}, buckets: buckets}
	// Between the two: 90 waits under 1 ms, 9 of 1–2 ms, 1 of more than 10 ms.
	to := schedSnapshot{counts: []uint64{95, 14, 5, 6}, buckets: buckets}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{
		{50, time.Millisecond},
		{90, time.Millisecond},
		{91, 2 * time.Millisecond},
		{99, 2 * time.Millisecond},
		{100, 10 * time.Millisecond}, // the unbounded bucket reports its lower bound
	} {
		if got := schedPercentile(from, to, c.p); got != c.want {
			t.Errorf("p%v: got %s, want %s", c.p, got, c.want)
		}
	}
	if got := schedPercentile(to, to, 99); got != 0 {
		t.Errorf("no waits in between: got %s, want 0", got)
	}
	if got := schedPercentile(schedSnapshot{}, to, 99); got != 0 {
		t.Errorf("mismatched snapshots: got %s, want 0", got)
	}
	// The live runtime records waits as goroutines run.
	a := readSched()
	done := make(chan struct{})
	for range 100 {
		go func() { done <- struct{}{} }()
	}
	for range 100 {
		<-done
	}
	if b := readSched(); sum(b.counts) <= sum(a.counts) {
		t.Errorf("runtime/metrics %s recorded no wait for 100 goroutines", schedLatencies)
	}
}

func sum(v []uint64) (n uint64) {
	for _, x := range v {
		n += x
	}
	return n
}
