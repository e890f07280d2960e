package reindex

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// The backfill shares the engine (and, in the embedded set-up, the CPU) with live searches. It
// is a good citizen in three ways:
//
//   - a pacer spreads its bulk writes evenly at a rate in documents per second, in chunks of
//     about a fifth of a second's worth, so the engine never sees a burst of every worker's page
//     at once;
//   - an AIMD controller sets that rate from the latency of a probe search on the read alias
//     (what the reindex must not slow down) relative to the probe's latency measured just before
//     the backfill started: additive increase while the ratio stays under the target,
//     multiplicative decrease when it goes above, at most one cut per cool-down so one slow burst
//     costs one cut; --max-rate caps the rate;
//   - the new index is refreshed every RefreshEvery while the backfill writes, so its count
//     follows the backfill and the finish step's refresh is short.

// aimd is the rate controller. It is a pure function of its observations (no clock, no I/O), so
// its behaviour is unit-tested.
type aimd struct {
	target   float64       // latency ratio above which the rate is cut
	floor    float64       // lowest rate, docs/s: the backfill always progresses
	ceiling  float64       // highest rate, docs/s (--max-rate); 0: none
	cut      float64       // multiplicative decrease factor
	step     float64       // additive increase per calm observation, as a share of the last good rate
	cooldown time.Duration // minimum time between two cuts

	rate      float64
	slowStart bool    // grows by half per calm observation until the first cut
	good      float64 // the rate right after the last cut: the increase step's scale
	lastCut   time.Time
	cuts      int
}

// newAIMD starts at initial docs/s in slow start.
func newAIMD(target, initial, ceiling float64) *aimd {
	c := &aimd{target: target, floor: minBackfillRate, ceiling: ceiling, cut: 0.6, step: 0.05,
		cooldown: time.Second, rate: initial, slowStart: true, good: initial}
	c.clamp()
	return c
}

// minBackfillRate is the rate the controller never goes under, in docs/s.
const minBackfillRate = 50

// observe takes one latency ratio (probe latency ÷ baseline) and the rate the backfill actually
// achieved recently (0: unknown), and returns the new rate.
func (c *aimd) observe(now time.Time, ratio, achieved float64) float64 {
	switch {
	case ratio > c.target:
		if !c.lastCut.IsZero() && now.Sub(c.lastCut) < c.cooldown {
			break
		}
		// Cut from what was really used: a rate the workers never reached (sources slower than
		// the engine) would otherwise take several cuts before it bites.
		from := c.rate
		if achieved > 0 && achieved < from {
			from = achieved
		}
		c.rate = from * c.cut
		c.good = c.rate
		c.slowStart = false
		c.lastCut = now
		c.cuts++
	default:
		next := c.rate + max(c.step*c.good, 1)
		if c.slowStart {
			next = c.rate * 1.5
		}
		// Don't grow a rate that isn't used (the backfill limited by its sources): it would
		// have to be cut many times before it meant anything.
		if achieved > 0 {
			next = min(next, max(c.rate, 2*achieved))
		}
		c.rate = next
	}
	c.clamp()
	return c.rate
}

func (c *aimd) clamp() {
	c.rate = max(c.rate, c.floor)
	if c.ceiling > 0 {
		c.rate = min(c.rate, c.ceiling)
	}
}

// pacer hands out permission to write documents at a rate, first come first served.
type pacer struct {
	mu   sync.Mutex
	rate float64 // docs/s; 0: unlimited
	next time.Time
}

func (p *pacer) setRate(r float64) {
	p.mu.Lock()
	p.rate = r
	p.mu.Unlock()
}

// chunk is how many documents to write in one request at the current rate: about a fifth of
// a second's worth, at most max.
func (p *pacer) chunk(maxDocs int) int {
	p.mu.Lock()
	r := p.rate
	p.mu.Unlock()
	if r <= 0 {
		return maxDocs
	}
	return min(maxDocs, max(1, int(r/5)))
}

