package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) add(s string) { r.mu.Lock(); r.log = append(r.log, s); r.mu.Unlock() }
func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.log, ",")
}

// comp runs until stopped; fail makes it exit on its own after a delay.
func comp(rec *recorder, name string, fail error, failAfter time.Duration) *Runner {
	return &Runner{
		Check: func(context.Context) error {
			if !strings.Contains(rec.String(), "start "+name) {
				return errors.New("not yet")
			}
			return nil
		},
		Name: name, URL: "http://" + name,
		Run: func(ctx context.Context) error {
			rec.add("start " + name)
			defer rec.add("stop " + name)
			if fail != nil {
				select {
				case <-time.After(failAfter):
					return fail
				case <-ctx.Done():
					return nil
				}
			}
			<-ctx.Done()
			return nil
		},
	}
}

func TestStartOrderAndReverseStop(t *testing.T) {
	rec := &recorder{}
	var out bytes.Buffer
	s := New(Config{Out: &out})
	s.Add(comp(rec, "a", nil, 0), comp(rec, "b", nil, 0), comp(rec, "c", nil, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(rec.String(), "start c") {
		if time.Now().After(deadline) {
			t.Fatalf("stack did not start: %s", rec)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("clean stop returned %v", err)
	}
	if got, want := rec.String(), "start a,start b,start c,stop c,stop b,stop a"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	for _, name := range []string{"a", "b", "c"} {
		if !strings.Contains(out.String(), "http://"+name) {
			t.Fatalf("output does not print %s's URL:\n%s", name, out.String())
		}
	}
}

func TestFailingComponentStopsStack(t *testing.T) {
	rec := &recorder{}
	s := New(Config{})
	boom := errors.New("disk full")
	s.Add(comp(rec, "a", nil, 0), comp(rec, "b", boom, 500*time.Millisecond), comp(rec, "c", nil, 0))
	err := s.Run(context.Background())
	if !errors.Is(err, ErrComponentFailed) || !errors.Is(err, boom) || !strings.Contains(err.Error(), "b") {
		t.Fatalf("got %v, want a failure naming b and wrapping %v", err, boom)
	}
	if !strings.HasSuffix(rec.String(), "stop c,stop a") {
		t.Fatalf("got %s, want the others stopped in reverse", rec)
	}
}

func TestComponentFailingAtStartStopsEarlierOnes(t *testing.T) {
	rec := &recorder{}
	s := New(Config{StartTimeout: 200 * time.Millisecond})
	bad := comp(rec, "b", nil, 0)
	bad.Check = func(context.Context) error { return fmt.Errorf("port in use") }
	s.Add(comp(rec, "a", nil, 0), bad, comp(rec, "c", nil, 0))
	err := s.Run(context.Background())
	if !errors.Is(err, ErrComponentFailed) || !strings.Contains(err.Error(), "b did not start") || !strings.Contains(err.Error(), "port in use") {
		t.Fatalf("got %v, want 'b did not start ... port in use'", err)
	}
	if got, want := rec.String(), "start a,start b,stop b,stop a"; got != want {
		t.Fatalf("got %s, want %s (c never started)", got, want)
	}
}

func TestUnhealthyComponentStopsStack(t *testing.T) {
	rec := &recorder{}
	s := New(Config{HealthInterval: 10 * time.Millisecond})
	var mu sync.Mutex
	healthy := true
	a := comp(rec, "a", nil, 0)
	a.Check = func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if healthy {
			return nil
		}
		return errors.New("no answer")
	}
	s.Add(a)
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(rec.String(), "start a") {
		if time.Now().After(deadline) {
			t.Fatal("a did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	healthy = false
	mu.Unlock()
	select {
	case err := <-done:
		if !errors.Is(err, ErrComponentFailed) || !strings.Contains(err.Error(), "unhealthy") {
			t.Fatalf("got %v, want a is unhealthy", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stack kept running with an unhealthy component")
	}
}
