package conformance

import (
	"os"
	"testing"
)

// serverURL returns the server under test: ES_URL, or a fresh embedded engine.
func serverURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("ES_URL"); u != "" {
		return u
	}
	t.Skip("conformance: embedded engine not available yet; set ES_URL")
	return ""
}
