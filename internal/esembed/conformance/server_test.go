package conformance

import (
	"testing"

	"github.com/ordertable/ordertable/internal/testenv"
)

// serverURL returns the server under test: ES_URL, or a fresh in-memory embedded engine.
func serverURL(t *testing.T) string {
	t.Helper()
	return testenv.ESURL(t)
}
