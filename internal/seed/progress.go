package seed

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress counts completed items.
type progress interface {
	Add(n int)
	Finish()
}

func newProgress(out io.Writer, terminal bool, what string, total int) progress {
	if terminal {
		return &barProgress{bar: progressbar.NewOptions(total,
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetDescription(fmt.Sprintf("%-9s", what)),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(what),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(out) }),
		)}
	}
	p := &lineProgress{out: out, what: what, total: total, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

type barProgress struct{ bar *progressbar.ProgressBar }

func (b *barProgress) Add(n int) { _ = b.bar.Add(n) }
func (b *barProgress) Finish()   { _ = b.bar.Finish() }

// lineProgress prints a plain status line every few seconds, for logs and CI where a
// redrawn bar would be noise.
type lineProgress struct {
	out        io.Writer
	what       string
	total      int
	start      time.Time
	mu         sync.Mutex
	n          int
	stop, done chan struct{}
	once       sync.Once
}

func (p *lineProgress) Add(n int) { p.mu.Lock(); p.n += n; p.mu.Unlock() }

func (p *lineProgress) loop() {
	defer close(p.done)
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.print(false)
		}
	}
}

func (p *lineProgress) print(final bool) {
	p.mu.Lock()
	n := p.n
	p.mu.Unlock()
	el := time.Since(p.start)
	rate := float64(n) / el.Seconds()
	if final {
		fmt.Fprintf(p.out, "%s: %d/%d done in %s (%.0f/s)\n", p.what, n, p.total, el.Round(time.Millisecond), rate)
		return
	}
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.total-n) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.out, "%s: %d/%d (%.0f%%), %.0f/s, ETA %s\n", p.what, n, p.total, 100*float64(n)/float64(p.total), rate, eta)
}

func (p *lineProgress) Finish() {
	p.once.Do(func() {
		close(p.stop)
		<-p.done
		p.print(true)
	})
}
