package reindex

import (
	"context"
	"testing"
	"time"
)

// TestAIMDBacksOffAndRecovers drives the controller with a simulated engine whose search
// latency ratio grows with the backfill's rate above a capacity: the rate must grow while
// searches are fast, be cut when they slow down, settle around the capacity, and grow again
// when the capacity rises.
func TestAIMDBacksOffAndRecovers(t *testing.T) {
	const target = 1.5
	c := newAIMD(target, 100, 0)
	now := time.Unix(0, 0)
	capacity := 1000.0
	// Search latency ÷ baseline: 1 up to the capacity, then proportional to the overload.
	ratioAt := func(rate float64) float64 { return max(1, 2*rate/capacity) }
	step := func(n int) (lo, hi float64) {
		lo, hi = 1e18, 0
		for range n {
			now = now.Add(250 * time.Millisecond)
			r := c.observe(now, ratioAt(c.rate), c.rate)
			lo, hi = min(lo, r), max(hi, r)
		}
		return lo, hi
	}

	// Slow start: from 100 docs/s to the capacity within a few seconds.
	step(40)
	if c.cuts == 0 {
		t.Fatalf("after 10 s at a rate above the capacity: no cut, rate %.0f", c.rate)
	}
	// Settled: the rate oscillates around the point where the ratio crosses the target
	// (rate = 0.75 × capacity), never far above it, never collapsing.
	lo, hi := step(400)
	if limit := target / 2 * capacity; hi > 1.25*limit || lo < 0.3*limit {
		t.Errorf("settled rate in [%.0f, %.0f] docs/s, want within [%.0f, %.0f]", lo, hi, 0.3*limit, 1.25*limit)
	}
	// Latency rises (another load on the engine halves its capacity): the rate must back off
	// below the new limit within a few seconds.
	capacity = 500
	before := c.rate
	step(12) // 3 s
	if limit := target / 2 * capacity; c.rate > limit {
		t.Errorf("3 s after the capacity halved: rate %.0f docs/s (was %.0f), want <= %.0f", c.rate, before, limit)
	}
	// And recover when the load goes away.
	capacity = 2000
	step(200)
	lo, _ = step(200)
	if limit := target / 2 * capacity; lo < 0.4*limit {
		t.Errorf("after the capacity doubled: rate fell to %.0f docs/s, want it back above %.0f", lo, 0.4*limit)
	}
}

func TestAIMDRules(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name string
		// setup returns a controller in a given state.
		setup    func() *aimd
		now      time.Time
		ratio    float64
		achieved float64
		want     float64
	}{
		{"slow start grows by half", func() *aimd { return newAIMD(1.5, 100, 0) }, at(0), 1.0, 0, 150},
		{"slow start limited by the used rate", func() *aimd { return newAIMD(1.5, 1000, 0) }, at(0), 1.0, 100, 1000},
		{"slow ratio cuts from the rate", func() *aimd { return newAIMD(1.5, 1000, 0) }, at(0), 2.0, 0, 600},
		{"slow ratio cuts from the used rate", func() *aimd { return newAIMD(1.5, 1000, 0) }, at(0), 2.0, 500, 300},
		{"at the target is calm", func() *aimd { return newAIMD(1.5, 1000, 0) }, at(0), 1.5, 0, 1500},
		{"no second cut within the cool-down", func() *aimd {
			c := newAIMD(1.5, 1000, 0)
			c.observe(at(0), 3, 0)
			return c
		}, at(500), 3, 0, 600},
		{"second cut after the cool-down", func() *aimd {
			c := newAIMD(1.5, 1000, 0)
			c.observe(at(0), 3, 0)
			return c
		}, at(1000), 3, 0, 360},
		{"additive increase after a cut", func() *aimd {
			c := newAIMD(1.5, 1000, 0)
			c.observe(at(0), 3, 0) // 600
			return c
		}, at(250), 1, 0, 630},
		{"never under the floor", func() *aimd { return newAIMD(1.5, 25, 0) }, at(0), 10, 0, minBackfillRate},
		{"never over --max-rate", func() *aimd { return newAIMD(1.5, 400, 500) }, at(0), 1, 0, 500},
		{"--max-rate caps the start", func() *aimd { return newAIMD(1.5, 1000, 300) }, at(0), 1, 0, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.setup()
			if got := c.observe(tt.now, tt.ratio, tt.achieved); got != tt.want {
				t.Errorf("got rate %.1f, want %.1f", got, tt.want)
			}
		})
	}
}

