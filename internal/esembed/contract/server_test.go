package contract

import (
	"context"
	"net"
	"os"
	"testing"

	"github.com/ordertable/ordertable/internal/esembed"
	"github.com/ordertable/ordertable/internal/testenv"
)

// esURL returns ES_URL, or a fresh in-memory embedded engine for the test.
func esURL(t *testing.T) string {
	t.Helper()
	return testenv.ESURL(t)
}

// detachedESURL is esURL for tests that may leave the engine stuck on a request (a query that
// never answers): the embedded engine is stopped without waiting for its handlers, so a hang
// fails that test instead of blocking the whole package at cleanup.
func detachedESURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("ES_URL"); u != "" {
		return u
	}
	eng, err := esembed.Open(esembed.Config{})
	if err != nil {
		t.Fatalf("embedded engine: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = eng.Serve(ctx, ln) }()
	t.Cleanup(cancel) // not waiting for Serve: a stuck handler would never let it return
	return "http://" + ln.Addr().String()
}

// newDetachedEnv is newEnv on detachedESURL.
func newDetachedEnv(t *testing.T) *env {
	t.Helper()
	return clientsFor(t, detachedESURL(t))
}