// wait blocks until n documents may be written. The time they are worth is reserved at once,
// so concurrent workers line up one after the other.
func (p *pacer) wait(ctx context.Context, n int) error {
	p.mu.Lock()
	if p.rate <= 0 {
		p.mu.Unlock()
		return nil
	}
	now := time.Now()
	start := p.next
	if start.Before(now) {
		start = now
	}
	p.next = start.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	p.mu.Unlock()
	return sleepUntil(ctx, start)
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// ThrottleState is the backfill throttle's current state, shown in the progress line and by
// `reindex status`.
type ThrottleState struct {
	// Mode is "adaptive" or "off".
	Mode string `json:"mode"`
	// Rate is the current rate limit in docs/s (0: unlimited).
	Rate float64 `json:"rate_docs_per_s"`
	// MaxRate is --max-rate (0: none).
	MaxRate float64 `json:"max_rate_docs_per_s,omitempty"`
	// Baseline is the probe search's latency before the backfill; Ratio the last probe's
	// latency divided by it, and Target the ratio above which the rate is cut.
	Baseline time.Duration `json:"baseline_ns,omitempty"`
	Ratio    float64       `json:"latency_ratio,omitempty"`
	Target   float64       `json:"target_ratio,omitempty"`
	// Cuts counts the rate cuts so far.
	Cuts int `json:"cuts,omitempty"`
}

// String is the short form of the progress line: "throttle 850 docs/s (search 1.2x, target 1.5x)".
func (s ThrottleState) String() string {
	switch {
	case s.Mode == ThrottleOff && s.Rate <= 0:
		return "throttle off"
	case s.Mode == ThrottleOff:
		return "max " + formatRate(s.Rate)
	case s.Baseline == 0:
		return "throttle " + formatRate(s.Rate)
	}
	return "throttle " + formatRate(s.Rate) + " (search " + formatRatio(s.Ratio) + ", target " + formatRatio(s.Target) + ")"
}

func formatRate(r float64) string {
	if r <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%.0f docs/s", r)
}

func formatRatio(r float64) string { return fmt.Sprintf("%.1fx", r) }

// Throttle modes.
const (
	ThrottleAdaptive = "adaptive"
	ThrottleOff      = "off"
)

// throttle paces one backfill run.
type throttle struct {
	pacer pacer
	ctl   *aimd // nil: fixed rate (MaxRate or none)

	probe    func(context.Context) (time.Duration, error)
	every    time.Duration
	baseline time.Duration
	onChange func(ThrottleState)

	mu      sync.Mutex
	state   ThrottleState
	samples []rateSample // recent (time, total docs) for the achieved rate
	total   int64
	window  []float64 // the last probes' latency ratios
	stuck   int       // observations in a row above the target at the floor rate
	rebases int
}

type rateSample struct {
	at   time.Time
	docs int64
}

// newThrottle builds the backfill's throttle. Without a read alias to protect (the first
// build), or with the adaptive mode off, only MaxRate applies.
func (r *Reindexer) newThrottle(live string) *throttle {
	t := &throttle{every: r.cfg.ProbeEvery, onChange: r.cfg.OnThrottle, state: ThrottleState{Mode: r.cfg.Throttle, MaxRate: r.cfg.MaxRate}}
	t.pacer.setRate(r.cfg.MaxRate)
	t.state.Rate = r.cfg.MaxRate
	if r.cfg.Throttle != ThrottleAdaptive || live == "" {
		t.state.Mode = ThrottleOff
		return t
	}
	t.probe = func(ctx context.Context) (time.Duration, error) { return r.es.probeSearch(ctx, r.cfg.Alias) }
	// Slow start from one page per second: the rate doubles about every 2 observations until
	// the first slow probe.
	t.ctl = newAIMD(r.cfg.ThrottleTarget, float64(r.cfg.PageSize), r.cfg.MaxRate)
	t.state.Target = r.cfg.ThrottleTarget
	t.state.Rate = t.ctl.rate
	t.pacer.setRate(t.ctl.rate)
	return t
}

// disable falls back to the fixed rate (MaxRate or none).
func (t *throttle) disable() {
	t.ctl = nil
	t.pacer.setRate(t.state.MaxRate)
	t.mu.Lock()
	t.state = ThrottleState{Mode: ThrottleOff, Rate: t.state.MaxRate, MaxRate: t.state.MaxRate}
	t.mu.Unlock()
}

// calibrate measures the probe's latency before the backfill writes anything: the median of
// a few probes, at least minProbeBaseline. A probe that fails leaves the throttle at its fixed
// rate.
func (t *throttle) calibrate(ctx context.Context) error {
	if t.ctl == nil {
		return nil
	}
	const n = 9
	lat := make([]time.Duration, 0, n)
	for range n {
		d, err := t.probe(ctx)
		if err != nil {
			return err
		}
		lat = append(lat, d)
		if err := sleepUntil(ctx, time.Now().Add(t.every/10)); err != nil {
			return err
		}
	}
	slices.Sort(lat)
	t.baseline = max(lat[n/2], minProbeBaseline)
	t.mu.Lock()
	t.state.Baseline = t.baseline
	t.mu.Unlock()
	return nil
}

// run probes and adjusts the rate until ctx ends. Probes are t.every apart, or ten times their
// own latency when that is longer: on a large index the probe itself costs, and it must not
// become a load of its own.
func (t *throttle) run(ctx context.Context) {
	if t.ctl == nil || t.baseline == 0 {
		return
	}
	wait := max(t.every, 10*t.baseline)
	for {
		if sleepUntil(ctx, time.Now().Add(wait)) != nil {
			return
		}
		d, err := t.probe(ctx)
		if err != nil {
			// A failing probe says nothing about latency; the backfill's own errors are
			// handled where they happen.
			continue
		}
		wait = max(t.every, 10*d)
		t.mu.Lock()
		base := t.baseline
		t.mu.Unlock()
		t.observe(time.Now(), float64(d)/float64(base))
	}
}

// minProbeBaseline is the least baseline the probe's latency is compared with. A sorted page
// the engine answers from cached sort columns takes well under a millisecond, and at that scale
// the Go and kernel schedulers alone move a probe by more than the target ratio: measured on two
// shared cores, the throttle then cut the backfill 49 times, to 68 docs/s, while the readers' own
// p99 stayed below what it was before the job. With the floor, a cut needs the median probe
// above 5.25 ms (1.75 × 3 ms): still far below what a reader of the table notices.
const minProbeBaseline = 3 * time.Millisecond

// Single probes are noisy (a search's p99 is often several times its median even on an idle
// engine), so the controller sees the median of the last probeWindow probes, and cuts only once
// at least probeQuorum were taken since its last cut (they must show the cut's effect).
const (
	probeWindow = 5
	probeQuorum = 3
	// stuckLimit observations above the target at the floor rate mean the slowdown is not the
	// backfill's (it hardly writes): the baseline is stale, and the current latency becomes it.
	stuckLimit = 8
)

// observe takes one probe's latency ratio (latency ÷ baseline), feeds the window's median to the
// controller and applies the new rate.
func (t *throttle) observe(now time.Time, ratio float64) {
	t.mu.Lock()
	t.window = append(t.window, ratio)
	if len(t.window) > probeWindow {
		t.window = t.window[1:]
	}
	t.state.Ratio = ratio
	// Growth needs no quorum (a slow start must not wait), a cut does.
	if med := median(t.window); len(t.window) >= probeQuorum || med <= t.ctl.target {
		cuts := t.ctl.cuts
		rate := t.ctl.observe(now, med, t.achievedLocked(now))
		if t.ctl.cuts != cuts {
			t.window = t.window[:0]
		}
		t.state.Rate, t.state.Ratio, t.state.Cuts = rate, med, t.ctl.cuts
		t.stuck++
		if med <= t.ctl.target || rate > t.ctl.floor {
			t.stuck = 0
		}
		if t.stuck >= stuckLimit {
			t.baseline = time.Duration(float64(t.baseline) * med)
			t.state.Baseline, t.stuck, t.window = t.baseline, 0, t.window[:0]
			t.rebases++
		}
	}
	rate := t.state.Rate
	t.mu.Unlock()
	if t.onChange != nil {
		t.onChange(t.State())
	}
	t.pacer.setRate(rate)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// wrote records n documents written.
func (t *throttle) wrote(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += int64(n)
	now := time.Now()
	t.samples = append(t.samples, rateSample{now, t.total})
	// Keep about the last 3 s.
	i := 0
	for i < len(t.samples)-1 && now.Sub(t.samples[i+1].at) >= 3*time.Second {
		i++
	}
	t.samples = t.samples[i:]
}

// written is the number of documents written so far.
func (t *throttle) written() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// achievedLocked is the write rate over the recent samples (0 when there are too few).
func (t *throttle) achievedLocked(now time.Time) float64 {
	if len(t.samples) < 2 {
		return 0
	}
	first := t.samples[0]
	span := now.Sub(first.at).Seconds()
	if span < time.Second.Seconds() {
		return 0
	}
	return float64(t.total-first.docs) / span
}

// State returns a copy of the current state.
func (t *throttle) State() ThrottleState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

// probeSearch times one small search on the read alias: a first page sorted by a column, like
// the search API's, so its latency moves as the users' does.
func (e es) probeSearch(ctx context.Context, alias string) (time.Duration, error) {
	body := map[string]any{"size": 10, "track_total_hits": false,
		"sort": []any{map[string]any{"updated_at": map[string]any{"order": "desc", "unmapped_type": "date"}}}}
	start := time.Now()
	err := e.do(ctx, http.MethodPost, "/"+url.PathEscape(alias)+"/_search", body, nil)
	return time.Since(start), err
}
