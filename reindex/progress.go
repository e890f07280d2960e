package reindex

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows the backfill's advance: a progress bar with docs/s and ETA on a terminal,
// a plain line every few seconds otherwise (logs, CI).
type progress interface {
	Add(n int64)
	Finish()
}

type noProgress struct{}

func (noProgress) Add(int64) {}
func (noProgress) Finish()   {}

// newProgress starts the display; extra, when set, adds a note to it (the throttle's rate).
func newProgress(w io.Writer, tty bool, total, done int64, every time.Duration, extra func() string) progress {
	if w == nil {
		return noProgress{}
	}
	if extra == nil {
		extra = func() string { return "" }
	}
	// Without an estimate (a first build has no live index to count) there is no bar to
	// fill: plain lines with the count and the rate, on a terminal too.
	if tty && total > 0 {
		bar := progressbar.NewOptions64(max(total, done),
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("backfill"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("docs"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
		_ = bar.Set64(done)
		return &barProgress{bar: bar, extra: extra}
	}
	return &lineProgress{w: w, total: total, done: done, start: time.Now(), startDone: done, every: every, last: time.Now(), extra: extra}
}

type barProgress struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	extra func() string
	last  time.Time
}

func (b *barProgress) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur := b.bar.State().CurrentNum + n; cur >= b.bar.GetMax64() {
		// The estimate was low (orders created during the build): grow the bar, with room
		// to spare, since a bar that reaches its maximum finishes and counts no more.
		b.bar.ChangeMax64(cur + max(cur/20, 1))
	}
	if time.Since(b.last) >= time.Second {
		b.last = time.Now()
		if e := b.extra(); e != "" {
			b.bar.Describe("backfill, " + e)
		}
	}
	_ = b.bar.Add64(n)
}

func (b *barProgress) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.bar.Finish()
}

type lineProgress struct {
	mu        sync.Mutex
	w         io.Writer
	total     int64
	done      int64
	startDone int64
	start     time.Time
	last      time.Time
	every     time.Duration
	extra     func() string
}

func (l *lineProgress) Add(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done += n
	if time.Since(l.last) >= l.every {
		l.last = time.Now()
		l.print()
	}
}

func (l *lineProgress) print() {
	elapsed := time.Since(l.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(l.done-l.startDone) / elapsed
	}
	note := ""
	if e := l.extra(); e != "" {
		note = ", " + e
	}
	if l.total <= 0 {
		// A first build has no live index to count: no percentage or ETA to make up.
		fmt.Fprintf(l.w, "backfill: %d docs, %.0f docs/s, total unknown%s\n", l.done, rate, note)
		return
	}
	total := max(l.total, l.done)
	eta := "unknown"
	if rate > 0 {
		eta = time.Duration(float64(total-l.done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	pct := 100 * float64(l.done) / float64(total)
	fmt.Fprintf(l.w, "backfill: %d/%d docs (%.1f%%), %.0f docs/s, ETA %s%s\n", l.done, total, pct, rate, eta, note)
}

func (l *lineProgress) Finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.print()
}
