// Package devstack is a small process supervisor for the development stack: it starts
// components in dependency order, waits for each to be healthy before starting the next,
// prints where everything listens, watches for a component that fails, and stops everything
// in reverse order on Ctrl-C or on the first failure.
//
// Adding a component is a few lines: most ordertable servers already have the shape
// "serve until ctx is cancelled", which Runner adapts:
//
//	stack.Add(&devstack.Runner{
//		Name:   "search",
//		URL:    "http://127.0.0.1:8080",
//		Run:    func(ctx context.Context) error { return searchSvc.Serve(ctx, ln) },
//		Check:  devstack.HTTPHealth("http://127.0.0.1:8080/readyz"),
//	})
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Component is one supervised part of the stack.
type Component interface {
	// ComponentName names the component in output and errors.
	ComponentName() string
	// Endpoint is what to print for users (a URL or host:port); may be empty.
	Endpoint() string
	// Start launches the component and returns without waiting for it to serve.
	Start(ctx context.Context) error
	// Health returns nil when the component serves.
	Health(ctx context.Context) error
	// Exited delivers the component's error if it stops on its own (nil error: clean exit).
	Exited() <-chan error
	// Stop shuts the component down; ctx bounds the wait.
	Stop(ctx context.Context) error
}

// Config configures a stack.
type Config struct {
	// Out receives the human-readable status (URLs, shutdown); nil discards.
	Out io.Writer
	// Logger receives structured progress; nil discards.
	Logger *slog.Logger
	// StartTimeout bounds how long a component may take to become healthy. Default 60s.
	StartTimeout time.Duration
	// StopTimeout bounds each component's shutdown. Default 15s.
	StopTimeout time.Duration
	// HealthInterval is how often running components are checked. Default 2s; a component
	// failing three checks in a row stops the stack.
	HealthInterval time.Duration
	// Banner is printed above the endpoint table once everything is up.
	Banner string
}

// Stack supervises components.
type Stack struct {
	cfg        Config
	log        *slog.Logger
	components []Component
}

// New returns an empty stack.
func New(cfg Config) *Stack {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 15 * time.Second
	}
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = 2 * time.Second
	}
	return &Stack{cfg: cfg, log: cfg.Logger.With("component", "devstack")}
}

// Add appends components; they start in the order added (list dependencies first).
func (s *Stack) Add(cs ...Component) { s.components = append(s.components, cs...) }

// ErrComponentFailed wraps the failure of a component that stopped the stack.
var ErrComponentFailed = errors.New("component failed")

// Run starts every component, then supervises until ctx is cancelled (clean stop, nil) or a
// component fails (everything is stopped, the failure is returned).
func (s *Stack) Run(ctx context.Context) error {
	var started []Component
	stopAll := func() error {
		var errs []error
		for i := len(started) - 1; i >= 0; i-- {
			c := started[i]
			fmt.Fprintf(s.cfg.Out, "stopping %s\n", c.ComponentName())
			sctx, cancel := context.WithTimeout(context.Background(), s.cfg.StopTimeout)
			if err := c.Stop(sctx); err != nil {
				errs = append(errs, fmt.Errorf("stop %s: %w", c.ComponentName(), err))
			}
			cancel()
		}
		return errors.Join(errs...)
	}
	for _, c := range s.components {
		if ctx.Err() != nil {
			return stopAll()
		}
		s.log.Info("starting", "name", c.ComponentName())
		if err := s.start(ctx, c); err != nil {
			if ctx.Err() != nil {
				return stopAll()
			}
			started = append(started, c) // stop it too: it may be half up
			return errors.Join(fmt.Errorf("%w: %s did not start: %w", ErrComponentFailed, c.ComponentName(), err), stopAll())
		}
		started = append(started, c)
	}
	s.printEndpoints()
	err := s.supervise(ctx, started)
	if err != nil {
		fmt.Fprintf(s.cfg.Out, "\n%v; stopping the stack\n", err)
	} else {
		fmt.Fprintln(s.cfg.Out, "\nshutting down")
	}
	return errors.Join(err, stopAll())
}

