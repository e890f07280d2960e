package contract

import (
	"os"
	"testing"
)

// esURL returns ES_URL, or a fresh embedded engine for the test.
func esURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("ES_URL"); u != "" {
		return u
	}
	requireEmbedded(t)
	return ""
}

// requireEmbedded skips until the embedded engine (internal/esembed, `ordertable es`) lands.
func requireEmbedded(t *testing.T) {
	t.Helper()
	t.Skip("contract: embedded engine not available yet; set ES_URL")
}