func TestPacerSpacesWrites(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	var p pacer
	p.setRate(1000)
	if got := p.chunk(1000); got != 200 {
		t.Errorf("chunk at 1000 docs/s: got %d, want 200 (a fifth of a second)", got)
	}
	start := time.Now()
	for range 5 {
		if err := p.wait(ctx, 100); err != nil {
			t.Fatal(err)
		}
	}
	// 500 docs at 1000 docs/s: the fifth wait starts 400 ms after the first.
	if d := time.Since(start); d < 380*time.Millisecond {
		t.Errorf("5 × 100 docs at 1000 docs/s took %s, want >= 400ms", d)
	}
	p.setRate(0)
	if got := p.chunk(1000); got != 1000 {
		t.Errorf("chunk unlimited: got %d, want 1000", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	p.setRate(1)
	_ = p.wait(cctx, 1) // reserves the next second
	cancel()
	if err := p.wait(cctx, 1); err == nil {
		t.Error("wait with a cancelled context: got nil, want an error")
	}
}

func TestThrottleStateString(t *testing.T) {
	tests := []struct {
		s    ThrottleState
		want string
	}{
		{ThrottleState{Mode: ThrottleOff}, "throttle off"},
		{ThrottleState{Mode: ThrottleOff, Rate: 500, MaxRate: 500}, "max 500 docs/s"},
		{ThrottleState{Mode: ThrottleAdaptive, Rate: 850.4, Baseline: time.Millisecond, Ratio: 1.23, Target: 1.5}, "throttle 850 docs/s (search 1.2x, target 1.5x)"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.s, got, tt.want)
		}
	}
}

// TestThrottleIgnoresSingleSlowProbesAndRebases: a lone slow probe (search latency is noisy on
// an idle engine too) must not cut the rate, a sustained rise must; and when latency stays high
// although the backfill is at its floor, the slowdown is not the backfill's: the baseline moves
// up and the rate recovers.
func TestThrottleIgnoresSingleSlowProbesAndRebases(t *testing.T) {
	th := &throttle{ctl: newAIMD(1.5, 1000, 0), baseline: 10 * time.Millisecond}
	th.ctl.slowStart = false
	now := time.Unix(0, 0)
	feed := func(ratios ...float64) {
		for _, r := range ratios {
			now = now.Add(250 * time.Millisecond)
			th.observe(now, r)
		}
	}
	feed(1, 1, 1, 6, 1, 1, 1, 1, 9, 1, 1)
	if th.ctl.cuts != 0 {
		t.Fatalf("single slow probes among fast ones: %d cuts (rate %.0f), want 0", th.ctl.cuts, th.ctl.rate)
	}
	feed(2, 2, 2, 2)
	if th.ctl.cuts == 0 {
		t.Fatalf("sustained ratio 2 over a target of 1.5: no cut (rate %.0f)", th.ctl.rate)
	}
	// Others slow the engine down for good: the controller reaches its floor, then takes the
	// current latency as the new baseline.
	for i := 0; i < 200 && th.rebases == 0; i++ {
		feed(3)
	}
	if th.rebases == 0 {
		t.Fatalf("ratio 3 for 50 s at rate %.0f: baseline never moved", th.ctl.rate)
	}
	if got, want := th.baseline, 30*time.Millisecond; got < want*9/10 || got > want*11/10 {
		t.Errorf("new baseline %s, want about %s", got, want)
	}
	// Relative to it, searches are fine again: the rate grows.
	before := th.ctl.rate
	for range 40 {
		feed(1)
	}
	if th.ctl.rate < 2*before {
		t.Errorf("after the rebase: rate %.0f, want well above the floor %.0f", th.ctl.rate, before)
	}
}

// TestCalibrateFloorsTheBaseline checks that a sub-millisecond probe is compared with
// minProbeBaseline, not with its own jittery latency, and that a slower one keeps its median.
func TestCalibrateFloorsTheBaseline(t *testing.T) {
	for _, tt := range []struct {
		probe, want time.Duration
	}{
		{500 * time.Microsecond, minProbeBaseline},
		{20 * time.Millisecond, 20 * time.Millisecond},
	} {
		th := &throttle{ctl: newAIMD(1.75, 1000, 0), every: time.Millisecond,
			probe: func(context.Context) (time.Duration, error) { return tt.probe, nil }}
		if err := th.calibrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		if th.baseline != tt.want {
			t.Errorf("probe %s: baseline %s, want %s", tt.probe, th.baseline, tt.want)
		}
	}
}