func (s *Stack) start(ctx context.Context, c Component) error {
	if err := c.Start(ctx); err != nil {
		return err
	}
	deadline := time.Now().Add(s.cfg.StartTimeout)
	var last error
	for {
		select {
		case err := <-c.Exited():
			if err == nil {
				err = errors.New("exited during start-up")
			}
			return err
		default:
		}
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = c.Health(hctx)
		cancel()
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy after %v: %w", s.cfg.StartTimeout, last)
		}
		select {
		case <-ctx.Done():
		case err := <-c.Exited():
			if err == nil {
				err = errors.New("exited during start-up")
			}
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// supervise waits for cancellation or the first failure: a component exiting, or failing
// three health checks in a row.
func (s *Stack) supervise(ctx context.Context, cs []Component) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	failed := make(chan error, len(cs)*2)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			select {
			case <-ctx.Done():
			case err := <-c.Exited():
				if err == nil {
					err = errors.New("exited unexpectedly")
				}
				failed <- fmt.Errorf("%w: %s: %w", ErrComponentFailed, c.ComponentName(), err)
			}
		})
		wg.Go(func() {
			t := time.NewTicker(s.cfg.HealthInterval)
			defer t.Stop()
			misses := 0
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				hctx, hcancel := context.WithTimeout(ctx, s.cfg.HealthInterval)
				err := c.Health(hctx)
				hcancel()
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					misses = 0
					continue
				}
				misses++
				s.log.Warn("health check failed", "name", c.ComponentName(), "err", err, "misses", misses)
				if misses >= 3 {
					failed <- fmt.Errorf("%w: %s is unhealthy: %w", ErrComponentFailed, c.ComponentName(), err)
					return
				}
			}
		})
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-failed:
	}
	cancel()
	wg.Wait()
	return err
}

func (s *Stack) printEndpoints() {
	w := tabwriter.NewWriter(s.cfg.Out, 0, 4, 2, ' ', 0)
	if s.cfg.Banner != "" {
		fmt.Fprintln(w, s.cfg.Banner)
	}
	for _, c := range s.components {
		if ep := c.Endpoint(); ep != "" {
			fmt.Fprintf(w, "  %s\t%s\n", c.ComponentName(), ep)
		}
	}
	w.Flush()
	fmt.Fprintln(s.cfg.Out, "Press Ctrl-C to stop.")
}

// Runner adapts a "run until ctx is cancelled" function into a Component.
type Runner struct {
	// Name of the component.
	Name string
	// URL (or host:port) printed for users.
	URL string
	// Run serves until ctx is cancelled and returns nil after a clean stop.
	Run func(ctx context.Context) error
	// Check reports readiness; nil means healthy as soon as Run is running.
	Check func(ctx context.Context) error

	cancel context.CancelFunc
	done   chan struct{}
	exited chan error
	err    error
}

var _ Component = (*Runner)(nil)

// ComponentName implements Component.
func (r *Runner) ComponentName() string { return r.Name }

// Endpoint implements Component.
func (r *Runner) Endpoint() string { return r.URL }

// Start implements Component.
func (r *Runner) Start(ctx context.Context) error {
	if r.Run == nil {
		return errors.New("no Run function")
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	r.done = make(chan struct{})
	r.exited = make(chan error, 1)
	go func() {
		defer close(r.done)
		r.err = r.Run(rctx)
		if rctx.Err() == nil { // stopped on its own, not by Stop
			r.exited <- r.err
		}
	}()
	return nil
}

// Health implements Component.
func (r *Runner) Health(ctx context.Context) error {
	if r.Check == nil {
		return nil
	}
	return r.Check(ctx)
}

// Exited implements Component.
func (r *Runner) Exited() <-chan error { return r.exited }

// Stop implements Component.
func (r *Runner) Stop(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("did not stop in time: %w", ctx.Err())
	}
}

// HTTPHealth checks that GET url answers 2xx.
func HTTPHealth(url string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
		}
		return nil
	}
}

// TCPHealth checks that addr accepts connections.
func TCPHealth(addr string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}
