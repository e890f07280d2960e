package testenv

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/ordertable/ordertable/internal/esembed"
)

// ESURL returns ES_URL, or starts an in-memory embedded engine for this test. Tests that share
// a real cluster must use unique index names (UniqueName).
func ESURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("ES_URL"); u != "" {
		return u
	}
	return EmbeddedES(t, "")
}

// EmbeddedES always starts an embedded engine on 127.0.0.1:0, persisting in dataDir when
// non-empty, and stops it when the test ends. It returns the engine's base URL.
func EmbeddedES(t testing.TB, dataDir string) string {
	t.Helper()
	eng, err := esembed.Open(esembed.Config{DataDir: dataDir})
	if err != nil {
		t.Fatalf("testenv: embedded es: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = eng.Close()
		t.Fatalf("testenv: embedded es: listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Logf("testenv: embedded es: serve: %v", err)
		}
		if err := eng.Close(); err != nil {
			t.Logf("testenv: embedded es: close: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}
