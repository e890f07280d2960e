package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.WriteHeader(http.StatusOK)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			http.Error(w, "not ready: elasticsearch unreachable", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		path    string
		timeout time.Duration
		wantErr bool
	}{
		{"/readyz", time.Second, false},
		{"/healthz-broken", time.Second, true},
		{"/slow", 100 * time.Millisecond, true},
	} {
		t.Run(tc.path, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			err := check(ctx, srv.Client(), srv.URL+tc.path)
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("check(%s): got error %v, want error %v", tc.path, err, tc.wantErr)
			}
		})
	}
	if err := check(context.Background(), srv.Client(), "http://127.0.0.1:1/readyz"); err == nil {
		t.Fatal("check of a closed port: got nil error, want one")
	}
}
