package contract

import (
	"testing"

	"github.com/ordertable/ordertable/internal/testenv"
)

// esURL returns ES_URL, or a fresh in-memory embedded engine for the test.
func esURL(t *testing.T) string {
	t.Helper()
	return testenv.ESURL(t)
}

// requireEmbedded is where a test that needs the embedded engine itself would skip; the
// engine is always available.
func requireEmbedded(t *testing.T) { t.Helper() }
